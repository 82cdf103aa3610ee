"""``fader-studio edit`` run as a user runs it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

from fader_studio import resources
from tests.conftest import console_script


def edit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [console_script("fader-studio"), "edit", *args], capture_output=True, text=True, timeout=180
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
    from fader_studio.cli import BLEND_CHOICES
    from fader_studio.core.composite import BLEND_MODES
    from fader_studio.core.edit import PhotoEdit
    from fader_studio.core.engine import Engine
    from fader_studio.core.imageio import load_image
    from fader_studio.core.modelfile import load_model

    assert BLEND_CHOICES == BLEND_MODES
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
