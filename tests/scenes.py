"""Small deterministic scenes for the renderer tests."""
from __future__ import annotations

import torch

from renderer import Lights, Material, Mesh, OrbitCamera, RenderSettings, Scene


def few_triangles(dtype=torch.float64, colors=True) -> Mesh:
    """Four overlapping, asymmetric triangles at different depths, mixed winding."""
    verts = torch.tensor([
        [-0.8, -0.6, 0.1], [0.7, -0.5, 0.0], [-0.1, 0.8, -0.1],
        [-0.3, -0.2, 0.5], [0.9, 0.3, 0.4], [0.2, 0.9, 0.45],
        [-0.9, 0.2, -0.3], [-0.2, -0.9, -0.35], [0.4, 0.1, 0.2],
        [0.1, -0.1, 0.6],
    ], dtype=dtype)
    faces = torch.tensor([[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 5, 4]])
    col = torch.rand(verts.shape[0], 3, dtype=dtype, generator=torch.Generator().manual_seed(1)) if colors else None
    return Mesh(verts=verts, faces=faces, colors=col)


def small_scene(renderer="softras", lighting="phong", size=12, dtype=torch.float64, **settings) -> Scene:
    cam = OrbitCamera(azimuth=torch.tensor(20.0, dtype=dtype), elevation=torch.tensor(10.0, dtype=dtype),
                      distance=torch.tensor(2.5, dtype=dtype), fov=torch.tensor(50.0, dtype=dtype))
    lights = Lights.from_angles(40.0, 30.0, (1.0, 0.9, 0.8))
    lights.directions = lights.directions.to(dtype)
    return Scene(shape=few_triangles(dtype), camera=cam, lights=lights,
                 material=Material.for_lighting(lighting, shininess=8.0),
                 settings=RenderSettings(image_size=size, renderer=renderer, lighting=lighting,
                                         background=(0.2, 0.3, 0.4), **settings))


def textured(scene: Scene) -> Scene:
    """The scene's mesh with random uvs and a small random texture (the bilinear lookups of
    Spot's texture, on a test-sized mesh)."""
    g = torch.Generator().manual_seed(4)
    mesh = scene.mesh
    uvs = torch.rand(mesh.verts.shape[0], 2, generator=g, dtype=torch.float32)
    texture = torch.rand(8, 8, 3, generator=g, dtype=torch.float32)
    return scene.replace(shape=Mesh(verts=mesh.verts, faces=mesh.faces, uvs=uvs, texture=texture))
