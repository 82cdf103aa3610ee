from __future__ import annotations

import numpy as np
import pytest
import torch

from fader_studio.core.engine import (
    DEVICE_ENV,
    Engine,
    choose_device,
    half_precision_error,
    to_tensor,
    to_uint8,
)
from fader_studio.core.errors import DeviceError, FaderStudioError
from fader_studio.core.modelfile import FaderModel, load_model
from tests.conftest import ATTRIBUTES, make_model

NEUTRAL = {"Eyeglasses": 0.0, "Smiling": 0.0, "Male": 0.0}


@pytest.fixture
def engine(model_file) -> Engine:
    return Engine(load_model(model_file), "cpu")


def test_encode_once_decode_many_gives_crops(engine: Engine, faces: np.ndarray) -> None:
    z = engine.encode(faces)
    assert z.shape == (4, 64, 2, 2)
    crops = engine.decode(z, NEUTRAL)
    assert crops.shape == (4, 64, 64, 3) and crops.dtype == np.uint8
    assert engine.encode(faces[0]).shape == (1, 64, 2, 2)  # a single crop is a batch of one


def test_decode_only_equals_encode_then_decode(engine: Engine, faces: np.ndarray) -> None:
    z = engine.encode(faces[:1])
    for alpha in (0.0, 0.5, 1.0, 1.5):
        values = {"Eyeglasses": alpha, "Smiling": 1 - alpha, "Male": 0.3}
        reused = engine.decode(z, values)
        fresh = engine.decode(engine.encode(faces[:1]), values)
        assert np.array_equal(reused, fresh)


def test_changing_a_fader_changes_the_pixels_and_reusing_the_latent_does_not(
    engine: Engine, faces: np.ndarray
) -> None:
    z = engine.encode(faces[:1])
    base = engine.decode(z, NEUTRAL)
    assert np.array_equal(engine.decode(z, NEUTRAL), base)
    for alpha in (1.0, -1.0, 2.0):  # outside [0, 1] is allowed, as in the official code
        moved = engine.decode(z, NEUTRAL | {"Smiling": alpha})
        assert np.abs(moved.astype(int) - base.astype(int)).max() > 0


def test_values_as_mapping_sequence_or_rows_agree(engine: Engine, faces: np.ndarray) -> None:
    z = engine.encode(faces[:2])
    as_map = engine.decode(z, {"Eyeglasses": 1.0, "Smiling": 0.2, "Male": 0.7})
    as_seq = engine.decode(z, [1.0, 0.2, 0.7])
    as_rows = engine.decode(z, np.array([[1.0, 0.2, 0.7], [0.0, 0.0, 0.0]]))
    single = engine.decode(z[1:], NEUTRAL)
    assert np.array_equal(as_map, as_seq)
    assert np.array_equal(as_rows[0], as_map[0])
    assert np.array_equal(as_rows[1], single[0])  # each face decodes with its own row


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"Eyeglasses": 1.0, "Smiling": 0.0}, "missing \\['Male'\\]"),
        (NEUTRAL | {"Bald": 1.0}, "unknown \\['Bald'\\]"),
        ([0.0, 1.0], "expected 3 values per face"),
        ([0.0, float("nan"), 1.0], "must be finite"),
    ],
)
def test_malformed_values_are_refused(engine: Engine, faces: np.ndarray, values, message: str) -> None:
    z = engine.encode(faces[:1])
    with pytest.raises(ValueError, match=message):
        engine.decode(z, values)


def test_wrong_crop_size_is_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="expected uint8 RGB crops of shape \\(64, 64, 3\\)"):
        engine.encode(np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        engine.encode(np.zeros((64, 64, 3), np.float32))


def test_pixel_conversion_round_trips_exactly() -> None:
    pixels = np.arange(64 * 64 * 3, dtype=np.int64).reshape(1, 64, 64, 3).astype(np.uint8)
    assert np.array_equal(to_uint8(to_tensor(pixels, 64)), pixels)


def test_classify_gives_probabilities_per_attribute(engine: Engine, faces: np.ndarray) -> None:
    p = engine.classify(faces)
    assert p.shape == (4, len(ATTRIBUTES))
    assert ((p > 0) & (p < 1)).all()


def test_model_without_classifier_cannot_classify(faces: np.ndarray) -> None:
    engine = Engine(make_model(classifier=False), "cpu")
    with pytest.raises(FaderStudioError, match="no classifier"):
        engine.classify(faces)


def test_classifier_only_model_cannot_edit() -> None:
    with pytest.raises(FaderStudioError, match="classifier only"):
        Engine(make_model(autoencoder=False), "cpu")


def test_half_precision_decodes_close_to_full_precision(model: FaderModel, faces: np.ndarray) -> None:
    full = Engine(make_model(), "cpu", half=False)
    half = Engine(make_model(), "cpu", half=True)
    assert half.decoder.layers[0][0].weight.dtype == torch.float16
    a = full.decode(full.encode(faces), NEUTRAL).astype(int)
    b = half.decode(half.encode(faces), NEUTRAL).astype(int)
    assert np.abs(a - b).max() <= 3
    z = full.encode(faces)
    values = full.values_tensor(NEUTRAL, 4)
    assert 0 <= half_precision_error(full.decoder, z, values) <= 3


def test_channels_last_gives_the_same_pixels(faces: np.ndarray) -> None:
    plain = Engine(make_model(), "cpu", channels_last=False)
    fast = Engine(make_model(), "cpu", channels_last=True)
    a = plain.decode(plain.encode(faces), NEUTRAL).astype(int)
    b = fast.decode(fast.encode(faces), NEUTRAL).astype(int)
    assert np.abs(a - b).max() <= 1


def test_device_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DEVICE_ENV, raising=False)
    assert choose_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert choose_device().type == expected
    monkeypatch.setenv(DEVICE_ENV, "cpu")
    assert choose_device() == torch.device("cpu")
    with pytest.raises(DeviceError, match="unknown device 'gpu0'"):
        choose_device("gpu0")
    with pytest.raises(DeviceError, match="unsupported device"):
        choose_device("meta")
    if torch.cuda.is_available():
        assert choose_device("cuda").type == "cuda"
    else:
        with pytest.raises(DeviceError, match="no CUDA GPU is available"):
            choose_device("cuda")


def test_engine_reports_its_device(engine: Engine) -> None:
    assert engine.device == torch.device("cpu")
    assert engine.device_name.startswith("CPU (")


def test_the_numpy_conversions_for_onnx_runtime_equal_the_torch_ones(faces: np.ndarray) -> None:
    from fader_studio.core.engine import to_float_array, to_uint8_array

    assert np.array_equal(to_float_array(faces, 64), to_tensor(faces, 64).numpy())
    images = torch.linspace(-1.2, 1.2, 4 * 3 * 64 * 64).reshape(4, 3, 64, 64)  # halves and clipping too
    assert np.array_equal(to_uint8_array(images.numpy()), to_uint8(images))
    with pytest.raises(ValueError, match="expected uint8 RGB crops"):
        to_float_array(faces[..., :2], 64)
