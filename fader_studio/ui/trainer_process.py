"""``fader-train train`` as a process of its own, watched through its run folder.

The trainer runs in a session of its own (``subprocess.Popen`` with a new
session or process group: QProcess either kills its process with the app or,
detached, gives neither its id nor its exit), so a crash in training never
takes the editor down, and closing the editor can leave it training. Its
``--progress json`` events go to ``RUN/progress.jsonl`` and its stderr to
``RUN/trainer.log``; :class:`TrainerProcess` reads both a few times a second
and re-emits them as signals. Pause and stop go through the run folder
(:mod:`trainer.control`). Whether a trainer started by this app still runs is
its process; one started earlier is watched through the run's lock.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from trainer import PROGRAM as TRAINER
from trainer.control import RunControl, is_running, request_stop, set_paused
from trainer.runs import ENDINGS, parse_event

PROGRESS_FILE = "progress.jsonl"
LOG_FILE = "trainer.log"
#: How much lower the trainer's scheduling priority is than the app's (POSIX niceness).
TRAINER_NICENESS = 10
#: Milliseconds between two looks at the run folder.
POLL_MS = 200


def trainer_command() -> list[str]:
    """The program and first arguments that run ``fader-train``: this Python's, or the built app's."""
    if getattr(sys, "frozen", False):  # PyInstaller: sys.executable is the fader-studio program
        return [sys.executable, TRAINER]
    return [sys.executable, "-m", "trainer"]


class _Tail:
    """New complete lines of a growing file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""

    def lines(self) -> list[str]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return []
        self.offset += len(data)
        *complete, self.partial = (self.partial + data).split(b"\n")
        return [line.decode("utf-8", "replace") for line in complete]


class TrainerProcess(QObject):
    """One launch of the trainer on ``run_dir`` (or a launch already running there), watched.

    Signals: ``event(dict)`` for every progress event, ``logLine(str)`` for
    each line the trainer writes on stderr, and ``ended(state, message)`` once
    it has exited: ``finished``, ``stopped`` or ``failed`` with its one-line reason.
    """

    event = Signal(dict)
    logLine = Signal(str)
    ended = Signal(str, str)

    def __init__(self, run_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.run_dir = Path(run_dir)
        self.popen: subprocess.Popen | None = None
        self.running = False
        self.paused = False
        self.stop_requested = False
        self._last: dict | None = None  # the newest event that ends a launch
        self._heard = False  # whether an event of this launch has been read
        self._events = _Tail(self.run_dir / PROGRESS_FILE)
        self._log = _Tail(self.run_dir / LOG_FILE)
        self._last_log = ""
        self._timer = QTimer(self, interval=POLL_MS)
        self._timer.timeout.connect(self.poll)

    def start(self, arguments: list[str]) -> bool:
        """Start ``fader-train ARGUMENTS --progress json``; False (with ``ended``) if it cannot start."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        command = [*trainer_command(), *arguments, "--progress", "json"]
        if sys.platform == "win32":
            flags = subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP
            apart = {"creationflags": flags | subprocess.BELOW_NORMAL_PRIORITY_CLASS}
        else:
            apart = {"start_new_session": True}
        try:
            with (
                open(self.run_dir / PROGRESS_FILE, "wb") as out,
                open(self.run_dir / LOG_FILE, "wb") as err,
            ):
                self.popen = subprocess.Popen(
                    command, stdin=subprocess.DEVNULL, stdout=out, stderr=err, **apart
                )
        except OSError as e:
            self.ended.emit("failed", f"cannot start the trainer ({command[0]}): {e.strerror or e}")
            return False
        if sys.platform != "win32":
            # below the editor, so that training on every core never makes the faders stutter; set
            # before the trainer has imported torch, so each thread it starts inherits it
            with contextlib.suppress(OSError):
                nice = min(19, os.getpriority(os.PRIO_PROCESS, 0) + TRAINER_NICENESS)
                os.setpriority(os.PRIO_PROCESS, self.popen.pid, nice)
        self._begin()
        return True

    def attach(self) -> None:
        """Watch the launch that is training ``run_dir`` now (started by an earlier session)."""
        self.paused = RunControl(self.run_dir).pause_file.exists()
        self._begin()

    def _begin(self) -> None:
        self.running = True
        self._timer.start()
        self.poll()

    def set_paused(self, paused: bool) -> None:
        """Pause the run after its current step, or let it go on."""
        self.paused = paused
        set_paused(self.run_dir, paused)

    def stop(self) -> None:
        """Ask the trainer to save a checkpoint and the models, then exit (``ended`` follows)."""
        self.stop_requested = True
        request_stop(self.run_dir)

    @Slot()
    def poll(self) -> None:
        """Read what the trainer wrote since the last look; notice when it has exited."""
        alive = is_running(self.run_dir) if self.popen is None else self.popen.poll() is None
        for line in self._log.lines():
            if line.strip():
                self._last_log = line.strip()
                self.logLine.emit(line)
        for line in self._events.lines():
            event = parse_event(line)
            if event is None:
                continue
            if not self._heard:
                # the trainer forgets old requests before its first event: ask again for this launch's
                self._heard = True
                if self.stop_requested:
                    request_stop(self.run_dir)
                set_paused(self.run_dir, self.paused)
            if event["event"] in ENDINGS:
                self._last = event
            self.event.emit(event)
        if not alive and self.running:
            self.running = False
            self._timer.stop()
            self.ended.emit(*self._outcome())

    def _outcome(self) -> tuple[str, str]:
        last = self._last or {}
        if last.get("event") == "done":
            return ("stopped" if last.get("stopped") else "finished"), ""
        if last.get("event") == "error":
            return "failed", last.get("message", "")
        if self.stop_requested:
            return "stopped", "stopped before training began; resume to go on"
        reason = self._last_log.removeprefix("fader-train: error: ")
        return "failed", reason or "the trainer ended without a message"
