"""The Qt desktop app: widgets wired to the renderer library. It computes nothing itself."""
