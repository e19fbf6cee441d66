"""The exact derivative of the box-filtered image (the "edge" renderer, after redner's edge
sampling, Li et al. 2018, made deterministic): hard shading averaged over each pixel, with an
interior term by autograd and a boundary term by Gauss-Legendre quadrature along the
discontinuity edges. Registered by ``registration``; render through ``renderer.render(scene)``."""
from __future__ import annotations

from .render import render_edge, render_edge_parts, screen_gradient

__all__ = ["render_edge", "render_edge_parts", "screen_gradient"]
