"""``fader-train train``, ``classifier`` and ``evaluate`` on real tiny models and data made here."""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from fader_studio.core.engine import Engine
from fader_studio.core.modelfile import load_model, save_model
from tests.conftest import console_script, smooth_faces
from trainer.cli import main

ATTRS = "Smiling,Male"
#: A tiny but complete configuration: the paper's layer plan at 64 px with few channels.
TINY = [
    "--size", "64", "--first-channels", "4", "--max-channels", "16", "--hidden", "16",
    "--batch-size", "8", "--eval-images", "8", "--sample-faces", "2", "--classifier-steps", "5",
    "--device", "cpu", "--lr", "0.001",
]  # fmt: skip
#: Every event of DESIGN §4 and the fields it must carry.
EVENT_FIELDS = {
    "start": {"total_steps", "config", "step"},
    "step": {"step", "epoch", "losses", "lambda", "images_per_s", "eta_s"},
    "eval": {"step", "recon_mse", "swap_accuracy"},
    "sample": {"step", "path"},
    "checkpoint": {"step", "path"},
    "done": {"best_models"},
    "error": {"message"},
}


@pytest.fixture
def data_dir(synth_celeba: Path) -> Path:
    """120 drawn faces: 96 train, 12 validation, 12 test."""
    return synth_celeba


def train_args(data: Path, run: Path, *extra: str) -> list[str]:
    return ["train", str(data), "--attrs", ATTRS, "--out", str(run), *TINY, *extra]


def events(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]


def of_kind(run: Path, kind: str) -> list[dict]:
    return [e for e in events(run) if e["event"] == kind]


def weights(checkpoint: Path) -> dict[str, torch.Tensor]:
    return load_file(checkpoint / "weights.safetensors")


def command(*args: str) -> list[str]:
    return [console_script("fader-train"), *args]


def test_a_short_run_lowers_the_loss_and_leaves_models_the_app_opens(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    code = main(train_args(data_dir, run, "--max-steps", "60", "--eval-every", "30", "--log-every", "10"))
    assert code == 0
    steps = of_kind(run, "step")
    assert [e["step"] for e in steps] == [10, 20, 30, 40, 50, 60]
    assert steps[-1]["losses"]["recon"] < 0.85 * steps[0]["losses"]["recon"]
    assert [e["step"] for e in of_kind(run, "eval")] == [30, 60]
    assert of_kind(run, "eval")[1]["recon_mse"] < of_kind(run, "eval")[0]["recon_mse"]
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step-30.png", "step-60.png"]
    done = of_kind(run, "done")[0]
    assert set(done["best_models"]) == {"recon", "swap"}

    for name in ("best-recon.fader", "best-swap.fader", "last.fader"):
        model = load_model(run / name)
        assert model.attribute_names == ("Smiling", "Male") and model.classifier is not None
        assert model.training["steps"] in (30, 60) and "swap_accuracy" in model.training["metrics"]
        engine = Engine(model, "cpu")
        crop = smooth_faces(1, 64, seed=5)
        latent = engine.encode(crop)
        assert engine.decode(latent, {"Smiling": 1.0, "Male": 0.0}).shape == (1, 64, 64, 3)
        assert engine.classify(crop).shape == (1, 2)
    assert load_model(run / "last.fader").training["steps"] == 60
    assert "finished at step 60" in capsys.readouterr().err


def test_progress_json_prints_the_documented_events_as_the_events_file(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    code = main(train_args(data_dir, run, "--max-steps", "8", "--eval-every", "4", "--log-every", "2",
                           "--checkpoint-every", "4", "--progress", "json"))  # fmt: skip
    assert code == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    recorded = events(run)
    assert [e for e in printed if e["event"] != "prepare"] == recorded
    kinds = [e["event"] for e in recorded]
    assert kinds.index("classifier_done") < kinds.index("start")
    assert kinds[-1] == "done"
    for event in recorded:
        assert isinstance(event["time"], float)
        assert EVENT_FIELDS.get(event["event"], set()) <= set(event), event
    assert [e["step"] for e in of_kind(run, "checkpoint")] == [4, 8]
    first = of_kind(run, "step")[0]
    assert set(first["losses"]) == {"recon", "latent_dis", "adversarial"}
    assert first["lambda"] == pytest.approx(1e-4 * 2 / 500_000)
    assert of_kind(run, "start")[0]["config"]["attributes"] == ["Smiling", "Male"]
    assert set(of_kind(run, "eval")[0]["swap_accuracy"]) == {"Smiling", "Male"}


def test_a_killed_run_resumes_to_the_same_weights_as_an_uninterrupted_one(
    data_dir: Path, tmp_path: Path
) -> None:
    args = ["--max-steps", "150", "--checkpoint-every", "10", "--eval-every", "1000", "--progress", "none"]
    whole = tmp_path / "whole"
    subprocess.run(command(*train_args(data_dir, whole, *args)), check=True, timeout=300)

    killed = tmp_path / "killed"
    process = subprocess.Popen(command(*train_args(data_dir, killed, *args)))
    try:
        deadline = time.monotonic() + 120
        while not (killed / "checkpoints" / "step-20").exists():
            assert process.poll() is None and time.monotonic() < deadline, "no checkpoint before the end"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        process.kill()
    saved = sorted(int(p.name[5:]) for p in (killed / "checkpoints").glob("step-*"))
    assert 20 <= saved[-1] < 150, saved

    assert main(train_args(data_dir, killed, *args, "--resume")) == 0
    assert of_kind(killed, "start")[-1]["step"] == saved[-1]
    final, reference = (
        weights(killed / "checkpoints" / "step-150"),
        weights(whole / "checkpoints" / "step-150"),
    )
    assert final.keys() == reference.keys()
    for name in reference:
        assert torch.equal(final[name], reference[name]), name


def test_a_damaged_checkpoint_is_skipped_for_the_one_before(data_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = ["--checkpoint-every", "5", "--eval-every", "100", "--progress", "none"]
    assert main(train_args(data_dir, run, "--max-steps", "10", *args)) == 0
    newest = run / "checkpoints" / "step-10" / "weights.safetensors"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])

    assert main(train_args(data_dir, run, "--max-steps", "12", *args, "--resume")) == 0
    warnings = [e["message"] for e in of_kind(run, "warning")]
    assert any("checkpoint step-10 is damaged" in m for m in warnings), warnings
    assert of_kind(run, "start")[-1]["step"] == 5
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-10", "step-12", "step-5"]
    assert load_model(run / "last.fader").training["steps"] == 12


def test_resume_refuses_changed_settings_and_a_new_run_refuses_a_used_folder(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    assert main(train_args(data_dir, run, "--max-steps", "2", "--progress", "none")) == 0
    capsys.readouterr()
    assert main(train_args(data_dir, run, "--max-steps", "4")) == 2
    assert "already holds a training run; add --resume" in capsys.readouterr().err
    assert main(train_args(data_dir, run, "--max-steps", "4", "--resume", "--seed", "5")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--seed differ from the run being resumed" in err
    assert main(["train", str(data_dir), "--out", str(run), "--resume", "--max-steps", "4",
                 "--progress", "none"]) == 0  # fmt: skip
    assert of_kind(run, "done")[-1]["step"] == 4


@pytest.mark.parametrize("option", ["--lambda-e", "--lambda-patch", "--max-minutes", "--lr", "--clip-grad"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_settings_are_refused_before_anything_is_written(
    data_dir: Path, tmp_path: Path, option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_code:
        main(train_args(data_dir, tmp_path / "run", f"{option}={value}", "--progress", "none"))
    err = capsys.readouterr().err
    assert exit_code.value.code == 2 and f"argument {option}: must be a finite number, got '{value}'" in err
    assert not (tmp_path / "run").exists()


def test_out_of_range_settings_and_hand_edited_configs_are_one_line_and_resume_nothing(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(train_args(data_dir, tmp_path / "big", "--lambda-e", "1e9", "--progress", "none")) == 2
    assert "bad settings: --lambda-e 1e+09 is out of range (at most 1000)" in capsys.readouterr().err
    assert not (tmp_path / "big").exists()
    run = tmp_path / "run"
    assert main(train_args(data_dir, run, "--max-steps", "2", "--progress", "none")) == 0
    good = (run / "config.json").read_text()
    resume = ["train", str(data_dir), "--out", str(run), "--resume", "--progress", "none"]
    stored = json.loads(good)
    cases = {
        json.dumps({**stored, "lambda_e": float("nan")}): "--lambda-e must be a finite number, not nan",
        json.dumps({**stored, "seed": 1.5}): "--seed must be a whole number, not '1.5'",
        json.dumps({**stored, "max_steps": 10**400}): "--max-steps is out of range",
        json.dumps({**stored, "attributes": "Smiling"}): "--attributes must be a list of names",
        "[" * 100_000 + "]" * 100_000: "maximum recursion depth exceeded",
        "{": "Expecting property name",
    }
    for text, reason in cases.items():
        (run / "config.json").write_text(text)
        before = sorted(p.name for p in run.rglob("*"))
        assert main(resume) == 2
        err = capsys.readouterr().err
        assert err.startswith(
            f"fader-train: error: {run / 'config.json'}: cannot resume from these settings: "
        )
        assert reason in err and err.count("\n") == 1, err
        assert sorted(p.name for p in run.rglob("*")) == before
    empty = tmp_path / "not-a-run"
    empty.mkdir()
    assert main(["train", str(data_dir), "--out", str(empty), "--resume"]) == 2
    assert capsys.readouterr().err == (
        f"fader-train: error: {empty} holds no training run to resume (no config.json); to start one, "
        "give --attrs\n"
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--attrs", "Smiling,Nope"], "unknown attribute 'Nope'"),
        (["--freeze", "elbow"], "--freeze 'elbow': use encoder, decoder, encoder-N or decoder-N"),
        (["--init-from", "missing.fader"], "missing.fader: no such file"),
        (["--batch-size", "128"], "96 training images are fewer than one batch of 128"),
        (["--lr", "-1"], "lr must be positive"),
    ],
)
def test_bad_settings_and_data_give_one_line_and_exit_2(
    data_dir: Path, tmp_path: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(train_args(data_dir, tmp_path / "run", "--max-steps", "2", "--progress", "none", *extra))
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1, err


def test_a_diverging_run_stops_and_keeps_the_good_checkpoints(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    args = ["--checkpoint-every", "1", "--log-every", "10", "--eval-every", "2", "--progress", "json"]
    assert main(train_args(data_dir, run, "--max-steps", "2", *args)) == 0
    good = weights(run / "checkpoints" / "step-2")
    capsys.readouterr()

    # the largest learning rate allowed: Adam's first step throws the weights to ±1e6, the next one past it
    code = main(train_args(data_dir, run, "--max-steps", "20", *args, "--resume", "--lr", "1e6"))
    assert code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "training diverged before step 4" in err and "lower --lr" in err
    assert "diverged" in of_kind(run, "error")[0]["message"]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-1", "step-2", "step-3"]
    kept = weights(run / "checkpoints" / "step-2")
    assert all(torch.equal(kept[name], good[name]) for name in good)
    assert load_model(run / "last.fader").training["steps"] == 2  # the model of the last good evaluation


def _files_up_to_400_kb() -> None:
    """Like a nearly full disk: writing past 400 kB fails (EFBIG) instead of killing the process."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def test_a_checkpoint_that_cannot_be_written_stops_the_run_and_keeps_the_previous_one(
    data_dir: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    args = train_args(data_dir, run, "--checkpoint-every", "2", "--eval-every", "100", "--progress", "none")
    assert main([*args, "--max-steps", "2"]) == 0  # also prepares the cache
    kept = weights(run / "checkpoints" / "step-2")

    result = subprocess.run(
        command(*args, "--max-steps", "4", "--resume"),
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_files_up_to_400_kb,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith(
        "fader-train: error: cannot write the checkpoint of step 4"
    )
    assert "the older checkpoints are kept" in result.stderr
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-2"]  # no partial folder
    assert all(torch.equal(t, kept[n]) for n, t in weights(run / "checkpoints" / "step-2").items())
    assert main([*args, "--max-steps", "4", "--resume"]) == 0


def test_sigterm_saves_a_checkpoint_and_a_model_and_exits_cleanly(data_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = train_args(data_dir, run, "--max-steps", "100000", "--eval-every", "100000", "--progress", "json")
    process = subprocess.Popen(command(*args), stdout=subprocess.PIPE, text=True)
    for line in process.stdout:
        if json.loads(line)["event"] == "step":
            process.send_signal(signal.SIGTERM)
            break
    rest = [json.loads(line) for line in process.stdout]
    assert process.wait(timeout=60) == 0
    done = rest[-1]
    assert done["event"] == "done" and done["stopped"] is True and done["step"] < 100000
    assert (run / "checkpoints" / f"step-{done['step']}").is_dir()
    assert load_model(run / "last.fader").training["steps"] == done["step"]


def test_fine_tuning_adds_an_attribute_and_leaves_a_frozen_encoder_bit_identical(
    data_dir: Path, tmp_path: Path
) -> None:
    base_run = tmp_path / "base"
    assert main(train_args(data_dir, base_run, "--max-steps", "4", "--progress", "none")) == 0
    base = load_model(base_run / "last.fader")
    tuned_run = tmp_path / "tuned"
    args = ["train", str(data_dir), "--attrs", "Male,Eyeglasses,Smiling", "--out", str(tuned_run),
            "--init-from", str(base_run / "last.fader"), "--freeze", "encoder", "--warmup-steps", "3",
            *TINY[8:], "--max-steps", "6", "--progress", "none"]  # fmt: skip
    assert main(args) == 0
    tuned = load_model(tuned_run / "last.fader")
    assert tuned.attribute_names == ("Male", "Eyeglasses", "Smiling")
    assert tuned.config == base.config
    for name, tensor in base.encoder.state_dict().items():
        assert torch.equal(tensor, tuned.encoder.state_dict()[name]), name
    changed = [
        n for n, t in base.decoder.state_dict().items() if t.shape == tuned.decoder.state_dict()[n].shape
    ]
    assert any(not torch.equal(base.decoder.state_dict()[n], tuned.decoder.state_dict()[n]) for n in changed)


def test_architecture_flags_cannot_change_a_model_being_fine_tuned(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base_run = tmp_path / "base"
    assert main(train_args(data_dir, base_run, "--max-steps", "2", "--progress", "none")) == 0
    args = train_args(
        data_dir, tmp_path / "t", "--init-from", str(base_run / "last.fader"), "--max-channels", "32"
    )
    assert main(args) == 2
    assert "--max-channels 32 differs from the model in --init-from (16)" in capsys.readouterr().err


def test_torchrun_with_two_cpu_processes_trains_with_one_set_of_files(data_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    args = train_args(data_dir, run, "--max-steps", "6", "--checkpoint-every", "3", "--eval-every", "3",
                      "--progress", "json", "--lambda-clf", "0.1")  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [*launcher, "-m", "trainer", *args], capture_output=True, text=True, timeout=300, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["event"] for e in printed].count("start") == 1  # rank 0 alone reports
    start = of_kind(run, "start")
    assert len(start) == 1 and start[0]["world_size"] == 2
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-3", "step-6"]
    assert [e["step"] for e in of_kind(run, "checkpoint")] == [3, 6]
    steps = of_kind(run, "step")
    assert steps[-1]["images_per_s"] > 0 and steps[-1]["step"] == 6
    assert set(steps[-1]["losses"]) == {
        "recon",
        "latent_dis",
        "adversarial",
        "classifier",
    }  # rank 1 has a guide
    assert load_model(run / "last.fader").training["batch_size"] == 16


def test_classifier_and_evaluate_commands(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clf = tmp_path / "clf.fader"
    arch = ["--size", "64", "--first-channels", "4", "--max-channels", "16", "--hidden", "16"]
    options = ["--steps", "10", "--batch-size", "8", "--device", "cpu", "--progress", "none", *arch]
    code = main(
        ["classifier", str(data_dir), "--attrs", "Male,Smiling,Eyeglasses", "--out", str(clf), *options]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"saved {clf}; accuracy (balanced) on the known labels of test images:\n  Male: ")
    model = load_model(clf)
    assert model.encoder is None and model.classifier is not None
    assert set(model.training["metrics"]["accuracy"]) == {"Male", "Smiling", "Eyeglasses"}

    run = tmp_path / "run"
    assert (
        main(train_args(data_dir, run, "--max-steps", "3", "--classifier", str(clf), "--progress", "none"))
        == 0
    )
    assert not (run / "classifier.fader").exists()
    metrics_file, samples = tmp_path / "metrics.json", tmp_path / "grid.png"
    capsys.readouterr()
    code = main(["evaluate", str(run / "last.fader"), "--data", str(data_dir), "--classifier", str(clf),
                 "--json", str(metrics_file), "--samples", str(samples), "--device", "cpu"])  # fmt: skip
    assert code == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics == json.loads(metrics_file.read_text())
    assert metrics["split"] == "test" and metrics["images"] == 12
    assert set(metrics["swap_accuracy"]) == {"Smiling", "Male"} and 0 < metrics["recon_mse"] < 4
    from PIL import Image

    grid = np.asarray(Image.open(samples))
    assert grid.shape[0] > 6 * 64 and grid.shape[1] > 12 * 64  # 6 faces; 2 + 2×5 columns


def test_evaluate_refuses_a_classifier_only_model(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.conftest import make_model

    path = tmp_path / "clf.fader"
    save_model(make_model(classifier=True, autoencoder=False), path)
    assert main(["evaluate", str(path), "--data", str(data_dir), "--device", "cpu"]) == 2
    assert "classifier only" in capsys.readouterr().err


def test_out_naming_a_file_is_one_line(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    taken = tmp_path / "notes.txt"
    taken.write_text("mine")
    assert main(train_args(data_dir, taken, "--max-steps", "1", "--progress", "none")) == 2
    assert (
        capsys.readouterr().err
        == f"fader-train: error: {taken} is a file; --out names the folder of the run\n"
    )
    assert taken.read_text() == "mine"


def test_resuming_on_other_data_says_so(synth_celeba: Path, tmp_path: Path) -> None:
    import shutil

    data = Path(shutil.copytree(synth_celeba, tmp_path / "celeba"))
    run = tmp_path / "run"
    assert (
        main(train_args(data, run, "--max-steps", "2", "--checkpoint-every", "2", "--progress", "none")) == 0
    )
    assert main(train_args(data, run, "--max-steps", "3", "--progress", "none", "--resume")) == 0
    assert of_kind(run, "warning") == []  # the same data: nothing to say
    labels = data / "list_attr_celeba.txt"
    lines = labels.read_text().splitlines(True)
    lines[2] = lines[2].replace(" 1", " -1", 1) if " 1" in lines[2] else lines[2].replace("-1", " 1", 1)
    labels.write_text("".join(lines))  # one label corrected by hand
    assert main(train_args(data, run, "--max-steps", "4", "--progress", "none", "--resume")) == 0
    assert [e["message"] for e in of_kind(run, "warning")] == [
        f"this run started on other data ({data}); it goes on with {data}, whose images or labels differ"
    ]


def test_settings_changed_at_resume_are_kept_for_later_resumes_and_said(
    data_dir: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    assert (
        main(train_args(data_dir, run, "--max-steps", "2", "--checkpoint-every", "2", "--progress", "none"))
        == 0
    )
    assert of_kind(run, "settings_changed") == []
    changed = [
        "--max-steps",
        "4",
        "--lr",
        "0.002",
        "--checkpoint-every",
        "2",
        "--progress",
        "none",
        "--resume",
    ]
    assert main(train_args(data_dir, run, *changed)) == 0
    assert [e["changed"] for e in of_kind(run, "settings_changed")] == [
        {"max_steps": [2, 4], "lr": [0.001, 0.002]}
    ]
    resume_only = [
        "train",
        str(data_dir),
        "--out",
        str(run),
        "--resume",
        "--progress",
        "none",
    ]  # the dialog's Resume
    assert main(resume_only) == 0
    stored = json.loads((run / "config.json").read_text())
    assert (stored["max_steps"], stored["lr"]) == (4, 0.002)
    assert of_kind(run, "done")[-1]["step"] == 4 and len(of_kind(run, "settings_changed")) == 1


def test_every_setting_is_an_option_whose_help_states_the_config_default() -> None:
    import re
    from dataclasses import fields

    from trainer.cli import get_args_parser
    from trainer.config import TrainConfig

    commands = next(a for a in get_args_parser()._actions if isinstance(a, argparse._SubParsersAction))
    options = {a.dest: a for a in commands.choices["train"]._actions}
    defaults = TrainConfig(attributes=("Smiling",))
    described = {"n_layers", "extended", "classifier", "classifier_steps", "checkpoint_every"}  # in words
    for field in fields(TrainConfig):
        assert field.name in options, f"{field.name} has no option"
        value = getattr(defaults, field.name)
        match = re.search(r"\(default: ([^;,)]+)", options[field.name].help or "")
        if match is None or field.name in described:
            continue
        forms = {str(value), "on" if value is True else "off" if value is False else ""}
        if isinstance(value, float):
            forms |= {f"{value:g}", f"{value:.3g}"}
        assert match.group(1).strip() in forms, (
            f"--{field.name}: help says {match.group(1)!r}, config {value!r}"
        )
