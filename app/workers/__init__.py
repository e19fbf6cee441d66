"""Everything that runs off the GUI thread: the render and analysis worker, the run thread, the
thread drawing the GL reference of a recorded step, and the one latest-wins scheduler in front of
them. The only package of the app that imports torch directly."""
