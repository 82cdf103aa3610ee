from __future__ import annotations

import json
import pickle
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from fader_studio.core.attributes import AttributeSpec
from fader_studio.core.engine import to_tensor
from fader_studio.core.errors import ModelFileError
from fader_studio.core.modelfile import FORMAT, FaderModel, load_model, model_info, save_model
from fader_studio.core.template import default_template
from tests.conftest import ATTRIBUTES, make_model, smooth_faces, tiny_config


def read_parts(path: Path) -> tuple[dict, bytes]:
    raw = path.read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + size]), raw[8 + size :]


def write_parts(path: Path, header: dict, data: bytes) -> None:
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)


def rewrite(path: Path, change: Callable[[dict, bytes], tuple[dict, bytes]]) -> Path:
    header, data = read_parts(path)
    write_parts(path, *change(header, data))
    return path


def outputs(model: FaderModel, images: np.ndarray) -> list[torch.Tensor]:
    x = to_tensor(images, 64)
    values = torch.tensor([[0.0, 1.0, 0.5]] * len(images))
    with torch.inference_mode():
        z = model.encoder(x)
        return [z, model.decoder(z, values), model.classifier(x)]


def test_round_trip_gives_bit_identical_outputs_and_metadata(model_file: Path, model: FaderModel) -> None:
    loaded = load_model(model_file)
    images = smooth_faces(3, 64, seed=7)
    for before, after in zip(outputs(model, images), outputs(loaded, images), strict=True):
        assert torch.equal(before, after)
    assert loaded.metadata() == model.metadata()
    assert loaded.attribute_names == ATTRIBUTES
    bn = loaded.decoder.layers[0][1]
    assert not torch.equal(bn.running_var, torch.ones_like(bn.running_var))  # trained statistics came back
    assert not loaded.decoder.training and not loaded.encoder.training


def test_half_precision_files_are_half_the_size_and_load_as_float32(
    tmp_path: Path, model: FaderModel
) -> None:
    full = save_model(model, tmp_path / "full.fader")
    half = save_model(model, tmp_path / "half.fader", half=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    header, _ = read_parts(half)
    assert header["decoder.layers.0.0.weight"]["dtype"] == "F16"
    assert header["decoder.layers.0.1.num_batches_tracked"]["dtype"] == "I64"
    loaded = load_model(half)
    weight = loaded.decoder.layers[0][0].weight
    assert weight.dtype == torch.float32
    assert torch.equal(weight, model.decoder.layers[0][0].weight.half().float())
    images = smooth_faces(3, 64, seed=7)
    decoded = [o[1] for o in (outputs(model, images), outputs(loaded, images))]
    assert 0 < (decoded[0] - decoded[1]).abs().max() < 0.02  # rounded weights, not another model
    assert loaded.metadata() == model.metadata()


def test_metadata_defaults_template_and_custom_specs(tmp_path: Path) -> None:
    spec = AttributeSpec("Smiling", "Smile", min=-1.0, max=2.0, default=0.4)
    model = FaderModel.create(tiny_config(), [spec], training={"steps": 0})
    loaded = load_model(save_model(model, tmp_path / "m.fader"))
    assert loaded.attributes == (spec,)
    assert np.allclose(loaded.template, default_template(64))
    assert loaded.classifier is None and loaded.training == {"steps": 0}


def test_classifier_only_model_round_trips(tmp_path: Path) -> None:
    model = make_model(autoencoder=False)
    loaded = load_model(save_model(model, tmp_path / "clf.fader"))
    assert loaded.encoder is None and loaded.decoder is None
    x = torch.zeros(1, 3, 64, 64)
    with torch.inference_mode():
        assert torch.equal(loaded.classifier(x), model.classifier(x))


def test_model_info_describes_parts_and_parameters(model_file: Path) -> None:
    info = model_info(model_file)
    assert info["format"] == FORMAT
    assert info["parts"] == ["encoder", "decoder", "classifier"]
    assert [a["name"] for a in info["attributes"]] == list(ATTRIBUTES)
    assert info["parameters"]["encoder"] > 0 and info["file_bytes"] == model_file.stat().st_size
    assert info["framing"] == "celeba"  # the template of a model made without one


def test_saving_into_a_missing_folder_fails_cleanly(tmp_path: Path, model: FaderModel) -> None:
    with pytest.raises(ModelFileError, match="cannot write: No such file or directory"):
        save_model(model, tmp_path / "nowhere" / "m.fader")
    assert list(tmp_path.iterdir()) == []


def test_full_disk_leaves_no_partial_file_and_keeps_the_old_one(tmp_path: Path, model_file: Path) -> None:
    before = model_file.read_bytes()
    script = f"""
import resource, signal, sys
sys.path.insert(0, {str(Path(__file__).parents[2])!r})
from fader_studio.core.modelfile import load_model, save_model
from fader_studio.core.engine import to_tensor
from fader_studio.core.errors import ModelFileError
model = load_model({str(model_file)!r})
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))  # a disk with 20 kB free
try:
    save_model(model, {str(model_file)!r})
except ModelFileError as e:
    print(e)
    sys.exit(2)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "cannot write: File too large" in result.stdout
    assert model_file.read_bytes() == before
    assert [p.name for p in model_file.parent.iterdir()] == [model_file.name]


# --- refused files ---------------------------------------------------------------------------


class CreatesFile:
    """A pickle payload that would create a file when unpickled."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (Path.touch, (self.target,))


def test_pickle_is_refused_and_its_payload_never_runs(tmp_path: Path) -> None:
    victim = tmp_path / "pwned"
    bad = tmp_path / "evil.fader"
    bad.write_bytes(pickle.dumps(CreatesFile(victim)))
    with pytest.raises(ModelFileError, match="is a Python pickle"):
        load_model(bad)
    assert not victim.exists()
    pickle.loads(bad.read_bytes())  # proof the payload is live: unpickling does create the file
    assert victim.exists()


def test_torch_checkpoint_with_pickle_payload_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "pwned"
    bad = tmp_path / "model.fader"
    torch.save({"state": CreatesFile(victim)}, bad)
    assert zipfile.is_zipfile(bad)
    with pytest.raises(ModelFileError, match="zip archive"):
        load_model(bad)
    assert not victim.exists()


def _truncate(n: int | None) -> Callable[[Path], Path]:
    def cut(path: Path) -> Path:
        raw = path.read_bytes()
        path.write_bytes(raw[: n if n is not None else len(raw) // 2])
        return path

    return cut


def _set_meta(key: str, value: object) -> Callable[[Path], Path]:
    def change(header: dict, data: bytes) -> tuple[dict, bytes]:
        header["__metadata__"][key] = value if isinstance(value, str) else json.dumps(value)
        return header, data

    return lambda path: rewrite(path, change)


def _drop_meta(key: str) -> Callable[[Path], Path]:
    return lambda path: rewrite(
        path, lambda h, d: (h | {"__metadata__": {k: v for k, v in h["__metadata__"].items() if k != key}}, d)
    )


def _nan_weight(path: Path) -> Path:
    header, data = read_parts(path)
    begin = header["decoder.layers.0.0.weight"]["data_offsets"][0]
    data = data[:begin] + struct.pack("<f", float("nan")) + data[begin + 4 :]
    write_parts(path, header, data)
    return path


def _wrong_dtype(path: Path) -> Path:
    header, data = read_parts(path)
    header["encoder.layers.0.0.bias"]["dtype"] = "BF16"
    write_parts(path, header, data)
    return path


def _extra_tensor(path: Path) -> Path:
    header, data = read_parts(path)
    header["decoder.extra"] = {"dtype": "F32", "shape": [1], "data_offsets": [len(data), len(data) + 4]}
    write_parts(path, header, data + b"\0\0\0\0")
    return path


def _missing_tensor(path: Path) -> Path:
    header, data = read_parts(path)
    del header["encoder.layers.0.0.bias"]
    write_parts(path, header, data)
    return path


def _overlapping_offsets(path: Path) -> Path:
    header, data = read_parts(path)
    entry = header["encoder.layers.0.0.bias"]
    size = entry["data_offsets"][1] - entry["data_offsets"][0]
    entry["data_offsets"] = [0, size]
    write_parts(path, header, data)
    return path


def _wrong_shapes(path: Path) -> Path:
    """The metadata claims a wider network than the tensors hold."""
    config = tiny_config().to_json() | {"first_channels": 16}
    return _set_meta("config", config | {"classifier": config})(path)


def _replace(content: bytes) -> Callable[[Path], Path]:
    def write(path: Path) -> Path:
        path.write_bytes(content)
        return path

    return write


def _directory(path: Path) -> Path:
    path.unlink()
    path.mkdir()
    return path


def _huge(path: Path) -> Path:
    with open(path, "r+b") as f:
        f.truncate(3 * 1024**3)  # sparse: takes no disk space, and must not be read into memory
    return path


def _missing(path: Path) -> Path:
    path.unlink()
    return path


BAD_FILES = {
    "empty": (_replace(b""), "empty file"),
    "directory": (_directory, "is a folder, not a file"),
    "missing": (_missing, "no such file"),
    "huge": (_huge, "too large to be a model \\(3.0 GB\\)"),
    "tiny": (_replace(b"\x10\x00"), "truncated: only 2 bytes"),
    "random bytes": (_replace(bytes(range(7, 255)) * 40), "no safetensors header"),
    "text file": (_replace(b'{"hello": 1}\n' * 4), "no safetensors header"),
    "header not json": (_replace(struct.pack("<Q", 4) + b"\xff\xfe{]" + b"\0" * 64), "not JSON"),
    "header a list": (_replace(struct.pack("<Q", 2) + b"[]"), "not a JSON object"),
    "truncated in header": (_truncate(200), "truncated: the header needs"),
    "truncated in data": (_truncate(None), "truncated: tensor data needs"),
    "no metadata": (
        lambda p: rewrite(p, lambda h, d: ({k: v for k, v in h.items() if k != "__metadata__"}, d)),
        "no format",
    ),
    "newer format": (_set_meta("format", "fader-studio/2"), "'fader-studio/2' is not supported"),
    "foreign format": (_set_meta("format", "pt"), "not a Fader Studio model \\(format 'pt'\\)"),
    "no config": (_drop_meta("config"), "metadata has no 'config'"),
    "config not json": (_set_meta("config", "{oops"), "'config' is not valid JSON"),
    "bad config": (_set_meta("config", {"image_size": 100}), "bad metadata: image_size must be one of"),
    "no attributes": (_set_meta("attributes", []), "attributes must be a non-empty list"),
    "repeated attributes": (_set_meta("attributes", [{"name": "Male"}] * 3), "attribute names repeat"),
    "bad slider range": (
        _set_meta("attributes", [{"name": "Male", "min": 2, "max": 1}] * 3),
        "min 2 is not below max 1",
    ),
    "template outside crop": (_set_meta("template", [[0, 0]] * 4 + [[900, 3]]), "outside the 64px crop"),
    "template points coincide": (
        _set_meta("template", [[30, 30]] * 5),
        "eyes are less than 5% of the crop apart",
    ),
    "template mirrored": (
        _set_meta("template", [[40, 25], [24, 25], [32, 33], [38, 42], [26, 42]]),
        "template points are not in order",
    ),
    "template upside down": (
        _set_meta("template", [[24, 42], [40, 42], [32, 33], [26, 25], [38, 25]]),
        "template nose is not below the eyes and above the mouth",
    ),
    "2,000 attributes": (
        _set_meta("attributes", [{"name": f"A{i}"} for i in range(2000)]),
        "2000 attributes; a model may have at most 100",
    ),
    "integer too large for a float": (
        _set_meta("template", [[10**400, 25], [40, 25], [32, 33], [26, 42], [38, 42]]),
        "bad metadata: int too large to convert to float",
    ),
    "training not an object": (_set_meta("training", [1]), "training must be a JSON object"),
    "wrong shapes": (_wrong_shapes, "has shape \\[8, 3, 4, 4\\], expected \\[16, 3, 4, 4\\]"),
    "wrong dtype": (_wrong_dtype, "has dtype 'BF16', expected 'F32' or 'F16'"),
    "missing tensor": (_missing_tensor, "tensor encoder.layers.0.0.bias is missing"),
    "extra tensor": (_extra_tensor, "unexpected tensor decoder.extra"),
    "overlapping data": (_overlapping_offsets, "overlap or leave gaps"),
    "trailing bytes": (lambda p: p.write_bytes(p.read_bytes() + b"junk") and p, "4 unexpected bytes"),
    "nan weight": (_nan_weight, "decoder.layers.0.0.weight contains NaN"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_model_files_are_refused_with_one_line(case: str, model_file: Path) -> None:
    corrupt, message = BAD_FILES[case]
    path = corrupt(model_file)
    with pytest.raises(ModelFileError, match=message) as info:
        load_model(path)
    text = str(info.value)
    assert "\n" not in text and text.startswith(str(path))


@pytest.mark.parametrize(
    "case", ["empty", "tiny", "wrong shapes", "newer format", "nan weight", "integer too large for a float"]
)
def test_cli_info_refuses_bad_files_with_exit_2(
    case: str, model_file: Path, capsys: pytest.CaptureFixture
) -> None:
    from fader_studio.cli import main

    corrupt, message = BAD_FILES[case]
    path = corrupt(model_file)
    assert main(["info", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("fader-studio: error: ") and err.count("\n") == 1
    assert "Traceback" not in err


def test_info_writes_json_even_when_the_training_record_holds_nan(
    model_file: Path, capsys: pytest.CaptureFixture
) -> None:
    from fader_studio.cli import main

    path = _set_meta("training", {"steps": 3, "best_loss": float("nan"), "ratio": float("inf")})(model_file)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    info = json.loads(out, parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))
    assert info["training"] == {"steps": 3, "best_loss": None, "ratio": None}


def test_half_precision_refuses_weights_it_cannot_hold_and_writes_nothing(tmp_path: Path) -> None:
    model = make_model()
    with torch.no_grad():
        next(model.decoder.parameters()).view(-1)[0] = 1e6  # float16 ends at 65504
    with pytest.raises(ModelFileError, match="holds values too large for half precision; save it whole"):
        save_model(model, tmp_path / "half.fader", half=True)
    assert list(tmp_path.iterdir()) == []
    assert load_model(save_model(model, tmp_path / "whole.fader")).decoder is not None
