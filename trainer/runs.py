"""What a run folder holds, read back from its files: for listing, resuming and watching runs.

A run's story is ``RUN/events.jsonl`` (DESIGN §4); its settings are
``RUN/config.json``. Nothing here imports torch: the app lists runs with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainer.control import is_running

#: Event names that end one launch of the trainer.
ENDINGS = ("done", "error", "interrupted")


def parse_event(line: str) -> dict[str, Any] | None:
    """The event on one line of a JSON-lines file, or None for a torn line or anything else."""
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) and isinstance(event.get("event"), str) else None


def read_events(path: Path) -> list[dict[str, Any]]:
    """The events in a JSON-lines file; a torn last line (a killed writer) and non-events are skipped."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [event for line in text.splitlines() if (event := parse_event(line)) is not None]


@dataclass
class RunSummary:
    """One training run as its files describe it."""

    path: Path
    attributes: list[str]
    image_size: int
    total_steps: int
    step: int = 0
    data: str | None = None  # the dataset it trains on (from its newest start event)
    #: new, running, finished (reached --max-steps or --max-minutes, as the trainer's done event says),
    #: stopped (asked to), failed, interrupted
    state: str = "new"
    message: str = ""

    @property
    def name(self) -> str:
        """The run folder's name."""
        return self.path.name

    @property
    def resumable(self) -> bool:
        """Whether training it on makes sense (not running, not finished, dataset known)."""
        return self.state in ("new", "stopped", "failed", "interrupted") and self.data is not None


def best_model(run_dir: Path) -> Path | None:
    """The model of a run to open: best swap accuracy, else best reconstruction, else the last one."""
    for name in ("best-swap.fader", "best-recon.fader", "last.fader"):
        if (run_dir / name).is_file():
            return run_dir / name
    return None


def summarize(run_dir: Path) -> RunSummary | None:
    """The summary of the run in ``run_dir``, or None if it holds no run's settings."""
    try:
        config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
        summary = RunSummary(
            path=run_dir,
            attributes=list(config["attributes"]),
            image_size=int(config["image_size"]),
            total_steps=int(config["max_steps"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    for event in read_events(run_dir / "events.jsonl"):
        kind = event["event"]
        if isinstance(event.get("step"), int):
            summary.step = max(summary.step, event["step"]) if kind != "start" else event["step"]
        if kind == "start":
            summary.data = event.get("data", summary.data)
            summary.total_steps = event.get("total_steps", summary.total_steps)
            summary.state, summary.message = "interrupted", "the trainer ended without a word (killed?)"
        elif kind == "done":
            summary.state = "stopped" if event.get("stopped") else "finished"
            summary.message = ""
        elif kind in ("error", "interrupted"):
            summary.state, summary.message = ("failed" if kind == "error" else kind), event.get("message", "")
    if is_running(run_dir):
        summary.state, summary.message = "running", ""
    return summary


def list_runs(folder: Path) -> list[RunSummary]:
    """The runs in the sub-folders of ``folder``, newest first."""
    if not folder.is_dir():
        return []
    runs = [s for d in folder.iterdir() if d.is_dir() and (s := summarize(d)) is not None]

    def last_active(run: RunSummary) -> float:
        events = run.path / "events.jsonl"
        return (events if events.exists() else run.path / "config.json").stat().st_mtime

    return sorted(runs, key=last_active, reverse=True)
