"""Photo folders (a labels CSV and its photos) as training data: read, cache, resume, combine, train."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fader_studio import resources
from fader_studio.core.errors import DatasetError
from fader_studio.core.imageio import load_image
from fader_studio.core.modelfile import load_model
from fader_studio.core.template import template_points
from trainer.cache import cache_folder, open_dataset, prepare
from trainer.celeba import DatasetWarning, open_celeba
from trainer.cli import main
from trainer.data import FaceDataset
from trainer.photos import open_photos
from trainer.runs import read_events

PHOTOS = 24


def _portrait() -> np.ndarray:
    return load_image(resources.path(resources.SAMPLE_PHOTO)).pixels


def write_photo_folder(folder: Path, count: int = PHOTOS, *, extra: str = "") -> Path:
    """``count`` variants of the sample portrait with labels, one photo without a face, one with two faces.

    Labels: Male alternates, Smiling is blank for every third photo; an
    ``age`` column rides along. ``extra`` is appended to the CSV as is.
    """
    rng = np.random.default_rng(0)
    portrait = _portrait()
    (folder / "images").mkdir(parents=True)
    rows = ["file,Male,Smiling,age"]
    for i in range(count):
        image = portrait[:, ::-1] if i % 2 else portrait
        scale = 0.5 + 0.3 * rng.random()
        size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        pixels = np.asarray(Image.fromarray(np.ascontiguousarray(image)).resize(size, Image.BILINEAR))
        pixels = np.clip(pixels.astype(np.int16) + rng.integers(-20, 20), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / "images" / f"p{i:02d}.jpg", quality=90)
        smiling = "" if i % 3 == 0 else str(i % 2)
        rows.append(f"p{i:02d}.jpg,{i % 2},{smiling},{20 + i}")
    Image.fromarray(np.full((200, 200, 3), 128, np.uint8)).save(folder / "images" / "wall.png")
    rows.append("wall.png,1,,40")
    small = np.asarray(Image.fromarray(portrait).resize((256, 256)))
    Image.fromarray(np.hstack([small, small])).save(folder / "images" / "pair.jpg")
    rows.append("pair.jpg,0,,50")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n" + extra)
    return folder


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_photo_folder(tmp_path_factory.mktemp("photos") / "mine")


def test_reads_labels_blanks_and_extra_columns(photo_folder: Path) -> None:
    photos = open_photos(photo_folder)
    assert photos.attribute_names == ["Male", "Smiling"]  # age is not an attribute
    assert len(photos) == PHOTOS + 2
    assert photos.known[:, 0].all()
    assert not photos.known[0, 1] and photos.known[1, 1]
    assert photos.labels[1].tolist() == [True, True]
    assert set(photos.partition.tolist()) <= {0, 1, 2}
    assert isinstance(open_dataset(photo_folder / "labels.csv"), type(photos))


@pytest.mark.parametrize(
    ("extra", "message", "line"),
    [
        ("p00.jpg,1,0,3\n", "p00.jpg is listed twice", PHOTOS + 4),
        ("q.jpg,1,0\n", "expected 4 fields", PHOTOS + 4),
        ("q.jpg,1,2,5\n", "Smiling must be 1, 0 or blank", PHOTOS + 4),
        ("../q.jpg,1,0,5\n", "not a photo path inside the folder", PHOTOS + 4),
    ],
)
def test_a_bad_csv_line_is_refused_with_its_file_and_line(
    tmp_path: Path, extra: str, message: str, line: int
) -> None:
    folder = write_photo_folder(tmp_path / "bad", 2, extra=extra)
    with pytest.raises(DatasetError, match=message) as error:
        open_photos(folder)
    assert f"labels.csv:{line - PHOTOS + 2}" in str(error.value)


def test_missing_photos_are_skipped_with_a_warning(tmp_path: Path) -> None:
    folder = write_photo_folder(tmp_path / "gone", 4)
    (folder / "images" / "p01.jpg").unlink()
    with pytest.warns(DatasetWarning, match="1 of the 6 photos"):
        photos = open_photos(folder)
    assert "p01.jpg" not in photos.names


def test_prepare_aligns_faces_and_skips_photos_without_one_clear_face(
    photo_folder: Path, tmp_path: Path
) -> None:
    with pytest.warns(DatasetWarning) as caught:
        data = prepare(open_photos(photo_folder), 64, template="tight", workers=1, root=tmp_path)
    messages = " ".join(str(w.message) for w in caught)
    assert "wall.png: no face found" in messages
    assert "pair.jpg: 2 faces of similar size" in messages
    assert data.info["usable"] == PHOTOS and data.info["unusable"] == 2
    assert data.template == template_points("tight", 64)
    assert data.info["template_name"] == "tight"
    assert "-tight-" in data.path.name
    face = data.images[data.split_indices("all")[0]].astype(np.float64)
    # the face fills the tight crop: skin in the middle, brighter than the crop's corners
    assert face[24:40, 24:40].std() > 5
    assert np.array_equal(data.known, open_photos(photo_folder).known)
    again = prepare(open_photos(photo_folder), 64, template="tight", workers=1, root=tmp_path)
    assert again.path == data.path  # reused, not rebuilt


def test_an_interrupted_prepare_resumes(photo_folder: Path, tmp_path: Path) -> None:
    photos = open_photos(photo_folder)
    seen = []

    def stop(done: int, total: int) -> None:
        seen.append(done)
        if done >= 6:
            raise KeyboardInterrupt

    with warnings.catch_warnings(), pytest.raises(KeyboardInterrupt):
        warnings.simplefilter("ignore", DatasetWarning)
        prepare(photos, 64, template="tight", workers=1, root=tmp_path, on_progress=stop)
    folder = cache_folder(photos, 64, root=tmp_path, template="tight")
    assert not (folder / "cache.json").exists()
    resumed = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetWarning)
        data = prepare(
            photos, 64, template="tight", workers=1, root=tmp_path, on_progress=lambda d, t: resumed.append(d)
        )
    assert resumed[0] >= 6  # went on from where it stopped
    assert data.info["usable"] == PHOTOS


def test_sources_combine_with_unknown_labels(photo_folder: Path, synth_celeba: Path, tmp_path: Path) -> None:
    celeba = open_celeba(synth_celeba)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetWarning)
        data = prepare([celeba, open_photos(photo_folder)], 64, template="tight", workers=2, root=tmp_path)
    assert [s["kind"] for s in data.info["sources"]] == ["celeba", "photos"]
    photos = data.source == 1
    assert photos.sum() == PHOTOS + 2 and (~photos).sum() == len(celeba)
    eyeglasses = data.attribute_names.index("Eyeglasses")
    assert data.known[~photos, eyeglasses].all() and not data.known[photos, eyeglasses].any()
    dropped = FaceDataset(data, "all", ["Male", "Eyeglasses"])
    assert dropped.left_out == PHOTOS  # no photo knows Eyeglasses
    kept = FaceDataset(data, "all", ["Male", "Eyeglasses"], unknown="keep")
    assert len(kept) == len(dropped) + PHOTOS
    assert int(kept.labels[:, 1].isnan().sum()) == PHOTOS


def test_train_on_a_photo_folder_stores_the_template(
    photo_folder: Path, synth_celeba: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    args = [
        str(synth_celeba),
        str(photo_folder),
        "--attrs",
        "Male,Smiling",
        "--out",
        str(run),
        "--size",
        "64",
    ]
    args += ["--template", "tight", "--max-steps", "4", "--eval-every", "4", "--batch-size", "4"]
    args += ["--classifier-steps", "2", "--cache-dir", str(tmp_path / "cache"), "--progress", "json"]
    assert main(["train", *args]) == 0
    model = load_model(run / "last.fader")
    assert model.template == template_points("tight", 64)
    photos = open_photos(photo_folder)
    faces = np.array([n not in ("wall.png", "pair.jpg") for n in photos.names])
    blank = int((faces & (photos.partition == 0) & ~photos.known[:, 1]).sum())  # train photos lacking Smiling
    counts = model.training["training_images"]
    assert set(counts) == {str(synth_celeba), str(photo_folder / "labels.csv")}
    assert counts[str(photo_folder / "labels.csv")]["left_out"] == blank
    start = next(e for e in read_events(run / "events.jsonl") if e["event"] == "start")
    assert start["left_out"] == blank + counts[str(synth_celeba)]["left_out"]
    assert json.loads((run / "config.json").read_text())["template"] == "tight"


def test_label_fills_blanks_with_confident_predictions_only_when_trusted(
    photo_folder: Path, tmp_path: Path
) -> None:
    cache = ["--cache-dir", str(tmp_path / "cache"), "--workers", "1"]
    clf = tmp_path / "clf.fader"
    args = [str(photo_folder), "--attrs", "Male,Smiling", "--size", "64", "--template", "tight"]
    assert main(["classifier", *args, "--steps", "3", "--out", str(clf), *cache]) == 0
    out = tmp_path / "filled"
    label = ["label", str(photo_folder), str(out), "--classifier", str(clf), *cache]
    assert main([*label, "--threshold", "0.5", "--min-accuracy", "0", "--progress", "json"]) == 0
    filled = open_photos(out)
    given = open_photos(photo_folder)
    assert filled.names == given.names
    assert np.array_equal(filled.labels[given.known], given.labels[given.known])  # given labels kept
    faces = [n not in ("wall.png", "pair.jpg") for n in filled.names]
    assert filled.known[faces].all()  # every face's blank got a prediction at threshold 0.5
    assert not filled.known[[not f for f in faces]][:, 1].any()  # no face, no prediction
    record = json.loads((out / "label_provenance.json").read_text())
    assert record["attributes"]["Smiling"]["images"]["predicted"] == PHOTOS // 3
    assert "age" in (out / "labels.csv").read_text().splitlines()[0]
    strict = tmp_path / "strict"
    assert main(["label", str(photo_folder), str(strict), "--classifier", str(clf), *cache]) == 0
    record = json.loads((strict / "label_provenance.json").read_text())
    held_out = load_model(clf).training["metrics"]["balanced_accuracy"]
    for name in ("Male", "Smiling"):
        trusted = (held_out[name] or 0) >= 0.8
        assert record["attributes"][name]["predictions_used"] == trusted
        if not trusted:
            assert record["attributes"][name]["images"]["predicted"] == 0
    assert main(["label", str(photo_folder), str(tmp_path / "x")]) == 2  # a photo folder needs --classifier


def test_fine_tuning_keeps_the_model_s_framing(
    synth_celeba: Path, synth_model: Path, tmp_path: Path, capsys
) -> None:  # noqa: ANN001
    args = ["train", str(synth_celeba), "--attrs", "Male", "--init-from", str(synth_model)]
    args += ["--out", str(tmp_path / "run")]
    assert main([*args, "--template", "tight", "--cache-dir", str(tmp_path)]) == 2
    assert "--template tight differs from the model in --init-from (celeba)" in capsys.readouterr().err


def test_a_cache_written_before_unknown_labels_still_opens(photo_folder: Path, tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetWarning)
        data = prepare(open_photos(photo_folder), 64, template="tight", workers=1, root=tmp_path)
    with np.load(data.path / "table.npz") as table:
        old = {k: table[k] for k in ("names", "labels", "partition")}
    with open(data.path / "table.npz", "wb") as f:
        np.savez(f, **old)
    from trainer.cache import open_cache

    reopened = open_cache(data.path)
    assert reopened.known.all() and not reopened.source.any()
