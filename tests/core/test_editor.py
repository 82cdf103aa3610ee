"""The editor's service without Qt (what the app's worker runs), on the sample portrait with a tiny model."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fader_studio import resources
from fader_studio.core.batch import BatchSettings
from fader_studio.core.edit import PhotoEdit
from fader_studio.core.editor import Editor
from fader_studio.core.errors import FaderStudioError
from fader_studio.core.presets import Preset


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    return Path(shutil.copy(resources.path(resources.SAMPLE_PHOTO), tmp_path / "portrait.png"))


def test_a_photo_opened_before_the_model_gets_its_faces_when_the_model_loads(
    photo: Path, model_file: Path
) -> None:
    editor = Editor("cpu", "torch")
    opened = editor.open_photo(photo)
    assert opened.faces == () and opened.no_face is None and opened.size == Image.open(photo).size
    info, again = editor.load_model(model_file)
    assert info.name == "tiny" and [a.name for a in info.attributes] == ["Eyeglasses", "Smiling", "Male"]
    assert again is not None and len(again.faces) == 1
    face = again.faces[0]
    x0, y0, x1, y1 = face.region
    assert 0 <= x0 < x1 <= again.size[0] and 0 <= y0 < y1 <= again.size[1]
    assert set(face.start) == {"Eyeglasses", "Smiling", "Male"}


def test_renders_are_none_at_the_faces_own_values_and_pixels_of_the_view_otherwise(
    photo: Path, model_file: Path
) -> None:
    editor = Editor("cpu", "torch")
    editor.load_model(model_file)
    start = editor.open_photo(photo).faces[0].start
    (same,) = editor.render([(0, start)])
    assert same.pixels is None and same.face == 0
    moved = {**start, "Smiling": 1.0 - start["Smiling"]}
    (full,) = editor.render([(0, moved)], view_scale=1.0)
    (small,) = editor.render([(0, moved)], view_scale=0.25)
    x0, y0, x1, y1 = full.rect
    assert full.pixels is not None and full.pixels.shape == (round(y1 - y0), round(x1 - x0), 3)
    assert small.pixels is not None and small.pixels.shape[0] < full.pixels.shape[0] / 2
    assert np.allclose(small.rect, full.rect, atol=8)  # in photo pixels, on the preview's grid


def test_export_writes_the_documents_render_and_a_look_applies_to_the_chosen_faces(
    photo: Path, model_file: Path, tmp_path: Path
) -> None:
    editor = Editor("cpu", "torch")
    editor.load_model(model_file)
    opened = editor.open_photo(photo)
    look = Preset("more smile", {"Smiling": 0.8, "Bald": 1.0}, relative=True)
    edited, skipped = editor.apply_look(look)
    assert (edited, skipped) == (1, ("Bald",))
    written, notes = editor.export(tmp_path / "out.png")
    assert notes == []
    document = PhotoEdit(editor.photo, editor.engine)  # the same photo and model, set by hand
    document.set(0, look.apply(editor.engine.model.attributes, opened.faces[0].start).values)
    assert np.array_equal(np.asarray(Image.open(written).convert("RGB")), document.render())
    with pytest.raises(FaderStudioError, match="has 1 face; use 1 or all"):
        editor.apply_look(Preset("x", {"Smiling": 1.0}), faces=3)


def test_sweep_and_batch_run_on_the_open_model(photo: Path, model_file: Path, tmp_path: Path) -> None:
    editor = Editor("cpu", "torch")
    with pytest.raises(FaderStudioError, match="open a model first"):
        editor.batch([photo], BatchSettings(Preset("s", {"Smiling": 1.0}), tmp_path / "out"))
    editor.load_model(model_file)
    editor.open_photo(photo)
    sweep = editor.sweep(tmp_path / "sweep.png", 0, {}, "Smiling", 3)
    assert Image.open(sweep).size[0] > Image.open(sweep).size[1]  # frames side by side
    report = editor.batch([photo], BatchSettings(Preset("s", {"Smiling": 1.0}), tmp_path / "out"))
    assert [job.target.name for job in report.written] == ["portrait-edited.png"] and not report.problems


def test_without_a_photo_or_a_face_the_work_is_refused_in_one_line(model_file: Path, tmp_path: Path) -> None:
    editor = Editor("cpu", "torch")
    editor.load_model(model_file)
    with pytest.raises(FaderStudioError, match="no photo with faces is open"):
        editor.export(tmp_path / "out.png")
    blank = tmp_path / "blank.png"
    Image.new("RGB", (300, 200), "gray").save(blank)
    opened = editor.open_photo(blank)
    assert opened.faces == () and "no face" in (opened.no_face or "")
    with pytest.raises(FaderStudioError, match="no photo with faces is open"):
        editor.render([(0, {"Smiling": 1.0})])
