"""Judging a model by an independent classifier: another framing, unknown labels, figures by source."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from fader_studio import resources
from fader_studio.core.faces import FaceDetector, align_face
from fader_studio.core.imageio import load_image
from fader_studio.core.modelfile import load_model
from fader_studio.core.template import template_points
from tests.trainer.test_photos import write_photo_folder
from trainer.cache import prepare
from trainer.celeba import DatasetWarning, open_celeba
from trainer.cli import main
from trainer.evaluation import evaluate_model, reframe
from trainer.photos import open_photos


def test_reframe_turns_a_celeba_framed_crop_into_the_tight_one() -> None:
    pixels = load_image(resources.path(resources.SAMPLE_PHOTO)).pixels
    face = FaceDetector().detect(pixels)[0]
    celeba = align_face(pixels, face, template_points("celeba", 128), 128).crop
    tight = align_face(pixels, face, template_points("tight", 128), 128).crop
    crops = torch.from_numpy(celeba).permute(2, 0, 1)[None].float()
    moved = reframe(crops, template_points("celeba", 128), template_points("tight", 128), 128)
    moved = moved[0].permute(1, 2, 0).numpy()
    assert np.abs(moved - tight).mean() < 6  # levels: the same face, framed the same
    assert np.abs(celeba.astype(np.float64) - tight).mean() > 40  # unlike the crop it came from


def test_a_celeba_framed_model_is_judged_by_a_tight_classifier_per_source(
    synth_celeba: Path, synth_model: Path, tmp_path: Path
) -> None:
    photos = write_photo_folder(tmp_path / "photos", 12)
    cache = ["--cache-dir", str(tmp_path / "cache"), "--workers", "1"]
    judge = tmp_path / "judge.fader"
    data = [str(synth_celeba), str(photos)]
    args = [
        *data,
        "--attrs",
        "Eyeglasses,Smiling,Male",
        "--size",
        "64",
        "--template",
        "tight",
        "--steps",
        "3",
    ]
    assert main(["classifier", *args, "--out", str(judge), *cache]) == 0
    model = load_model(synth_model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetWarning)
        sources = [open_celeba(synth_celeba), open_photos(photos)]
        prepared = prepare(sources, model.image_size, template="celeba", root=tmp_path / "cache", workers=1)
    metrics = evaluate_model(
        model, prepared, classifier=load_model(judge), split="all", device=torch.device("cpu")
    )
    by_source = metrics["by_source"]
    assert set(by_source) == {str(synth_celeba), str(photos / "labels.csv")}
    from_photos = by_source[str(photos / "labels.csv")]
    assert from_photos["images"] == 12
    # photos know Male always and Smiling for 2 of 3: only known labels are judged
    assert from_photos["known_labels"]["Smiling"] == 8
    for figures in by_source.values():
        assert set(figures["swap_accuracy"]) >= {"Male", "Smiling"}
        assert all(0 <= v <= 1 for v in figures["swap_accuracy"].values() if v is not None)
    assert metrics["images"] == sum(f["images"] for f in by_source.values())
