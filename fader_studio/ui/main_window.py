"""The main window: menus, the photo area and the status bar."""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox

from .. import __version__


class MainWindow(QMainWindow):
    """Fader Studio's main window (the photo editor fills it in a later version)."""

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Fader Studio")
        self.resize(1100, 750)
        self._placeholder = QLabel("No photo open")
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._placeholder.setStyleSheet("color: palette(mid); font-size: 18pt;")
        self.setCentralWidget(self._placeholder)
        self._create_actions()
        self.statusBar().showMessage("Ready")

    def _create_actions(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        self.quit_action.triggered.connect(self.close)
        file_menu.addAction(self.quit_action)
        help_menu = self.menuBar().addMenu("&Help")
        self.about_action = QAction("&About Fader Studio", self)
        self.about_action.triggered.connect(self._about)
        help_menu.addAction(self.about_action)

    @Slot()
    def _about(self) -> None:
        QMessageBox.about(
            self,
            "About Fader Studio",
            f"<b>Fader Studio {__version__}</b><p>Change attributes of faces in photos with "
            "faders, using Fader Networks (Lample et al., NeurIPS 2017). Everything runs "
            "on this computer; nothing is sent anywhere.</p>",
        )
