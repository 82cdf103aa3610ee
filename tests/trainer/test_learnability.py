"""The method works in our code: a small model learns to swap attributes of drawn faces (minutes, CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fader_studio.core.modelfile import load_model
from trainer.cli import main
from trainer.synth import synthesize

ARCH = ["--size", "64", "--first-channels", "8", "--max-channels", "64", "--hidden", "64", "--device", "cpu"]


@pytest.mark.slow
def test_a_small_model_learns_to_swap_eyeglasses_and_gender(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = synthesize(tmp_path / "faces", 1200, seed=1)
    clf = tmp_path / "clf.fader"
    options = ["--steps", "300", "--progress", "none", *ARCH]
    assert main(["classifier", str(data), "--attrs", "Eyeglasses,Male", "--out", str(clf), *options]) == 0
    accuracy = load_model(clf).training["metrics"]["accuracy"]
    assert min(accuracy.values()) >= 0.95, accuracy

    run = tmp_path / "run"
    args = ["train", str(data), "--attrs", "Eyeglasses,Male", "--out", str(run), "--classifier", str(clf),
            "--lambda-e", "0.001", "--lambda-schedule", "300", "--lr", "0.0005", "--max-steps", "900",
            "--eval-every", "900", "--progress", "none", *ARCH]  # fmt: skip
    assert main(args) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run / "last.fader"), "--data", str(data), "--device", "cpu"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["split"] == "test" and metrics["images"] == 120
    assert min(metrics["swap_accuracy"].values()) >= 0.75, metrics  # chance is 0.5
    assert metrics["psnr_db"] > 20, metrics
