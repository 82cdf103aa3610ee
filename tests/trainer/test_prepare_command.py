"""``fader-train prepare`` run as a user runs it."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import numpy as np

from tests.conftest import console_script
from tests.trainer.conftest import WrittenCelebA, write_celeba
from trainer.cache import open_cache


def prepare_command(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [console_script("fader-train"), "prepare", *args], capture_output=True, text=True, timeout=timeout
    )


def test_prepare_prints_the_cache_and_reuses_it(celeba: WrittenCelebA, cache_root: Path) -> None:
    result = prepare_command(str(celeba.path), "--size", "64", "--progress", "none")
    assert result.returncode == 0, result.stderr
    (folder,) = cache_root.iterdir()
    assert result.stdout == f"cache: {folder}\n24 images (15 train, 5 val, 4 test) at 64px, 0 unusable\n"
    assert result.stderr == ""
    again = prepare_command(str(celeba.path), "--size", "64")
    assert again.stdout.startswith(f"cache: {folder} (already prepared)\n")
    assert open_cache(folder).images.shape == (24, 64, 64, 3)


def test_prepare_reads_the_official_zip_and_shows_a_progress_bar(tmp_path: Path) -> None:
    written = write_celeba(tmp_path / "z", 30, layout="zip", partition=False)
    cache = tmp_path / "elsewhere"
    result = prepare_command(
        str(tmp_path / "z" / "img_align_celeba.zip"), "--size", "64", "--cache-dir", str(cache)
    )
    assert result.returncode == 0, result.stderr
    assert "prepare 64px: 100%" in result.stderr and "30/30" in result.stderr and "img/s" in result.stderr
    assert "fader-train: warning: no list_eval_partition.txt: using CelebA's standard split" in result.stderr
    (folder,) = cache.iterdir()
    assert open_cache(folder).names.tolist() == written.names


def test_progress_json_is_one_event_per_line(tmp_path: Path) -> None:
    written = write_celeba(tmp_path / "d", 40)
    (written.root / "img_align_celeba" / written.names[3]).write_bytes(b"broken")
    result = prepare_command(str(written.path), "--size", "128", "--progress", "json", "--workers", "2")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert all({"event", "time"} <= set(e) for e in lines)
    progress = [e for e in lines if e["event"] == "prepare"]
    assert progress[0]["done"] == 0 and progress[-1]["done"] == progress[-1]["total"] == 40
    assert all(e["images_per_s"] >= 0 for e in progress)
    warning = [e for e in lines if e["event"] == "warning"]
    assert warning[0]["message"].startswith(f"skipping {written.names[3]}: unreadable image")
    assert lines[-1]["event"] == "prepared" and lines[-1]["usable"] == 39 and lines[-1]["unusable"] == 1


def test_a_malformed_file_exits_2_with_one_line_and_no_cache(celeba: WrittenCelebA, cache_root: Path) -> None:
    attributes = celeba.text_file("list_attr_celeba.txt")
    lines = attributes.read_text().splitlines()
    lines[6] = "000005.jpg 1 -1"
    attributes.write_text("\n".join(lines) + "\n")
    result = prepare_command(str(celeba.path), "--size", "64")
    assert result.returncode == 2
    assert result.stderr == f"fader-train: error: {attributes}:7: expected a file name and 40 values\n"
    assert not cache_root.exists()


def test_errors_are_also_events_in_json_mode(tmp_path: Path) -> None:
    result = prepare_command(str(tmp_path / "missing"), "--progress", "json")
    assert result.returncode == 2
    assert json.loads(result.stdout)["message"] == f"{tmp_path / 'missing'}: no such file or folder"
    assert result.stderr == f"fader-train: error: {tmp_path / 'missing'}: no such file or folder\n"


def test_bad_arguments_exit_2() -> None:
    for args in (["--size", "100", "x"], ["--workers", "0", "x"], ["--resize", "cubic", "x"]):
        result = prepare_command(*args)
        assert result.returncode == 2 and "fader-train prepare: error:" in result.stderr


def test_ctrl_c_stops_cleanly_and_the_next_run_goes_on(tmp_path: Path, cache_root: Path) -> None:
    written = write_celeba(tmp_path / "d", 240)
    command = [console_script("fader-train"), "prepare", str(written.path), "--size", "256", "--workers", "1"]
    process = subprocess.Popen(
        command + ["--progress", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl+C as in a terminal, even when the suite itself runs in the background (where the
        # shell starts it, and so this child, with SIGINT ignored)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert process.stdout is not None and process.stderr is not None
    for line in process.stdout:
        event = json.loads(line)
        if event["event"] == "prepare" and event["done"] > 0:
            process.send_signal(signal.SIGINT)
            break
    assert process.wait(timeout=60) == 130
    message = process.stderr.read()
    assert "fader-train: interrupted after" in message and "run the same command again" in message
    assert "Traceback" not in message
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    (folder,) = cache_root.iterdir()
    data = open_cache(folder)
    assert data.usable.all() and np.asarray(data.images[-1]).any()
