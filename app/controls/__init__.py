"""The docks' inputs: the scene controls, the loss controls and their small widgets."""
