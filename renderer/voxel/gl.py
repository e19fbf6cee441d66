"""The voxel grid's OpenGL reference: fragment-shader ray marching of the same grid, read from
the same Scene (camera basis, field of view and eye from ``renderer.camera``, the pixel-centre
convention of DESIGN.md §2, row 0 at the top after the one flip in ``_read``).

Outputs (float32 numpy, S = image_size): rgb (S, S, 3) DRC's expected colour with the
background composited; alpha (S, S) = 1 - escape; depth (S, S) expected view depth given a
stop (0 where alpha = 0); and the hard surface at occupancy >= 0.5: face_id (S, S) int32 its
flat cell id (-1: none), normal (S, S, 3) its entry face's normal, position (S, S, 3) its entry
point, hard_depth (S, S) its view depth. ``settings.supersample`` is not used (every output is
one ray per pixel centre, like the torch renderer).
"""
from __future__ import annotations

from typing import Optional

import moderngl
import numpy as np

from ..gl.arrays import tensor_key, to_numpy
from ..gl.context import MIN_GL_VERSION, PerContext, create_context, read_attachment
from ..gl.shaders import LIGHTING_CODES, MAX_LIGHTS
from ..scene import Scene
from .drc import scene_grid
from .gl_shaders import FULLSCREEN_VERTEX, march_fragment_source

HARD_THRESHOLD = 0.5


class VoxelGLRenderer:
    """Ray-marches voxel scenes with moderngl. ctx: a context to draw with (current when
    ``render`` is called), or None for a standalone EGL one owned by this renderer. The last
    grid's textures and the last size's framebuffer are kept (re-rendering after a camera or
    light change uploads nothing)."""

    def __init__(self, ctx: Optional[moderngl.Context] = None):
        self._owns_ctx = ctx is None
        self.ctx = create_context("egl") if ctx is None else ctx
        self.ctx.__enter__()
        if self.ctx.version_code < MIN_GL_VERSION:
            raise RuntimeError(f"the voxel GL reference needs OpenGL {MIN_GL_VERSION}")
        self._prog = self.ctx.program(vertex_shader=FULLSCREEN_VERTEX,
                                      fragment_shader=march_fragment_source())
        self._vao = self.ctx.vertex_array(self._prog, [])
        self._grid_key = None
        self._snapshot: Optional[np.ndarray] = None     # the uploaded occupancies (in-place edits)
        self._textures: list = []
        self._fbo_size = None
        self._fbo = None
        self._buffers: list = []
        self._released = False

    def render(self, scene: Scene) -> dict[str, np.ndarray]:
        if self._released:
            raise RuntimeError("this VoxelGLRenderer has been released")
        self.ctx.__enter__()
        grid = scene_grid(scene)
        size = scene.settings.image_size
        self._upload(grid)
        self._uniforms(scene, grid)
        fbo = self._framebuffer(size)
        fbo.use()
        fbo.clear(0.0, 0.0, 0.0, 0.0)
        self.ctx.disable(moderngl.DEPTH_TEST | moderngl.CULL_FACE | moderngl.BLEND)
        self._vao.render(moderngl.TRIANGLES, vertices=3)
        color, depth, normal, position = (read_attachment(fbo, i, 4, size) for i in range(4))
        return {
            "rgb": np.ascontiguousarray(color[..., :3]),
            "alpha": np.ascontiguousarray(color[..., 3]),
            "depth": np.ascontiguousarray(depth[..., 0]),
            "face_id": np.rint(depth[..., 2]).astype(np.int32) - 1,
            "normal": np.ascontiguousarray(normal[..., :3]),
            "position": np.ascontiguousarray(position[..., :3]),
            "hard_depth": np.ascontiguousarray(depth[..., 1]),
        }

    def _upload(self, grid) -> None:
        key = (tensor_key(grid.occupancy), tensor_key(grid.colors))
        occ = to_numpy(grid.occupancy)
        if key == self._grid_key and self._snapshot is not None and np.array_equal(self._snapshot, occ):
            return
        for tex in self._textures:
            tex.release()
        dx, dy, dz = grid.shape
        # numpy (Dx, Dy, Dz) C order has z fastest: the texture's width is z, its depth x.
        occ_tex = self.ctx.texture3d((dz, dy, dx), 1, np.ascontiguousarray(occ).tobytes(), dtype="f4")
        colors = np.zeros((dx, dy, dz, 3), np.float32) if grid.colors is None else to_numpy(grid.colors)
        col_tex = self.ctx.texture3d((dz, dy, dx), 3, np.ascontiguousarray(colors).tobytes(), dtype="f4")
        for tex in (occ_tex, col_tex):
            tex.filter = (moderngl.NEAREST, moderngl.NEAREST)
        self._textures = [occ_tex, col_tex]
        self._grid_key = key
        self._snapshot = occ.copy()

    def _uniforms(self, scene: Scene, grid) -> None:
        cam, lights, mat, settings = scene.camera, scene.lights, scene.material, scene.settings
        basis = to_numpy(cam.basis(), np.float64)
        directions = to_numpy(lights.directions).reshape(-1, 3)
        colors = to_numpy(lights.colors).reshape(-1, 3)
        if directions.shape[0] > MAX_LIGHTS:
            raise ValueError(f"the GL renderer supports at most {MAX_LIGHTS} lights")
        padded = np.zeros((2, MAX_LIGHTS, 3), dtype=np.float32)
        padded[0, :len(directions)], padded[1, :len(colors)] = directions, colors
        values = {
            "u_occupancy": 0, "u_colors": 1, "u_has_colors": grid.colors is not None,
            "u_albedo": tuple(to_numpy(mat.albedo).reshape(3)),
            "u_dims": tuple(int(n) for n in grid.shape),
            "u_lo": tuple(grid.lo.tolist()), "u_hi": tuple(grid.hi.tolist()),
            "u_eye": tuple(to_numpy(cam.eye, np.float64).reshape(3)),
            "u_right": tuple(basis[0]), "u_up": tuple(basis[1]), "u_back": tuple(basis[2]),
            "u_tan_half_fov": float(np.tan(np.deg2rad(float(cam.fov)) / 2)),
            "u_size": float(settings.image_size),
            "u_background": tuple(float(c) for c in settings.background),
            "u_threshold": HARD_THRESHOLD,
            "u_lighting": LIGHTING_CODES[settings.lighting],
            "u_ambient": tuple(to_numpy(lights.ambient).reshape(3)),
            "u_num_lights": len(directions),
            "u_ka": float(to_numpy(mat.ka)), "u_kd": float(to_numpy(mat.kd)),
            "u_ks": float(to_numpy(mat.ks)), "u_shininess": float(to_numpy(mat.shininess)),
        }
        prog = self._prog
        for name, value in values.items():
            if name in prog:
                prog[name].value = value
        for name, array in (("u_light_dir", padded[0]), ("u_light_color", padded[1]),
                            ("u_sh", to_numpy(lights.sh).reshape(9, 3))):
            if name in prog:
                prog[name].write(np.ascontiguousarray(array, dtype=np.float32).tobytes())
        self._textures[0].use(location=0)
        self._textures[1].use(location=1)

    def _framebuffer(self, size: int) -> moderngl.Framebuffer:
        if self._fbo_size != size:
            if self._fbo is not None:
                self._fbo.release()
                for b in self._buffers:
                    b.release()
            self._buffers = [self.ctx.renderbuffer((size, size), 4, dtype="f4") for _ in range(4)]
            self._fbo = self.ctx.framebuffer(self._buffers)
            self._fbo_size = size
        return self._fbo

    def release(self) -> None:
        if self._released:
            return
        self.ctx.__enter__()
        for obj in [*self._textures, *self._buffers, self._fbo, self._vao, self._prog]:
            if obj is not None:
                obj.release()
        if self._owns_ctx:
            self.ctx.release()
        self._released = True


_RENDERERS = PerContext(lambda ctx: VoxelGLRenderer(ctx))


def render_gl_voxels(scene: Scene, ctx: Optional[moderngl.Context] = None) -> dict[str, np.ndarray]:
    """Render with a VoxelGLRenderer cached per context (None: one shared standalone EGL
    context). Returns the buffers of ``VoxelGLRenderer.render``."""
    return _RENDERERS.get(ctx).render(scene)
