"""Paths that are not regular files, and archives that inflate far past their size, given to every command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from fader_studio import resources
from tests.conftest import console_script

FIFO = "is a named pipe (FIFO), not a file"
#: Runs a command and prints its peak memory (kB). A small process of its own starts it: a child
#: forked from this test process would count this process's own peak (Linux keeps it across exec).
PEAK_OF = (
    "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)"
)


def test_a_fifo_anywhere_a_path_is_read_is_one_line_and_nothing_hangs(
    tmp_path: Path, model_file: Path
) -> None:
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    photo = Path(shutil.copy(resources.path(resources.SAMPLE_PHOTO), tmp_path / "portrait.png"))
    studio, trainer = console_script("fader-studio"), console_script("fader-train")
    out = str(tmp_path / "out.png")
    commands = {
        (studio, "edit", str(fifo), "--model", str(model_file), "--out", out): f"{fifo}: {FIFO}",
        (studio, "edit", str(photo), "--model", str(fifo), "--out", out): f"{fifo}: {FIFO}",
        (studio, "edit", str(photo), "--model", str(model_file), "--preset", str(fifo), "--out", out): (
            f"{fifo}: {FIFO}"
        ),
        (studio, "info", str(fifo)): f"{fifo}: {FIFO}",
        (studio, "import", str(fifo), "--out", str(tmp_path / "x.fader")): f"{fifo}: {FIFO}",
        (trainer, "prepare", str(fifo), "--size", "64", "--progress", "none"): f"{fifo}: {FIFO}",
    }
    for command, message in commands.items():
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)  # a hang fails here
        assert result.returncode == 2, (command, result.stderr)
        assert result.stderr.endswith(f"error: {message}\n") and result.stderr.count("\n") == 1, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe.png", "portrait.png", "tiny.fader"]


def test_an_official_model_that_inflates_to_a_gigabyte_is_refused_in_little_memory(tmp_path: Path) -> None:
    pth = tmp_path / "eyeglasses.pth"
    with (
        zipfile.ZipFile(pth, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("archive/data.pkl", "w") as f,
    ):
        for _ in range(1024):
            f.write(bytes(1 << 20))
    assert pth.stat().st_size < 2 << 20
    result = subprocess.run(
        [sys.executable, "-c", PEAK_OF, console_script("fader-studio"), "import", str(pth), "--out",
         str(tmp_path / "x.fader")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        f"fader-studio: error: {pth}: zip member 'archive/data.pkl' would inflate to 1024 MB, "
        "more than it can hold (64 MB)\n"
    )
    peak_kb = int(result.stdout)
    assert peak_kb < 800 * 1024, f"peak {peak_kb / 1024:.0f} MB"  # torch alone is about 400 MB
    assert not (tmp_path / "x.fader").exists()


def test_an_export_that_cannot_keep_the_exif_says_so_in_one_line_and_writes(
    tmp_path: Path, model_file: Path
) -> None:
    from PIL import Image

    from tests.core.test_imageio import big_exif_photo

    photo = Image.open(resources.path(resources.SAMPLE_PHOTO)).convert("RGB")
    exif = Image.open(big_exif_photo(tmp_path / "exif.png")).getexif()
    photo.save(tmp_path / "portrait.png", exif=exif.tobytes())
    out = tmp_path / "out.jpg"
    result = subprocess.run(
        [console_script("fader-studio"), "edit", str(tmp_path / "portrait.png"), "--model", str(model_file),
         "--set", "Smiling=1.5", "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        f"fader-studio: warning: {out}: the photo's EXIF (68 kB) is more than a JPEG can hold (64 kB); "
        "written without it\n"
    )
    assert Image.open(out).size == photo.size
