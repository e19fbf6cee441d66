"""The one list of renderers: what each is called, what it draws, what it is differentiable in,
what it returns, which analyses apply and what it is compared against.

Everything that offers a choice of renderer (the CLI, the GUI combos, the bench, the agreement
measures, the diagnostics, the tests) reads this registry; nothing else spells renderer names.
A new renderer is one module that calls ``register_renderer`` once:

    register_renderer(RendererSpec(name="flat", render=render_flat, representations=("mesh",),
                                   wrt=("geometry",), buffers=("rgb", "alpha")))

Built-in renderers register in a ``registration`` module of their package (``renderer/<package>/
registration.py``, found and imported on first use: a new package needs no edit elsewhere);
third-party ones can be named in the ``diffrender_debugger.renderers`` entry-point group or the
``DRD_PLUGINS`` environment variable (comma-separated module names).
"""
from __future__ import annotations

import importlib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from .errors import UserError

if TYPE_CHECKING:
    from .fragments import RenderOutput
    from .scene import RenderSettings, Scene

# The parameter groups a renderer can be differentiable with respect to.
WRT_GROUPS = ("geometry", "appearance", "lighting", "material")
ENTRY_POINT_GROUP = "diffrender_debugger.renderers"
CORE_PACKAGES = ("soft", "gl")      # registered first: softras is the mesh default, menus start there

# The SoftRas coverage floor D >= 1e-4: outside a triangle, D = sigmoid(-d2/sigma) >= 1e-4 while
# d2 < sigma ln(1/1e-4 - 1) (~9.21 sigma). Every use of the cut-off reads these two names.
COVERAGE_FLOOR = 1e-4
SOFTRAS_CUTOFF_FACTOR = math.log(1 / COVERAGE_FLOOR - 1)


@dataclass(frozen=True)
class RendererSpec:
    """One registered renderer.

    name: the key (CLI choice, combo item, scene.settings.renderer); render(scene, with_pairs)
    -> RenderOutput; representations: shape kinds it draws (``renderer.shapes``); wrt: parameter
    groups (``WRT_GROUPS``) it has a gradient for, () when not differentiable; buffers: the
    RenderOutput fields it fills; analysis_modes: names of the analysis modes that apply (None:
    all); reference: the name of the renderer its images and derivatives are checked against;
    uses: the RenderSettings fields it reads beyond the shared ones (shown in captions);
    edge_width_px(settings): width of its soft edge band in pixels (0 for hard edges);
    silhouette(scene) -> {"alpha"}: a faster alpha-only path, when it has one; pairs: it can
    return ``SoftPairs`` for the pixel inspector; derivative_method: how a forward-mode
    derivative image is taken ("jvp" or "double_backward"); bench_lightings: the lighting
    models the bench times it with; is_reference: an exact, non-differentiable reference;
    cost(scene) -> int: the (pixel, element) pairs a render would form, computed before the work
    (cheap), from which callers predict its time and memory; None when unknown.
    image_derivative: False for a renderer whose backward is hand-made for a loss (NMR): it has
    dL/dtheta but no dI/dtheta, so derivative images and forward mode refuse it with a sentence
    (``NoImageDerivativeError``) instead of showing zeros. antialiased: its pixels blend the
    faces and background that share them (analytic antialiasing, supersampling), so a pixel is
    not one face's colour: the pixel inspector lists the face at its centre and says so.
    reference_supersample: the GL reference's supersampling its forward image corresponds to
    (NMR averages 2x2 samples: 2), for comparing images like with like. rgb_composited: its rgb
    is already the colour a viewer sees, blended over the background at partly covered pixels
    (box filtering, antialiasing), so analyses must not composite it with alpha again.
    """

    name: str
    render: Callable[..., "RenderOutput"]
    representations: tuple[str, ...] = ("mesh",)
    wrt: tuple[str, ...] = ()
    buffers: tuple[str, ...] = ("rgb", "alpha", "depth")
    analysis_modes: Optional[tuple[str, ...]] = None
    reference: Optional[str] = "gl"
    uses: tuple[str, ...] = ()
    edge_width_px: Callable[["RenderSettings"], float] = field(default=lambda settings: 0.0)
    silhouette: Optional[Callable[["Scene"], dict]] = None
    pairs: bool = False
    derivative_method: str = "jvp"
    bench_lightings: tuple[str, ...] = ("phong",)
    is_reference: bool = False
    description: str = ""
    cost: Optional[Callable[["Scene"], int]] = None
    image_derivative: bool = True
    antialiased: bool = False
    reference_supersample: int = 1
    rgb_composited: bool = False

    def __post_init__(self) -> None:
        unknown = set(self.wrt) - set(WRT_GROUPS)
        if unknown:
            raise ValueError(f"renderer {self.name!r}: unknown gradient groups {sorted(unknown)}; "
                             f"expected some of {', '.join(WRT_GROUPS)}")
        if self.derivative_method not in ("jvp", "double_backward"):
            raise ValueError(f"renderer {self.name!r}: derivative_method must be jvp or double_backward")

    @property
    def differentiable(self) -> bool:
        return bool(self.wrt)

    @property
    def geometry_gradients(self) -> bool:
        """Whether moving an edge (vertices, camera) changes its output differentiably."""
        return "geometry" in self.wrt

    def applies(self, mode: str) -> bool:
        """Whether analysis mode ``mode`` means something for this renderer."""
        return self.analysis_modes is None or mode in self.analysis_modes

    def accepts(self, kind: str) -> bool:
        return kind in self.representations

    def label(self, settings: "RenderSettings") -> str:
        """The renderer and the settings it reads, e.g. "softras, sigma=0.0001, gamma=0.0001"."""
        parts = [f"{name}={getattr(settings, name):.3g}" for name in self.uses]
        return ", ".join([self.name, *parts])


_REGISTRY: dict[str, RendererSpec] = {}
_loaded = False


def register_renderer(spec: RendererSpec, replace: bool = False) -> RendererSpec:
    """Add ``spec``; registering a taken name again raises unless ``replace``."""
    if spec.name in _REGISTRY and not replace and _REGISTRY[spec.name] is not spec:
        raise ValueError(f"a renderer named {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def unregister_renderer(name: str) -> None:
    """Remove a renderer (tests that register a toy one clean up with this)."""
    _REGISTRY.pop(name, None)


def load_plugins() -> None:
    """Import the built-in renderer packages and the plugins named in DRD_PLUGINS and the
    entry-point group, once (they register their renderers, shapes and loaders)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    package = Path(__file__).resolve().parent
    # the first wave's renderers first, so that menus and defaults keep their order
    found = sorted(p.parent.name for p in package.glob("*/registration.py"))
    rank = {name: i for i, name in enumerate(CORE_PACKAGES)}
    for name in sorted(found, key=lambda n: (rank.get(n, len(rank)), n)):
        importlib.import_module(f"{__package__}.{name}.registration")
    names = [m.strip() for m in os.environ.get("DRD_PLUGINS", "").split(",") if m.strip()]
    try:
        from importlib.metadata import entry_points

        names += [ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)]
    except Exception:  # noqa: BLE001 - a broken environment must not stop the built-ins
        pass
    for module in names:
        importlib.import_module(module.split(":")[0])


class UnknownRendererError(UserError, ValueError):
    """A renderer name that is not registered."""


def get_renderer(name: str) -> RendererSpec:
    """The spec registered as ``name``; UnknownRendererError naming the choices otherwise."""
    load_plugins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownRendererError(f"unknown renderer {name!r}; expected one of "
                                   f"{', '.join(renderer_names())}") from None


def renderers(representation: Optional[str] = None, differentiable: Optional[bool] = None) -> list[RendererSpec]:
    """Registered specs, differentiable ones first, then references, each in registration
    order; optionally only those drawing ``representation`` and/or only the (non-)differentiable
    ones."""
    load_plugins()
    return [s for s in sorted(_REGISTRY.values(), key=lambda spec: spec.is_reference)
            if (representation is None or s.accepts(representation))
            and (differentiable is None or s.differentiable == differentiable)]


def renderer_names(representation: Optional[str] = None, differentiable: Optional[bool] = None) -> list[str]:
    return [s.name for s in renderers(representation, differentiable)]


def reference_renderer(kind: str) -> RendererSpec:
    """The exact reference (``is_reference``) registered for representation ``kind`` ("gl" for
    meshes); UnknownRendererError when there is none."""
    for spec in renderers(kind, differentiable=False):
        if spec.is_reference:
            return spec
    raise UnknownRendererError(f"no reference renderer is registered for a {kind}")


def default_renderer(kind: str) -> RendererSpec:
    """The renderer a new scene of representation ``kind`` starts with: the first differentiable
    one registered for it (softras for meshes), else its reference."""
    drawing = renderers(kind)
    if not drawing:
        raise UnknownRendererError(f"no renderer is registered for a {kind}")
    return drawing[0]


class NoImageDerivativeError(UserError, ValueError):
    """dI/dtheta asked of a renderer that only defines a loss derivative (``image_derivative``)."""


def check_image_derivative(spec: RendererSpec) -> None:
    """Raise NoImageDerivativeError, saying what to use instead, when ``spec`` has no dI/dtheta."""
    if not spec.image_derivative:
        raise NoImageDerivativeError(
            f"{spec.name} has no image derivative dI/dtheta: its backward pass is hand-made for a "
            f"loss (dL/dtheta only); use the gradient views or compare-gradients, or another renderer")


def differentiable_renderer(name: str, purpose: str) -> RendererSpec:
    """The spec of ``name``, which ``purpose`` (e.g. "a loss landscape") needs differentiable;
    a ValueError naming the differentiable renderers otherwise."""
    spec = get_renderer(name)
    if not spec.differentiable:
        choices = ", ".join(s.name for s in renderers(spec.representations[0], differentiable=True))
        raise ValueError(f"the {name} renderer is not differentiable; {purpose} needs one of: {choices}")
    return spec
