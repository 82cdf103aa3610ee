"""ONNX Runtime on the CPU: real exports of real (tiny, trained) models, checked against torch."""

from __future__ import annotations

import copy
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fader_studio import resources
from fader_studio.core.edit import PhotoEdit
from fader_studio.core.engine import Engine, to_tensor
from fader_studio.core.errors import BackendError
from fader_studio.core.imageio import load_image
from fader_studio.core.modelfile import FaderModel
from fader_studio.core.onnx_backend import TOLERANCE, network_key, onnx_networks
from fader_studio.core.template import IMAGE_SIZES
from tests.conftest import make_model, smooth_faces


def entry(cache: Path) -> tuple[Path, Path]:
    encoder, decoder = sorted(cache.glob("*-encoder.onnx")), sorted(cache.glob("*-decoder.onnx"))
    assert len(encoder) == len(decoder) == 1
    return encoder[0], decoder[0]


@pytest.mark.parametrize("size", IMAGE_SIZES)
def test_onnx_runtime_computes_what_torch_computes_at_every_size(size: int, tmp_path: Path) -> None:
    model = make_model(size)
    networks = onnx_networks(model.encoder, model.decoder, tmp_path)
    images = to_tensor(smooth_faces(3, size, seed=5), size)
    values = torch.tensor([[0.0, 1.0, 0.5], [-0.5, 1.5, 2.0], [1.0, 0.0, 0.25]])
    with torch.inference_mode():
        latent = model.encoder(images)
        decoded = model.decoder(latent, values)
    for batch in (1, 3):  # the batch dimension is dynamic
        ours = networks.encode(images[:batch].numpy())
        np.testing.assert_allclose(ours, latent[:batch].numpy(), atol=TOLERANCE, rtol=TOLERANCE)
        image = networks.decode(latent[:batch].numpy(), values[:batch].numpy())
        assert np.abs(image - decoded[:batch].numpy()).max() <= TOLERANCE


def test_an_onnx_engine_edits_like_a_torch_engine(tmp_path: Path) -> None:
    model = make_model()
    photo = load_image(resources.path(resources.SAMPLE_PHOTO))
    onnx = PhotoEdit(photo, Engine(copy.deepcopy(model), "cpu", backend="onnx", cache=tmp_path))
    reference = PhotoEdit(photo, Engine(model, "cpu", backend="torch"))
    assert onnx.engine.backend == "onnx" and onnx.engine.description.endswith("ONNX Runtime")
    assert reference.engine.backend == "torch" and reference.engine.description.endswith("PyTorch")
    assert onnx.faces[0].start == reference.faces[0].start
    for document in (onnx, reference):
        document.set(0, {"Smiling": 1.5, "Male": 0.0})
    difference = np.abs(onnx.render().astype(int) - reference.render().astype(int))
    assert difference.max() <= 1  # float rounding may tip a pixel by one level


def test_auto_uses_a_cached_export_and_never_exports_by_itself(tmp_path: Path) -> None:
    model = make_model()
    first = Engine(model, "cpu", backend="auto", cache=tmp_path)
    assert first.backend == "torch" and first.wants_onnx and not list(tmp_path.iterdir())
    first.use_onnx(first.prepare_onnx())
    assert first.backend == "onnx" and not first.wants_onnx
    files = entry(tmp_path)
    stamps = [f.stat().st_mtime_ns for f in files]
    again = Engine(copy.deepcopy(model), "cpu", backend="auto", cache=tmp_path)  # same weights
    assert again.backend == "onnx"
    assert [f.stat().st_mtime_ns for f in files] == stamps  # loaded, not exported again
    retrained = copy.deepcopy(model)
    torch.nn.init.normal_(retrained.decoder.layers[0][0].weight)
    assert network_key(retrained.encoder, retrained.decoder) != files[0].name.split("-")[0]
    assert Engine(retrained, "cpu", backend="auto", cache=tmp_path).backend == "torch"  # no stale reuse


def test_a_corrupt_cache_entry_is_detected_and_made_again(tmp_path: Path) -> None:
    model = make_model()
    Engine(model, "cpu", backend="onnx", cache=tmp_path)
    encoder, decoder = entry(tmp_path)
    good = decoder.read_bytes()
    decoder.write_bytes(good[: len(good) // 2])  # truncated, as by a full disk
    auto = Engine(copy.deepcopy(model), "cpu", backend="auto", cache=tmp_path)
    assert auto.backend == "torch" and auto.wants_onnx  # the bad entry is not used...
    assert not encoder.exists() and not decoder.exists()  # ...and is gone
    decoder.write_bytes(b"\x08\x07not an onnx model" * 100)
    encoder.write_bytes(b"garbage")
    engine = Engine(copy.deepcopy(model), "cpu", backend="onnx", cache=tmp_path)
    assert engine.backend == "onnx"
    assert entry(tmp_path)[1].read_bytes() == good  # the export is deterministic


def test_a_stale_cache_entry_is_detected_and_made_again(tmp_path: Path) -> None:
    """An entry under this model's key holding another model's networks (an older exporter, a bug)."""
    other = tmp_path / "other"
    Engine(make_model(), "cpu", backend="onnx", cache=other)
    model = make_model()
    torch.nn.init.normal_(model.decoder.layers[0][0].weight)
    key = network_key(model.encoder, model.decoder)
    for source, part in zip(entry(other), ("encoder", "decoder"), strict=True):
        shutil.copy(source, tmp_path / f"{key}-{part}.onnx")
    stale = (tmp_path / f"{key}-decoder.onnx").read_bytes()
    assert onnx_networks(model.encoder, model.decoder, tmp_path, export=False) is None
    engine = Engine(model, "cpu", backend="onnx", cache=tmp_path)
    assert engine.backend == "onnx"
    assert (tmp_path / f"{key}-decoder.onnx").read_bytes() != stale
    latent = engine.encode(smooth_faces(1, 64))
    with torch.inference_mode():
        expected = model.decoder(latent, torch.tensor([[0.2, 0.9, 0.4]]))
    np.testing.assert_allclose(
        engine.onnx.decode(latent.numpy(), np.array([[0.2, 0.9, 0.4]], np.float32)),
        expected.numpy(),
        atol=TOLERANCE,
    )


def test_without_onnxruntime_auto_falls_back_to_torch_and_onnx_says_why(
    tmp_path: Path, model: FaderModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if it were not installed
    engine = Engine(model, "cpu", backend="auto", cache=tmp_path)
    assert engine.backend == "torch" and not engine.wants_onnx
    assert engine.onnx_problem.startswith("ONNX Runtime is not installed")
    assert engine.decode(engine.encode(smooth_faces(1, 64)), [0.0, 1.0, 0.5]).shape == (1, 64, 64, 3)
    with pytest.raises(BackendError, match="^ONNX Runtime is not installed"):
        Engine(make_model(), "cpu", backend="onnx", cache=tmp_path)


def test_an_unwritable_cache_falls_back_to_torch(tmp_path: Path, model: FaderModel) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    engine = Engine(model, "cpu", backend="auto", cache=blocked / "onnx")
    with pytest.raises(BackendError, match="cannot create the ONNX cache folder"):
        engine.prepare_onnx()
    assert engine.backend == "torch"
    with pytest.raises(BackendError, match="cannot create the ONNX cache folder"):
        Engine(make_model(), "cpu", backend="onnx", cache=blocked / "onnx")


def test_backend_choice(tmp_path: Path, model: FaderModel, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(BackendError, match="unknown backend 'tpu'"):
        Engine(model, "cpu", backend="tpu")
    monkeypatch.setenv("FADER_STUDIO_BACKEND", "onnx")
    monkeypatch.setenv("FADER_STUDIO_CACHE_DIR", str(tmp_path))
    engine = Engine(model, "cpu")
    assert engine.backend == "onnx" and engine.cache == tmp_path / "onnx"
