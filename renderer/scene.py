"""The Scene: a shape (mesh, and the representations to come) + camera + lights + material +
render settings, read by every renderer. Camera, lights, material and settings are shared by
every representation."""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Optional

from .camera import OrbitCamera
from .lighting import LIGHTING_MODELS, Lights, Material
from .mesh import Mesh
from .registry import SOFTRAS_CUTOFF_FACTOR, default_renderer, get_renderer, renderer_names
from .shapes import Shape, shape_kind

SIGMA_RANGE = (1e-7, 1e-1)
DEFAULT_RENDERER = "softras"
GAMMA_RANGE = (1e-6, 1.0)


@dataclass
class RenderSettings:
    """How to render. sigma: SoftRas sharpness (squared NDC distance); gamma: SoftRas depth
    aggregation temperature; dibr_delta: DIB-R's background falloff (squared NDC distance);
    weight_floor: SoftRas shades only pairs whose normalised colour weight is at least this
    (0: every pair, exact; the render's dropped_weight buffer bounds the difference);
    background: RGB; supersample: the GL reference's k (render at k*S, box-filter down);
    sdf_*: DIST's sphere-tracing options (max steps, convergence threshold, over-stepping factor,
    step clamp, coarse-to-fine), None for the renderer's defaults."""

    image_size: int = 256
    renderer: str = DEFAULT_RENDERER
    lighting: str = "phong"
    sigma: float = 1e-4
    gamma: float = 1e-4
    dibr_delta: float = 1.0 / 7000.0
    weight_floor: float = 1e-5
    background: tuple[float, float, float] = (0.0, 0.0, 0.0)
    flat_shading: bool = False
    double_sided: bool = False
    supersample: int = 1
    device: str = "cpu"
    # sphere tracing (renderer/sdf, docs/sdf.md); None: the renderer's own default
    sdf_max_steps: Optional[int] = None
    sdf_threshold: Optional[float] = None
    sdf_overstep: Optional[float] = None
    sdf_step_clamp: Optional[float] = None
    sdf_coarse_to_fine: Optional[bool] = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError, naming the field and the allowed values, for a setting out of range."""
        if not isinstance(self.image_size, int) or not 1 <= self.image_size <= 4096:
            raise ValueError(f"image size must be an integer from 1 to 4096, got {self.image_size!r}")
        get_renderer(self.renderer)               # raises, naming the registered renderers
        if self.lighting not in LIGHTING_MODELS:
            raise ValueError(f"unknown lighting model {self.lighting!r}; expected one of {', '.join(LIGHTING_MODELS)}")
        for name in ("sigma", "gamma", "dibr_delta"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and 0 < v < float("inf")):
                raise ValueError(f"{name} must be a positive finite number, got {v!r}")
        if not (isinstance(self.weight_floor, (int, float)) and 0 <= self.weight_floor < 1):
            raise ValueError(f"weight_floor must be a number in [0, 1), got {self.weight_floor!r}")
        if not isinstance(self.supersample, int) or not 1 <= self.supersample <= 8:
            raise ValueError(f"supersample must be an integer from 1 to 8, got {self.supersample!r}")
        if self.sdf_max_steps is not None and not (isinstance(self.sdf_max_steps, int) and self.sdf_max_steps >= 1):
            raise ValueError(f"sdf_max_steps must be a positive whole number, got {self.sdf_max_steps!r}")
        for name in ("sdf_threshold", "sdf_overstep", "sdf_step_clamp"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, (int, float)) and 0 < v < float("inf")):
                raise ValueError(f"{name} must be a positive finite number, got {v!r}")
        if len(self.background) != 3:
            raise ValueError(f"background must be an RGB triple, got {self.background!r}")

    def edge_width_px(self) -> float:
        """Width in pixels of SoftRas's band outside a triangle at this sigma (see
        ``softras_edge_width_px``), whichever renderer is selected."""
        return softras_edge_width_px(self)

    def replace(self, **changes) -> "RenderSettings":
        return replace(self, **changes)


def softras_edge_width_px(settings: RenderSettings) -> float:
    """Width in pixels of the band outside a triangle where SoftRas's D >= 1e-4:
    sqrt(SOFTRAS_CUTOFF_FACTOR sigma) S / 2 (NDC spans 2 over S pixels)."""
    return (SOFTRAS_CUTOFF_FACTOR * settings.sigma) ** 0.5 * settings.image_size / 2


@dataclass
class Scene:
    """Everything a renderer needs. Renderers read it and never mutate it. ``shape`` is one of
    the registered representations (``renderer.shapes``); ``mesh`` reads it when it is a Mesh."""

    shape: Shape
    camera: OrbitCamera = field(default_factory=OrbitCamera)
    lights: Lights = field(default_factory=Lights)
    material: Material = field(default_factory=Material)
    settings: RenderSettings = field(default_factory=RenderSettings)

    def __post_init__(self) -> None:
        kind = shape_kind(self.shape)             # a TypeError naming the known kinds
        # A scene of another representation left on the mesh default starts on that
        # representation's own renderer (a splat file opens on "splat", not "softras").
        # (A kind with no renderer keeps it: rendering then says that none draws it.)
        if (self.settings.renderer == DEFAULT_RENDERER and renderer_names(kind)
                and not get_renderer(self.settings.renderer).accepts(kind)):
            self.settings = replace(self.settings, renderer=default_renderer(kind).name)

    @property
    def kind(self) -> str:
        """The representation of the shape, e.g. "mesh"."""
        return type(self.shape).kind

    @property
    def mesh(self) -> Mesh:
        """The shape as a Mesh; a clear TypeError for a scene of another representation."""
        if not isinstance(self.shape, Mesh):
            raise TypeError(f"this scene holds a {self.kind}, not a mesh")
        return self.shape

    @staticmethod
    def default(mesh: Shape, lighting: str = "phong", **settings) -> "Scene":
        """A scene with this shape, the default camera and light, and the material defaults of
        ``lighting``; ``settings`` are RenderSettings fields (the renderer defaults to the
        shape's representation's first differentiable one)."""
        return Scene(shape=mesh, material=Material.for_lighting(lighting),
                     settings=RenderSettings(lighting=lighting, **settings))

    def replace(self, **changes) -> "Scene":
        """A shallow copy with some parts swapped: cheap, nothing is rebuilt or re-uploaded."""
        return replace(self, **changes)

    def with_settings(self, **changes) -> "Scene":
        return replace(self, settings=replace(self.settings, **changes))

    def with_camera(self, **changes) -> "Scene":
        return replace(self, camera=replace(self.camera, **changes))

    def copy(self) -> "Scene":
        """An independent copy: parameter tensors cloned and detached, shape tensors shared
        (they are never modified in place)."""
        cam = self.camera.detached()
        lights = Lights(**{f.name: getattr(self.lights, f.name).detach().clone()
                           for f in fields(Lights)})
        mat = Material(**{f.name: getattr(self.material, f.name).detach().clone()
                          for f in fields(Material)})
        return Scene(shape=self.shape, camera=cam, lights=lights, material=mat,
                     settings=replace(self.settings))


