"""`python main.py bench`: forward and forward+backward timings of the torch renderers.

Each case renders a mesh at a fixed camera (or one of the scenes other representations register
with ``register_bench_scene``: splats, voxels, SDFs, differentiated in their element group); loss = rgb.sum() + alpha.sum(); times are medians
over ``repeats`` runs after one warm-up. Each case runs in its own process; peak memory is that
process's resident-set high-water mark (interpreter and libraries included, about 0.4 GB) on the
CPU, and torch.cuda.max_memory_allocated during forward+backward on CUDA. Each case runs a second
time while another process spins on one core (the "busy" columns: a user's machine is never
idle); "thr" is the torch thread count the case ran with (renderer/thread_policy.py).
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Optional

import torch

from .camera import OrbitCamera
from .lighting import Lights, Material
from .mesh import Mesh
from .scene import RenderSettings, Scene
from .paths import REPO_ROOT, shared_dir
from .registry import get_renderer, renderers

SHARED_MESHES = shared_dir() / "meshes"

# name -> (representation, make(size) -> Scene): the bench scenes of the other representations.
BENCH_SCENES: dict[str, tuple[str, Callable[[int], Scene]]] = {}


def register_bench_scene(name: str, kind: str, make: Callable[[int], Scene]) -> None:
    """Add a bench scene of representation ``kind`` (a package's registration does this); the
    bench times every differentiable renderer of that kind on it, at each size."""
    BENCH_SCENES[name] = (kind, make)


def bench_scene_cases(renderer_filter: Optional[str] = None) -> list[tuple[str, str, str]]:
    """(scene name, renderer, lighting) of every registered non-mesh bench scene."""
    from .registry import load_plugins

    load_plugins()
    return [(name, spec.name, lighting) for name, (kind, _) in BENCH_SCENES.items()
            for spec in renderers(kind, differentiable=True)
            for lighting in (spec.bench_lightings or ("none",))
            if not renderer_filter or spec.name == renderer_filter]


def bench_cases(renderer_filter: Optional[str] = None) -> list[tuple[str, str]]:
    """(renderer, lighting) pairs: every registered differentiable mesh renderer with each of its
    ``bench_lightings``."""
    return [(spec.name, lighting) for spec in renderers("mesh", differentiable=True)
            for lighting in spec.bench_lightings if not renderer_filter or spec.name == renderer_filter]


@dataclass
class BenchRow:
    renderer: str
    lighting: str
    mesh: str
    faces: int
    size: int
    forward_ms: float
    forward_backward_ms: float
    pairs: int
    tile_elements: int
    peak_mb: float
    device: str
    threads: int = 0
    forward_busy_ms: Optional[float] = None            # the same case while one core is busy
    forward_backward_busy_ms: Optional[float] = None


def bench_meshes(shared: Path = SHARED_MESHES) -> list[Mesh]:
    """The benchmark meshes: a 1.3k-face sphere, Spot (5.9k) and Spot subdivided (23k, 94k)."""
    import trimesh

    from .io import load_mesh

    sphere = load_mesh(shared / "sphere_642.obj")
    spot = load_mesh(shared / "spot" / "cow.obj")
    meshes = [replace(sphere, name="sphere"), replace(spot, name="spot")]
    verts, faces = spot.verts.numpy(), spot.faces.numpy()
    for _ in range(2):
        verts, faces = trimesh.remesh.subdivide(verts, faces)
        meshes.append(Mesh(verts=torch.tensor(verts, dtype=torch.float32),
                           faces=torch.tensor(faces, dtype=torch.int64), name=f"spot-{len(faces) // 1000}k"))
    return meshes


def _reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _peak_mb(device: str) -> float:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _median_ms(fn: Callable[[], object], repeats: int, device: str) -> float:
    fn()
    times = []
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def bench_scene_case(name: str, renderer: str, lighting: str, size: int, device: str,
                     repeats: int) -> BenchRow:
    """A registered non-mesh bench scene, its element group (splat means, cells, primitive
    parameters) and the light colours requiring grad."""
    from .analysis.gradients import leaf_groups
    from .analysis.params import element_group, with_groups

    kind, make = BENCH_SCENES[name]
    scene = make(size)
    scene = scene.replace(shape=scene.shape.to(device), material=Material.for_lighting(lighting),
                          settings=scene.settings.replace(renderer=renderer, lighting=lighting,
                                                          image_size=size, device=device))
    group = element_group(scene)
    if group is not None:
        scene = with_groups(scene, leaf_groups(scene, [group]))
    return _time_scene(scene, name, scene.shape.num_elements, device, repeats)


def bench_case(mesh: Mesh, renderer: str, lighting: str, size: int, device: str,
               repeats: int) -> BenchRow:
    verts = mesh.verts.to(device).clone().requires_grad_()
    lights = Lights.from_angles(30.0, 40.0)
    lights.colors = lights.colors.to(device).requires_grad_()   # gives the hard renderer a gradient path
    scene = Scene(shape=mesh.to(device).with_verts(verts),
                  camera=OrbitCamera(azimuth=30.0, elevation=20.0, distance=2.6),
                  lights=lights, material=Material.for_lighting(lighting),
                  settings=RenderSettings(image_size=size, renderer=renderer, lighting=lighting, device=device))
    return _time_scene(scene, mesh.name, mesh.num_faces, device, repeats)


def _time_scene(scene: Scene, name: str, elements: int, device: str, repeats: int) -> BenchRow:
    from .rendering import render

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    _reset_peak()

    def forward():
        with torch.no_grad():
            return render(scene)

    def forward_backward():
        out = render(scene)
        (out["rgb"].sum() + out["alpha"].sum()).backward()
        return out

    fwd = _median_ms(forward, repeats, device)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    _reset_peak()
    fb = _median_ms(forward_backward, repeats, device)
    out = forward()
    st = scene.settings
    return BenchRow(st.renderer, st.lighting, name, elements, st.image_size, fwd, fb,
                    int(out.get("num_pairs", 0)), int(out.get("tile_elements", 0)), _peak_mb(device), device,
                    torch.get_num_threads())


def _ms(value: Optional[float], width: int) -> str:
    return f"{value:>{width}.1f}" if value is not None else f"{'-':>{width}}"


def format_table(rows: list[BenchRow]) -> str:
    head = f"{'renderer':<10} {'lighting':<8} {'scene':<12} {'faces':>7} {'size':>5} {'fwd ms':>8} " \
           f"{'fwd+bwd ms':>10} {'busy fwd':>9} {'busy f+b':>9} {'pairs':>11} {'formed':>11} " \
           f"{'peak MB':>8} {'thr':>3} device"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r.renderer:<10} {r.lighting:<8} {r.mesh:<12} {r.faces:>7,} {r.size:>5} "
                     f"{r.forward_ms:>8.1f} {r.forward_backward_ms:>10.1f} {_ms(r.forward_busy_ms, 9)} "
                     f"{_ms(r.forward_backward_busy_ms, 9)} {r.pairs:>11,} {r.tile_elements:>11,} "
                     f"{r.peak_mb:>8.0f} {r.threads:>3} {r.device}")
    return "\n".join(lines)


@contextmanager
def one_core_busy():
    """A second process spinning on one core for the duration: a user's machine is never idle."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()


def _case_in_subprocess(mesh_name: str, renderer: str, lighting: str, size: int, device: str,
                        repeats: int) -> BenchRow:
    """One case in a fresh Python process, so that its peak memory is its own: the allocator
    keeps what earlier cases freed, and the high-water mark cannot be reset below that."""
    code = ("import json, sys; from dataclasses import asdict; from renderer.bench import *; "
            "from renderer.registry import load_plugins; load_plugins(); a = sys.argv; "
            "row = bench_scene_case(a[1], a[2], a[3], int(a[4]), a[5], int(a[6])) if a[1] in BENCH_SCENES "
            "else bench_case(next(x for x in bench_meshes() if x.name == a[1]), a[2], a[3], int(a[4]), "
            "a[5], int(a[6])); print(json.dumps(asdict(row)))")
    # the child registers what this process has: built-ins, plus the module defining this renderer
    plugins = [p for p in os.environ.get("DRD_PLUGINS", "").split(",") if p]
    module = get_renderer(renderer).render.__module__
    env = dict(os.environ, DRD_PLUGINS=",".join(plugins + [module]))
    proc = subprocess.run([sys.executable, "-c", code, mesh_name, renderer, lighting, str(size), device,
                           str(repeats)], capture_output=True, text=True, cwd=str(REPO_ROOT), env=env)
    if proc.returncode != 0:
        lines = (proc.stderr.strip() or "no output").splitlines()
        raise RuntimeError(f"benchmark case {renderer}/{lighting}/{mesh_name}/{size} failed: {lines[-1]}")
    return BenchRow(**json.loads(proc.stdout.strip().splitlines()[-1]))


def run_bench(sizes=(256, 512), repeats: int = 5, device: Optional[str] = None,
              mesh_filter: Optional[str] = None, renderer_filter: Optional[str] = None,
              echo: Callable[[str], None] = print, contended: bool = True) -> list[BenchRow]:
    """Run every case, each in its own process, printing each row as it completes; with
    ``contended``, each case a second time while another process keeps one core busy (the
    "busy" columns)."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    rows: list[BenchRow] = []
    names = [m.name for m in bench_meshes() if not mesh_filter or mesh_filter in m.name]
    cases = [(name, renderer, lighting) for renderer, lighting in bench_cases(renderer_filter) for name in names]
    cases += [case for case in bench_scene_cases(renderer_filter) if not mesh_filter or mesh_filter in case[0]]
    from . import native

    echo(f"C kernels on the CPU: softras {native.status('softras')}, nmr {native.status('nmr_sweep')}")
    echo(format_table([]))
    for name, renderer, lighting in cases:
        for size in sizes:
            row = _case_in_subprocess(name, renderer, lighting, size, device, repeats)
            if contended:
                with one_core_busy():
                    busy = _case_in_subprocess(name, renderer, lighting, size, device, repeats)
                row = replace(row, forward_busy_ms=busy.forward_ms,
                              forward_backward_busy_ms=busy.forward_backward_ms)
            rows.append(row)
            echo(format_table([row]).splitlines()[-1])
    return rows


def rows_as_dicts(rows: list[BenchRow]) -> list[dict]:
    return [asdict(r) for r in rows]
