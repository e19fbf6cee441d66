"""The OpenGL reference renderer: the same Scene as the torch renderers, drawn by moderngl.

It is the "ground truth" image: hard rasterization, exact float readback, optional supersampling.
Conventions are DESIGN.md §2 (the camera matrices come from ``scene.camera``, the readback is
flipped here, once, so row 0 is the top) and the shading is DESIGN.md §4 (see ``shaders.py``).
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Optional

import moderngl
import numpy as np
import torch

from ..mesh import Mesh
from ..scene import Scene
from . import shaders
from .arrays import (box_filter, corner_vertex_data, mat4_bytes, tensor_key, to_numpy,
                     with_background)
from .context import MIN_GL_VERSION, PerContext, create_context, read_attachment

# How many meshes / textures / image sizes stay uploaded; older ones are released (an optimisation
# uploads a new vertex buffer per step, so the caches must be bounded).
MESH_CACHE_SIZE = 4
TEXTURE_CACHE_SIZE = 4
TARGET_CACHE_SIZE = 4

OUTPUT_NAMES = ("rgb", "alpha", "depth", "face_id", "normal", "position")


@dataclass
class _GpuMesh:
    """One mesh's per-corner vertex buffer and its two vertex arrays (shading, coverage)."""

    tensors: tuple            # held so that the ids in the cache key cannot be reused meanwhile
    verts_snapshot: Optional[np.ndarray]
    vbo: moderngl.Buffer
    shade_vao: moderngl.VertexArray
    cover_vao: moderngl.VertexArray
    albedo_mode: int

    def release(self) -> None:
        self.shade_vao.release()
        self.cover_vao.release()
        self.vbo.release()


@dataclass
class _Targets:
    """Render targets of one size: shading framebuffer (1 or 3 float colour attachments + depth)
    and coverage framebuffer (one float channel)."""

    shade: moderngl.Framebuffer
    cover: moderngl.Framebuffer
    buffers: list

    def release(self) -> None:
        self.shade.release()
        self.cover.release()
        for b in self.buffers:
            b.release()


def _evict(cache: OrderedDict, limit: int, release) -> None:
    while len(cache) > limit:
        _, old = cache.popitem(last=False)
        release(old)


class GLRenderer:
    """Renders a Scene with OpenGL (moderngl) into float32 numpy buffers.

    ctx: a moderngl context to draw with (e.g. the GUI's, which must be current when ``render`` is
    called; the caller rebinds its own framebuffer afterwards), or None for a standalone EGL one,
    owned and released by this renderer.

    GPU buffers are cached per mesh (keyed on the identity and in-place version of its tensors, so
    an optimiser stepping the vertices causes a re-upload) and framebuffers per image size, so
    re-rendering after a camera, light, material or settings change rebuilds nothing.
    """

    def __init__(self, ctx: Optional[moderngl.Context] = None):
        self._owns_ctx = ctx is None
        self.ctx = create_context("egl") if ctx is None else ctx
        self._make_current()
        if self.ctx.version_code < MIN_GL_VERSION:
            raise RuntimeError(f"the GL reference renderer needs OpenGL {MIN_GL_VERSION}, "
                               f"the context has {self.ctx.version_code}")
        self._shade_prog = self.ctx.program(vertex_shader=shaders.SHADE_VERTEX,
                                            fragment_shader=shaders.shade_fragment_source())
        self._cover_prog = self.ctx.program(vertex_shader=shaders.COVERAGE_VERTEX,
                                            fragment_shader=shaders.COVERAGE_FRAGMENT)
        self._max_size = int(self.ctx.info["GL_MAX_RENDERBUFFER_SIZE"])
        self._meshes: OrderedDict = OrderedDict()
        self._textures: OrderedDict = OrderedDict()
        self._targets: OrderedDict = OrderedDict()
        self._released = False

    # ---------------------------------------------------------------- public API

    def render(self, scene: Scene) -> dict[str, np.ndarray]:
        """Render ``scene``; every array has row 0 at the TOP of the image (S = image_size).

        rgb (S, S, 3) float32: shaded colour, settings.background where no front face (or, when
            double-sided, no face) is visible; linear, not clamped.
        alpha (S, S) float32: coverage by ANY face, back faces included, in {0, 1}.
        depth (S, S) float32: view-space distance along the view axis (-z_view) of the visible
            surface, 0 on background.
        face_id (S, S) int32: index of the visible face, -1 on background.
        normal (S, S, 3) float32: world-space unit shading normal used (flat or smooth, flipped on
            back faces when double-sided), 0 on background.
        position (S, S, 3) float32: world-space position of the visible surface, 0 on background.

        With settings.supersample = k > 1, rgb and alpha are rendered at k*S and box-filtered
        (mean over k x k blocks, background included), so alpha is the covered fraction at
        silhouettes; depth, face_id, normal and position come from a plain S render.
        """
        if self._released:
            raise RuntimeError("this GLRenderer has been released")
        self._make_current()
        settings = scene.settings
        size, k = settings.image_size, settings.supersample
        if size * k > self._max_size:
            raise ValueError(f"image size {size} x supersample {k} exceeds this GL's maximum "
                             f"render target size {self._max_size}")
        gpu_mesh = self._upload_mesh(scene.mesh)
        self._set_uniforms(scene, gpu_mesh)
        background = np.asarray(settings.background, dtype=np.float32)
        sided = settings.double_sided

        full = self._draw(gpu_mesh, size, full=True, cover=k == 1, double_sided=sided)
        color, normal_depth, position = full["planes"]
        out = {
            # face id + 1 was stored as an exact float, 0 on background
            "face_id": np.rint(color[..., 3]).astype(np.int32) - 1,
            "normal": np.ascontiguousarray(normal_depth[..., :3]),
            "depth": np.ascontiguousarray(normal_depth[..., 3]),
            "position": np.ascontiguousarray(position[..., :3]),
        }
        if k == 1:
            out["rgb"] = with_background(color, background)
            out["alpha"] = full["coverage"]
        else:
            big = self._draw(gpu_mesh, size * k, full=False, cover=True, double_sided=sided)
            out["rgb"] = box_filter(with_background(big["planes"][0], background), k)
            out["alpha"] = box_filter(big["coverage"], k)
        return {name: out[name] for name in OUTPUT_NAMES}

    def release(self) -> None:
        """Free every GL object this renderer made (and its context, if it created it)."""
        if self._released:
            return
        self._make_current()
        for cache in (self._meshes, self._targets):
            for item in cache.values():
                item.release()
            cache.clear()
        for _, texture in self._textures.values():
            texture.release()
        self._textures.clear()
        self._shade_prog.release()
        self._cover_prog.release()
        if self._owns_ctx:
            self.ctx.release()
        self._released = True

    def __enter__(self) -> "GLRenderer":
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def _make_current(self) -> None:
        """Several standalone contexts may live in one process (tests, analysis helpers, the
        GUI's worker): whichever was made last is current, so make ours current before any GL
        call. (Left current afterwards, as a freshly created context is.)"""
        self.ctx.__enter__()

    def cache_sizes(self) -> dict[str, int]:
        """How many meshes, textures and render-target sizes are uploaded (for leak checks)."""
        return {"meshes": len(self._meshes), "textures": len(self._textures),
                "targets": len(self._targets)}

    # ---------------------------------------------------------------- uploads

    def _upload_mesh(self, mesh: Mesh) -> _GpuMesh:
        tensors = (mesh.verts, mesh.faces, mesh.colors, mesh.uvs, mesh.texture, mesh.weld)
        key = tuple(tensor_key(t) for t in tensors)
        cached = self._meshes.get(key)
        if cached is not None:
            self._meshes.move_to_end(key)
            # Writes through ``verts.data`` bypass the version counter; a CPU comparison is cheap.
            if cached.verts_snapshot is None or np.array_equal(
                    cached.verts_snapshot, mesh.verts.detach().numpy()):
                return cached
            self._meshes.pop(key).release()
        data = corner_vertex_data(mesh)
        vbo = self.ctx.buffer(data.tobytes())
        shade_vao = self.ctx.vertex_array(
            self._shade_prog, [(vbo, shaders.VERTEX_FORMAT, *shaders.VERTEX_ATTRIBUTES)])
        cover_vao = self.ctx.vertex_array(self._cover_prog,
                                          [(vbo, shaders.COVERAGE_FORMAT, "in_pos")])
        if mesh.uvs is not None and mesh.texture is not None:
            mode = shaders.ALBEDO_TEXTURE
        elif mesh.colors is not None:
            mode = shaders.ALBEDO_VERTEX_COLOR
        else:
            mode = shaders.ALBEDO_MATERIAL
        snapshot = mesh.verts.detach().numpy().copy() if mesh.verts.device.type == "cpu" else None
        entry = _GpuMesh(tensors, snapshot, vbo, shade_vao, cover_vao, mode)
        self._meshes[key] = entry
        _evict(self._meshes, MESH_CACHE_SIZE, lambda m: m.release())
        return entry

    def _texture(self, texture: torch.Tensor) -> moderngl.Texture:
        key = tensor_key(texture)
        if key in self._textures:
            self._textures.move_to_end(key)
            return self._textures[key][1]
        image = to_numpy(texture)
        if image.ndim == 2:
            image = image[..., None]
        image = image[..., :3] if image.shape[2] >= 3 else np.repeat(image[..., :1], 3, axis=2)
        # Mesh textures have row 0 at the top of the image, while GL's t = 0 (OBJ's v = 0) is the
        # bottom row of the upload: flip once here so the shader samples the uvs unchanged.
        image = np.ascontiguousarray(image[::-1], dtype=np.float32)
        height, width = image.shape[:2]
        tex = self.ctx.texture((width, height), 3, image.tobytes(), dtype="f4")
        tex.filter = (moderngl.LINEAR, moderngl.LINEAR)  # bilinear, no mipmaps
        tex.repeat_x = tex.repeat_y = True
        self._textures[key] = (texture, tex)
        _evict(self._textures, TEXTURE_CACHE_SIZE, lambda item: item[1].release())
        return tex

    def _render_targets(self, size: int, full: bool) -> _Targets:
        key = (size, full)
        if key in self._targets:
            self._targets.move_to_end(key)
            return self._targets[key]
        ctx = self.ctx
        colors = [ctx.renderbuffer((size, size), 4, dtype="f4") for _ in range(3 if full else 1)]
        # moderngl's depth buffers are 24-bit fixed point; float32 would not help with a standard
        # [0, 1] depth range (its spacing near 1 is the same 2^-24). Exact depth is written as a
        # float colour instead; the z-buffer only decides visibility.
        depth = ctx.depth_renderbuffer((size, size))
        coverage = ctx.renderbuffer((size, size), 1, dtype="f4")
        targets = _Targets(ctx.framebuffer(colors, depth), ctx.framebuffer([coverage]),
                           colors + [depth, coverage])
        self._targets[key] = targets
        _evict(self._targets, TARGET_CACHE_SIZE, lambda t: t.release())
        return targets

    # ---------------------------------------------------------------- drawing

    def _set_uniforms(self, scene: Scene, gpu_mesh: _GpuMesh) -> None:
        cam, lights, mat, settings = scene.camera, scene.lights, scene.material, scene.settings
        view, proj = mat4_bytes(cam.view_matrix()), mat4_bytes(cam.projection_matrix())
        for prog in (self._shade_prog, self._cover_prog):
            prog["u_view"].write(view)
            prog["u_proj"].write(proj)
        directions = to_numpy(lights.directions).reshape(-1, 3)
        colors = to_numpy(lights.colors).reshape(-1, 3)
        if directions.shape[0] > shaders.MAX_LIGHTS:
            raise ValueError(f"the GL renderer supports at most {shaders.MAX_LIGHTS} lights, "
                             f"got {directions.shape[0]}")
        if colors.shape != directions.shape:
            raise ValueError(f"light colors {colors.shape} do not match light directions "
                             f"{directions.shape}")
        padded = np.zeros((2, shaders.MAX_LIGHTS, 3), dtype=np.float32)
        padded[0, :len(directions)], padded[1, :len(colors)] = directions, colors
        values = {
            "u_albedo_mode": gpu_mesh.albedo_mode,
            "u_albedo": tuple(to_numpy(mat.albedo).reshape(3)),
            "u_lighting": shaders.LIGHTING_CODES[settings.lighting],
            "u_flat": bool(settings.flat_shading),
            "u_double_sided": bool(settings.double_sided),
            "u_eye": tuple(to_numpy(cam.eye).reshape(3)),
            "u_ambient": tuple(to_numpy(lights.ambient).reshape(3)),
            "u_num_lights": len(directions),
            "u_ka": float(to_numpy(mat.ka)), "u_kd": float(to_numpy(mat.kd)),
            "u_ks": float(to_numpy(mat.ks)), "u_shininess": float(to_numpy(mat.shininess)),
            "u_texture": 0,
        }
        prog = self._shade_prog
        for name, value in values.items():
            if name in prog:  # the GLSL compiler may drop uniforms it proves unused
                prog[name].value = value
        for name, array in (("u_light_dir", padded[0]), ("u_light_color", padded[1]),
                            ("u_sh", to_numpy(lights.sh).reshape(9, 3))):
            if name in prog:
                prog[name].write(np.ascontiguousarray(array, dtype=np.float32).tobytes())
        if gpu_mesh.albedo_mode == shaders.ALBEDO_TEXTURE:
            self._texture(scene.mesh.texture).use(location=0)

    def _draw(self, gpu_mesh: _GpuMesh, size: int, full: bool, cover: bool,
              double_sided: bool) -> dict:
        """Shading pass (and coverage pass if ``cover``) at ``size``; returns the read planes."""
        ctx = self.ctx
        targets = self._render_targets(size, full)
        ctx.disable(moderngl.BLEND)
        ctx.enable(moderngl.DEPTH_TEST)
        ctx.depth_func = "<"
        ctx.front_face = "ccw"
        ctx.cull_face = "back"
        if double_sided:
            ctx.disable(moderngl.CULL_FACE)
        else:
            ctx.enable(moderngl.CULL_FACE)
        targets.shade.use()
        # All planes clear to 0 (face id + 1 = 0 marks background); the background colour is put
        # in after readback, which also keeps it out of the normal and position planes.
        targets.shade.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        gpu_mesh.shade_vao.render(moderngl.TRIANGLES)
        planes = [read_attachment(targets.shade, i, 4, size) for i in range(3 if full else 1)]
        coverage = None
        if cover:
            # Silhouette coverage counts every face, back faces included (DESIGN.md §3).
            ctx.disable(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
            targets.cover.use()
            targets.cover.clear(0.0, 0.0, 0.0, 0.0)
            gpu_mesh.cover_vao.render(moderngl.TRIANGLES)
            coverage = read_attachment(targets.cover, 0, 1, size)[..., 0]
        return {"planes": planes, "coverage": coverage}


_RENDERERS = PerContext(lambda ctx: GLRenderer(ctx))


def render_gl(scene: Scene, ctx: Optional[moderngl.Context] = None) -> dict[str, np.ndarray]:
    """Render with a renderer cached per context (None: one shared standalone EGL context).
    Returns the buffers of ``GLRenderer.render``."""
    return _RENDERERS.get(ctx).render(scene)
