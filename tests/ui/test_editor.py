"""The editor driven as a user drives it: real model, real photos, real pixels (offscreen Qt)."""

from __future__ import annotations

import os
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QSlider

from fader_studio.core import paths
from fader_studio.core.edit import PhotoEdit
from fader_studio.core.engine import Engine
from fader_studio.core.imageio import load_image
from fader_studio.core.modelfile import load_model, save_model
from fader_studio.ui.app import start_editor
from fader_studio.ui.history import MERGE_SECONDS
from fader_studio.ui.main_window import MainWindow
from tests.conftest import console_script, make_model
from tests.ui.conftest import ATTRS, opened, settle, shown


def drag(window: MainWindow, name: str, value: float) -> None:
    """Press a fader, move it to ``value`` and release it, as a mouse drag does."""
    slider = window.panel.slider(name)
    slider.setSliderDown(True)
    slider.setValue(value)
    slider.setSliderDown(False)
    slider.sliderReleased.emit()


def changed_box(a: np.ndarray, b: np.ndarray) -> tuple[int, int, int, int] | None:
    ys, xs = np.nonzero(np.any(a != b, axis=2))
    return None if not len(xs) else (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)


def test_without_a_model_the_window_says_so_and_offers_what_to_do(make_window) -> None:
    window = make_window()
    assert [a.text() for a in window.menuBar().actions()] == [
        "&File", "&Edit", "&View", "&Model", "&Tools", "&Help",
    ]  # fmt: skip
    assert window.stack.currentWidget() is window.empty
    assert window.empty.title.text() == "No model open"
    assert [b.text() for b in window.empty.buttons] == ["Open Model File…", "Train a Model…", "Open a Photo…"]
    assert window.panel.message.text() == "Open a model to edit faces."
    assert not window.export_action.isEnabled() and not window.undo_action.isEnabled()
    window.model_menu.refresh()
    models = [
        a for a in window.model_menu.actions() if a.isCheckable() and a is not window.model_menu.onnx_action
    ]
    assert [a.text() for a in models] == ["Default (built in)"]  # nothing installed: the bundled one
    assert not models[0].isChecked()
    assert window.model_label.text() == "No model"


def test_a_photo_opens_with_one_fader_per_attribute_and_ticks_at_its_own_values(
    qtbot, make_window, synth_model: Path, portrait: Path
) -> None:
    window = opened(qtbot, make_window(), portrait, synth_model)
    model = load_model(synth_model)
    assert window.stack.currentWidget() is window.view
    assert window.windowTitle() == "portrait.png[*] — Fader Studio"
    assert window.model_label.text() == "Model: last (3 attributes)"
    assert window.device_label.text().startswith("CPU")
    assert len(window.photo.faces) == 1
    assert list(window.panel.values()) == list(ATTRS)
    expected = PhotoEdit(load_image(portrait), Engine(model, "cpu")).faces[0].start
    for spec in model.attributes:
        slider = window.panel.slider(spec.name)
        assert (slider.minimum(), slider.maximum()) == (spec.min, spec.max)
        assert slider.value() == pytest.approx(expected[spec.name], abs=0.005)
        assert window.panel._rows[spec.name].tick._value == pytest.approx(expected[spec.name], abs=1e-6)
    assert np.array_equal(shown(window), np.asarray(Image.open(portrait).convert("RGB")))


def test_moving_a_fader_changes_pixels_inside_the_face_and_none_outside(
    qtbot, make_window, synth_model: Path, portrait: Path
) -> None:
    window = opened(qtbot, make_window(), portrait, synth_model)
    before = shown(window)
    drag(window, "Smiling", 1.5)
    settle(qtbot, window)
    after = shown(window)
    x0, y0, x1, y1 = window.photo.faces[0].region
    box = changed_box(before, after)
    assert box is not None, "the fader changed nothing"
    assert x0 <= box[0] and y0 <= box[1] and box[2] <= x1 and box[3] <= y1
    assert window.isWindowModified()
    # the view widget itself shows the change
    window.view.set_zoom(1.0)
    window.view.centerOn(QPointF((x0 + x1) / 2, (y0 + y1) / 2))
    edited = window.view.grab()
    window.view.show_original(True)
    original = window.view.grab()
    window.view.show_original(False)
    assert edited.toImage() != original.toImage()


def test_a_thousand_fader_moves_end_on_the_last_values_render(
    qtbot, make_window, synth_model: Path, portrait: Path
) -> None:
    window = opened(qtbot, make_window(), portrait, synth_model)
    slider = window.panel.slider("Smiling")
    values = np.linspace(-0.5, 1.5, 1000)
    moves = iter(values)
    done: list[bool] = []
    slider.setSliderDown(True)

    def move() -> None:
        value = next(moves, None)
        if value is None:
            timer.stop()
            done.append(True)
        else:
            slider.setValue(float(value))

    timer = QTimer()
    timer.timeout.connect(move)
    timer.start(0)  # one move per event-loop turn: the loop keeps turning while the worker renders
    qtbot.waitUntil(lambda: bool(done), timeout=60_000)
    slider.setSliderDown(False)
    slider.sliderReleased.emit()
    settle(qtbot, window)
    assert window.session.renderer.latest_id >= 1000
    assert window.session.renderer.renders < 1000  # waiting requests were replaced: no backlog
    assert window.history.stack(0).count() == 1  # one drag, one undo step
    reference = PhotoEdit(load_image(portrait), Engine(load_model(synth_model), "cpu"))
    reference.set(0, window.faces.values(0))
    assert window.faces.values(0)["Smiling"] == 1.5
    expected = reference.render()
    assert np.array_equal(shown(window), expected)


def test_undo_and_redo_restore_exact_pixels(qtbot, make_window, synth_model: Path, portrait: Path) -> None:
    window = opened(qtbot, make_window(), portrait, synth_model)
    original = shown(window)
    drag(window, "Smiling", 1.2)
    settle(qtbot, window)
    first = shown(window)
    drag(window, "Male", 0.1)
    settle(qtbot, window)
    second = shown(window)
    assert not np.array_equal(first, second)
    assert window.undo_action.text() == "&Undo Male 0.10"
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot, window)
    assert np.array_equal(shown(window), first)
    assert window.panel.slider("Male").value() == pytest.approx(
        window.photo.faces[0].start["Male"], abs=0.005
    )
    window.undo_action.trigger()
    settle(qtbot, window)
    assert np.array_equal(shown(window), original)
    assert not window.isWindowModified()
    qtbot.keyClick(
        window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    window.redo_action.trigger()
    settle(qtbot, window)
    assert np.array_equal(shown(window), second)
    window.panel.reset_all.click()  # one step for all faders
    settle(qtbot, window)
    assert np.array_equal(shown(window), original)
    window.undo_action.trigger()
    settle(qtbot, window)
    assert np.array_equal(shown(window), second)


def test_each_face_has_its_own_faders_and_history(
    qtbot, make_window, synth_model: Path, two_faces: Path
) -> None:
    window = opened(qtbot, make_window(), two_faces, synth_model)
    assert len(window.photo.faces) == 2 and window.panel.faces.isVisible()
    drag(window, "Smiling", 1.5)
    # click the second face's outline in the view
    outline = window.view._outlines[1]
    centre = window.view.mapFromScene(outline.rect().center())
    qtbot.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert window.face == 1 and window.panel.faces.currentIndex() == 1
    assert window.panel.slider("Smiling").value() == pytest.approx(
        window.photo.faces[1].start["Smiling"], abs=0.005
    )
    assert not window.undo_action.isEnabled()  # face 2 has no history yet
    drag(window, "Male", 1.4)
    settle(qtbot, window)
    image = shown(window)
    for face in window.photo.faces:
        x0, y0, x1, y1 = face.region
        assert not np.array_equal(image[y0:y1, x0:x1], np.asarray(Image.open(two_faces))[y0:y1, x0:x1])
    window.panel.faces.setCurrentIndex(0)
    assert window.face == 0 and window.undo_action.text() == "&Undo Smile 1.50"


def test_export_keeps_size_exif_and_colour_profile_and_never_the_source(
    qtbot, make_window, synth_model: Path, portrait: Path, tmp_path: Path, monkeypatch
) -> None:
    source = tmp_path / "rotated.jpg"
    image = Image.open(portrait).convert("RGB").transpose(Image.Transpose.ROTATE_90)  # stored on its side
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: turn 90° clockwise to view
    exif[0x010F] = "Fader Camera"  # Make
    icc = b"\0\0\0\x10fake-icc-profile"
    image.save(source, quality=95, exif=exif.tobytes(), icc_profile=icc)
    source_bytes = source.read_bytes()
    window = opened(qtbot, make_window(), source, synth_model)
    assert window.photo.size == (512, 512)
    drag(window, "Smiling", 1.4)
    out = tmp_path / "rotated-edited.jpg"
    with qtbot.waitSignal(window.session.saved, timeout=60_000):
        assert window.export_to(out, 90)
    exported = Image.open(out)
    assert exported.size == (512, 512)
    assert exported.getexif().get(0x0112, 1) == 1 and exported.getexif()[0x010F] == "Fader Camera"
    assert exported.info["icc_profile"] == icc
    assert source.read_bytes() == source_bytes
    # the source is refused, with a message, and stays as it was
    assert not window.export_to(source)
    assert window.error_box.informativeText() == (
        f"{source}: refusing to overwrite the original photo; choose another name"
    )
    assert source.read_bytes() == source_bytes
    # another existing file: asked first; "No" leaves it alone
    other = tmp_path / "other.png"
    other.write_bytes(b"keep me")
    asked = []
    monkeypatch.setattr(
        QMessageBox, "question", lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.No
    )
    assert not window.export_to(other)
    assert asked and other.read_bytes() == b"keep me"


@pytest.mark.parametrize("keep_detail", [True, False])
def test_the_view_at_100_percent_the_export_and_fader_studio_edit_are_the_same_pixels(
    qtbot, make_window, synth_model: Path, portrait: Path, tmp_path: Path, keep_detail: bool
) -> None:
    window = opened(qtbot, make_window(), portrait, synth_model)
    window.set_keep_detail(keep_detail)
    window.view.set_zoom(1.0)
    drag(window, "Smiling", 1.25)
    drag(window, "Eyeglasses", 0.8)
    settle(qtbot, window)
    on_screen = shown(window)
    gui = tmp_path / "gui.png"
    with qtbot.waitSignal(window.session.saved, timeout=60_000):
        window.export_to(gui)
    cli = tmp_path / "cli.png"
    blend = "detail" if keep_detail else "replace"
    result = subprocess.run(
        [console_script("fader-studio"), "edit", str(portrait), "--model", str(synth_model),
         "--set", "Smiling=1.25", "--set", "Eyeglasses=0.8", "--out", str(cli), "--device", "cpu",
         "--blend", blend],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    exported = np.asarray(Image.open(gui))
    assert np.array_equal(exported, np.asarray(Image.open(cli)))
    assert np.array_equal(on_screen, exported)
    assert not np.array_equal(exported, np.asarray(Image.open(portrait).convert("RGB")))


def test_keep_photo_detail_is_on_by_default_remembered_and_drives_view_export_and_sweep(
    qtbot, make_window, synth_model: Path, portrait: Path, tmp_path: Path
) -> None:
    from fader_studio.core.sweep import sweep_frames

    window = opened(qtbot, make_window(), portrait, synth_model)
    action = window.keep_detail_action
    assert action.isCheckable() and action.isChecked()
    assert action in window.menuBar().actions()[2].menu().actions()  # View
    assert action.shortcut().toString() == "Ctrl+D"
    window.view.set_zoom(1.0)
    drag(window, "Smiling", 1.5)
    settle(qtbot, window)
    detail_view = shown(window)
    action.trigger()  # off: the edited face is rendered again, pasted
    settle(qtbot, window)
    assert not action.isChecked()
    replace_view = shown(window)
    document = PhotoEdit(load_image(portrait), Engine(load_model(synth_model), "cpu"), blend="replace")
    document.set(0, window.faces.values(0))
    assert np.array_equal(replace_view, document.render())
    document.blend = "detail"
    assert np.array_equal(detail_view, document.render())
    document.blend = "replace"
    exported, strip = tmp_path / "out.png", tmp_path / "sweep.png"
    with qtbot.waitSignal(window.session.saved, timeout=60_000):
        window.export_to(exported)
    assert np.array_equal(np.asarray(Image.open(exported)), document.render())
    with qtbot.waitSignal(window.session.saved, timeout=60_000):
        window.export_sweep_to(strip, "Smiling", 3)
    assert np.array_equal(np.asarray(Image.open(strip)), np.hstack(sweep_frames(document, 0, "Smiling", 3)))
    again = make_window()  # a new start reads the setting
    assert not again.keep_detail_action.isChecked()
    assert again.session.blend == "replace"


def test_a_sweep_is_written_as_an_animated_gif(
    qtbot, make_window, synth_model: Path, portrait: Path, tmp_path: Path
) -> None:
    window = opened(qtbot, make_window(), portrait, synth_model)
    out = tmp_path / "sweep.gif"
    with qtbot.waitSignal(window.session.saved, timeout=60_000):
        window.export_sweep_to(out, "Smiling", 5)
    assert Image.open(out).n_frames == 8


def test_photos_open_by_shortcut_drop_and_recent_files(
    qtbot, make_window, synth_model: Path, portrait: Path, two_faces: Path, monkeypatch
) -> None:
    window = opened(qtbot, make_window(), model=synth_model)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(portrait), ""))
    qtbot.keyClick(window, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot, window)
    assert window.photo.path == portrait and len(window.photo.faces) == 1
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(two_faces))])
    buttons, keys = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    with warnings.catch_warnings():  # PySide6 marks QDragEnterEvent's only constructor deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(QPoint(50, 50), Qt.DropAction.CopyAction, data, buttons, keys)
    assert QApplication.sendEvent(window, enter) and enter.isAccepted()
    QApplication.sendEvent(window, QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, data, buttons, keys))
    settle(qtbot, window)
    assert window.photo.path == two_faces and len(window.photo.faces) == 2
    assert window.recent_files() == [str(two_faces), str(portrait)]
    window.close()
    again = opened(qtbot, make_window(), model=synth_model)
    recent = [a for a in again.recent_menu.actions() if a.text() == str(portrait)]
    recent[0].trigger()
    settle(qtbot, again)
    assert again.photo.path == portrait


def test_the_command_line_opens_the_photo_and_model(qtbot, synth_model: Path, portrait: Path) -> None:
    window = start_editor(
        [str(portrait)], str(synth_model), "cpu"
    )  # what `fader-studio PHOTO --model M` does
    qtbot.addWidget(window)
    assert window.isVisible() and window.photo is None  # shown first; loading follows
    qtbot.waitUntil(lambda: window.photo is not None and bool(window.photo.faces), timeout=60_000)
    assert (window.photo.path, window.model.path, len(window.panel.values())) == (portrait, synth_model, 3)
    window.close()


def test_a_fresh_install_opens_the_bundled_model_and_its_male_fader_edits_the_face(
    qtbot, portrait: Path
) -> None:
    window = start_editor([str(portrait)], None, "cpu")  # `fader-studio PHOTO` with no settings yet
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.photo is not None and bool(window.photo.faces), timeout=60_000)
    settle(qtbot, window)
    assert window.model.path == paths.bundled_model()
    assert {"Male", "Smiling", "Young"} <= set(window.panel.values())
    before = shown(window)
    drag(window, "Male", next(a.max for a in window.model.attributes if a.name == "Male"))
    settle(qtbot, window)
    after = shown(window)
    x0, y0, x1, y1 = changed_box(before, after)
    bx, by, bw, bh = window.photo.faces[0].box
    covered = max(0.0, min(x1, bx + bw) - max(x0, bx)) * max(0.0, min(y1, by + bh) - max(y0, by))
    assert covered > 0.8 * bw * bh  # the face (its oval, by default), not a few pixels
    assert np.abs(after.astype(int) - before.astype(int))[y0:y1, x0:x1].mean() > 3
    window.close()


def test_geometry_and_the_last_model_are_remembered(qtbot, make_window, synth_model: Path) -> None:
    from fader_studio.ui.app import startup_model

    window = opened(qtbot, make_window(), model=synth_model)
    window.setGeometry(60, 50, 700, 500)  # the offscreen screen is 800×600
    window.close()
    again = make_window()
    assert (again.width(), again.height()) == (700, 500)
    assert startup_model(None) == synth_model


def test_switching_models_encodes_the_photo_again(
    qtbot, make_window, synth_model: Path, portrait: Path, tmp_path: Path
) -> None:
    window = opened(qtbot, make_window(), portrait, synth_model)
    other_path = save_model(make_model(), tmp_path / "other.fader")
    installed = window.model_menu.install_model(other_path)
    settle(qtbot, window)
    assert installed.parent.name == "models" and installed.read_bytes() == other_path.read_bytes()
    assert window.model.path == installed and window.photo.path == portrait
    assert len(window.photo.faces) == 1 and not window.isWindowModified()
    window.model_menu.refresh()
    models = [
        a for a in window.model_menu.actions() if a.isCheckable() and a is not window.model_menu.onnx_action
    ]
    assert [a.text() for a in models if a.isChecked()] == ["other"]
    drag(window, "Smiling", 1.5)
    settle(qtbot, window)
    assert not np.array_equal(shown(window), np.asarray(Image.open(portrait).convert("RGB")))


def test_bad_files_show_one_error_and_the_window_stays_usable(
    qtbot, make_window, synth_model: Path, portrait: Path, tmp_path: Path
) -> None:
    window = opened(qtbot, make_window(), portrait, synth_model)
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg" * 10)
    window.open_photo(corrupt)
    settle(qtbot, window)
    assert window.error_box.text() == "Opening the photo failed."
    assert window.error_box.informativeText() == f"{corrupt}: cannot read this image (Truncated File Read)"
    assert window.photo.path == portrait  # still editing the photo that was open
    pipe = tmp_path / "pipe.jpg"
    os.mkfifo(pipe)
    window.open_photo(pipe)  # a named pipe would block the worker for ever if it were opened
    settle(qtbot, window)
    assert window.error_box.informativeText() == f"{pipe}: is a named pipe (FIFO), not a file"
    broken_model = tmp_path / "broken.fader"
    broken_model.write_bytes(synth_model.read_bytes()[:1000])
    window.open_model(broken_model)
    settle(qtbot, window)
    assert window.error_box.text() == "Opening the model failed."
    assert window.model.path == synth_model
    drag(window, "Smiling", 1.5)
    settle(qtbot, window)
    assert not np.array_equal(shown(window), np.asarray(Image.open(portrait).convert("RGB")))


def test_a_photo_without_a_face_says_so_and_an_aligned_face_can_be_edited_whole(
    qtbot, make_window, synth_model: Path, tmp_path: Path
) -> None:
    window = opened(qtbot, make_window(), model=synth_model)
    wall = tmp_path / "wall.png"
    Image.new("RGB", (320, 240), (120, 130, 140)).save(wall)
    opened(qtbot, window, wall)
    assert window.panel.message.text().startswith(f"{wall}: no face found")
    assert not window.panel.whole_image.isVisible() and not window.export_action.isEnabled()
    aligned = tmp_path / "aligned.png"
    Image.new("RGB", (178, 218), (200, 170, 150)).save(aligned)  # no face YuNet can see
    opened(qtbot, window, aligned)
    assert "edit it as a whole" in window.panel.message.text() and window.panel.whole_image.isVisible()
    window.panel.whole_image.click()
    settle(qtbot, window)
    assert window.photo.whole_image and len(window.photo.faces) == 1
    drag(window, "Smiling", 1.5)
    settle(qtbot, window)
    assert changed_box(shown(window), np.asarray(Image.open(aligned))) is not None


def test_zoom_fit_and_before_after(qtbot, make_window, synth_model: Path, portrait: Path) -> None:
    window = opened(qtbot, make_window(), portrait, synth_model)
    window.actual_action.trigger()
    assert window.view.zoom() == pytest.approx(1.0) and window.zoom_label.text() == "100%"
    window.zoom_in_action.trigger()
    assert window.view.zoom() == pytest.approx(1.25)
    window.fit_action.trigger()
    viewport = window.view.viewport().size()
    assert 512 * window.view.zoom() == pytest.approx(min(viewport.width(), viewport.height()), abs=8)
    drag(window, "Smiling", 1.5)
    settle(qtbot, window)
    edited = shown(window)
    window.view.setFocus()
    qtbot.keyPress(window.view, Qt.Key.Key_Backslash)
    assert np.array_equal(shown(window), np.asarray(Image.open(portrait).convert("RGB")))
    qtbot.keyRelease(window.view, Qt.Key.Key_Backslash)
    assert np.array_equal(shown(window), edited)
    window.split_action.trigger()
    assert window.view._split_x == pytest.approx(256)
    window.view.set_split(10_000)
    assert window.view._split_x == 512
    window.split_action.trigger()
    assert window.view._split_x is None


def test_the_export_dialog_suggests_a_new_name_and_asks_quality_only_where_it_applies(
    qtbot, tmp_path: Path
) -> None:
    from fader_studio.ui.dialogs import ExportDialog, edited_name

    photo = tmp_path / "holiday.jpg"
    photo.write_bytes(b"")
    assert edited_name(photo) == tmp_path / "holiday-edited.jpg"
    (tmp_path / "holiday-edited.jpg").write_bytes(b"")
    assert edited_name(photo) == tmp_path / "holiday-edited-2.jpg"
    assert edited_name(tmp_path / "scan.bmp") == tmp_path / "scan-edited.png"
    dialog = ExportDialog(edited_name(photo), 80)
    qtbot.addWidget(dialog)
    assert dialog.path() == tmp_path / "holiday-edited-2.jpg" and dialog.quality.value() == 80
    assert dialog.quality.isEnabled()
    dialog.file.edit.setText(str(tmp_path / "holiday.png"))
    assert not dialog.quality.isEnabled()


def test_opening_a_photo_again_reads_the_file_again(
    qtbot, make_window, synth_model: Path, portrait: Path
) -> None:
    window = opened(qtbot, make_window(), portrait, synth_model)
    brighter = np.clip(np.asarray(Image.open(portrait).convert("RGB")).astype(int) + 40, 0, 255).astype(
        np.uint8
    )
    Image.fromarray(brighter).save(portrait)  # changed in another program
    opened(qtbot, window, portrait)
    assert np.array_equal(shown(window), brighter)


def test_model_import_official_converts_installs_and_opens_it(
    qtbot, make_window, portrait: Path, tmp_path: Path, monkeypatch
) -> None:
    from tests.core.official_format import AutoEncoder, Classifier, save_official

    pth = save_official(AutoEncoder(), tmp_path / "eyeglasses.pth", legacy=True)
    classifier = save_official(Classifier(), tmp_path / "classifier64.pth", legacy=True)
    chosen = iter([(str(pth), ""), (str(classifier), "")])
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: next(chosen))
    window = opened(qtbot, make_window(), portrait)
    window.model_menu.refresh()
    assert window.model_menu.import_official_action in window.model_menu.actions()
    window.model_menu.import_official_action.trigger()
    settle(qtbot, window)
    installed = window.model.path
    assert installed.name == "eyeglasses.fader" and installed.parent.name == "models"
    assert list(window.panel.values()) == ["Eyeglasses", "Smiling"]
    assert (window.panel.slider("Eyeglasses").minimum(), window.panel.slider("Eyeglasses").maximum()) == (
        -1,
        2,
    )
    assert len(window.photo.faces) == 1  # the open photo was encoded with it
    before = shown(window)
    drag(window, "Eyeglasses", 2.0)
    settle(qtbot, window)
    assert changed_box(before, shown(window)) is not None
    garbage = tmp_path / "male.pth"
    garbage.write_bytes(b"\x80\x02not a model")
    window.model_menu.import_official(garbage)
    settle(qtbot, window)
    assert window.error_box.text() == "Importing the model failed."
    assert window.error_box.informativeText().startswith(f"{garbage}: not a readable torch.save file")
    assert sorted(p.name for p in installed.parent.iterdir()) == ["eyeglasses.fader"]  # nothing else written
    assert window.model.path == installed


def test_an_export_that_leaves_the_exif_out_says_so_in_the_status_bar(
    qtbot, make_window, synth_model: Path, portrait: Path, tmp_path: Path
) -> None:
    from tests.core.test_imageio import big_exif_photo

    exif = Image.open(big_exif_photo(tmp_path / "exif.png")).getexif()
    photo = tmp_path / "exif-portrait.png"
    Image.open(portrait).convert("RGB").save(photo, exif=exif.tobytes())
    window = opened(qtbot, make_window(), photo, synth_model)
    drag(window, "Smiling", 1.5)
    with qtbot.waitSignal(window.session.noted, timeout=60_000) as noted:
        window.export_to(tmp_path / "out.jpg")
    settle(qtbot, window)
    assert noted.args[0].endswith("is more than a JPEG can hold (64 kB); written without it")
    assert window.statusBar().currentMessage() == noted.args[0]  # shown after "Saved …", not under it
    assert (tmp_path / "out.jpg").exists()


def wheel(widget, notches: int) -> None:  # noqa: ANN001
    """Turn the mouse wheel over ``widget`` by ``notches`` (positive: up)."""
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QWheelEvent

    centre = QPointF(widget.width() / 2, widget.height() / 2)
    for _ in range(abs(notches)):
        event = QWheelEvent(
            centre, QPointF(widget.mapToGlobal(QPoint(int(centre.x()), int(centre.y())))), QPoint(),
            QPoint(0, 120 if notches > 0 else -120), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
            Qt.ScrollPhase.NoScrollPhase, False,
        )  # fmt: skip
        QApplication.sendEvent(widget, event)


def test_one_fader_move_renders_once_and_a_wheel_spin_is_one_undo_step(
    qtbot, make_window, synth_model: Path, portrait: Path
) -> None:
    window = opened(qtbot, make_window(), portrait, synth_model)
    start = window.faces.values(0)["Smiling"]
    requests = window.session.renderer.latest_id
    drag(window, "Smiling", 1.3)
    assert window.session.renderer.latest_id == requests + 1  # the drag's render only, not the commit's too
    settle(qtbot, window)
    window.undo_action.trigger()
    assert window.faces.values(0)["Smiling"] == start
    inner = window.panel.slider("Smiling").findChild(QSlider)
    wheel(inner, 4)
    spun = window.faces.values(0)["Smiling"]
    assert (
        spun > start and window.history.stack(0).count() == 1
    )  # four notches, one step (the undone drag is gone)
    window.undo_action.trigger()
    assert window.faces.values(0)["Smiling"] == start  # the whole spin at once
    window.redo_action.trigger()
    assert window.faces.values(0)["Smiling"] == spun
    qtbot.wait(int(1000 * MERGE_SECONDS) + 100)
    wheel(inner, 1)  # a later gesture is a step of its own
    window.undo_action.trigger()
    assert window.faces.values(0)["Smiling"] == spun
