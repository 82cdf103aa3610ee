"""What an installed Fader Studio holds: every module and, from resources/, the bundled files."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_carries_every_module_and_the_bundled_files_as_fader_studio_resources(
    tmp_path: Path,
) -> None:
    source = tmp_path / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*cache"
        ),
    )
    build = "from setuptools import build_meta; print(build_meta.build_wheel('wheels'))"
    result = subprocess.run(
        [sys.executable, "-c", build], cwd=source, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
    wheel = source / "wheels" / result.stdout.split()[-1]
    names = set(zipfile.ZipFile(wheel).namelist())

    modules = [
        p.relative_to(ROOT).as_posix()
        for package in ("fader_studio", "trainer")
        for p in (ROOT / package).rglob("*.py")
    ]
    assert modules and [m for m in modules if m not in names] == []
    bundled = [p.relative_to(ROOT / "resources") for p in (ROOT / "resources").rglob("*") if p.is_file()]
    bundled = [p.as_posix() for p in bundled if "__pycache__" not in p.parts]
    assert "models/default.fader" in bundled and "__init__.py" in bundled
    assert [b for b in bundled if f"fader_studio/resources/{b}" not in names] == []
    assert not any(name.startswith("resources/") for name in names)  # installed inside the package only
