"""The installed commands, run as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fader_studio import __version__
from tests.conftest import ATTRIBUTES, console_script


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=180)


def test_version_from_both_entry_points() -> None:
    assert run(console_script("fader-studio"), "--version").stdout == f"fader-studio {__version__}\n"
    assert run(sys.executable, "-m", "fader_studio", "--version").stdout == f"fader-studio {__version__}\n"
    assert run(console_script("fader-train"), "--version").stdout == f"fader-train {__version__}\n"


def test_info_prints_the_metadata_as_json(model_file: Path) -> None:
    result = run(console_script("fader-studio"), "info", str(model_file))
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["format"] == "fader-studio/1"
    assert [a["name"] for a in info["attributes"]] == list(ATTRIBUTES)
    assert info["config"]["image_size"] == 64 and len(info["template"]) == 5


def test_info_on_a_bad_file_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "broken.fader"
    bad.write_bytes(b"\x80\x04\x95garbage")
    result = run(console_script("fader-studio"), "info", str(bad))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"fader-studio: error: {bad}: is a Python pickle, not a Fader Studio model; "
        "it is refused because such files can run code\n"
    )


def test_trainer_without_a_command_exits_2() -> None:
    result = run(console_script("fader-train"))
    assert result.returncode == 2
    assert "required: COMMAND" in result.stderr


def test_fader_studio_fader_train_runs_the_trainer_which_a_built_app_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fader_studio.ui.trainer_process import trainer_command

    result = subprocess.run(
        [console_script("fader-studio"), "fader-train", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0 and result.stdout.strip() == f"fader-train {__version__}"
    assert trainer_command() == [sys.executable, "-m", "trainer"]
    monkeypatch.setattr(sys, "frozen", True, raising=False)  # as in a PyInstaller build
    assert trainer_command() == [sys.executable, "fader-train"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Qt's xcb plugin is Linux's")
def test_the_display_check_names_what_to_install_before_qt_starts() -> None:
    from fader_studio.display import display_problem, missing_libraries

    absent = {"libfader-test0": "libfader-studio-absent.so.9", "libc6": "libc.so.6"}
    assert missing_libraries(absent) == ["libfader-test0"]
    x11 = {"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":0"}
    assert display_problem(x11, absent) == (
        "the editor's window needs system libraries this machine lacks; install them with: "
        "sudo apt-get install libfader-test0 (or your system's packages of the same names)"
    )
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, absent) is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, absent) is None
    assert display_problem({"QT_QPA_PLATFORM": "xcb"}, {}) == (
        "no display to show the editor on (DISPLAY is not set); start it from a desktop session"
    )
    assert display_problem(x11, {}) is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Qt's xcb plugin is Linux's")
def test_the_editor_without_a_usable_display_exits_2_with_one_line_not_qt_s_abort() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    result = subprocess.run(
        [console_script("fader-studio")], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("fader-studio: error: "), result.stderr
    assert "apt-get install libxcb" in result.stderr or "DISPLAY is not set" in result.stderr
