from __future__ import annotations

from PySide6.QtCore import QEvent, QTimer
from PySide6.QtWidgets import QApplication

from fader_studio.ui.app import run_app
from fader_studio.ui.main_window import MainWindow


def test_main_window_shows_its_title_and_status(qtbot) -> None:
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert window.windowTitle() == "Fader Studio"
    assert window.statusBar().currentMessage() == "Ready"


def test_quit_action_closes_the_window(qtbot) -> None:
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.quit_action.trigger()
    assert not window.isVisible()


def test_run_app_shows_the_main_window_and_returns_0(qapp) -> None:
    shown = []

    def check_and_quit() -> None:
        shown.extend(w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible())
        for window in shown:
            window.close()
        QApplication.quit()

    QTimer.singleShot(50, check_and_quit)
    assert run_app() == 0
    assert len(shown) == 1
    # closing the last window posted a second Quit; left queued, it would end every later test's event loop
    QApplication.removePostedEvents(QApplication.instance(), QEvent.Type.Quit)


def test_the_app_has_its_icon_at_every_size_and_a_desktop_entry(qapp) -> None:  # noqa: ANN001
    from configparser import ConfigParser

    from fader_studio import resources
    from fader_studio.ui.app import app_icon

    sizes = sorted(s.width() for s in app_icon().availableSizes())
    assert sizes == list(resources.ICON_SIZES)
    entry = ConfigParser(interpolation=None)
    entry.read(resources.path(resources.DESKTOP_FILE))
    desktop = entry["Desktop Entry"]
    assert desktop["Exec"].split()[0] == "fader-studio" and desktop["Icon"] == "fader-studio"
    assert desktop["Type"] == "Application" and "image/jpeg" in desktop["MimeType"]
