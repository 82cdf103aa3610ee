"""Launch → first painted window, from a fresh process, with a model installed (so it starts loading).

Each run starts ``python -m bench.startup --child`` in a new process that starts
the editor as ``fader-studio`` does and reports the moment the main window gets
its first paint event, and whether torch had been imported by then. Baseline:
a fresh process that only imports torch (what any window would wait for if it
loaded the model before showing itself).

    python -m bench.startup [--runs 5]

Budget (DESIGN §8): window painted ≤ 1.0 s.
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
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="launches to time (default 5)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser


def child() -> None:
    """Start the editor; print the time of the window's first paint and exit at once."""
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication

    from fader_studio.ui.app import start_editor

    class FirstPaint(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
            if event.type() == QEvent.Type.Paint:
                print(
                    json.dumps({"painted": time.time(), "torch_imported": "torch" in sys.modules}), flush=True
                )
                os._exit(0)
            return False

    window = start_editor()
    spy = FirstPaint()
    window.installEventFilter(spy)
    QApplication.instance().exec()


def launch(command: list[str], env: dict[str, str]) -> tuple[float, dict]:
    started = time.time()
    out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=True).stdout
    lines = [line for line in out.splitlines() if line.startswith("{")]
    report = json.loads(lines[-1]) if lines else {}
    return report.get("painted", time.time()) - started, report


def main(args: argparse.Namespace) -> dict:
    from fader_studio.core.modelfile import FaderModel, save_model
    from fader_studio.core.network import NetworkConfig

    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, FADER_STUDIO_CONFIG_DIR=f"{tmp}/config", FADER_STUDIO_DATA_DIR=f"{tmp}/data")
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        models = Path(tmp) / "data" / "models"
        models.mkdir(parents=True)
        save_model(
            FaderModel.create(NetworkConfig(image_size=256), ("Smiling", "Male")), models / "paper.fader"
        )
        editor, baseline, torch_first = [], [], []
        for _ in range(args.runs):
            seconds, report = launch([sys.executable, "-m", "bench.startup", "--child"], env)
            editor.append(seconds)
            torch_first.append(report.get("torch_imported"))
            baseline.append(launch([sys.executable, "-c", "import torch"], env)[0])
    report = {
        "bench": "startup",
        "baseline": "a fresh process that only imports torch",
        "runs": args.runs,
        "window_painted_s": round(statistics.median(editor), 3),
        "window_painted_max_s": round(max(editor), 3),
        "import_torch_s": round(statistics.median(baseline), 3),
        "torch_imported_before_paint": any(torch_first),
    }
    verdict = "met" if report["window_painted_s"] <= 1.0 else "NOT met"
    painted, slowest = report["window_painted_s"], report["window_painted_max_s"]
    print(f"launch → window painted: {painted} s (median), {slowest} s (max)")
    print(f"baseline, import torch alone: {report['import_torch_s']} s; budget 1.0 s: {verdict}")
    print(f"torch imported before the first paint: {report['torch_imported_before_paint']}")
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    arguments = get_args_parser().parse_args()
    child() if arguments.child else main(arguments)
