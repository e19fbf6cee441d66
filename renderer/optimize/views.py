"""Target views: a camera and the image seen from it, rendered by the GL reference or read from a
targets file.

Targets file (.npz): ``images`` (N, S, S) silhouettes or (N, S, S, 4) RGBA, float in [0, 1] (uint8
0..255 is accepted too); ``cameras`` (N, 3) rows of (distance, elevation, azimuth), degrees, in this
project's convention (DESIGN.md §2: azimuth 0 looks from +Z); optional ``fov`` (vertical field of
view in degrees, default 60). SoftRas's own camera files use another convention (see
shared/data/README.md) and are not converted here.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from ..analysis.losses import Target
from ..camera import OrbitCamera
from ..scene import Scene

DEFAULT_TARGET_SUPERSAMPLE = 4


@dataclass
class View:
    """One target view: camera (the truth, fixed) and target image."""

    camera: OrbitCamera
    target: Target


def camera_grid(kind: str, count: Optional[int] = None, fov: float = 60.0) -> list[OrbitCamera]:
    """Camera layouts of the published demos.

    "pytorch3d" (fit_textured_mesh): ``count`` (default 20) views, elevation linspace(0, 360),
    azimuth linspace(-180, 180), distance 2.7, fov 60 (``fov``).
    "softras" (demo_deform): elevations -60, -30, 0, 30, 60 times 24 azimuths 0, -15, ..., -345,
    distance 2.732, fov 30; ``count`` keeps every k-th of the 120 to have at most ``count``.
    "ring": ``count`` (default 8) views around the object at elevation 20, distance 3.
    """
    if kind == "pytorch3d":
        n = count or 20
        el = np.linspace(0, 360, n)
        az = np.linspace(-180, 180, n)
        return [OrbitCamera(azimuth=float(a), elevation=float(e), distance=2.7, fov=fov) for a, e in zip(az, el)]
    if kind == "softras":
        cams = [OrbitCamera(azimuth=-15.0 * k, elevation=float(e), distance=2.732, fov=30.0)
                for e in (-60, -30, 0, 30, 60) for k in range(24)]
        if count and count < len(cams):
            stride = -(-len(cams) // count)
            cams = cams[::stride]
        return cams
    if kind == "ring":
        n = count or 8
        return [OrbitCamera(azimuth=360.0 * k / n, elevation=20.0, distance=3.0, fov=fov) for k in range(n)]
    raise ValueError(f"unknown camera layout {kind!r}; expected pytorch3d, softras or ring")


def render_views(scene: Scene, cameras: Sequence[OrbitCamera],
                 supersample: int = DEFAULT_TARGET_SUPERSAMPLE, gl=None) -> list[View]:
    """Targets drawn by the OpenGL reference (supersampled: anti-aliased, like a photograph) of
    ``scene`` seen from each camera. gl: a ``GLRenderer`` to draw with, e.g. one made on a
    worker thread (GL contexts belong to one thread); None: the shared standalone one."""
    from ..gl import render_gl

    draw = gl.render if gl is not None else render_gl
    views = []
    dtype = scene.mesh.verts.dtype
    for cam in cameras:
        out = draw(scene.replace(camera=cam).with_settings(renderer="gl", supersample=supersample))
        target = Target(torch.from_numpy(out["rgb"]).to(dtype), torch.from_numpy(out["alpha"]).to(dtype))
        views.append(View(camera=cam.detached(), target=target))
    return views


def load_targets(path: str | Path) -> tuple[list[View], int]:
    """Read a targets file (see the module docstring) -> (views, image size S).
    Raises ValueError with the reason for a missing, unreadable or malformed file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"targets file {str(path)!r} does not exist or is not a file")
    try:
        with np.load(path, allow_pickle=False) as data:
            contents = {k: np.asarray(data[k]) for k in data.files if k in ("images", "cameras", "fov")}
    except Exception as exc:  # noqa: BLE001 - zip/npy errors come in many types; one line for the user
        raise ValueError(f"cannot read targets file {str(path)!r}: {' '.join(str(exc).split())}") from None
    missing = {"images", "cameras"} - set(contents)
    if missing:
        raise ValueError(f"targets file {str(path)!r} lacks {', '.join(sorted(missing))}; "
                         "expected images (N,S,S) or (N,S,S,4) and cameras (N,3)")
    images, cameras = contents["images"], contents["cameras"].astype(np.float64)
    fov = float(contents["fov"]) if "fov" in contents else 60.0
    if images.dtype == np.uint8:
        images = images.astype(np.float32) / 255.0
    images = images.astype(np.float32)
    if images.ndim not in (3, 4) or images.shape[1] != images.shape[2] or \
            (images.ndim == 4 and images.shape[3] != 4):
        raise ValueError(f"targets file {str(path)!r}: images has shape {images.shape}; "
                         "expected (N, S, S) silhouettes or (N, S, S, 4) RGBA")
    if cameras.shape != (images.shape[0], 3):
        raise ValueError(f"targets file {str(path)!r}: cameras has shape {cameras.shape}; expected "
                         f"({images.shape[0]}, 3) rows of distance, elevation, azimuth")
    if not (np.isfinite(images).all() and np.isfinite(cameras).all()):
        raise ValueError(f"targets file {str(path)!r} holds NaN or infinite values")
    if images.min() < 0 or images.max() > 1:
        raise ValueError(f"targets file {str(path)!r}: image values must lie in [0, 1]")
    if (cameras[:, 0] <= 0).any() or not 0 < fov < 180:
        raise ValueError(f"targets file {str(path)!r}: distances must be positive and fov in (0, 180)")
    views = []
    for img, (dist, el, az) in zip(images, cameras):
        if img.ndim == 2:
            rgb, alpha = np.repeat(img[..., None], 3, axis=2), img
        else:
            rgb, alpha = img[..., :3], img[..., 3]
        cam = OrbitCamera(azimuth=float(az), elevation=float(el), distance=float(dist), fov=fov)
        views.append(View(cam, Target(torch.from_numpy(np.ascontiguousarray(rgb)),
                                      torch.from_numpy(np.ascontiguousarray(alpha)))))
    return views, int(images.shape[1])


def save_targets(path: str | Path, views: Sequence[View], silhouettes_only: bool = False) -> None:
    """Write views as a targets file (images RGBA, or (N,S,S) alpha; cameras; fov of the first)."""
    alpha = np.stack([v.target.alpha.detach().cpu().numpy() for v in views]).astype(np.float32)
    if silhouettes_only:
        images = alpha
    else:
        rgb = np.stack([v.target.rgb.detach().cpu().numpy() for v in views]).astype(np.float32)
        images = np.concatenate([rgb, alpha[..., None]], axis=-1)
    cams = np.array([[float(v.camera.distance), float(v.camera.elevation), float(v.camera.azimuth)]
                     for v in views])
    np.savez_compressed(path, images=images, cameras=cams, fov=np.float64(float(views[0].camera.fov)))
