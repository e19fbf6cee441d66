"""Pane captions and the status bar's timing readout. A caption names what a pane shows and the
settings its renderer reads (``RendererSpec.label``: softras shows sigma and gamma, the GL
reference none of them), taken from the result's own scene, so a caption never describes a state
the image is not of."""
from __future__ import annotations

from typing import Optional

from renderer import Scene
from renderer.registry import RendererSpec, get_renderer


def _caption(title: str, spec: RendererSpec, scene: Scene) -> str:
    st = scene.settings
    parts = [spec.label(st)]
    width = spec.edge_width_px(st)
    if width > 0:
        parts.append(f"edge {width:.2f} px")
    parts.append(f"{st.image_size} px")
    return f"<b>{title}</b><br>" + " &middot; ".join(parts)


def render_caption(scene: Scene, title: str) -> str:
    """A caption for an image of ``scene``'s own (differentiable) renderer, e.g.
    "softras, sigma=0.0001, gamma=0.0001 · edge 0.97 px · 64 px"."""
    return _caption(title, get_renderer(scene.settings.renderer), scene)


def reference_caption(scene: Scene, title: str) -> str:
    """A caption for the reference image of ``scene`` (the renderer its spec is checked against)."""
    spec = get_renderer(scene.settings.renderer)
    return _caption(title, get_renderer(spec.reference) if spec.reference else spec, scene)


def timing_text(render_times: dict, analysis_times: Optional[dict], device: str) -> str:
    """forward (soft render), backward (loss gradients), GL reference and device, for the status bar."""
    forward = render_times.get("soft_ms", render_times.get("forward_ms"))
    parts = [f"forward {forward:.0f} ms" if forward is not None else "forward -"]
    extra = analysis_times or {}
    parts.append(f"backward {extra['backward_ms']:.0f} ms" if "backward_ms" in extra else "backward -")
    for key, name in (("jvp_ms", "dI/dtheta"), ("reference_ms", "GL FD"), ("inspector_ms", "inspector")):
        if key in extra:
            parts.append(f"{name} {extra[key]:.0f} ms")
    parts.append(f"GL {render_times.get('gl_ms', 0.0):.0f} ms")
    if render_times.get("cached"):
        parts.append("(render cached)")
    parts.append(f"device {device}")
    return "   ".join(parts)
