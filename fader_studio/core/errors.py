"""The errors Fader Studio reports to users.

Every error a user can cause (a bad model file, a broken photo, a photo with
no face, a broken dataset) is a :class:`FaderStudioError` whose message is one
line that says what is wrong and with which file. The command-line tools
print that line and exit with status 2; the GUI shows it in a dialog and keeps
running. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import re
from pathlib import Path

#: Terminal colour codes, which some libraries (torch.onnx's exporter) put in their messages.
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def first_line(error: BaseException, *, named: bool = False) -> str:
    """The first line of ``error``'s message (at most 200 characters, colour codes removed).

    ``named`` puts the exception's type first (``ValueError: ...``), for
    errors from libraries whose messages do not say what went wrong by
    themselves. An empty message gives the type's name.
    """
    lines = _ANSI.sub("", str(error)).strip().splitlines()
    if not lines:
        return type(error).__name__
    return f"{type(error).__name__}: {lines[0][:200]}" if named else lines[0][:200]


class FaderStudioError(Exception):
    """Base class of every error caused by user input rather than by a bug."""

    exit_code = 2


class ModelFileError(FaderStudioError):
    """A ``.fader`` model file is missing, unreadable, corrupt or unsafe."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ImageError(FaderStudioError):
    """A photo cannot be read or written."""


class NoFaceError(FaderStudioError):
    """A photo in which no face was found."""


class DatasetError(FaderStudioError):
    """A dataset (CelebA folder or zip) is missing a file or has a bad line."""

    def __init__(self, path: str | Path, reason: str, line: int | None = None) -> None:
        self.path = Path(path)
        self.reason = reason
        self.line = line
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {reason}")


class DeviceError(FaderStudioError):
    """A requested compute device (``cuda``, ``mps``, ...) is not available."""


class BackendError(FaderStudioError):
    """An inference backend (ONNX Runtime) that was asked for cannot be used."""


class TrainingError(FaderStudioError):
    """A training run that cannot go on: it diverged, or the GPU ran out of memory."""

    exit_code = 1
