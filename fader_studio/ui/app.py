"""Start the Qt application and show the main window."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication

from .. import __version__
from .main_window import MainWindow


def run_app(argv: list[str] | None = None) -> int:
    """Show the main window and run the event loop until it closes; return the exit status."""
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("Fader Studio")
    app.setOrganizationName("Fader Studio")
    app.setApplicationVersion(__version__)
    window = MainWindow()
    window.show()
    return app.exec()
