"""Shared fixtures: tiny real Fader models, trained for a few steps so their
weights and normalisation statistics are not the defaults."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
import torch

from fader_studio.core.engine import to_tensor
from fader_studio.core.modelfile import FaderModel, save_model
from fader_studio.core.network import NetworkConfig

ATTRIBUTES = ("Eyeglasses", "Smiling", "Male")


def tiny_config(image_size: int = 64) -> NetworkConfig:
    """A small but complete architecture: the paper's layer plan with few channels."""
    return NetworkConfig(image_size=image_size, first_channels=8, max_channels=64, hidden=32)


def smooth_faces(count: int, size: int, seed: int = 0) -> np.ndarray:
    """``(count, size, size, 3)`` uint8 images: blurred random blobs, face-crop-like statistics."""
    rng = np.random.default_rng(seed)
    coarse = torch.from_numpy(rng.uniform(0, 255, (count, 3, 6, 6)).astype(np.float32))
    images = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)
    return images.clamp(0, 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def train_a_little(model: FaderModel, steps: int = 3, seed: int = 0) -> FaderModel:
    """A few real Adam steps of reconstruction (and classification) on smooth images."""
    torch.manual_seed(seed)
    size = model.image_size
    images = to_tensor(smooth_faces(8, size, seed), size)
    labels = torch.randint(0, 2, (8, len(model.attributes))).float()
    modules = list(model.modules().values())
    optimizer = torch.optim.Adam([p for m in modules for p in m.parameters()], lr=1e-3)
    for m in modules:
        m.train()
    for _ in range(steps):
        loss = torch.zeros(())
        if model.encoder is not None:
            loss = loss + torch.mean((model.decoder(model.encoder(images), labels) - images) ** 2)
        if model.classifier is not None:
            loss = loss + torch.nn.functional.binary_cross_entropy_with_logits(
                model.classifier(images), labels
            )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def make_model(image_size: int = 64, *, classifier: bool = True, autoencoder: bool = True) -> FaderModel:
    """A tiny trained model with :data:`ATTRIBUTES`."""
    config = tiny_config(image_size)
    model = FaderModel.create(
        config,
        ATTRIBUTES,
        autoencoder=autoencoder,
        classifier_config=config if classifier else None,
        training={"steps": 3, "data": "smooth test images"},
    )
    return train_a_little(model)


@pytest.fixture(scope="session", autouse=True)
def inference_defaults(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Networks run on torch, the reference, unless a test asks for ONNX Runtime; ONNX exports go
    to a folder of the test session, never to the user's cache."""
    cache = tmp_path_factory.mktemp("user-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FADER_STUDIO_BACKEND", "torch")
        patch.setenv("FADER_STUDIO_CACHE_DIR", str(cache))
        yield cache


@pytest.fixture(scope="session")
def synth_celeba(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 drawn faces in CelebA's format (96 train, 12 validation, 12 test), made once per session."""
    from trainer.synth import synthesize

    return synthesize(tmp_path_factory.mktemp("synth") / "celeba", 120, seed=0, workers=1)


@pytest.fixture(scope="session")
def synth_model(synth_celeba: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 64-px model (with its classifier) trained for 30 steps on the synthetic CelebA set."""
    from trainer.cli import main

    run = tmp_path_factory.mktemp("editor-model") / "run"
    cache = run.parent / "cache"
    code = main([
        "train", str(synth_celeba), "--attrs", ",".join(ATTRIBUTES), "--out", str(run),
        "--cache-dir", str(cache),
        "--size", "64", "--first-channels", "4", "--max-channels", "16", "--hidden", "16",
        "--batch-size", "8", "--eval-images", "8", "--sample-faces", "2", "--classifier-steps", "20",
        "--device", "cpu", "--lr", "0.001", "--max-steps", "30", "--eval-every", "30", "--progress", "none",
    ])  # fmt: skip
    assert code == 0
    return run / "last.fader"


@pytest.fixture
def model() -> FaderModel:
    """A tiny trained model with an encoder, a decoder and a classifier."""
    return make_model()


@pytest.fixture
def model_file(tmp_path: Path, model: FaderModel) -> Path:
    """``model`` saved as a ``.fader`` file."""
    return save_model(model, tmp_path / "tiny.fader")


@pytest.fixture
def faces() -> np.ndarray:
    """Four 64×64 RGB uint8 test crops."""
    return smooth_faces(4, 64, seed=1)


def console_script(name: str) -> str:
    """Path of an installed console script of this environment."""
    folder = Path(sys.executable).parent
    for candidate in (folder / name, folder / f"{name}.exe"):
        if candidate.exists():
            return str(candidate)
    raise FileNotFoundError(f"console script {name} is not installed beside {sys.executable}")


# ---------------------------------------------------------------- teaching a new fader


def write_faces(folder: Path, count: int, glasses: bool, seed: int) -> Path:
    """``count`` drawn faces as photos (with or without glasses, the rest random), and one without a face."""
    from PIL import Image

    from trainer.synth import draw_face

    rng = np.random.default_rng(seed)
    (folder / "sub").mkdir(parents=True)
    for i in range(count):
        labels = {"Eyeglasses": glasses, "Smiling": rng.random() < 0.5, "Male": rng.random() < 0.5}
        labels |= {"Blond_Hair": False, "Young": True}
        pixels, _ = draw_face(labels, rng)
        Image.fromarray(pixels).save(folder / ("sub" if i % 4 == 0 else ".") / f"f{i:03d}.jpg", quality=92)
    Image.fromarray(np.full((120, 120, 3), 90, np.uint8)).save(folder / "wall.png")
    (folder / "notes.txt").write_text("not a photo")
    return folder


@pytest.fixture(scope="session")
def example_folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two folders of 40 drawn faces each (and a photo without a face): with glasses, and without."""
    root = tmp_path_factory.mktemp("examples")
    return write_faces(root / "with", 40, True, 1), write_faces(root / "without", 40, False, 2)


@pytest.fixture(scope="session")
def base_model(synth_celeba: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 64-px Male model whose classifier is good enough to label the examples (Smiling is not, so soon)."""
    from trainer.cli import main

    run = tmp_path_factory.mktemp("base") / "run"
    args = ["train", str(synth_celeba), "--attrs", "Male", "--out", str(run), "--size", "64",
            "--first-channels", "4", "--max-channels", "16", "--hidden", "16", "--batch-size", "8",
            "--max-steps", "20", "--eval-every", "20", "--eval-images", "12", "--sample-faces", "2",
            "--classifier-steps", "400", "--lr", "0.001", "--device", "cpu", "--progress", "none",
            "--cache-dir", str(run.parent / "cache")]  # fmt: skip
    assert main(args) == 0
    return run / "last.fader"
