"""The editor's fast path: previews at the view's resolution, ONNX Runtime prepared in the background."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from fader_studio.core.edit import PhotoEdit, preview_scale
from fader_studio.core.engine import Engine
from fader_studio.core.imageio import load_image
from fader_studio.core.modelfile import load_model
from tests.ui.conftest import opened, settle, shown
from tests.ui.test_editor import changed_box, drag


@pytest.fixture
def big_portrait(portrait: Path, tmp_path: Path) -> Path:
    """The portrait enlarged to 2048×2048: a photo the window shows at about a third of its size."""
    pixels = cv2.resize(np.asarray(Image.open(portrait).convert("RGB")), (2048, 2048), cv2.INTER_CUBIC)
    path = tmp_path / "big.png"
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture
def auto_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The app's default backend choice, with an empty ONNX cache of the test's own."""
    monkeypatch.delenv("FADER_STUDIO_BACKEND")
    monkeypatch.setenv("FADER_STUDIO_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "onnx"


def reference(photo: Path, model: Path, values: dict[str, float]) -> np.ndarray:
    document = PhotoEdit(load_image(photo), Engine(load_model(model), "cpu", backend="torch"))
    document.set(0, values)
    return document.render()


def test_a_zoomed_out_view_gets_previews_at_its_own_resolution(
    qtbot, make_window, synth_model: Path, big_portrait: Path
) -> None:
    window = opened(qtbot, make_window(), big_portrait, synth_model)
    zoom = window.view.zoom()
    assert zoom < 0.5  # fitted: the whole photo in the window
    before = shown(window)
    drag(window, "Smiling", 1.5)
    settle(qtbot, window)
    x0, y0, x1, y1 = window.photo.faces[0].region
    overlay = window.view._overlays[0]
    scale = overlay.pixmap().width() / overlay.sceneBoundingRect().width()
    assert scale == pytest.approx(preview_scale(zoom), rel=0.01)  # the screen's resolution, not the photo's
    box = changed_box(before, shown(window))
    assert box is not None
    grown = 3 / scale  # the preview's region has its margin in preview pixels
    assert x0 - grown <= box[0] and y0 - grown <= box[1] and box[2] <= x1 + grown and box[3] <= y1 + grown
    # zoomed to 100 %, the face is rendered again at full resolution: exactly the export's pixels
    window.view.set_zoom(1.0)
    qtbot.waitUntil(lambda: overlay.pixmap().width() == x1 - x0, timeout=10_000)
    settle(qtbot, window)
    assert np.array_equal(shown(window), reference(big_portrait, synth_model, window.faces.values(0)))


def test_the_editor_moves_to_onnx_runtime_in_the_background(
    qtbot, make_window, synth_model: Path, portrait: Path, auto_backend: Path
) -> None:
    window = opened(qtbot, make_window(), portrait, synth_model)
    # usable at once, before any export: the model came up on torch (the label may already have
    # moved on, as the export of a model this small can end before the photo is encoded)
    assert window.session.model.device.endswith("PyTorch")
    assert window.session.wait_idle(120, export=True)
    settle(qtbot, window)
    assert window.device_label.text().endswith(", ONNX Runtime"), window.device_label.toolTip()
    assert len(list(auto_backend.glob("*.onnx"))) == 2
    drag(window, "Smiling", 1.5)
    settle(qtbot, window)
    edited = shown(window).astype(int)
    assert np.abs(edited - np.asarray(Image.open(portrait).convert("RGB"))).max() > 0
    assert np.abs(edited - reference(portrait, synth_model, window.faces.values(0))).max() <= 1
    # the next start finds the export in the cache and uses it straight away
    again = opened(qtbot, make_window(), portrait, synth_model)
    assert again.device_label.text().endswith("ONNX Runtime")


def test_without_onnxruntime_the_editor_renders_on_torch(
    qtbot, make_window, synth_model: Path, portrait: Path, auto_backend: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if it were not installed
    window = opened(qtbot, make_window(), portrait, synth_model)
    assert window.device_label.text().endswith("PyTorch")
    assert window.device_label.toolTip().startswith("ONNX Runtime is not installed")
    drag(window, "Smiling", 1.5)
    settle(qtbot, window)
    assert np.array_equal(shown(window), reference(portrait, synth_model, window.faces.values(0)))
    assert not auto_backend.exists()


def test_turning_onnx_runtime_off_reloads_the_model_on_torch_and_is_remembered(
    qtbot, make_window, synth_model: Path, portrait: Path, auto_backend: Path
) -> None:
    window = opened(qtbot, make_window(), portrait, synth_model)
    assert window.model_menu.onnx_action.isChecked()
    window.session.wait_idle(120, export=True)
    settle(qtbot, window)
    assert window.device_label.text().endswith("ONNX Runtime")
    window.model_menu.onnx_action.trigger()
    settle(qtbot, window)
    assert window.device_label.text().endswith("PyTorch") and window.photo.faces
    assert window.settings.value("model/onnx", type=bool) is False
    assert not make_window().model_menu.onnx_action.isChecked()


def test_a_failing_export_leaves_the_editor_on_torch_and_says_why(
    qtbot, make_window, synth_model: Path, portrait: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FADER_STUDIO_BACKEND")
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    monkeypatch.setenv("FADER_STUDIO_CACHE_DIR", str(blocked))
    window = opened(qtbot, make_window(), portrait, synth_model)
    assert window.session.wait_idle(120, export=True)
    settle(qtbot, window)
    assert window.device_label.text().endswith("PyTorch")
    assert window.device_label.toolTip().startswith("cannot create the ONNX cache folder")
    assert window.error_box is None  # a slower backend is not an error to interrupt the user with
    drag(window, "Smiling", 1.5)
    settle(qtbot, window)
    assert np.array_equal(shown(window), reference(portrait, synth_model, window.faces.values(0)))


def test_the_command_lines_backend_overrides_the_preference_for_one_run(
    qtbot, synth_model: Path, portrait: Path, auto_backend: Path
) -> None:
    from fader_studio.ui.app import start_editor

    window = start_editor([str(portrait)], str(synth_model), "cpu", "onnx")  # fader-studio ... --backend onnx
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.photo is not None and bool(window.photo.faces), timeout=120_000)
    assert window.device_label.text().endswith("ONNX Runtime")  # exported while loading, not afterwards
    assert (
        window.model_menu.onnx_action.isChecked() and window.settings.value("model/onnx") is None
    )  # not saved
    window.session.close()
    window.close()
    torch_run = start_editor([str(portrait)], str(synth_model), "cpu", "torch")
    qtbot.addWidget(torch_run)
    qtbot.waitUntil(lambda: torch_run.photo is not None and bool(torch_run.photo.faces), timeout=60_000)
    assert (
        torch_run.device_label.text().endswith("PyTorch") and not torch_run.model_menu.onnx_action.isChecked()
    )
    torch_run.session.close()
    torch_run.close()
