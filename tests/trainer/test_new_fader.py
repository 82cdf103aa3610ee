"""Seed 004's recipe for a new fader: extended batches, discriminator alignment, FreezeD, ``teach``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from fader_studio.core.errors import FaderStudioError
from fader_studio.core.modelfile import load_model
from tests.trainer.test_fader_training import batch, training
from trainer.cli import main
from trainer.data import ExtendedSampler, StepBatches
from trainer.examples import check_attribute_name, counting_faces, photo_files
from trainer.runs import read_events


@pytest.mark.parametrize(("replicas", "share", "wanted"), [(1, 1 / 3, 4), (2, 1 / 3, 4), (1, 0.5, 6)])
def test_every_batch_holds_the_share_of_positives(replicas: int, share: float, wanted: int) -> None:
    positive = np.zeros(600, bool)
    positive[np.random.default_rng(0).choice(600, 30, replace=False)] = True
    seen = set()
    for rank in range(replicas):
        sampler = ExtendedSampler(positive, 12, share, seed=3, num_replicas=replicas, rank=rank)
        steps = iter(StepBatches(sampler, 12))
        batches = [next(steps) for _ in range(3 * len(sampler) // 12)]  # three epochs
        assert {int(positive[b].sum()) for b in batches} == {wanted}
        seen |= {i for b in batches for i in b}
    assert positive[list(seen)].sum() == 30  # every positive is drawn, not only a few
    assert (~positive[list(seen)]).sum() > 400  # and the negatives come from everywhere


def test_the_sampler_refuses_an_attribute_nobody_has() -> None:
    with pytest.raises(ValueError, match="images with it and images without it"):
        ExtendedSampler(np.zeros(50, bool), 8, 1 / 3)


def test_alignment_trains_the_discriminators_and_leaves_the_autoencoder_bit_identical() -> None:
    run = training(lambda_patch=0.1, freeze_d=2)
    before = {k: v.clone() for k, v in run.tensors().items()}
    for _ in range(3):
        losses = run.align_step(*batch())
    assert losses.shape == (2,) and torch.isfinite(losses).all()
    after = run.tensors()
    for key, value in before.items():
        same = torch.equal(value, after[key])
        assert same == key.startswith("autoencoder."), key  # every discriminator layer learns, FreezeD's too


def test_freeze_d_holds_the_first_patch_layers_during_training() -> None:
    run = training(lambda_patch=0.1, freeze_d=2, lambda_schedule=0)
    run.align_step(*batch())
    before = {k: v.clone() for k, v in run.patch_dis.state_dict().items()}
    for step in range(3):
        run.step(*batch(), step=step)
    after = run.patch_dis.state_dict()
    # layers.0 and layers.2 are the first two convolutions; layers.4 and layers.6 go on learning
    for key, value in before.items():
        assert torch.equal(value, after[key]) == key.startswith(("layers.0.", "layers.2.")), key


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"freeze_d": 1}, "turn it on with --lambda-patch"),
        ({"freeze_d": 4, "lambda_patch": 0.1}, "3 layers that can be frozen"),
        ({"extended": "Bald"}, "not one of the trained attributes"),
        ({"extended": "Male", "balanced": True}, "use one"),
        ({"positive_share": 1.0}, "between 0 and 1"),
    ],
)
def test_recipe_settings_are_checked(settings: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        training(**settings)


@pytest.mark.parametrize("name", ["", "2hats", "Red Hat", "x" * 41, "Male"])
def test_a_new_attribute_needs_a_fresh_plain_name(name: str) -> None:
    with pytest.raises(FaderStudioError):
        check_attribute_name(name, ("Male", "Smiling"))


# ---------------------------------------------------------------- teach, end to end


def test_example_folders_are_searched_recursively_for_photos(example_folders: tuple[Path, Path]) -> None:
    files = photo_files(example_folders[0])
    assert len(files) == 41 and "sub/f000.jpg" in files and "wall.png" in files
    assert not any(f.endswith(".txt") for f in files)


def test_faces_are_counted_as_training_finds_them(example_folders: tuple[Path, Path]) -> None:
    steps = counting_faces(example_folders[0])
    progress = []
    while True:
        try:
            progress.append(next(steps))
        except StopIteration as end:
            count = end.value
            break
    assert count.photos == 41 and "wall.png" in count.unusable
    assert 25 <= count.faces <= 40  # the detector finds most drawn faces
    assert progress[-1] == (41, 41)


def test_teach_adds_a_working_fader_and_keeps_the_old_ones(
    base_model: Path, example_folders: tuple[Path, Path], tmp_path: Path
) -> None:
    with_dir, without_dir = example_folders
    run = tmp_path / "teach"
    args = ["teach", str(base_model), "Eyeglasses", "--with", str(with_dir), "--without", str(without_dir),
            "--out", str(run), "--confidence", "0.5", "--max-steps", "60", "--eval-every", "60",
            "--eval-images", "8", "--sample-faces", "2", "--classifier-steps", "30", "--align-steps", "5",
            "--warmup-steps", "10", "--batch-size", "8", "--lr", "0.001", "--device", "cpu",
            "--progress", "json"]  # fmt: skip
    assert main(args) == 0
    base, taught = load_model(base_model), load_model(run / "last.fader")
    assert taught.attribute_names == ("Male", "Eyeglasses")
    events = read_events(run / "events.jsonl")
    start = next(e for e in events if e["event"] == "start")
    config = start["config"]
    # the fine-tuning defaults, with what was given winning
    assert config["extended"] == "Eyeglasses" and config["align_steps"] == 5
    assert config["lambda_schedule"] == 500 and config["init_from"] == str(base_model.resolve())
    assert [e["step"] for e in events if e["event"] == "align"][-1] == 5
    labels = (run / "examples" / "labelled" / "labels.csv").read_text().splitlines()
    assert labels[0] == "file,Eyeglasses,Male"
    assert sum(line.split(",")[1] == "1" for line in labels[1:]) == 41
    provenance = json.loads((run / "examples" / "labelled" / "label_provenance.json").read_text())
    assert provenance["attributes"]["Male"]["images"]["predicted"] > 0

    # the new fader changes the face; the old faders still do, and as much as before
    images, _ = batch()
    with torch.no_grad():
        latent = taught.encoder(images)
        off, on = (taught.decoder(latent, torch.tensor([[0.5, g]]).repeat(4, 1)) for g in (0.0, 1.0))
        assert (on - off).abs().mean() > 0.01
        female, male = torch.zeros(4, 1), torch.ones(4, 1)
        base_latent = base.encoder(images)
        base_change = (base.decoder(base_latent, male) - base.decoder(base_latent, female)).abs().mean()
        glasses = torch.zeros(4, 1)
        taught_male = taught.decoder(latent, torch.cat((male, glasses), 1))
        taught_female = taught.decoder(latent, torch.cat((female, glasses), 1))
        assert (taught_male - taught_female).abs().mean() > 0.5 * base_change


def test_teach_refuses_too_few_faces_before_training(
    base_model: Path, example_folders: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    few = tmp_path / "few"
    few.mkdir()
    for name in photo_files(example_folders[0])[:5]:
        (few / Path(name).name).write_bytes((example_folders[0] / name).read_bytes())
    run = tmp_path / "r"
    args = ["teach", str(base_model), "Eyeglasses", "--with", str(few), "--without", str(example_folders[1]),
            "--out", str(run), "--device", "cpu", "--progress", "none"]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("fader-train: error:")]
    assert len(errors) == 1 and "few: only" in errors[0] and "at least 20 are needed" in errors[0]
    assert not (run / "config.json").exists()


def test_teach_refuses_a_name_the_model_has(
    base_model: Path, example_folders: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["teach", str(base_model), "Male", "--with", str(example_folders[0]),
            "--without", str(example_folders[1]), "--out", str(tmp_path / "r"),
            "--progress", "none"]  # fmt: skip
    assert main(args) == 2
    assert "already has a Male fader" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"with_dir": "missing"}, "missing: not a folder"),
        ({"model": "classifier-less"}, "has no classifier to label its own attributes"),
        ({"name": "Bad name"}, "cannot name an attribute"),
    ],
)
def test_teach_refuses_bad_input_with_one_line(
    change: dict,
    message: str,
    base_model: Path,
    example_folders: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from fader_studio.core.modelfile import save_model

    values = {"model": str(base_model), "name": "Eyeglasses", "with_dir": str(example_folders[0])}
    if change.get("model") == "classifier-less":
        model = load_model(base_model)
        model.classifier = None
        change = {"model": str(save_model(model, tmp_path / "plain.fader"))}
    elif "with_dir" in change:
        change = {"with_dir": str(tmp_path / change["with_dir"])}
    values |= change
    args = ["teach", values["model"], values["name"], "--with", values["with_dir"],
            "--without", str(example_folders[1]), "--out", str(tmp_path / "r"),
            "--progress", "none"]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("fader-train: error:") and message in err[0]


def test_a_classifier_of_an_attribute_no_image_has_is_refused(
    synth_celeba: Path, tmp_path: Path, capsys
) -> None:  # noqa: ANN001
    out = tmp_path / "bald.fader"
    args = ["classifier", str(synth_celeba), "--attrs", "Bald", "--out", str(out), "--size", "64",
            "--first-channels", "4", "--max-channels", "16", "--steps", "2", "--device", "cpu",
            "--progress", "none", "--cache-dir", str(tmp_path / "cache")]  # fmt: skip
    assert main(args) == 2
    assert capsys.readouterr().err.startswith(
        "fader-train: error: Bald: 0 training images have it and 96 do not"
    )
    assert not out.exists()


def test_train_refuses_an_attribute_no_image_has(synth_celeba: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    args = ["train", str(synth_celeba), "--attrs", "Male,Bald", "--extended", "Bald",
            "--out", str(tmp_path / "r"), "--size", "64", "--first-channels", "4",
            "--max-channels", "16", "--hidden", "16",
            "--batch-size", "8", "--classifier-steps", "2", "--max-steps", "2", "--device", "cpu",
            "--progress", "none", "--cache-dir", str(tmp_path / "cache")]  # fmt: skip
    assert main(args) == 2
    assert capsys.readouterr().err == (
        "fader-train: error: Bald: 0 training images have it and 96 do not; learning it needs at least 5 of "
        "each (choose other attributes, or add photos)\n"
    )
    assert not (tmp_path / "r").exists()  # refused before it began: no run folder left behind


def test_a_classifier_is_never_written_over_a_fader_model(synth_model: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    model = Path(shutil.copy(synth_model, tmp_path / "mine.fader"))
    before = model.read_bytes()
    assert main(["classifier", "anything", "--attrs", "Smiling", "--out", str(model)]) == 2
    assert capsys.readouterr().err == (
        f"fader-train: error: {model} is a Fader model; a classifier would replace it, "
        "so choose another name\n"
    )
    assert model.read_bytes() == before
