"""The error taxonomy and the broken inputs that used to print noise or misleading messages."""
from __future__ import annotations

import numpy as np
import pytest

from renderer.analysis import load_target_image, target_from_image
from renderer.errors import UserError, describe_error
from renderer.images import TargetImageError, read_target_image
from tests.test_cli import assert_one_line_error, run


def test_user_errors_share_one_base():
    from renderer.assets import UnknownAssetError
    from renderer.io import MeshLoadError, UnsupportedFileError
    from renderer.optimize.timeline_file import TimelineFileError
    from renderer.registry import UnknownRendererError
    from renderer.soft.tiles import TooManyPairsError

    for cls in (MeshLoadError, UnsupportedFileError, TimelineFileError, UnknownRendererError,
                TooManyPairsError, TargetImageError, UnknownAssetError):
        assert issubclass(cls, UserError), cls


def test_a_genuine_lookup_bug_is_an_internal_error():
    from renderer.assets import UnknownAssetError

    assert describe_error(KeyError("rgb")).startswith("internal error (KeyError")
    assert describe_error(IndexError("list index out of range")).startswith("internal error")
    assert describe_error(UnknownAssetError("no bundled asset 'x'")) == "no bundled asset 'x'"
    assert describe_error(ValueError("sigma must be positive")) == "sigma must be positive"


def test_load_picks_the_loader_by_extension(tmp_path):
    import renderer as dr

    with pytest.raises(UserError, match=r"'\.xyz' is not a supported file type; supported: .*\.obj"):
        dr.load(tmp_path / "cloud.xyz")


def test_stl_with_an_infinite_coordinate_is_one_line(tmp_path):
    stl = tmp_path / "inf.stl"
    facet = "facet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nvertex {} 1 0\nendloop\nendfacet\n"
    stl.write_text("solid x\n" + facet.format("inf") + facet.format("0") + "endsolid x\n")
    assert_one_line_error(run("render", str(stl), "--out", str(tmp_path / "x.png")), "infinite")


def test_garbage_stl_names_the_problem_not_a_module(tmp_path):
    stl = tmp_path / "garbage.stl"
    stl.write_bytes(bytes(range(256)) * 2 + b"\xff\xfe")
    proc = run("render", str(stl), "--out", str(tmp_path / "x.png"))
    assert_one_line_error(proc, "not a valid .stl file")
    assert "module" not in proc.stderr.lower()


def test_16_bit_png_target_reads_the_same_in_the_cli_and_the_gui(tmp_path):
    """A 16-bit grey PNG is a mask with values v / 65535 through every path (once, the CLI
    divided by 255 and got alpha up to 257)."""
    import imageio.v3 as iio

    values = np.linspace(0, 65535, 32 * 32).reshape(32, 32).astype(np.uint16)
    path = tmp_path / "mask16.png"
    iio.imwrite(path, values)
    expected = values / 65535.0
    cli = load_target_image(path, 32)                                   # the grad/landscape verbs
    gui = target_from_image(read_target_image(path), 32, (0.0, 0.0, 0.0))   # the app's worker
    np.testing.assert_allclose(cli.alpha.numpy(), expected, atol=1e-6)
    np.testing.assert_allclose(gui.alpha.numpy(), expected, atol=1e-6)
    with pytest.raises(TargetImageError, match="is 32x32; expected 64x64"):
        load_target_image(path, 64)
    assert tuple(load_target_image(path, 64, resize=True).alpha.shape) == (64, 64)
