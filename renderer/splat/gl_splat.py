"""The GL reference for splats: instanced screen-aligned quads, one per splat, each carrying the
conic that ``project.project_splats`` computed (the one projection both views use), drawn back to
front with premultiplied-alpha blending.

The fragment shader evaluates alpha = min(o exp(-sigma), 0.99) at the pixel centre from
gl_FragCoord, drops alpha < 1/255 and pixels outside the footprint box, exactly as the torch
renderer does; the blend (ONE, ONE_MINUS_SRC_ALPHA) back to front is the same sum as torch's
front-to-back T products. Readback is flipped once, here, so row 0 is the top.
"""
from __future__ import annotations

import time
from typing import Optional

import moderngl
import numpy as np
import torch

from ..gl.context import MIN_GL_VERSION, PerContext, create_context, read_attachment
from ..scene import Scene
from .project import ALPHA_CUTOFF, MAX_ALPHA, project_splats
from .render import scene_cloud

VERTEX_SHADER = """
#version 330
uniform float u_size;
in vec2 in_corner;
in vec2 in_mean;
in vec2 in_radius;
in vec3 in_conic;
in float in_opacity;
in vec3 in_color;
in float in_depth;
flat out vec2 v_mean;
flat out vec2 v_radius;
flat out vec3 v_conic;
flat out float v_opacity;
flat out vec3 v_color;
flat out float v_depth;
void main() {
    // one pixel of margin: the box test below decides, not the quad's rasterization rule
    vec2 pixel = in_mean + in_corner * (in_radius + 1.0);
    // pixel centres at whole numbers, row 0 at the top (DESIGN.md section 2)
    vec2 ndc = vec2((2.0 * pixel.x + 1.0) / u_size - 1.0, 1.0 - (2.0 * pixel.y + 1.0) / u_size);
    gl_Position = vec4(ndc, 0.0, 1.0);
    v_mean = in_mean; v_radius = in_radius; v_conic = in_conic;
    v_opacity = in_opacity; v_color = in_color; v_depth = in_depth;
}
"""

FRAGMENT_SHADER = f"""
#version 330
uniform float u_size;
flat in vec2 v_mean;
flat in vec2 v_radius;
flat in vec3 v_conic;
flat in float v_opacity;
flat in vec3 v_color;
flat in float v_depth;
layout(location = 0) out vec4 out_color;
layout(location = 1) out vec4 out_depth;
void main() {{
    vec2 pixel = vec2(gl_FragCoord.x - 0.5, u_size - gl_FragCoord.y - 0.5);
    vec2 d = pixel - v_mean;
    if (abs(d.x) > v_radius.x || abs(d.y) > v_radius.y) discard;
    float sigma = 0.5 * (v_conic.x * d.x * d.x + v_conic.z * d.y * d.y) + v_conic.y * d.x * d.y;
    float alpha = min(v_opacity * exp(-sigma), {MAX_ALPHA});
    if (alpha < {ALPHA_CUTOFF!r}) discard;
    out_color = vec4(v_color * alpha, alpha);
    out_depth = vec4(v_depth * alpha, 0.0, 0.0, alpha);
}}
"""

INSTANCE_FORMAT = "2f 2f 3f 1f 3f 1f/i"
INSTANCE_ATTRIBUTES = ("in_mean", "in_radius", "in_conic", "in_opacity", "in_color", "in_depth")


def instance_table(scene: Scene) -> np.ndarray:
    """(M, 12) float32 rows (mean col, row, radius x, y, conic a, b, c, opacity, colour rgb,
    depth), the splats that show, BACK TO FRONT (the reverse of the torch renderer's stable
    front-to-back depth order)."""
    with torch.no_grad():
        cloud = scene_cloud(scene.with_settings(device="cpu")).detached()
        proj = project_splats(cloud, scene.camera.detached(), scene.settings.image_size)
        live = torch.nonzero(proj.valid).squeeze(1)
        order = live[torch.sort(proj.depth[live], stable=True).indices].flip(0)
        cols = [proj.mean2d, proj.radius.to(proj.mean2d.dtype), proj.conic, proj.opacity[:, None],
                proj.color, proj.depth[:, None]]
        table = torch.cat([c[order].to(torch.float64) for c in cols], dim=1)
    return np.ascontiguousarray(table.numpy(), dtype=np.float32)


DRAW_BATCH = 8192          # splats drawn per GL call (see GLSplatRenderer.render)


class GLSplatRenderer:
    """Draws a splat Scene with OpenGL. ctx: a moderngl context (current when ``render`` is
    called), or None for a standalone EGL one owned by this renderer."""

    def __init__(self, ctx: Optional[moderngl.Context] = None):
        self._owns_ctx = ctx is None
        self.ctx = create_context("egl") if ctx is None else ctx
        self.ctx.__enter__()
        if self.ctx.version_code < MIN_GL_VERSION:
            raise RuntimeError(f"the GL splat reference needs OpenGL {MIN_GL_VERSION}")
        self.prog = self.ctx.program(vertex_shader=VERTEX_SHADER, fragment_shader=FRAGMENT_SHADER)
        corners = np.array([-1, -1, 1, -1, -1, 1, 1, 1], dtype=np.float32)
        self.corner_vbo = self.ctx.buffer(corners.tobytes())
        self._targets: dict[int, tuple] = {}
        self._max_size = int(self.ctx.info["GL_MAX_RENDERBUFFER_SIZE"])
        self._released = False

    def _framebuffer(self, size: int):
        if size not in self._targets:
            for old in self._targets.values():
                for obj in old:
                    obj.release()
            self._targets.clear()
            buffers = [self.ctx.renderbuffer((size, size), 4, dtype="f4") for _ in range(2)]
            self._targets[size] = (self.ctx.framebuffer(buffers), *buffers)
        return self._targets[size][0]

    def render(self, scene: Scene) -> dict[str, np.ndarray]:
        """rgb (S, S, 3), alpha (S, S), depth (S, S) float32, row 0 at the top: the same
        quantities as ``render_splat`` (depth: the expected depth sum w z / alpha, 0 on background)."""
        if self._released:
            raise RuntimeError("this GLSplatRenderer has been released")
        self.ctx.__enter__()
        size = scene.settings.image_size
        if size > self._max_size:
            raise ValueError(f"image size {size} exceeds this GL's maximum render target size {self._max_size}")
        table = instance_table(scene)
        fbo = self._framebuffer(size)
        fbo.use()
        fbo.clear(0.0, 0.0, 0.0, 0.0)
        ctx = self.ctx
        ctx.disable(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
        ctx.enable(moderngl.BLEND)
        ctx.blend_func = moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA
        ctx.blend_equation = moderngl.FUNC_ADD
        if len(table):
            self.prog["u_size"].value = float(size)
            # In batches, each finished before the next: a GL call holds the interpreter lock
            # while it waits for the (software) rasterizer, so one draw of 100k splats would
            # freeze the GUI thread for a few hundred ms; a batch's wait is a few tens.
            for start in range(0, len(table), DRAW_BATCH):
                batch = table[start:start + DRAW_BATCH]
                inst = ctx.buffer(batch.tobytes())
                vao = ctx.vertex_array(self.prog, [(self.corner_vbo, "2f", "in_corner"),
                                                   (inst, INSTANCE_FORMAT, *INSTANCE_ATTRIBUTES)])
                vao.render(moderngl.TRIANGLE_STRIP, vertices=4, instances=len(batch))
                vao.release()
                inst.release()
                if len(table) > DRAW_BATCH:
                    ctx.finish()
                    time.sleep(0)               # let the other threads run between batches
        ctx.disable(moderngl.BLEND)
        color, zplane = (read_attachment(fbo, i, 4, size) for i in range(2))
        alpha = color[..., 3]
        bg = np.asarray(scene.settings.background, dtype=np.float32)
        rgb = color[..., :3] + (1.0 - alpha)[..., None] * bg
        covered = alpha > 1e-12
        depth = np.where(covered, zplane[..., 0] / np.where(covered, alpha, 1.0), 0.0)
        return {"rgb": rgb.astype(np.float32), "alpha": alpha.astype(np.float32),
                "depth": depth.astype(np.float32)}

    def release(self) -> None:
        if self._released:
            return
        self.ctx.__enter__()
        for objs in self._targets.values():
            for obj in objs:
                obj.release()
        self.prog.release()
        self.corner_vbo.release()
        if self._owns_ctx:
            self.ctx.release()
        self._released = True


_RENDERERS = PerContext(lambda ctx: GLSplatRenderer(ctx))


def render_gl_splat(scene: Scene, ctx: Optional[moderngl.Context] = None) -> dict[str, np.ndarray]:
    """Render with a GLSplatRenderer cached per context (None: one shared standalone EGL context)."""
    return _RENDERERS.get(ctx).render(scene)
