"""Start the Qt application, show the main window, then load the model and photos in the background."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QWidget

from .. import __version__, resources
from ..core import paths
from .main_window import MainWindow, open_settings


def app_icon() -> QIcon:
    """The application icon, at every size that is shipped."""
    icon = QIcon()
    for size in resources.ICON_SIZES:
        icon.addFile(str(resources.path(f"icons/fader-studio-{size}.png")))
    return icon


def startup_model(requested: str | None) -> Path | None:
    """The model to open: ``requested``, else the last one used if it exists, else the first installed."""
    if requested:
        return Path(requested)
    last = open_settings().value("model/path")
    if last and Path(last).is_file():
        return Path(last)
    installed = paths.installed_models()
    return installed[0] if installed else None


def start_editor(
    photos: Sequence[str] = (),
    model: str | None = None,
    device: str | None = None,
    backend: str | None = None,
) -> MainWindow:
    """Show the main window, then open ``model`` and the first of ``photos`` once it has painted.

    ``backend`` (auto, torch, onnx) overrides the window's saved preference for this run.
    """
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Fader Studio")
    app.setOrganizationName("Fader Studio")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("fader-studio")  # matches fader-studio.desktop on Linux
    app.setWindowIcon(app_icon())
    window = MainWindow()
    window.session.set_device(device)
    if backend is not None:
        window.model_menu.set_backend(backend)
    window.show()

    def load() -> None:  # torch is imported by the worker, after the window has painted
        chosen = startup_model(model)
        if chosen is not None:
            window.open_model(chosen)
        for photo in photos[:1]:
            window.open_photo(photo)

    window.installEventFilter(_AfterFirstPaint(window, load))
    return window


class _AfterFirstPaint(QObject):
    """Calls ``then`` once, right after ``window`` has painted for the first time."""

    def __init__(self, window: QWidget, then: Callable[[], None]) -> None:
        super().__init__(window)
        self._then = then

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            QTimer.singleShot(0, self._then)
        return False


def run_app(
    photos: Sequence[str] = (),
    model: str | None = None,
    device: str | None = None,
    backend: str | None = None,
) -> int:
    """Start the editor (see :func:`start_editor`) and run until its window closes; the exit status."""
    window = start_editor(photos, model, device, backend)
    status = QApplication.instance().exec()
    window.session.close()
    return status
