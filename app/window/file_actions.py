"""Opening files from the window: meshes, target images and recorded runs, by menu, drop, recent
files or start-up. A file that cannot be read is a message; what the window shows is kept."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from renderer.errors import describe_error
from renderer.images import TARGET_IMAGE_EXTENSIONS, read_target_image
from renderer.io import load, loadable_extensions, loader_for

from ..model.app_model import AppModel
from ..model.jobs import TargetImage
from ..runs.run_files import RunFiles


def _is_run_file(path: Path) -> bool:
    """Whether an .npz holds a recorded run (its "meta" member) rather than a voxel or SDF grid."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return "meta.npy" in archive.namelist()
    except Exception:  # noqa: BLE001 - unreadable: the run loader names the problem
        return True


def _claimed_by_a_loader(path: Path) -> bool:
    try:
        loader_for(path)
    except Exception:  # noqa: BLE001 - no representation reads it
        return False
    return True


def file_kind(path: str | Path) -> str:
    """"run" for a recorded run, "image" for a target image, "mesh" for everything else (any
    shape: the loader names the problem when it is none). An .npz is a run unless a
    representation's loader claims its contents (a voxel or SDF grid)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".npz":
        path = Path(path)
        return "run" if _is_run_file(path) or not _claimed_by_a_loader(path) else "mesh"
    return "image" if suffix in TARGET_IMAGE_EXTENSIONS and suffix not in loadable_extensions() else "mesh"


class FileActions:
    """Opens files into ``model``; ``run_files`` opens recorded runs; ``dialog_parent`` owns the
    file dialogs."""

    def __init__(self, model: AppModel, run_files: RunFiles, dialog_parent: QWidget) -> None:
        self.model = model
        self.run_files = run_files
        self.dialog_parent = dialog_parent

    def open_path(self, path: str) -> bool:
        """Open a mesh, a target image or a recorded run, by its extension."""
        kind = file_kind(path)
        if kind == "run":
            return self.run_files.open_run(path)
        return self.open_target_image(path) if kind == "image" else self.open_mesh(path)

    def open_mesh(self, path: str) -> bool:
        """Load ``path`` (any representation ``renderer.io.load`` reads); on failure say why and
        keep the current shape."""
        try:
            shape = load(path)
        except Exception as exc:  # noqa: BLE001 - shown to the user, the scene stays as it was
            self.model.report_error(describe_error(exc), source="file")
            return False
        self.model.clear_error()
        self.model.open_mesh(shape, path)
        notes = "; ".join(getattr(shape, "warnings", ()))
        self.model.report_status(f"loaded {Path(path).name}: {shape.num_elements:,} {shape.element_name}s"
                                 + (f" ({notes})" if notes else ""), 8000)
        return True

    def open_target_image(self, path: str, add_to_recent: bool = True) -> bool:
        """Use the image at ``path`` as the loss target; on failure say why and keep the target."""
        try:
            pixels = read_target_image(path)
        except Exception as exc:  # noqa: BLE001 - a UserError says what is wrong; anything else is labelled internal
            self.model.report_error(describe_error(exc), source="file")
            return False
        self.model.clear_error()
        image = TargetImage(pixels=pixels, name=Path(path).name, path=str(Path(path).resolve()))
        if add_to_recent:
            self.model.remember(image.path)
        self.model.use_target_image(image)
        return True

    def open_mesh_dialog(self) -> None:
        patterns = " ".join(f"*{e}" for e in loadable_extensions())
        path, _ = QFileDialog.getOpenFileName(self.dialog_parent, "Open mesh or scene", "",
                                              f"Meshes, splats, voxels, SDFs ({patterns})")
        if path:
            self.open_mesh(path)

    def open_target_dialog(self) -> None:
        patterns = " ".join(f"*{e}" for e in TARGET_IMAGE_EXTENSIONS)
        path, _ = QFileDialog.getOpenFileName(self.dialog_parent, "Open target image", "", f"Images ({patterns})")
        if path:
            self.open_target_image(path)
