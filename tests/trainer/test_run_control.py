"""Pausing, stopping and listing runs through the run folder, as the app's Train dialog does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from fader_studio.core.modelfile import load_model
from tests.trainer.test_train_command import command, events, of_kind, train_args
from trainer.control import is_running, request_stop, run_lock, set_paused
from trainer.runs import best_model, list_runs, read_events, summarize


def wait_for(condition, process: subprocess.Popen, what: str, timeout: float = 120) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"the trainer ended before {what}"
        assert time.monotonic() < deadline, f"no {what} in {timeout} s"
        time.sleep(0.05)


def test_pause_holds_the_run_and_stop_ends_it_with_a_checkpoint_and_models(
    synth_celeba: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    args = train_args(
        synth_celeba, run, "--max-steps", "100000", "--eval-every", "100000", "--log-every", "1"
    )
    process = subprocess.Popen(command(*args, "--progress", "none"), stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: is_running(run) and of_kind(run, "step"), process, "first step")
        assert summarize(run).state == "running"
        set_paused(run, True)
        wait_for(lambda: of_kind(run, "paused"), process, "pause")
        held = of_kind(run, "step")[-1]["step"]
        set_paused(run, False)
        wait_for(lambda: of_kind(run, "step")[-1]["step"] > held + 2, process, "steps after continuing")
        assert of_kind(run, "resumed")[-1]["step"] == held
        kinds = [e["event"] for e in events(run)]
        between = kinds[kinds.index("paused") : kinds.index("resumed")]
        assert "step" not in between, "steps went on while paused"
        request_stop(run)
        assert process.wait(timeout=60) == 0, process.stderr.read()
    finally:
        process.kill()
    done = of_kind(run, "done")[-1]
    assert done["stopped"] is True and held < done["step"] < 100000
    assert (run / "checkpoints" / f"step-{done['step']}").is_dir()
    assert load_model(run / "last.fader").training["steps"] == done["step"]
    summary = summarize(run)
    assert (summary.state, summary.step, summary.data) == ("stopped", done["step"], str(synth_celeba))
    assert summary.resumable and best_model(run) is not None and not is_running(run)


def test_a_stop_asked_for_while_the_classifier_trains_ends_the_launch_and_resume_goes_on(
    synth_celeba: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    args = train_args(synth_celeba, run, "--max-steps", "20", "--classifier-steps", "100000")
    process = subprocess.Popen(command(*args, "--progress", "json"), stdout=subprocess.PIPE, text=True)
    try:
        for line in process.stdout:
            if json.loads(line)["event"] == "classifier":
                request_stop(run)
                break
        rest = [json.loads(line) for line in process.stdout]
        assert process.wait(timeout=60) == 130
    finally:
        process.kill()
    assert rest[-1]["event"] == "interrupted"
    assert summarize(run) is None  # no settings written yet: nothing to resume, nothing half-made
    finished = subprocess.run(
        command(*train_args(synth_celeba, run, "--max-steps", "20", "--progress", "none")), timeout=300
    )
    assert finished.returncode == 0 and summarize(run).state == "finished"


def test_a_second_trainer_on_a_run_being_trained_is_refused(synth_celeba: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    with run_lock(run):
        assert is_running(run)
        result = subprocess.run(
            command(*train_args(synth_celeba, run, "--max-steps", "5", "--progress", "none")),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"fader-train: error: another fader-train is training {run} now; wait for it or stop it first"
    ]
    assert not (run / "config.json").exists() and not is_running(run)


def test_runs_are_listed_newest_first_with_their_state(tmp_path: Path) -> None:
    written = [time.time() - 3600]

    def write_run(name: str, events: list[dict], torn: bool = False) -> Path:
        run = tmp_path / name
        run.mkdir()
        config = {"attributes": ["Smiling"], "image_size": 64, "max_steps": 100}
        (run / "config.json").write_text(json.dumps(config))
        lines = [json.dumps({"time": 0, **e}) for e in events]
        (run / "events.jsonl").write_text("\n".join(lines) + ('\n{"event": "st' if torn else "\n"))
        written[0] += 60  # a minute after the run before: the order never rests on a clock's resolution
        os.utime(run / "events.jsonl", (written[0], written[0]))
        return run

    start = {"event": "start", "step": 0, "total_steps": 100, "data": "/data/celeba"}
    write_run("finished", [start, {"event": "step", "step": 100}, {"event": "done", "stopped": False}])
    write_run("stopped", [start, {"event": "step", "step": 40}, {"event": "done", "stopped": True}])
    write_run("failed", [start, {"event": "error", "message": "the disk is full"}])
    write_run("killed", [start, {"event": "step", "step": 30}], torn=True)
    (tmp_path / "not-a-run").mkdir()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")

    runs = list_runs(tmp_path)
    assert [r.name for r in runs] == ["killed", "failed", "stopped", "finished"]
    states = {r.name: (r.state, r.step, r.message, r.resumable) for r in runs}
    assert states["finished"] == ("finished", 100, "", False)
    assert states["stopped"] == ("stopped", 40, "", True)
    assert states["failed"] == ("failed", 0, "the disk is full", True)
    assert states["killed"][:2] == ("interrupted", 30) and states["killed"][3]
    assert len(read_events(tmp_path / "killed" / "events.jsonl")) == 2
    assert list_runs(tmp_path / "missing") == []


@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_while_the_classifier_trains_stops_at_its_next_step(
    synth_celeba: Path, tmp_path: Path, sent: signal.Signals
) -> None:
    run = tmp_path / "run"
    args = train_args(synth_celeba, run, "--classifier-steps", "20000", "--progress", "json")
    process = subprocess.Popen(command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in process.stdout:  # the classifier's first report comes after 1,000 of its 20,000 steps
            if json.loads(line)["event"] == "classifier":
                break
        process.send_signal(sent)
        _, stderr = process.communicate(timeout=30)  # the rest of the classifier would take minutes
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert stderr.endswith("fader-train: interrupted\n")
    assert not (run / "classifier.fader").exists() and not (run / "config.json").exists()


def test_a_run_that_used_up_its_minutes_is_finished_everywhere(synth_celeba: Path, tmp_path: Path) -> None:
    from trainer.cli import main

    run = tmp_path / "run"
    args = train_args(
        synth_celeba, run, "--max-steps", "100000", "--max-minutes", "0.002", "--progress", "none"
    )
    assert main(args) == 0
    done = of_kind(run, "done")[-1]
    assert done["stopped"] is False and done["step"] < 100000  # the trainer: finished by its time budget
    summary = summarize(run)
    assert summary.state == "finished" and not summary.resumable  # the run list: the same
    assert best_model(run) is not None
