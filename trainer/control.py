"""Pause, continue or stop a running ``fader-train train`` from another process, on any platform.

The app's Train dialog starts the trainer as a process of its own, which keeps
training when the app closes; it talks to it through files in the run folder,
which also work from a terminal:

- ``RUN/PAUSE`` exists: the trainer waits after its current step until it is gone;
- ``RUN/STOP`` exists: the trainer stops as after Ctrl+C (checkpoint, models, exit);
- ``RUN/.lock`` is locked by the trainer while it runs (released by the system
  even if it is killed), so two trainers never write the same run, and
  :func:`is_running` tells whether a run is being trained now.

Nothing here imports torch: the app uses it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from fader_studio.core.errors import FaderStudioError

STOP_FILE = "STOP"
PAUSE_FILE = "PAUSE"
LOCK_FILE = ".lock"
#: Seconds a starting trainer waits for the lock (an app checking it holds it for an instant).
LOCK_WAIT = 2.0


def request_stop(run_dir: Path) -> None:
    """Ask the trainer of ``run_dir`` to save a checkpoint and stop (it also stops a paused run)."""
    (Path(run_dir) / STOP_FILE).touch()


def set_paused(run_dir: Path, paused: bool) -> None:
    """Pause the trainer of ``run_dir`` after its current step, or let it continue."""
    path = Path(run_dir) / PAUSE_FILE
    if paused:
        path.touch()
    else:
        path.unlink(missing_ok=True)


class RunControl:
    """The trainer's side: reads the requests in ``run_dir``."""

    def __init__(self, run_dir: Path) -> None:
        self.stop_file = Path(run_dir) / STOP_FILE
        self.pause_file = Path(run_dir) / PAUSE_FILE

    def clear(self) -> None:
        """Forget requests left from an earlier run of the folder."""
        self.stop_file.unlink(missing_ok=True)
        self.pause_file.unlink(missing_ok=True)

    def stop_requested(self) -> bool:
        """Whether a stop was asked for."""
        return self.stop_file.exists()

    def paused(self) -> bool:
        """Whether the run should wait (and has not been asked to stop)."""
        return self.pause_file.exists() and not self.stop_file.exists()


@contextlib.contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold ``run_dir``'s lock while active; :class:`FaderStudioError` if another trainer holds it."""
    lock = FileLock(Path(run_dir) / LOCK_FILE)
    try:
        lock.acquire(timeout=LOCK_WAIT)
    except Timeout:
        raise FaderStudioError(
            f"another fader-train is training {run_dir} now; wait for it or stop it first"
        ) from None
    try:
        yield
    finally:
        lock.release()


def is_running(run_dir: Path) -> bool:
    """Whether a trainer holds ``run_dir``'s lock now."""
    path = Path(run_dir) / LOCK_FILE
    if not path.exists():
        return False
    lock = FileLock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False
