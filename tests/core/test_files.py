"""Reading only regular files, and zip members only as large as they can legitimately be."""

from __future__ import annotations

import os
import socket
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from fader_studio.core.files import file_problem, read_member


def test_every_kind_of_path_is_named(tmp_path: Path) -> None:
    (tmp_path / "photo.jpg").write_bytes(b"x")
    os.mkfifo(tmp_path / "pipe.jpg")
    (tmp_path / "link.jpg").symlink_to(tmp_path / "photo.jpg")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "sock"))
        assert file_problem(tmp_path / "sock") == "is a socket, not a file"
    assert file_problem(tmp_path / "photo.jpg") is None
    assert file_problem(tmp_path / "link.jpg") is None  # a link to a file is the file
    assert file_problem(tmp_path) == "is a folder, not a file"
    assert file_problem(tmp_path / "pipe.jpg") == "is a named pipe (FIFO), not a file"
    assert file_problem("/dev/null") == "is a device, not a file"
    assert file_problem(tmp_path / "gone.jpg") == "no such file"


def bomb(path: Path, name: str, megabytes: int) -> Path:
    """A zip whose member ``name`` is ``megabytes`` of zeros, deflated to a small file."""
    block = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, archive.open(name, "w") as member:
        for _ in range(megabytes):
            member.write(block)
    return path


def test_a_member_larger_than_it_can_be_is_refused_before_inflating(tmp_path: Path) -> None:
    path = bomb(tmp_path / "bomb.zip", "big.bin", 512)
    assert path.stat().st_size < 1 << 20
    with zipfile.ZipFile(path) as archive:
        tracemalloc.start()
        try:
            with pytest.raises(ValueError, match="'big.bin' would inflate to 512 MB, more than it can hold"):
                read_member(archive, "big.bin", 8 << 20)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 4 << 20
        assert len(read_member(archive, "big.bin", 512 << 20)) == 512 << 20  # within its limit: read
