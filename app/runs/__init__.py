"""Optimisation runs in the window: the run panel, the timeline dock, playback of recorded steps
in the panes, and run files."""
