"""Presets and Export Batch in the editor, driven as a user drives them (offscreen, real model and photos)."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from fader_studio import resources
from fader_studio.core.batch import Progress
from fader_studio.core.presets import Preset, list_presets, save_preset
from fader_studio.ui.batch_dialog import BatchDialog
from fader_studio.ui.main_window import MainWindow
from fader_studio.ui.presets import SavePresetDialog
from tests.ui.conftest import opened, settle
from tests.ui.test_editor import drag


def when_a_dialog_opens(act: Callable[[object], None]) -> None:
    """Act on the next modal dialog once it is shown (as a user answering it)."""

    def poll() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(20, poll)
        else:
            act(dialog)

    QTimer.singleShot(20, poll)


def names_in_box(window: MainWindow) -> list[str]:
    box = window.presets.box.choice
    return [box.itemText(i) for i in range(box.count())]


def test_a_face_s_look_is_saved_as_a_preset_applied_undone_renamed_and_deleted(
    qtbot, make_window, synth_model: Path, two_faces: Path
) -> None:
    window = opened(qtbot, make_window(), two_faces, synth_model)
    assert names_in_box(window) == ["No presets yet"] and not window.presets.box.apply.isEnabled()
    starts = [dict(f.start) for f in window.photo.faces]
    drag(window, "Smiling", 1.4)

    def save(dialog: SavePresetDialog) -> None:
        assert dialog.relative.isChecked()  # relative is the default
        dialog.name.setText("More smile")
        assert dialog.summary.text() == f"Smile {1.4 - starts[0]['Smiling']:+.2f} (relative to each face)"
        dialog.accept()

    when_a_dialog_opens(save)
    window.presets.save_action.trigger()
    assert [p.name for _, p in list_presets()] == ["More smile"]
    assert names_in_box(window) == ["More smile"] and window.presets.chosen().relative

    window.select_face(1)
    qtbot.mouseClick(window.presets.box.apply, Qt.MouseButton.LeftButton)
    expected = min(1.5, round(starts[1]["Smiling"] + 1.4 - starts[0]["Smiling"], 4))
    assert window.faces.values(1)["Smiling"] == pytest.approx(expected)
    assert window.panel.slider("Smiling").value() == pytest.approx(expected, abs=0.005)
    assert window.undo_action.text() == "&Undo Preset More smile"
    window.undo_action.trigger()
    assert window.faces.values(1) == starts[1]

    when_a_dialog_opens(lambda d: (d.setTextValue("Friendly"), d.accept()))
    window.presets.rename_action.trigger()
    assert names_in_box(window) == ["Friendly"]
    assert QApplication.activeModalWidget() is None
    when_a_dialog_opens(lambda d: d.button(QMessageBox.StandardButton.Yes).click())
    window.presets.delete_action.trigger()
    assert list_presets() == [] and names_in_box(window) == ["No presets yet"]


def test_a_preset_applies_to_all_faces_and_one_of_another_model_says_what_it_skipped(
    qtbot, make_window, synth_model: Path, two_faces: Path
) -> None:
    save_preset(Preset("Bald smile", {"Bald": 1.0, "Smiling": 1.2}, model_name="other"))
    window = opened(qtbot, make_window(), two_faces, synth_model)
    window.presets.choose("Bald smile")
    window.presets.apply_all_action.trigger()
    assert [v["Smiling"] for v in window.faces.all_values()] == [1.2, 1.2]
    assert "this model has no Bald, applied without it" in window.statusBar().currentMessage()
    window.select_face(1)
    window.undo_action.trigger()  # each face's change is its own undo step
    assert window.faces.values(1) == window.photo.faces[1].start and window.faces.values(0)["Smiling"] == 1.2


@pytest.fixture
def shoot(tmp_path: Path) -> Path:
    folder = tmp_path / "shoot"
    folder.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        shutil.copy(resources.path(resources.SAMPLE_PHOTO), folder / name)
    Image.new("RGB", (320, 240), (120, 130, 140)).save(folder / "wall.png")
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    return folder


def open_batch(qtbot, window: MainWindow, inputs: list[Path], out: Path) -> BatchDialog:  # noqa: ANN001
    dialog = window.show_batch_dialog()
    assert dialog is not None and dialog.isVisible()
    dialog.add_inputs(inputs)
    dialog.out_dir.setText(str(out))
    return dialog


def test_export_batch_applies_the_face_s_look_lists_failures_and_matches_the_single_export(
    qtbot, make_window, synth_model: Path, portrait: Path, shoot: Path, tmp_path: Path
) -> None:
    window = opened(qtbot, make_window(), portrait, synth_model)
    drag(window, "Smiling", 1.3)
    before = {p: p.read_bytes() for p in shoot.iterdir()}
    dialog = open_batch(qtbot, window, [shoot], tmp_path / "out")
    assert dialog.look.currentData() == "current" and dialog.relative.isChecked()
    assert dialog.pattern_example.text() == "IMG_0042.jpg → IMG_0042-edited.jpg"
    seen: list[Progress] = []
    window.session.batchProgress.connect(seen.append)
    with qtbot.waitSignal(window.session.batchDone, timeout=120_000):
        assert dialog.start()
        assert dialog.running and not dialog.photos.isEnabled()
    assert not dialog.running and dialog.close_button.text() == "Close"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "a-edited.png",
        "b-edited.png",
        "c-edited.png",
    ]
    assert [(p.done, p.total) for p in seen] == [(i, 5) for i in range(6)]
    assert dialog.progress.value() == 5 and dialog.progress.maximum() == 5
    assert dialog.status.text().startswith("Edited 3 of 5 photos in ")
    listed = dialog.problems.toPlainText().splitlines()
    assert listed == [
        f"{shoot / 'broken.jpg'}: not an image file Fader Studio can read",
        f"{shoot / 'wall.png'}: no face found (faces should be at least about 20 pixels wide and upright)",
    ]
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    assert QApplication.clipboard().text().splitlines() == listed
    assert {p: p.read_bytes() for p in shoot.iterdir()} == before  # the originals untouched

    with qtbot.waitSignal(window.session.saved, timeout=60_000):
        window.export_to(tmp_path / "single.png")
    assert np.array_equal(
        np.asarray(Image.open(tmp_path / "single.png")),
        np.asarray(Image.open(tmp_path / "out" / "a-edited.png")),
    )
    with qtbot.waitSignal(window.session.batchDone, timeout=120_000):
        dialog.start()  # again: every name is taken now, and nothing is overwritten
    assert dialog.report is not None and not dialog.report.written
    assert f"{tmp_path / 'out' / 'a-edited.png'} exists; not overwritten" in dialog.problems.toPlainText()
    dialog.reject()
    assert window.settings.value("batch/out_dir") == str(tmp_path / "out")


def test_cancel_mid_batch_leaves_complete_files_only(
    qtbot, make_window, synth_model: Path, portrait: Path, tmp_path: Path
) -> None:
    save_preset(Preset("Smile", {"Smiling": 1.5}))
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(6):
        shutil.copy(resources.path(resources.SAMPLE_PHOTO), folder / f"p{i}.png")
    window = opened(qtbot, make_window(), None, synth_model)
    assert window.batch_action.isEnabled()  # a model is enough: presets need no open photo
    dialog = open_batch(qtbot, window, [folder], tmp_path / "out")
    assert dialog.look.count() == 1 and dialog.look.currentText() == "Preset: Smile"
    dialog.format.setCurrentIndex(dialog.format.findData(".jpg"))
    reached, clicked = threading.Event(), threading.Event()

    def hold_after_two(progress: Progress) -> None:  # on the worker: wait there until Cancel is clicked
        if progress.done == 2:
            reached.set()
            clicked.wait(30)

    window.session.batchProgress.connect(hold_after_two, Qt.ConnectionType.DirectConnection)
    with qtbot.waitSignal(window.session.batchDone, timeout=120_000):
        dialog.start()
        assert reached.wait(60)
        qtbot.mouseClick(dialog.close_button, Qt.MouseButton.LeftButton)  # "Cancel" while running
        assert dialog.isVisible() and dialog.status.text() == "Cancelling after this photo…"
        clicked.set()
    assert dialog.report is not None and dialog.report.cancelled
    written = sorted((tmp_path / "out").iterdir())
    assert [p.name for p in written] == ["p0-edited.jpg", "p1-edited.jpg"]  # and no temporary file
    for path in written:
        with Image.open(path) as image:
            image.load()  # complete JPEGs
            assert image.size == (512, 512)
    assert "cancelled" in dialog.status.text() and "Every file written is complete." in dialog.status.text()
    qtbot.mouseClick(dialog.close_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()
    settle(qtbot, window)
