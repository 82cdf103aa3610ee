"""One look applied to many real photos with a real tiny model: finding, naming, editing, stopping."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fader_studio import resources
from fader_studio.core.batch import (
    BatchSettings,
    Job,
    Progress,
    check_pattern,
    edit_photo,
    find_photos,
    plan_batch,
    run_batch,
)
from fader_studio.core.edit import PhotoEdit
from fader_studio.core.engine import Engine
from fader_studio.core.errors import FaderStudioError
from fader_studio.core.imageio import load_image, save_image
from fader_studio.core.modelfile import FaderModel
from fader_studio.core.presets import Preset

SMILE = Preset("smile", {"Smiling": 1.2})


def portrait(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(resources.path(resources.SAMPLE_PHOTO), path))


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.fixture
def shoot(tmp_path: Path) -> Path:
    """A folder of a shoot: two portraits, one in a subfolder, a wall, a broken file, a hidden file, notes."""
    folder = tmp_path / "shoot"
    portrait(folder / "one.png")
    portrait(folder / "day2" / "two.jpg")
    Image.new("RGB", (320, 240), (120, 130, 140)).save(folder / "wall.png")
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    portrait(folder / ".hidden" / "secret.png")
    (folder / "notes.txt").write_text("model release signed")
    return folder


def test_folders_give_their_photos_by_name_once_and_missing_inputs_are_problems(
    shoot: Path, tmp_path: Path
) -> None:
    photos, problems = find_photos([shoot])
    assert [p.name for p in photos] == ["broken.jpg", "one.png", "wall.png"]
    photos, problems = find_photos([shoot, shoot / "one.png", tmp_path / "gone.png"], recursive=True)
    assert [p.relative_to(shoot).as_posix() for p in photos] == [
        "broken.jpg",
        "day2/two.jpg",
        "one.png",
        "wall.png",
    ]
    assert [p.reason for p in problems] == [f"{tmp_path / 'gone.png'}: no such file or folder"]
    (tmp_path / "empty").mkdir()
    assert [p.reason for p in find_photos([tmp_path / "empty"])[1]] == [
        f"{tmp_path / 'empty'}: no photos in this folder"
    ]


def test_names_follow_the_pattern_and_never_take_an_existing_file_or_another_photos_name(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "b-edited.jpg").write_bytes(b"keep me")
    photos = [tmp_path / "a.png", tmp_path / "b.jpg", tmp_path / "x" / "a.png", tmp_path / "c.raw"]
    jobs, problems = plan_batch(photos, BatchSettings(SMILE, out))
    assert jobs == [Job(photos[0], out / "a-edited.png"), Job(photos[3], out / "c-edited.png")]
    assert [p.reason for p in problems] == [
        f"{photos[1]}: {out / 'b-edited.jpg'} exists; not overwritten",
        f"{photos[2]}: a-edited.png is also the name of {photos[0]}'s edit",
    ]
    jobs, problems = plan_batch(photos, BatchSettings(SMILE, out, "{folder}_{n}", suffix="webp"))
    assert [j.target.name for j in jobs] == [f"{tmp_path.name}_1.webp", f"{tmp_path.name}_2.webp", "x_3.webp",
                                             f"{tmp_path.name}_4.webp"]  # fmt: skip
    assert problems == []
    for pattern, reason in [
        ("edited", "use {name} or {n}"),
        ("{nme}", "unknown field {nme}"),
        ("../{name}", "without folders"),
        ("{name", "name pattern '{name'"),
    ]:
        with pytest.raises(FaderStudioError, match=reason.replace("{", "\\{").replace(".", "\\.")):
            check_pattern(pattern)


def test_a_batch_writes_the_single_export_s_pixels_lists_failures_and_never_touches_a_source(
    shoot: Path, tmp_path: Path, model: FaderModel
) -> None:
    engine = Engine(model, "cpu")
    photos, missing = find_photos([shoot], recursive=True)
    before = {p: p.read_bytes() for p in shoot.rglob("*") if p.is_file()}
    settings = BatchSettings(SMILE, tmp_path / "out" / "new", suffix=".png")
    jobs, clashes = plan_batch(photos, settings)
    seen: list[Progress] = []
    report = run_batch(engine, jobs, settings, progress=seen.append, problems=missing + clashes)
    assert sorted(p.name for p in (tmp_path / "out" / "new").iterdir()) == [
        "one-edited.png",
        "two-edited.png",
    ]
    assert [j.source.name for j in report.written] == ["two.jpg", "one.png"]
    assert [p.path.name for p in report.problems] == ["broken.jpg", "wall.png"]
    assert "not an image file" in report.problems[0].reason and "no face found" in report.problems[1].reason
    assert report.total == 4 and not report.cancelled
    assert report.summary().startswith("edited 2 of 4 photos in ")
    assert [(p.done, p.total) for p in seen] == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    assert seen[-1].current is None and seen[-1].failed == 2
    assert {p: p.read_bytes() for p in shoot.rglob("*") if p.is_file()} == before

    # the editor's export: open the photo, set the face's faders, render, save
    photo = load_image(shoot / "one.png")
    document = PhotoEdit(photo, engine)
    document.set(0, {"Smiling": 1.2})
    single = save_image(document.render(), tmp_path / "single.png", source=photo)
    assert np.array_equal(pixels(single), pixels(tmp_path / "out" / "new" / "one-edited.png"))
    assert not np.array_equal(pixels(single), pixels(shoot / "one.png"))


def test_a_relative_look_moves_each_face_from_its_own_estimate(tmp_path: Path, model: FaderModel) -> None:
    engine = Engine(model, "cpu")
    source = load_image(resources.path(resources.SAMPLE_PHOTO))
    two = source.pixels.copy()
    two[:, : two.shape[1] // 2] = 255 - two[:, : two.shape[1] // 2]  # a second, different face
    photo = load_image(save_image(np.hstack([source.pixels, two[:, ::-1]]), tmp_path / "two.png"))
    look = Preset("more smile", {"Smiling": 0.4}, relative=True)
    document = PhotoEdit(photo, engine)
    starts = [f.start["Smiling"] for f in document.faces]
    for index, start in enumerate(starts):
        document.set(index, {"Smiling": min(start + 0.4, 1.5)})
    assert np.array_equal(edit_photo(photo, engine, look).pixels, document.render())
    largest = edit_photo(photo, engine, look, faces="largest")
    assert largest.edited == 1 and largest.faces == 2
    with pytest.raises(FaderStudioError, match="has 2 faces; use 1 to 2 or all"):
        edit_photo(photo, engine, look, faces=2)


def test_a_stop_between_photos_leaves_complete_files_only(tmp_path: Path, model: FaderModel) -> None:
    photos = [portrait(tmp_path / "in" / f"p{i}.png") for i in range(4)]
    settings = BatchSettings(SMILE, tmp_path / "out")
    jobs, _ = plan_batch(photos, settings)
    stop = threading.Event()

    def progress(p: Progress) -> None:
        if p.done == 2:
            stop.set()

    report = run_batch(Engine(model, "cpu"), jobs, settings, progress=progress, stop=stop)
    assert report.cancelled and [j.source.name for j in report.written] == ["p0.png", "p1.png"]
    written = sorted((tmp_path / "out").iterdir())
    assert [p.name for p in written] == ["p0-edited.png", "p1-edited.png"]  # no temporary file left
    for path in written:
        assert pixels(path).shape == pixels(photos[0]).shape


def test_a_file_that_appears_during_the_batch_is_not_overwritten(tmp_path: Path, model: FaderModel) -> None:
    photos = [portrait(tmp_path / "in" / f"p{i}.png") for i in range(2)]
    settings = BatchSettings(SMILE, tmp_path / "out")
    jobs, _ = plan_batch(photos, settings)

    def progress(p: Progress) -> None:
        if p.done == 1:
            (tmp_path / "out" / "p1-edited.png").write_bytes(b"someone else's")

    report = run_batch(Engine(model, "cpu"), jobs, settings, progress=progress)
    assert (tmp_path / "out" / "p1-edited.png").read_bytes() == b"someone else's"
    assert [p.reason for p in report.problems] == [
        f"{photos[1]}: {tmp_path / 'out' / 'p1-edited.png'} exists; not overwritten"
    ]
