"""Where an edit applies, in the editor: the region box, the mask brush, the overlay and their undo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from fader_studio import resources
from fader_studio.ui.main_window import MainWindow
from tests.ui.conftest import opened, settle, shown
from tests.ui.test_editor import drag


def choose_region(qtbot, window: MainWindow, region: str) -> None:  # noqa: ANN001
    box = window.mask_tools.region
    box.setCurrentIndex(box.findData(region))
    box.activated.emit(box.currentIndex())  # as a click on the item does
    settle(qtbot, window)


def stroke(qtbot, window: MainWindow, points: list[tuple[float, float]]) -> None:  # noqa: ANN001
    """Drag the mouse over the photo through ``points`` (photo pixels) with the left button."""
    view = window.view
    at = [view.mapFromScene(QPointF(x, y)) for x, y in points]
    QTest.mousePress(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at[0])
    for point in at[1:]:
        QTest.mouseMove(view.viewport(), point)
    QTest.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at[-1])
    settle(qtbot, window)


def patch_of(image: np.ndarray, point: tuple[float, float], half: int = 2) -> np.ndarray:
    x, y = (int(round(v)) for v in point)
    return image[y - half : y + half + 1, x - half : x + half + 1]


def test_a_region_limits_the_edit_and_undo_brings_the_whole_face_back(
    qtbot, make_window, synth_model: Path, portrait: Path
) -> None:
    window = opened(qtbot, make_window(), portrait, synth_model)
    original = shown(window)
    tools = window.mask_tools
    assert tools.region.currentData() == "face" and not tools.painted.isVisible()
    drag(window, "Smiling", 1.5)
    drag(window, "Male", 1.4)
    settle(qtbot, window)
    whole_face = shown(window)
    eye = tuple(window.photo.faces[0].box[:2] + np.array(window.photo.faces[0].box[2:]) * [0.3, 0.4])
    assert not np.array_equal(patch_of(whole_face, eye), patch_of(original, eye))
    choose_region(qtbot, window, "mouth")
    assert window.undo_action.text() == "&Undo Region Mouth"
    mouth_only = shown(window)
    assert np.array_equal(patch_of(mouth_only, eye), patch_of(original, eye))  # the eye is left alone
    assert not np.array_equal(mouth_only, original)
    window.undo_action.trigger()
    settle(qtbot, window)
    assert tools.region.currentData() == "face" and np.array_equal(shown(window), whole_face)
    window.redo_action.trigger()
    settle(qtbot, window)
    assert tools.region.currentData() == "mouth" and np.array_equal(shown(window), mouth_only)


def test_the_brush_paints_and_erases_where_it_goes_and_each_stroke_is_one_undo(
    qtbot, make_window, synth_model: Path, portrait: Path
) -> None:
    window = opened(qtbot, make_window(), portrait, synth_model)
    tools = window.mask_tools
    choose_region(qtbot, window, "mouth")
    drag(window, "Smiling", 1.5)
    drag(window, "Male", 1.4)
    settle(qtbot, window)
    mouth_only = shown(window)
    x, y, w, h = window.photo.faces[0].box
    eye_line = [(x + w * k / 10, y + 0.4 * h) for k in range(2, 9)]
    QTest.keyClick(window, Qt.Key.Key_B)  # the paint brush
    assert tools.paint_action.isChecked() and window.view.dragMode() == window.view.DragMode.NoDrag
    settle(qtbot, window)
    assert window.view.mask_overlay_shown()  # the mask shows while a brush is on
    radius = tools.radius
    QTest.keyClick(window, Qt.Key.Key_BracketRight)
    assert tools.radius == pytest.approx(radius * 1.25)
    QTest.keyClick(window, Qt.Key.Key_BracketLeft)
    assert tools.radius == pytest.approx(radius)
    softness = tools.softness.value()
    QTest.keyClick(window, Qt.Key.Key_BraceRight, Qt.KeyboardModifier.ShiftModifier)  # Shift+] types "}"
    assert tools.softness.value() == softness - 10
    QTest.keyClick(window, Qt.Key.Key_BraceLeft, Qt.KeyboardModifier.ShiftModifier)
    assert tools.softness.value() == softness
    stroke(qtbot, window, eye_line)
    painted = shown(window)
    assert tools.masks[0].painted and tools.painted.isVisible()
    assert window.undo_action.text() == "&Undo Paint mask"
    assert not np.array_equal(patch_of(painted, eye_line[3]), patch_of(mouth_only, eye_line[3]))
    far = (x + w / 2, y + 0.95 * h)  # the chin, where the brush did not go
    assert np.array_equal(patch_of(painted, far), patch_of(mouth_only, far))

    QTest.keyClick(window, Qt.Key.Key_E)  # the eraser, over the middle of the stroke
    assert tools.erase_action.isChecked() and not tools.paint_action.isChecked()
    stroke(qtbot, window, eye_line[2:5])
    erased = shown(window)
    assert window.undo_action.text() == "&Undo Erase mask"
    assert np.array_equal(patch_of(erased, eye_line[3]), patch_of(mouth_only, eye_line[3]))
    assert not np.array_equal(patch_of(erased, eye_line[0]), patch_of(mouth_only, eye_line[0]))

    window.undo_action.trigger()
    settle(qtbot, window)
    assert np.array_equal(shown(window), painted)
    window.undo_action.trigger()
    settle(qtbot, window)
    assert np.array_equal(shown(window), mouth_only) and not tools.masks[0].painted

    QTest.keyClick(window, Qt.Key.Key_E)  # again: no brush, dragging pans
    assert (
        not tools.erase_action.isChecked() and window.view.dragMode() == window.view.DragMode.ScrollHandDrag
    )
    settle(qtbot, window)
    assert not window.view.mask_overlay_shown()
    QTest.keyClick(window, Qt.Key.Key_M)  # show the mask without a brush
    settle(qtbot, window)
    assert window.view.mask_overlay_shown()


def test_without_the_landmark_model_the_regions_fall_back_with_a_note(
    qtbot, make_window, synth_model: Path, portrait: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resources, "FACE_LANDMARKS", "models/not-installed.onnx")  # as if it were deleted
    window = opened(qtbot, make_window(), portrait, synth_model)
    assert "face regions are drawn from five points" in window.statusBar().currentMessage()
    before = shown(window)
    choose_region(qtbot, window, "mouth")
    drag(window, "Smiling", 1.5)
    settle(qtbot, window)
    assert not np.array_equal(shown(window), before)  # still edits, through the five-point mouth


def test_export_batch_applies_the_look_to_the_chosen_region_as_the_export_does(
    qtbot, make_window, synth_model: Path, portrait: Path, tmp_path: Path
) -> None:
    from PIL import Image

    window = opened(qtbot, make_window(), portrait, synth_model)
    choose_region(qtbot, window, "mouth")
    drag(window, "Smiling", 1.5)
    settle(qtbot, window)
    with qtbot.waitSignal(window.session.saved, timeout=60_000):
        window.export_to(tmp_path / "single.png")
    dialog = window.show_batch_dialog()
    dialog.add_inputs([portrait])
    dialog.out_dir.setText(str(tmp_path / "out"))
    dialog.relative.setChecked(False)
    dialog.region.setCurrentIndex(dialog.region.findData("mouth"))
    with qtbot.waitSignal(window.session.batchDone, timeout=120_000):
        assert dialog.start()
    batch = np.asarray(Image.open(tmp_path / "out" / "portrait-edited.png"))
    assert np.array_equal(batch, np.asarray(Image.open(tmp_path / "single.png")))
    assert window.settings.value("batch/region") == "mouth"
    dialog.reject()
