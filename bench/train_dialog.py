"""Training from Tools → Train against ``fader-train`` alone: does watching a run slow it, or the app?

Draws a synthetic CelebA-format set, then trains the same 64-px run twice on
the CPU: once with ``fader-train train`` alone (the baseline) and once started
from the real Train dialog in an offscreen editor window, which reads the
run's events, draws the curves and sample grids, and keeps a 10 ms timer
running to find the longest stall of the UI thread.

    python -m bench.train_dialog [--steps 400] [--count 600]

Goal: images/s within noise of the baseline; UI thread never blocked > 50 ms
(DESIGN §8's budget for the editor). Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.train_dialog", description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=400, help="training steps of each run (default 400)")
    parser.add_argument("--count", type=int, default=600, help="synthetic faces (default 600)")
    return parser


def images_per_s(run: Path) -> float:
    """The median training rate of a run, leaving out its first two reports (warm-up)."""
    lines = (run / "events.jsonl").read_text().splitlines()
    rates = [e["images_per_s"] for e in map(json.loads, lines) if e["event"] == "step"][2:]
    return round(statistics.median(rates), 1)


def through_dialog(arguments: list[str], run: Path) -> tuple[float, list[int]]:
    """Train from the Train dialog of an editor window; the run's seconds and the UI timer's gaps (ms)."""
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from fader_studio.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    window = MainWindow()
    window.show()
    dialog = window.show_train_dialog()
    clock, stalls = QElapsedTimer(), []
    ticks = QTimer(interval=10)
    ticks.timeout.connect(lambda: stalls.append(clock.restart()))
    started = time.monotonic()
    dialog.start_run([*arguments, "--out", str(run)], run)
    clock.start()
    ticks.start()
    while dialog.training():
        app.processEvents()
        time.sleep(0.002)
    ticks.stop()
    window.close()
    return time.monotonic() - started, sorted(stalls)


def main(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("CONFIG", "DATA", "CACHE"):
            os.environ[f"FADER_STUDIO_{name}_DIR"] = f"{tmp}/{name.lower()}"
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        data = Path(tmp) / "synth"
        fader_train = [sys.executable, "-m", "trainer"]
        subprocess.run([*fader_train, "synth", str(data), "--count", str(args.count), "--progress", "none"],
                       check=True, capture_output=True)  # fmt: skip
        arguments = [
            "train", str(data), "--attrs", "Eyeglasses,Smiling", "--size", "64", "--batch-size", "32",
            "--max-steps", str(args.steps), "--eval-every", str(max(1, args.steps // 2)),
            "--classifier-steps", "50", "--device", "cpu", "--lr", "0.0005",
        ]  # fmt: skip
        alone = Path(tmp) / "alone"
        started = time.monotonic()
        subprocess.run([*fader_train, *arguments, "--out", str(alone), "--progress", "none"],
                       check=True, capture_output=True)  # fmt: skip
        alone_s = time.monotonic() - started
        watched = Path(tmp) / "watched"
        watched_s, gaps = through_dialog(arguments, watched)
        result = {
            "images_per_s": images_per_s(watched),
            "baseline_images_per_s": images_per_s(alone),
            "run_s": round(watched_s, 1),
            "baseline_run_s": round(alone_s, 1),
            "ui_max_stall_ms": gaps[-1],
            "ui_p99_stall_ms": gaps[int(0.99 * (len(gaps) - 1))],
            "steps": args.steps,
        }
    print(f"fader-train alone:  {result['baseline_images_per_s']:.0f} images/s, {alone_s:.1f} s in all")
    print(f"from the dialog:    {result['images_per_s']:.0f} images/s, {watched_s:.1f} s in all")
    print(
        f"UI thread while watching: longest stall {result['ui_max_stall_ms']} ms, "
        f"p99 {result['ui_p99_stall_ms']} ms (budget 50 ms)"
    )
    return result


if __name__ == "__main__":
    print(json.dumps(main(get_args_parser().parse_args())))
