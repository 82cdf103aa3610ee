"""The PyInstaller build (``fader_studio.spec``): built once, then its program run as a user would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fader_studio import resources

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built app's program, ``dist/fader-studio/fader-studio`` (built into a temporary folder)."""
    out = tmp_path_factory.mktemp("pyinstaller")
    subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "ERROR",
         "--distpath", str(out / "dist"), "--workpath", str(out / "build"), str(ROOT / "fader_studio.spec")],
        check=True, timeout=1500, cwd=out,
    )  # fmt: skip
    program = (
        out / "dist" / "fader-studio" / ("fader-studio.exe" if sys.platform == "win32" else "fader-studio")
    )
    assert program.is_file()
    return program


def run(program: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}  # nothing from this Python
    return subprocess.run([str(program), *args], capture_output=True, text=True, timeout=timeout, env=env)


def test_the_built_app_runs_its_commands_without_python(built: Path, tmp_path: Path) -> None:
    from fader_studio import __version__

    version = run(built, "--version")
    assert version.returncode == 0 and version.stdout.strip() == f"fader-studio {__version__}"
    info = run(built, "info")  # the bundled default model
    assert info.returncode == 0, info.stderr
    assert '"Smiling"' in info.stdout and '"format": "fader-studio/1"' in info.stdout
    assert '"labels"' in info.stdout and "non-commercial" in info.stdout
    bad = tmp_path / "bad.fader"
    bad.write_bytes(b"\x80\x04 a pickle, not a model")
    refused = run(built, "info", str(bad))
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1

    # the face detector and the networks, from the bundled resources
    photo = shutil.copy(resources.path(resources.SAMPLE_PHOTO), tmp_path / "portrait.png")
    edited = tmp_path / "edited.png"
    edit = run(built, "edit", str(photo), "--set", "Male=1.5", "--out", str(edited))
    assert edit.returncode == 0, edit.stderr
    before, after = (np.asarray(Image.open(p).convert("RGB")) for p in (photo, edited))
    assert before.shape == after.shape and (before != after).any(axis=2).mean() > 0.01


def test_the_built_app_trains_with_its_own_trainer(built: Path, synth_celeba: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    tiny = [
        "--size", "64", "--first-channels", "4", "--max-channels", "16", "--hidden", "16",
        "--batch-size", "8", "--eval-images", "8", "--sample-faces", "2", "--classifier-steps", "5",
        "--max-steps", "10", "--eval-every", "10", "--device", "cpu", "--workers", "2", "--progress", "none",
    ]  # fmt: skip
    trained = run(
        built, "fader-train", "train", str(synth_celeba), "--attrs", "Smiling", "--out", str(run_dir),
        "--cache-dir", str(tmp_path / "cache"), *tiny,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    assert (run_dir / "best-recon.fader").is_file() and (run_dir / "samples" / "step-10.png").is_file()
    info = run(built, "info", str(run_dir / "last.fader"))
    assert info.returncode == 0 and '"steps": 10' in info.stdout
