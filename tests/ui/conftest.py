"""Editor fixtures: a real tiny model trained on the synthetic faces, photos, and windows to drive."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fader_studio import resources
from fader_studio.ui.main_window import MainWindow

ATTRS = ("Eyeglasses", "Smiling", "Male")


@pytest.fixture(autouse=True)
def app_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings and installed models in a fresh folder for each test."""
    root = tmp_path / "app-dirs"
    monkeypatch.setenv("FADER_STUDIO_CONFIG_DIR", str(root / "config"))
    monkeypatch.setenv("FADER_STUDIO_DATA_DIR", str(root / "data"))
    return root


@pytest.fixture
def portrait(tmp_path: Path) -> Path:
    """A copy of the bundled public-domain portrait (one face)."""
    return Path(shutil.copy(resources.path(resources.SAMPLE_PHOTO), tmp_path / "portrait.png"))


@pytest.fixture
def two_faces(tmp_path: Path) -> Path:
    """The portrait beside its mirror image: two faces."""
    pixels = np.asarray(Image.open(resources.path(resources.SAMPLE_PHOTO)).convert("RGB"))
    path = tmp_path / "two.png"
    Image.fromarray(np.hstack([pixels, pixels[:, ::-1]])).save(path)
    return path


@pytest.fixture
def make_window(qtbot) -> Iterator[Callable[[], MainWindow]]:  # noqa: ANN001 (pytest-qt's fixture)
    """Make shown main windows; each is closed (and its worker stopped) after the test."""
    windows: list[MainWindow] = []

    def make() -> MainWindow:
        window = MainWindow()
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.session.close()


def settle(qtbot, window: MainWindow) -> None:  # noqa: ANN001
    """Wait until the worker has finished everything asked and its results reached the window."""
    for _ in range(3):
        assert window.session.wait_idle(60)
        qtbot.wait(20)


def opened(qtbot, window: MainWindow, photo: Path | None = None, model: Path | None = None) -> MainWindow:  # noqa: ANN001
    """``window`` with ``model`` and then ``photo`` opened and their faces encoded."""
    if model is not None:
        window.open_model(model)
    if photo is not None:
        window.open_photo(photo)
    settle(qtbot, window)
    return window


def shown(window: MainWindow) -> np.ndarray:
    """The photo as the view shows it (with the visible edits), as an (H, W, 3) uint8 array."""
    from superqt.utils import qimage_to_array

    return qimage_to_array(window.view.shown_image())[:, :, :3].copy()
