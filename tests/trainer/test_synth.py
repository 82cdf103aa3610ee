"""``fader-train synth``: drawn faces in CelebA's format, with the attributes their labels say."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fader_studio.core.errors import FaderStudioError
from fader_studio.core.template import CELEBA_MEAN_LANDMARKS
from tests.conftest import console_script
from trainer.celeba import open_celeba
from trainer.synth import DRAWN, draw_face, synthesize

#: Where each attribute shows, in the 178×218 frame: (x0, y0, x1, y1).
#: (Male changes the hair too, Blond_Hair and Young the hair everywhere, so they have no region.)
REGIONS = {"Eyeglasses": (35, 88, 143, 135), "Smiling": (55, 135, 122, 175)}


def pair(attribute: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The same face (same random draws) without and with ``attribute``."""
    base = {name: bool(seed & (1 << i)) for i, name in enumerate(DRAWN)}
    faces = []
    for present in (False, True):
        pixels, _ = draw_face({**base, attribute: present}, np.random.default_rng(seed))
        faces.append(pixels.astype(np.int16))
    return faces[0], faces[1]


@pytest.mark.parametrize("attribute", DRAWN)
def test_each_attribute_changes_the_face_visibly_and_only_itself(attribute: str) -> None:
    for seed in range(4):
        without, with_ = pair(attribute, seed)
        changed = np.abs(with_ - without).max(axis=2) > 40
        assert changed.mean() > 0.004, f"{attribute} is not visible (seed {seed})"
        if attribute in REGIONS:
            x0, y0, x1, y1 = REGIONS[attribute]
            inside = changed[y0:y1, x0:x1].sum()
            assert inside > 0.5 * changed.sum(), f"{attribute} changes pixels outside its region"


def test_blond_hair_is_lighter_and_yellower_and_age_greys_it() -> None:
    dark, blond = pair("Blond_Hair", 3)
    changed = np.abs(blond - dark).max(axis=2) > 40
    assert blond[changed].mean() > dark[changed].mean() + 50  # lighter hair
    assert blond[changed].mean(0)[0] > blond[changed].mean(0)[2] + 40  # and yellow: more red than blue
    old, young = pair("Young", 3)
    changed = np.abs(young - old).max(axis=2) > 40
    saturation = lambda px: (px.max(axis=1) - px.min(axis=1)).mean()  # noqa: E731
    assert saturation(old[changed]) < saturation(young[changed])  # grey hair, grey wrinkles


def test_a_synthetic_set_reads_as_celeba_with_its_labels_and_landmarks(synth_celeba: Path) -> None:
    celeba = open_celeba(synth_celeba)
    assert len(celeba) == 120 and celeba.split_counts() == {"train": 96, "val": 12, "test": 12}
    drawn = [celeba.attribute_names.index(n) for n in DRAWN]
    others = np.delete(celeba.labels, drawn, axis=1)
    assert not others.any()
    rates = celeba.labels[:, drawn].mean(0)
    assert ((rates > 0.3) & (rates < 0.7)).all()  # each drawn about half the time, independently
    correlation = np.corrcoef(celeba.labels[:, drawn].T.astype(float))
    assert np.abs(correlation - np.eye(len(DRAWN))).max() < 0.35
    offsets = celeba.landmarks - np.array(CELEBA_MEAN_LANDMARKS)
    assert np.abs(offsets.mean(0)).max() < 2.0 and np.abs(offsets).max() < 16  # pose jitter about the mean
    with Image.open(synth_celeba / "img_align_celeba" / "000001.jpg") as image:
        assert image.size == (178, 218) and image.format == "JPEG"


def test_the_files_show_what_the_labels_say(synth_celeba: Path) -> None:
    celeba = open_celeba(synth_celeba)
    glasses = celeba.attribute_names.index("Eyeglasses")
    frames = []
    for name, row, points in zip(celeba.names[:30], celeba.labels[:30], celeba.landmarks[:30], strict=True):
        pixels = np.asarray(Image.open(synth_celeba / "img_align_celeba" / name), dtype=np.int16)
        x0, x1 = int(points[0][0]) - 12, int(points[1][0]) + 12
        y = int((points[0][1] + points[1][1]) / 2)
        band = pixels[y - 1 : y + 2, x0:x1]
        # frames: dark pixels on the eye line between the eyes' outer edges and the bridge
        frames.append((row[glasses], (band.max(axis=2) < 70).mean()))
    with_glasses = [f for present, f in frames if present]
    without = [f for present, f in frames if not present]
    assert with_glasses and without and min(with_glasses) > max(without)


def test_the_same_seed_draws_the_same_dataset_whatever_the_processes(tmp_path: Path) -> None:
    one = synthesize(tmp_path / "one", 250, seed=4, workers=1)
    two = synthesize(tmp_path / "two", 250, seed=4, workers=2)
    other = synthesize(tmp_path / "other", 250, seed=5, workers=1)
    for name in ("list_attr_celeba.txt", "img_align_celeba/000201.jpg", "list_landmarks_align_celeba.txt"):
        assert (one / name).read_bytes() == (two / name).read_bytes()
    assert (one / "img_align_celeba/000001.jpg").read_bytes() != (
        other / "img_align_celeba/000001.jpg"
    ).read_bytes()


def test_synth_refuses_a_used_folder_and_leaves_nothing_on_failure(tmp_path: Path) -> None:
    used = tmp_path / "used"
    used.mkdir()
    (used / "photo.jpg").write_bytes(b"mine")
    with pytest.raises(FaderStudioError, match="already exists and is not empty"):
        synthesize(used, 5)
    assert [p.name for p in used.iterdir()] == ["photo.jpg"]
    with pytest.raises(FaderStudioError, match="count must be at least 1"):
        synthesize(tmp_path / "none", 0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["used"]


def test_the_synth_command(tmp_path: Path) -> None:
    folder = tmp_path / "faces"
    command = [console_script("fader-train"), "synth", str(folder), "--count", "12", "--progress", "json"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    done = json.loads(result.stdout.splitlines()[-1])
    assert done["event"] == "done" and done["count"] == 12
    assert len(list((folder / "img_align_celeba").iterdir())) == 12
    again = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and "not empty" in again.stderr
