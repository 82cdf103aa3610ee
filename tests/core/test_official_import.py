"""Importing official FaderNetworks files: same outputs, nothing from the file ever runs."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import torch

from fader_studio.core.engine import to_tensor
from fader_studio.core.errors import ModelFileError
from fader_studio.core.modelfile import load_model
from fader_studio.core.official_import import OFFICIAL_RANGE, import_official
from fader_studio.core.official_pickle import read_module_pickle
from tests.conftest import console_script, smooth_faces
from tests.core.official_format import AutoEncoder, Classifier, save_official, save_torch03

LAYOUTS = {"legacy": True, "zip": False}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_an_imported_model_computes_what_the_official_one_computes(tmp_path: Path, layout: str) -> None:
    official = AutoEncoder(dec_dropout=0.3)
    path = save_official(official, tmp_path / "eyeglasses.pth", legacy=LAYOUTS[layout])
    model = import_official(path)
    assert model.attribute_names == ("Eyeglasses", "Smiling")
    assert [(a.min, a.max) for a in model.attributes] == [OFFICIAL_RANGE] * 2
    assert model.config.n_layers == 4 and model.config.first_channels == 8 and model.image_size == 64
    images = to_tensor(smooth_faces(2, 64, seed=3), 64)
    with torch.inference_mode():
        latent = official.encode_latent(images)
        assert torch.allclose(model.encoder(images), latent, atol=1e-5)
        for alpha in (0.0, 1.0, 2.0):
            values = torch.tensor([[alpha, 1 - alpha], [alpha, 0.5]])
            code = torch.stack([1 - values, values], dim=2).flatten(1)  # (1 - α, α) per attribute
            expected = official.decode_latent(latent, code)
            assert torch.allclose(model.decoder(latent, values), expected, atol=1e-5), alpha


def test_a_file_pickled_as_torch_0_3_did_imports_the_same(tmp_path: Path) -> None:
    """_rebuild_tensor (v1), Parameter(data, requires_grad), _backend objects, no num_batches_tracked."""
    official = AutoEncoder()
    path = save_torch03(official, tmp_path / "old.pth")
    recorded = read_module_pickle(path)
    first = recorded.attrs["_modules"]["enc_layers"].children()[1]
    assert first.attrs["_backend"].qualname == "torch.nn.backends.thnn.THNNFunctionBackend"
    assert "num_batches_tracked" not in first.children()[1].tensors()
    model = import_official(path)
    images = to_tensor(smooth_faces(2, 64, seed=6), 64)
    values = torch.tensor([[2.0, -1.0], [0.5, 1.0]])
    with torch.inference_mode():
        latent = official.encode_latent(images)
        expected = official.decode_latent(latent, torch.stack([1 - values, values], dim=2).flatten(1))
        assert torch.allclose(model.encoder(images), latent, atol=1e-5)
        assert torch.allclose(model.decoder(latent, values), expected, atol=1e-5)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_an_official_classifier_becomes_the_models_classifier(tmp_path: Path, layout: str) -> None:
    model_path = save_official(AutoEncoder(), tmp_path / "smile.pth", legacy=LAYOUTS[layout])
    official = Classifier()  # predicts Male, Eyeglasses, Smiling: two softmax logits each
    classifier = save_official(official, tmp_path / "classifier64.pth", legacy=LAYOUTS[layout])
    model = import_official(model_path, classifier)
    images = to_tensor(smooth_faces(3, 64, seed=4), 64)
    with torch.inference_mode():
        logits = official(images)
        expected = torch.stack([logits[:, 2:4].softmax(1)[:, 1], logits[:, 4:6].softmax(1)[:, 1]], dim=1)
        assert torch.allclose(torch.sigmoid(model.classifier(images)), expected, atol=1e-5)


def test_the_import_command_writes_a_model_that_info_describes(tmp_path: Path) -> None:
    model_path = save_official(AutoEncoder(), tmp_path / "eyeglasses.pth", legacy=True)
    classifier = save_official(Classifier(), tmp_path / "classifier64.pth", legacy=True)
    out = tmp_path / "eyeglasses.fader"
    command = [console_script("fader-studio"), "import", str(model_path), "--classifier", str(classifier)]
    done = subprocess.run([*command, "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{out}: Eyeglasses, Smiling at 64px, with its classifier\n"
    model = load_model(out)
    assert model.classifier is not None and model.training["file"] == "eyeglasses.pth"
    info = subprocess.run(
        [console_script("fader-studio"), "info", str(out)], capture_output=True, text=True, timeout=60
    )
    metadata = json.loads(info.stdout)
    assert metadata["training"]["imported_from"].startswith("facebookresearch/FaderNetworks")
    assert metadata["training"]["official_hyperparameters"]["attr"] == [["Eyeglasses", 2], ["Smiling", 2]]
    again = subprocess.run([*command, "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert (
        again.returncode == 2 and again.stderr == f"fader-studio: error: {out} exists; choose another name\n"
    )


class _Calls:
    """Pickled as a call of ``function(*args)``: what a malicious file does."""

    def __init__(self, function: object, *args: object) -> None:
        self.function, self.args = function, args

    def __reduce__(self) -> tuple:
        return self.function, self.args


def _write_marker(path: str) -> None:  # a "non-tensor callable" a file could name
    Path(path).write_text("ran")


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(
    ("function", "name"),
    [(os.system, "system"), (subprocess.call, "subprocess.call"), (eval, "builtins.eval")],
)
def test_a_file_that_would_run_code_is_refused_and_nothing_runs(
    tmp_path: Path, layout: str, function: object, name: str
) -> None:
    marker = tmp_path / "ran"
    argument = f"touch {marker}" if function is not eval else f"open({str(marker)!r}, 'w')"
    evil = {
        "model": _Calls(function, argument if function is not subprocess.call else ["touch", str(marker)])
    }
    path = tmp_path / "evil.pth"
    torch.save(evil, path, _use_new_zipfile_serialization=layout == "zip")
    with pytest.raises(ModelFileError, match=f"refused: the file asks for .*{name.split('.')[-1]}"):
        read_module_pickle(path)
    assert not marker.exists()


def test_any_other_callable_is_only_recorded_and_never_called(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "odd.pth"
    torch.save(_Calls(_write_marker, str(marker)), path, _use_new_zipfile_serialization=False)
    found = read_module_pickle(path)
    assert found.qualname.endswith("_write_marker") and found.args == (str(marker),)
    assert not marker.exists()
    with pytest.raises(ModelFileError, match="expected an official AutoEncoder, found .*_write_marker"):
        import_official(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"n_skip": 1}, "n_skip=1 is not supported yet"),
        ({"deconv_method": "upsampling"}, "deconv_method='upsampling' is not supported yet"),
        ({"attr": (("Hair_Color", 3),)}, "attribute Hair_Color has 3 categories"),
        ({"img_sz": 96, "n_layers": 4}, "image size 96 is not supported"),
    ],
)
def test_architectures_we_cannot_express_are_one_clear_line(
    tmp_path: Path, options: dict, message: str
) -> None:
    path = save_official(AutoEncoder(**options), tmp_path / "other.pth", legacy=True)
    with pytest.raises(ModelFileError, match=message) as caught:
        import_official(path)
    assert "\n" not in str(caught.value)


def test_corrupt_truncated_and_wrong_files_are_one_clear_line(tmp_path: Path) -> None:
    good = save_official(AutoEncoder(), tmp_path / "good.pth", legacy=True).read_bytes()
    cases = {
        "truncated.pth": good[: len(good) - 1000],
        "garbage.pth": os.urandom(4096),
        "empty.pth": b"",
        "text.pth": b"not a model at all\n",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ModelFileError) as caught:
            import_official(tmp_path / name)
        assert str(caught.value).startswith(str(tmp_path / name)) and "\n" not in str(caught.value), name
    state_dict = tmp_path / "weights.pth"
    torch.save(AutoEncoder().state_dict(), state_dict)
    with pytest.raises(ModelFileError, match="expected an official AutoEncoder, found OrderedDict"):
        import_official(state_dict)
    classifier = save_official(Classifier(), tmp_path / "classifier.pth", legacy=False)
    with pytest.raises(ModelFileError, match="pass classifiers with --classifier"):
        import_official(classifier)
