"""What a training run tells the world: events to ``RUN/events.jsonl`` and stdout, or a progress bar.

Every event (DESIGN §4) is appended to ``RUN/events.jsonl``. With
``--progress json`` it is also printed on stdout, one flushed line each, for
the app's Train dialog; with ``bar`` a tqdm bar on stderr shows the step,
the losses, images/s and the time left, and evaluations are printed under
it. Only rank 0 of a multi-process run reports anything.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from trainer.events import emit
from trainer.progress import MODES


class RunLog:
    """Reports the events of one run in ``mode`` (``bar``, ``json`` or ``none``)."""

    def __init__(self, mode: str, *, active: bool = True) -> None:
        if mode not in MODES:
            raise ValueError(f"progress mode must be one of {MODES}")
        self.mode = mode
        self.active = active
        self.file: TextIO | None = None
        self.bar: tqdm | None = None

    def open_file(self, path: Path) -> None:
        """Append every later event to ``path`` as well."""
        if self.active:
            self.file = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed by close())

    def event(self, name: str, **fields: Any) -> None:
        """Record one event (and show it on stdout in JSON mode)."""
        if not self.active:
            return
        streams = [s for s in (self.file, sys.stdout if self.mode == "json" else None) if s is not None]
        if streams:
            emit(streams, name, **fields)

    def say(self, line: str) -> None:
        """A line for a person reading the terminal (bar mode only, on stderr)."""
        if self.active and self.mode == "bar":
            tqdm.write(line, file=sys.stderr)

    def bar_to(self, step: int, total: int, postfix: str) -> None:
        """Move the progress bar to ``step`` of ``total`` with ``postfix`` (bar mode only)."""
        if not self.active or self.mode != "bar":
            return
        if self.bar is None:
            self.bar = tqdm(total=total, initial=step, unit="step", file=sys.stderr, dynamic_ncols=True)
        self.bar.set_postfix_str(postfix, refresh=False)
        self.bar.update(step - self.bar.n)

    def close_bar(self) -> None:
        """Finish the current progress bar (a later :meth:`bar_to` starts a new one)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def close(self) -> None:
        """Finish the bar and the events file."""
        self.close_bar()
        if self.file is not None:
            self.file.close()
            self.file = None
