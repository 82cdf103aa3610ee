"""The editor's Model menu: open, install and import models, the installed ones, and the CPU backend.

:class:`ModelMenu` lists the installed models (the bundled default last, the
open one checked) each time it is shown, and owns the commands that bring a
model in: Open Model (Ctrl+M), Install Model (a copy in the models folder),
Import Official Model (a FaderNetworks ``.pth`` converted on the worker) and
Show Models Folder, plus the Fast CPU Inference switch, which is remembered.
It asks its :class:`~fader_studio.ui.session.EditorSession` for the work and
its window to open what it brings in.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, QUrl, Slot
from PySide6.QtGui import QAction, QDesktopServices
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from ..core import paths
from .actions import make_action
from .session import EditorSession

MODEL_FILTER = "Fader models (*.fader)"
OFFICIAL_FILTER = "Official FaderNetworks models (*.pth *.pt);;All files (*)"


class ModelMenu(QMenu):
    """The Model menu of ``window``: ``open_model(path)`` opens a model; ``current()`` is the open one."""

    def __init__(
        self,
        session: EditorSession,
        settings: QSettings,
        open_model: Callable[[Path], None],
        current: Callable[[], Path | None],
        parent: QWidget,
    ) -> None:
        super().__init__("&Model", parent)
        self.session, self.settings = session, settings
        self._open_model, self._current = open_model, current
        self.open_model_action = make_action(
            self, "&Open Model…", self._choose_model, "Ctrl+M", "Open a .fader file"
        )
        self.install_model_action = make_action(
            self, "&Install Model…", self._install_model, tip="Copy a .fader file into your models folder"
        )
        self.models_folder_action = make_action(self, "Show Models &Folder", self._show_models_folder)
        self.import_official_action = make_action(
            self,
            "Import &Official Model…",
            self._choose_official,
            tip="Turn an official FaderNetworks .pth (eyeglasses.pth, male.pth, …) into an installed model",
        )
        self.onnx_action = make_action(
            self,
            "Fast CPU Inference (ONNX &Runtime)",
            self._set_onnx,
            tip="On a computer without a GPU, run models with ONNX Runtime (about twice as fast as PyTorch)",
        )
        self.onnx_action.setCheckable(True)
        self.addAction(self.open_model_action)
        self.addSeparator()
        self._installed_end = self.addSeparator()  # the installed models go before it
        self.addActions([self.install_model_action, self.import_official_action, self.models_folder_action])
        self.addSeparator()
        self.addAction(self.onnx_action)
        self._installed: list[QAction] = []
        self.aboutToShow.connect(self.refresh)
        session.imported.connect(self._imported)
        self.set_backend(None if settings.value("model/onnx", True, type=bool) else "torch")
        self.refresh()

    def set_backend(self, backend: str | None) -> None:
        """Run models opened from now on with ``backend`` (auto, torch, onnx; ``None``: auto)."""
        self.session.set_backend(backend)
        self.onnx_action.setChecked(backend != "torch")

    def install_model(self, path: str | Path) -> Path:
        """Copy the model at ``path`` into the models folder (never over another) and open it."""
        source = Path(path)
        target = paths.free_model_path(source.stem, source)
        if not target.exists():
            shutil.copyfile(source, target)
        self._open_model(target)
        return target

    def import_official(self, path: str | Path, classifier: str | Path | None = None) -> Path:
        """Convert an official FaderNetworks model (and classifier) in the background, install and open it."""
        target = paths.free_model_path(Path(path).stem)
        self.session.import_official(Path(path), Path(classifier) if classifier else None, target)
        return target

    @Slot()
    def refresh(self) -> None:
        """List the installed models again (the open one checked).

        Only their entries are made again: clearing the whole menu would
        also cut the commands' own connections.
        """
        for action in self._installed:
            self.removeAction(action)
            action.deleteLater()
        installed = paths.installed_models()
        bundled, current = paths.bundled_model(), self._current()
        self._installed = []
        for path in installed:
            action = QAction("Default (built in)" if path == bundled else path.stem, self)
            action.setCheckable(True)
            action.setChecked(current == path)
            action.triggered.connect(lambda _=False, p=path: self._open_model(p))
            self._installed.append(action)
        if not installed:
            none = QAction("No installed models", self)
            none.setEnabled(False)
            self._installed.append(none)
        self.insertActions(self._installed_end, self._installed)

    @Slot(bool)
    def _set_onnx(self, on: bool) -> None:
        self.settings.setValue("model/onnx", on)
        self.set_backend(None if on else "torch")
        current = self._current()
        if current is not None:
            self._open_model(current)  # again, on the chosen backend

    @Slot()
    def _choose_model(self) -> None:
        folder = str(paths.models_dir()) if paths.models_dir().is_dir() else str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self.parentWidget(), "Open Model", folder, MODEL_FILTER)
        if path:
            self._open_model(Path(path))

    @Slot()
    def _install_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.parentWidget(), "Install Model", str(Path.home()), MODEL_FILTER
        )
        if path:
            self.install_model(path)

    @Slot()
    def _choose_official(self) -> None:
        window = self.parentWidget()
        folder = self.settings.value("folders/official", str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(window, "Import Official Model", folder, OFFICIAL_FILTER)
        if not path:
            return
        self.settings.setValue("folders/official", str(Path(path).parent))
        classifier, _ = QFileDialog.getOpenFileName(
            window, "Its Attribute Classifier (optional: Cancel to go without)", str(Path(path).parent),
            OFFICIAL_FILTER,
        )  # fmt: skip
        self.import_official(path, classifier or None)

    @Slot(str)
    def _imported(self, path: str) -> None:
        window = self.parentWidget()
        if hasattr(window, "statusBar"):
            window.statusBar().showMessage(f"Imported and installed {Path(path).name}", 8000)
        self._open_model(Path(path))

    @Slot()
    def _show_models_folder(self) -> None:
        paths.models_dir().mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(paths.models_dir())))
