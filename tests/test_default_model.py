"""The bundled default model: valid, small, says where its data came from, and edits the sample photo."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fader_studio import resources
from fader_studio.cli import main
from fader_studio.core import paths
from fader_studio.core.faces import FaceDetector
from fader_studio.core.modelfile import load_model
from tests.core.test_modelfile import read_parts

ATTRIBUTES = ("Male", "Smiling", "Young")


@pytest.fixture(scope="module")
def bundled() -> Path:
    path = paths.bundled_model()
    assert path is not None and path == resources.path(paths.BUNDLED_MODEL)
    return path


def test_the_bundled_model_controls_male_smiling_and_young_at_128_px(bundled: Path) -> None:
    model = load_model(bundled)
    assert set(ATTRIBUTES) <= set(model.attribute_names)
    assert model.image_size >= 128
    assert model.classifier is not None  # it sets each face's starting fader values
    assert bundled.stat().st_size < 40 * 1024**2  # float16 weights
    header, _ = read_parts(bundled)
    assert header["decoder.layers.0.0.weight"]["dtype"] == "F16"


def test_its_metadata_says_how_each_label_was_made_and_measured(bundled: Path) -> None:
    training = load_model(bundled).training
    assert "non-commercial" in training["license"] and "UTKFace" in training["license"]
    sources = training["labels"]["sources"].values()
    celeba = next(v for v in sources if v["kind"].startswith("completed CelebA labels"))
    photos = next(v for v in sources if v["kind"].startswith("photo folder labels"))
    assert celeba["split"]["by"] == "person"
    for name in ATTRIBUTES:
        record = celeba["attributes"][name]
        assert sum(record["images"].values()) == 6000
        assert record["images"]["official"] == 2009
    assert photos["attributes"]["Smiling"]["images"]["predicted"] > 10000  # UTKFace has no Smiling labels
    counts = training["training_images"]
    assert len(counts) == 2 and sum(c["images"] for c in counts.values()) > 10000
    metrics = training["metrics"]
    assert metrics["split"] == "val" and metrics["psnr_db"] > 20
    assert set(metrics["swap_accuracy"]) == set(ATTRIBUTES)
    judged = training["judged_metrics"]  # by a classifier trained on real labels only, on held-out images
    assert len(judged["by_source"]) == 2 and set(judged["swap_accuracy"]) == set(ATTRIBUTES)
    assert training["run"]["device"] and training["run"]["train_minutes"] > 0
    assert training["run"]["template"] == "tight"


def test_the_licence_sits_beside_it(bundled: Path) -> None:
    text = " ".join((bundled.parent / "LICENSE-model.txt").read_text().split())
    assert "CelebA" in text and "UTKFace" in text
    assert text.count("NON-COMMERCIAL RESEARCH PURPOSES ONLY") == 2  # each dataset's terms


def test_info_without_a_model_describes_the_bundled_one(capsys: pytest.CaptureFixture) -> None:
    assert main(["info"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [a["name"] for a in info["attributes"]] == list(load_model(paths.bundled_model()).attribute_names)
    assert info["training"]["labels"]["kind"] == "combined datasets"
    assert info["framing"] == "tight"  # the face-tight template the app aligns faces to


@pytest.mark.parametrize("attribute", ATTRIBUTES)
def test_each_fader_visibly_changes_the_sample_face(attribute: str, tmp_path: Path) -> None:
    photo = Path(shutil.copy(resources.path(resources.SAMPLE_PHOTO), tmp_path / "portrait.png"))
    model = load_model(paths.bundled_model())
    spec = next(a for a in model.attributes if a.name == attribute)
    results = []
    for value in (spec.min, spec.max):
        out = tmp_path / f"{attribute}-{value}.png"
        assert main(["edit", str(photo), "--set", f"{attribute}={value}", "--out", str(out)]) == 0
        results.append(np.asarray(Image.open(out).convert("RGB")).astype(np.int16))
    face = FaceDetector().detect(np.asarray(Image.open(photo).convert("RGB")))[0]
    x, y, w, h = (int(v) for v in face.box)
    low, high = (r[y : y + h, x : x + w] for r in results)
    assert np.abs(high - low).mean() > 6  # levels of 255, averaged over the face box
    outside = np.ones(results[0].shape[:2], bool)
    outside[max(0, y - h) : y + 2 * h, max(0, x - w) : x + 2 * w] = False
    assert np.array_equal(results[0][outside], results[1][outside])  # the rest of the photo is untouched
