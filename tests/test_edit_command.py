"""``fader-studio edit`` run as a user runs it."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fader_studio import resources
from tests.conftest import console_script


def edit(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [console_script("fader-studio"), "edit", *args], capture_output=True, text=True, timeout=180, env=env
    )


def photo_copy(tmp_path: Path, name: str = "portrait.png") -> Path:
    return Path(shutil.copy(resources.path(resources.SAMPLE_PHOTO), tmp_path / name))


def test_edit_writes_the_edited_photo(tmp_path: Path, model_file: Path) -> None:
    photo = photo_copy(tmp_path)
    out = tmp_path / "smiling.jpg"
    result = edit(
        str(photo), "--model", str(model_file), "--set", "Smiling=1.5", "--set", "Male=0", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{out}: 1 of 1 face edited\n"
    original = np.asarray(Image.open(photo).convert("RGB")).astype(int)
    edited = np.asarray(Image.open(out)).astype(int)
    assert edited.shape == original.shape
    assert np.abs(edited - original)[:, :60].mean() < 3  # the left edge, far from the face: JPEG noise only
    assert np.abs(edited - original)[100:150, 200:250].mean() > 3  # the face changed


def test_edit_refuses_to_write_over_its_input(tmp_path: Path, model_file: Path) -> None:
    photo = photo_copy(tmp_path)
    before = photo.read_bytes()
    result = edit(str(photo), "--model", str(model_file), "--set", "Smiling=1", "--out", str(photo))
    assert result.returncode == 2
    assert (
        result.stderr
        == f"fader-studio: error: {photo}: refusing to overwrite the original photo; choose another name\n"
    )
    assert photo.read_bytes() == before


def test_a_photo_without_a_face_exits_2_and_writes_nothing(tmp_path: Path, model_file: Path) -> None:
    wall = tmp_path / "wall.png"
    Image.new("RGB", (320, 240), (120, 130, 140)).save(wall)
    out = tmp_path / "out.png"
    result = edit(str(wall), "--model", str(model_file), "--out", str(out))
    assert result.returncode == 2
    assert (
        result.stderr.startswith(f"fader-studio: error: {wall}: no face found")
        and result.stderr.count("\n") == 1
    )
    assert not out.exists()


def test_bad_values_and_faces_are_one_line_errors(tmp_path: Path, model_file: Path) -> None:
    photo = photo_copy(tmp_path)
    out = tmp_path / "out.png"
    cases = {
        "Smiling": "expected ATTR=VALUE",
        "Bald=1": "the model has no 'Bald'; it has Eyeglasses, Smiling, Male",
        "Smiling=lots": "'lots' is not a number",
        "Smiling=9": "Smiling goes from -0.5 to 1.5",
    }
    for value, reason in cases.items():
        result = edit(str(photo), "--model", str(model_file), "--set", value, "--out", str(out))
        assert result.returncode == 2 and reason in result.stderr, result.stderr
    result = edit(str(photo), "--model", str(model_file), "--face", "2", "--out", str(out))
    assert result.returncode == 2 and "has 1 face; use 1 or all" in result.stderr
    assert not out.exists()


def test_the_onnx_backend_edits_like_torch_and_a_bad_backend_is_one_line(
    tmp_path: Path, model_file: Path, inference_defaults: Path
) -> None:
    photo = photo_copy(tmp_path)
    outputs = {}
    for backend in ("torch", "onnx"):
        out = outputs[backend] = tmp_path / f"{backend}.png"
        result = edit(str(photo), "--model", str(model_file), "--set", "Smiling=1.5", "--out", str(out),
                      "--backend", backend)  # fmt: skip
        assert result.returncode == 0, result.stderr
    assert list((inference_defaults / "onnx").glob("*-decoder.onnx"))  # the export, in the user cache
    torch_pixels = np.asarray(Image.open(outputs["torch"])).astype(int)
    onnx_pixels = np.asarray(Image.open(outputs["onnx"])).astype(int)
    assert np.abs(torch_pixels - onnx_pixels).max() <= 1
    assert np.abs(torch_pixels - np.asarray(Image.open(photo).convert("RGB")).astype(int)).max() > 10
    result = edit(
        str(photo), "--model", str(model_file), "--out", str(tmp_path / "x.png"), "--backend", "tpu"
    )
    assert result.returncode == 2
    assert result.stderr == "fader-studio: error: unknown backend 'tpu' (use auto, torch, onnx)\n"
    assert not (tmp_path / "x.png").exists()


def test_blend_chooses_how_the_edit_goes_back_and_detail_is_the_default(
    tmp_path: Path, model_file: Path
) -> None:
    from fader_studio.cli import BATCH_PATTERN, BLEND_CHOICES, EXPORT_QUALITY
    from fader_studio.core.batch import DEFAULT_PATTERN
    from fader_studio.core.composite import BLEND_MODES
    from fader_studio.core.edit import PhotoEdit
    from fader_studio.core.engine import Engine
    from fader_studio.core.imageio import JPEG_QUALITY, load_image
    from fader_studio.core.modelfile import load_model

    assert BLEND_CHOICES == BLEND_MODES  # the parser's copies of the core's defaults, kept equal
    assert (BATCH_PATTERN, EXPORT_QUALITY) == (DEFAULT_PATTERN, JPEG_QUALITY)
    photo = photo_copy(tmp_path)
    document = PhotoEdit(load_image(photo), Engine(load_model(model_file), "cpu"))
    document.set(0, {"Smiling": 1.5})
    for blend in (None, "detail", "replace"):
        out = tmp_path / f"{blend}.png"
        extra = [] if blend is None else ["--blend", blend]
        result = edit(
            str(photo), "--model", str(model_file), "--set", "Smiling=1.5", "--out", str(out), *extra
        )
        assert result.returncode == 0, result.stderr
        document.blend = blend or "detail"
        assert np.array_equal(np.asarray(Image.open(out)), document.render()), blend
    assert not np.array_equal(document.render(), np.asarray(Image.open(tmp_path / "detail.png")))
    result = edit(str(photo), "--model", str(model_file), "--blend", "soft", "--out", str(tmp_path / "x.png"))
    assert result.returncode == 2 and "invalid choice: 'soft'" in result.stderr
    assert not (tmp_path / "x.png").exists()


def test_a_folder_is_edited_into_another_and_what_fails_is_listed_with_exit_2(
    tmp_path: Path, model_file: Path
) -> None:
    shoot = tmp_path / "shoot"
    (shoot / "day2").mkdir(parents=True)
    photo_copy(shoot, "one.png")
    photo_copy(shoot / "day2", "two.png")
    Image.new("RGB", (320, 240), (120, 130, 140)).save(shoot / "wall.png")
    (shoot / "broken.jpg").write_bytes(b"not a jpeg")
    out = tmp_path / "out"
    out.mkdir()
    photo_copy(out, "one-edited.png")  # a name clash: never overwritten
    kept = (out / "one-edited.png").read_bytes()
    before = {p: p.read_bytes() for p in shoot.rglob("*") if p.is_file()}
    result = edit(str(shoot), "-r", "--model", str(model_file), "--set", "Smiling=1.5", "--out-dir", str(out))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"fader-studio: {shoot / 'one.png'}: {out / 'one-edited.png'} exists; not overwritten",
        f"fader-studio: {shoot / 'broken.jpg'}: not an image file Fader Studio can read",
        f"fader-studio: {shoot / 'wall.png'}: no face found (faces should be at least about 20 pixels wide "
        "and upright)",
        "fader-studio: error: 3 of 4 photos could not be edited",
    ]
    assert result.stdout.startswith(f"{out}: edited 1 of 4 photos in ")
    assert sorted(p.name for p in out.iterdir()) == ["one-edited.png", "two-edited.png"]
    assert (out / "one-edited.png").read_bytes() == kept
    assert {p: p.read_bytes() for p in shoot.rglob("*") if p.is_file()} == before
    edited = np.asarray(Image.open(out / "two-edited.png")).astype(int)
    assert np.abs(edited - np.asarray(Image.open(shoot / "day2" / "two.png").convert("RGB"))).max() > 10

    again = edit(str(shoot / "day2"), "--model", str(model_file), "--set", "Smiling=1.5", "--out-dir",
                 str(tmp_path / "fresh"), "--format", "jpg", "--pattern", "{folder}-{n}")  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert [p.name for p in (tmp_path / "fresh").iterdir()] == ["day2-1.jpg"]


def test_a_saved_preset_applies_by_name_as_its_relative_set_values_do(
    tmp_path: Path, model_file: Path
) -> None:
    from fader_studio.core.presets import Preset

    data = tmp_path / "data"
    (data / "presets").mkdir(parents=True)
    look = Preset("More smile", {"Smiling": 0.4}, relative=True, model_name="tiny")
    (data / "presets" / "look.json").write_text(json.dumps(look.to_json()))
    env = {**os.environ, "FADER_STUDIO_DATA_DIR": str(data)}
    photo = photo_copy(tmp_path)
    by_preset = edit(str(photo), "--model", str(model_file), "--preset", "more smile", "--out-dir",
                     str(tmp_path / "batch"), env=env)  # fmt: skip
    assert by_preset.returncode == 0, by_preset.stderr
    by_set = edit(str(photo), "--model", str(model_file), "--set", "Smiling=0.4", "--relative", "--out",
                  str(tmp_path / "single.png"))  # fmt: skip
    assert by_set.returncode == 0, by_set.stderr
    assert np.array_equal(
        np.asarray(Image.open(tmp_path / "batch" / "portrait-edited.png")),
        np.asarray(Image.open(tmp_path / "single.png")),
    )
    cases = {
        ("--preset", "Frown", "--out", "x.png"): "no preset named 'Frown' (saved presets: More smile)",
        (
            str(tmp_path),
            "--out",
            "x.png",
        ): "--out names one file; for several photos or a folder use --out-dir DIR",
        (
            "--set",
            "Smiling=5",
            "--relative",
            "--out",
            "x.png",
        ): "--set 'Smiling=5': a change of Smiling goes from -2 to 2",
        ("--face", "²", "--out", "x.png"): "--face ²: use a face's number (1 = the largest), largest or all",
        (
            "--out-dir",
            "d",
            "--pattern",
            "same",
        ): "name pattern 'same': use {name} or {n}, or every photo would get the same name",
    }
    for extra, reason in cases.items():
        result = edit(str(photo), "--model", str(model_file), *extra, env=env)
        assert result.returncode == 2 and result.stderr == f"fader-studio: error: {reason}\n", result.stderr
    assert not (tmp_path / "x.png").exists() and not Path("d").exists()


def test_the_first_ctrl_c_stops_a_batch_after_the_current_photo_with_complete_files_only(
    tmp_path: Path, model_file: Path
) -> None:
    photos = tmp_path / "many"
    photos.mkdir()
    for index in range(80):
        photo_copy(photos, f"p{index:02d}.png")
    out = tmp_path / "out"
    process = subprocess.Popen(
        [console_script("fader-studio"), "edit", str(photos), "--model", str(model_file), "--set",
         "Smiling=1.5", "--out-dir", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not (out.is_dir() and any(out.glob("*.png"))) and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "stopping after this photo (Ctrl+C again to stop now)" in stderr
    written = sorted(out.iterdir())
    assert 1 <= len(written) < 80 and all(p.suffix == ".png" for p in written)  # no temporary file
    for path in written:
        with Image.open(path) as image:
            image.load()  # complete
    assert stdout.startswith(f"{out}: edited {len(written)} of 80 photos in ") and "; cancelled" in stdout


def test_the_terminal_progress_bar_shows_the_photo_and_the_time_left() -> None:
    from fader_studio.core.batch import Progress
    from fader_studio.edit_command import ProgressBar

    stream = io.StringIO()
    bar = ProgressBar(stream)
    bar(Progress(0, 4, Path("shoot/a.jpg"), 0.0))
    bar(Progress(2, 4, Path("shoot/c.jpg"), 50.0, failed=1))
    bar.clear()
    assert stream.getvalue().split("\r\x1b[K") == [
        "",
        "[........................] 0/4 a.jpg",
        "[############............] 2/4 c.jpg, 0:50 left",
        "",
    ]


@pytest.mark.parametrize("after", [0.2, 1.0, 2.0])  # in the imports, reading the model, or in the edit
def test_ctrl_c_while_edit_runs_is_one_line_and_writes_nothing(
    tmp_path: Path, model_file: Path, after: float
) -> None:
    photo = photo_copy(tmp_path)
    out = tmp_path / "out.png"
    process = subprocess.Popen(
        [console_script("fader-studio"), "edit", str(photo), "--model", str(model_file), "--set", "Smiling=1",
         "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        process.wait(timeout=after)  # the signal lands wherever the command is by then
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    if (
        out.exists()
    ):  # the edit was written before the signal landed (a fast machine, or Python shutting down)
        assert process.returncode in (0, 130, -signal.SIGINT), stderr
        with Image.open(out) as written:  # complete, never a partial file
            written.load()
        return
    assert (process.returncode, stderr) == (130, "fader-studio: interrupted\n")


def test_a_face_left_at_its_own_values_is_not_counted_as_edited(tmp_path: Path, model_file: Path) -> None:
    photo = photo_copy(tmp_path)
    out = tmp_path / "same.png"
    result = edit(str(photo), "--model", str(model_file), "--out", str(out))  # no fader moved
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{out}: 0 of 1 face edited\n"  # it said "1 of 1 face edited"
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(photo).convert("RGB")))
