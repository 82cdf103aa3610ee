"""Progress of long commands: a terminal bar (tqdm), JSON-lines events, or nothing."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm

from trainer.events import emit

MODES = ("bar", "json", "none")
#: Seconds between two JSON progress events (the first, the first after some work and the
#: last are always sent).
JSON_INTERVAL = 0.5


class ProgressReporter:
    """Called with ``(done, total)``; shows images/s and the time left in the chosen ``mode``.

    ``bar`` draws a tqdm bar on stderr; ``json`` writes ``event`` lines with
    ``done``, ``total``, ``images_per_s`` and ``eta_s`` to ``stream`` (stdout);
    ``none`` is silent. Rates count only the work of this run, so a resumed
    job does not look faster than it is.
    """

    def __init__(self, mode: str, event: str, description: str, stream: TextIO | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"progress mode must be one of {MODES}")
        self.mode = mode
        self.event = event
        self.description = description
        self.stream = sys.stdout if stream is None else stream
        self.bar: tqdm | None = None
        self.first: tuple[float, int] | None = None
        self.last_sent = 0.0
        self.last_done = -1
        self.done = 0
        self.total = 0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self.first is None:
            self.first = (now, done)
        self.done, self.total = done, total
        if self.mode == "bar":
            if self.bar is None:
                self.bar = tqdm(
                    total=total,
                    initial=done,
                    unit="img",
                    desc=self.description,
                    file=sys.stderr,
                    dynamic_ncols=True,
                )
            else:
                self.bar.update(done - self.bar.n)
        elif self.mode == "json" and (
            now - self.last_sent >= JSON_INTERVAL or done == total or self.last_done == self.first[1]
        ):
            self.last_sent, self.last_done = now, done
            elapsed = now - self.first[0]
            rate = (done - self.first[1]) / elapsed if elapsed > 0 else 0.0
            eta = (total - done) / rate if rate > 0 else None
            emit(
                self.stream,
                self.event,
                done=done,
                total=total,
                images_per_s=round(rate, 1),
                eta_s=None if eta is None else round(eta, 1),
            )

    def write(self, line: str) -> None:
        """Print a line to stderr without breaking the bar."""
        tqdm.write(line, file=sys.stderr)

    def close(self) -> None:
        """Finish the bar."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
