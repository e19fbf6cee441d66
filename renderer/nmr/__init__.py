"""NMR, the Neural 3D Mesh Renderer (Kato et al. 2018): hard forward at 2x, hand-made edge-sweep
backward (renderer "nmr")."""
