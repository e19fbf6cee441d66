"""The image panes: one image view, the analysis pane, the three panes of the scene together,
the pixel inspector, captions and the colour maps."""
