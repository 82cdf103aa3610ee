"""Reading files safely: only regular files, and zip members no larger than they can legitimately be.

A named pipe (FIFO), a device or a socket given where a photo, a model or a
dataset file is expected would block a reader forever (or read without end);
:func:`file_problem` says what such a path is, so every reader can refuse it
with one line before opening it. :func:`read_member` reads a zip member only
if its declared size is within what the caller can use, and never inflates
more than that, so a small archive cannot expand into gigabytes of memory.
"""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

_KINDS = (
    (stat.S_ISDIR, "is a folder, not a file"),
    (stat.S_ISFIFO, "is a named pipe (FIFO), not a file"),
    (stat.S_ISCHR, "is a device, not a file"),
    (stat.S_ISBLK, "is a device, not a file"),
    (stat.S_ISSOCK, "is a socket, not a file"),
)


def file_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be read as a file (``None`` for a regular file, following links)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "no such file"
    except OSError as e:
        return f"cannot read: {e.strerror or e}"
    if stat.S_ISREG(mode):
        return None
    return next((reason for test, reason in _KINDS if test(mode)), "is not a regular file")


def read_member(archive: zipfile.ZipFile, name: str | zipfile.ZipInfo, limit: int) -> bytes:
    """The bytes of member ``name``; ``ValueError`` if it declares or inflates to more than ``limit``."""
    info = name if isinstance(name, zipfile.ZipInfo) else archive.getinfo(name)
    if info.file_size > limit:
        raise ValueError(
            f"zip member {info.filename[:80]!r} would inflate to {info.file_size / 2**20:.0f} MB, "
            f"more than it can hold ({limit / 2**20:.0f} MB)"
        )
    with archive.open(info) as member:  # reads stop at the declared size, checked above
        data = member.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"zip member {info.filename[:80]!r} inflates past {limit / 2**20:.0f} MB")
    return data
