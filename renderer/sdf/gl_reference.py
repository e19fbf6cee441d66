"""The ``gl_sdf`` reference: the Scene's SDF sphere-traced in a fragment shader (moderngl, EGL).

Same camera (``scene.camera.view_matrix()`` and ``projection_matrix()``), same pixel centres,
same shading formulas as the mesh reference (see ``gl_shaders``); analytic primitives pass their
parameters as uniforms, a grid SDF is a float 3D texture. Plain sphere tracing (t <- t + f) to
|f| < 1e-5 within 1024 steps, then one Newton step (as the torch renderers' depth value), normals
by central differences of f (step 1e-3). Hard coverage: alpha is 1 where a ray hits.
"""
from __future__ import annotations

from typing import Optional

import moderngl
import numpy as np
import torch

from ..errors import UserError
from ..fragments import RenderOutput
from ..gl.arrays import box_filter, to_numpy
from ..gl.context import PerContext, create_context, read_attachment
from ..gl.shaders import LIGHTING_CODES, MAX_LIGHTS
from ..scene import Scene
from . import gl_shaders
from .shapes import OP_CODES, PRIMITIVE_CODES, SDF

THRESHOLD = 1e-5
MAX_STEPS = 1024
GRAD_STEP = 1e-3
OUTPUT_NAMES = ("rgb", "alpha", "depth", "normal", "position", "steps")


class GLCannotDrawError(UserError, ValueError):
    """An SDF the GL reference has no shader form for (a torch module)."""


class GLSDFRenderer:
    """Sphere-traces SDF scenes with OpenGL into float32 numpy buffers (row 0 at the top).

    ctx: a moderngl context (e.g. the mesh reference's or the GUI's; current when ``render`` is
    called), or None for an owned standalone EGL one."""

    def __init__(self, ctx: Optional[moderngl.Context] = None):
        self._owns_ctx = ctx is None
        self.ctx = create_context("egl") if ctx is None else ctx
        self.ctx.__enter__()
        self.prog = self.ctx.program(vertex_shader=gl_shaders.VERTEX,
                                     fragment_shader=gl_shaders.fragment_source())
        self.vao = self.ctx.vertex_array(self.prog, [])
        self._targets: dict = {}
        self._grid_key = None
        self._grid_tex: Optional[moderngl.Texture] = None

    def release(self) -> None:
        self.ctx.__enter__()
        for fbo, bufs in self._targets.values():
            fbo.release()
            for b in bufs:
                b.release()
        self._targets.clear()
        if self._grid_tex is not None:
            self._grid_tex.release()
        self.vao.release()
        self.prog.release()
        if self._owns_ctx:
            self.ctx.release()

    def render(self, scene: Scene) -> dict[str, np.ndarray]:
        """rgb (S, S, 3) (background where no hit), alpha (S, S) in {0, 1} (with
        settings.supersample k > 1: rgb and alpha at k S, box-filtered), depth (S, S) view depth
        (0: none), normal, position (S, S, 3) world (0: none), steps (S, S) SDF queries."""
        sdf = scene.shape
        if not isinstance(sdf, SDF):
            raise TypeError(f"gl_sdf draws an sdf, not a {scene.kind}")
        if sdf.source == "module":
            raise GLCannotDrawError("the GL reference draws analytic and grid SDFs; a torch module "
                                    "has no shader form (compare with the sdf renderer alone)")
        self.ctx.__enter__()
        self._set_uniforms(scene, sdf)
        size, k = scene.settings.image_size, scene.settings.supersample
        planes = self._draw(size)
        color, nd, pos = planes
        background = np.asarray(scene.settings.background, dtype=np.float32)
        hit = color[..., 3] > 0.5
        out = {"rgb": np.where(hit[..., None], color[..., :3], background).astype(np.float32),
               "alpha": hit.astype(np.float32), "depth": np.ascontiguousarray(nd[..., 3]),
               "normal": np.ascontiguousarray(nd[..., :3]),
               "position": np.where(hit[..., None], pos[..., :3], 0).astype(np.float32),
               "steps": np.ascontiguousarray(pos[..., 3])}
        if k > 1:
            big = self._draw(size * k)[0]
            big_hit = big[..., 3] > 0.5
            out["rgb"] = box_filter(np.where(big_hit[..., None], big[..., :3], background).astype(np.float32), k)
            out["alpha"] = box_filter(big_hit.astype(np.float32), k)
        return out

    def _draw(self, size: int) -> list[np.ndarray]:
        if size not in self._targets:
            bufs = [self.ctx.renderbuffer((size, size), 4, dtype="f4") for _ in range(3)]
            self._targets[size] = (self.ctx.framebuffer(bufs), bufs)
        fbo, _ = self._targets[size]
        fbo.use()
        fbo.clear(0.0, 0.0, 0.0, 0.0)
        self.ctx.disable(moderngl.DEPTH_TEST | moderngl.CULL_FACE | moderngl.BLEND)
        self.prog["u_size"].value = float(size)
        self.vao.render(moderngl.TRIANGLES, vertices=3)
        return [read_attachment(fbo, i, 4, size) for i in range(3)]

    def _uniform(self, name: str, value) -> None:
        if name in self.prog:          # the compiler drops uniforms it proves unused
            self.prog[name].value = value

    def _array(self, name: str, array: np.ndarray, dtype=np.float32) -> None:
        if name in self.prog:
            self.prog[name].write(np.ascontiguousarray(array, dtype=dtype).tobytes())

    def _set_uniforms(self, scene: Scene, sdf: SDF) -> None:
        cam, lights, mat, st = scene.camera, scene.lights, scene.material, scene.settings
        view = to_numpy(cam.view_matrix(), np.float64)
        proj = to_numpy(cam.projection_matrix(), np.float64)
        rot = view[:3, :3]
        eye = -(rot.T @ view[:3, 3])
        # GLSL mat3 is column-major: writing R^T's rows as columns gives R
        self._array("u_rot", rot.T)
        centre, radius = sdf.bounding_sphere()
        for name, value in (("u_eye", tuple(eye)), ("u_p00", float(proj[0, 0])), ("u_p11", float(proj[1, 1])),
                            ("u_bcentre", tuple(centre)), ("u_bradius", float(radius)),
                            ("u_near", float(cam.near)), ("u_threshold", THRESHOLD),
                            ("u_max_steps", MAX_STEPS), ("u_grad_step", GRAD_STEP),
                            ("u_albedo", tuple(to_numpy(mat.albedo).reshape(3))),
                            ("u_lighting", LIGHTING_CODES[st.lighting]),
                            ("u_ambient", tuple(to_numpy(lights.ambient).reshape(3))),
                            ("u_ka", float(to_numpy(mat.ka))), ("u_kd", float(to_numpy(mat.kd))),
                            ("u_ks", float(to_numpy(mat.ks))), ("u_shininess", float(to_numpy(mat.shininess)))):
            self._uniform(name, value)
        directions = to_numpy(lights.directions).reshape(-1, 3)
        colors = to_numpy(lights.colors).reshape(-1, 3)
        if len(directions) > MAX_LIGHTS:
            raise ValueError(f"the GL renderer supports at most {MAX_LIGHTS} lights, got {len(directions)}")
        padded = np.zeros((2, MAX_LIGHTS, 3), dtype=np.float32)
        padded[0, :len(directions)], padded[1, :len(colors)] = directions, colors
        self._uniform("u_num_lights", len(directions))
        self._array("u_light_dir", padded[0])
        self._array("u_light_color", padded[1])
        self._array("u_sh", to_numpy(lights.sh).reshape(9, 3))
        if sdf.source == "primitives":
            self._set_primitives(sdf, to_numpy(mat.albedo).reshape(3))
        else:
            self._set_grid(sdf)

    def _set_primitives(self, sdf: SDF, albedo: np.ndarray) -> None:
        n = len(sdf.primitives)
        if n > gl_shaders.MAX_PRIMITIVES:
            raise GLCannotDrawError(f"the GL reference draws at most {gl_shaders.MAX_PRIMITIVES} "
                                    f"primitives, this SDF has {n}")
        values = to_numpy(sdf.params, np.float64)
        m = gl_shaders.MAX_PRIMITIVES
        kinds, ops = np.zeros(m, np.int32), np.zeros(m, np.int32)
        blend, a, b = np.zeros(m, np.float32), np.zeros((m, 4), np.float32), np.zeros((m, 4), np.float32)
        colours = np.zeros((m, 3), np.float32)
        for i, (p, at) in enumerate(zip(sdf.primitives, sdf.param_offsets())):
            v = values[at:at + len(p.fields)]
            kinds[i], ops[i], blend[i] = PRIMITIVE_CODES[p.type], OP_CODES[p.op], p.blend
            a[i] = v[:4]
            b[i, :len(v) - 4] = v[4:]
            colours[i] = albedo if p.albedo is None else p.albedo
        self._uniform("u_source", 0)
        self._uniform("u_num_prims", n)
        self._array("u_prim_type", kinds, np.int32)
        self._array("u_prim_op", ops, np.int32)
        self._array("u_prim_blend", blend)
        self._array("u_prim_a", a)
        self._array("u_prim_b", b)
        self._array("u_prim_albedo", colours)

    def _set_grid(self, sdf: SDF) -> None:
        values = np.ascontiguousarray(to_numpy(sdf.grid))
        key = (values.shape, hash(values.tobytes()))
        if key != self._grid_key:
            if self._grid_tex is not None:
                self._grid_tex.release()
            dx, dy, dz = values.shape
            self._grid_tex = self.ctx.texture3d((dz, dy, dx), 1, values.tobytes(), dtype="f4")
            self._grid_tex.filter = (moderngl.NEAREST, moderngl.NEAREST)
            self._grid_key = key
        self._grid_tex.use(location=0)
        lo, hi = to_numpy(sdf.bounds).reshape(2, 3)
        self._uniform("u_source", 1)
        self._uniform("u_grid", 0)
        self._uniform("u_lo", tuple(lo))
        self._uniform("u_hi", tuple(hi))
        self._uniform("u_dims", tuple(int(d) for d in values.shape))


_RENDERERS = PerContext(lambda ctx: GLSDFRenderer(ctx))


def render_gl_sdf(scene: Scene, ctx: Optional[moderngl.Context] = None) -> dict[str, np.ndarray]:
    """``GLSDFRenderer.render`` with a renderer cached per context (None: a shared standalone one)."""
    return _RENDERERS.get(ctx).render(scene)


def render_reference_sdf(scene: Scene) -> RenderOutput:
    """The registry's render function: the GL buffers as CPU tensors."""
    out = render_gl_sdf(scene)
    steps = out.pop("steps")
    del steps        # no RenderOutput field yet (docs/sdf.md); ``trace_steps`` gives it per pixel
    return RenderOutput(**{k: torch.from_numpy(v) for k, v in out.items()})
