"""The pieces of a run: λ and learning-rate schedules, the step, freezing, model expansion, checkpoints."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from fader_studio.core.attributes import AttributeSpec
from fader_studio.core.modelfile import FaderModel
from tests.conftest import make_model, smooth_faces
from trainer.checkpoints import CheckpointWarning, latest_checkpoint, read_checkpoint, save_checkpoint
from trainer.config import TrainConfig
from trainer.distributed import Distributed
from trainer.fader import FaderTraining
from trainer.finetune import expand_model

TINY = {"image_size": 64, "first_channels": 4, "max_channels": 16, "hidden": 16, "batch_size": 4}


def test_lambda_rises_linearly_then_stays() -> None:
    config = TrainConfig(attributes=("Smiling",), lambda_e=1e-4, lambda_schedule=500_000)
    assert [config.lambda_at(s) for s in (0, 250_000, 500_000, 900_000)] == pytest.approx(
        [0, 5e-5, 1e-4, 1e-4]
    )
    assert TrainConfig(attributes=("Smiling",), lambda_schedule=0).lambda_at(0) == 1e-4


def test_learning_rate_warms_up_then_stays() -> None:
    config = TrainConfig(attributes=("Smiling",), lr=1e-3, warmup_steps=3)
    assert [config.lr_at(s) for s in range(5)] == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3])
    assert TrainConfig(attributes=("Smiling",)).lr_at(0) == 2e-4


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"attributes": ()}, "at least one attribute"),
        ({"freeze": ("encoder-9",)}, "the encoder has blocks 1 to 5"),
        ({"batch_size": 1}, "batch normalisation needs a batch size of at least 2"),
        ({"image_size": 100}, "image_size must be one of"),
        ({"seed": -1}, "seed must not be negative"),
        ({"classifier_steps": -5}, "classifier-steps must not be negative"),
        ({"lambda_clf": -0.1}, "lambda-clf must not be negative"),
    ],
)
def test_settings_are_checked(settings: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrainConfig(**{"attributes": ("Smiling",), **TINY, **settings})


def batch(size: int = 64, count: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.from_numpy(smooth_faces(count, size, seed=3)).permute(0, 3, 1, 2).float() / 127.5 - 1
    return images, torch.tensor([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])[:count]


def training(guide: torch.nn.Module | None = None, **settings: object) -> FaderTraining:
    config = TrainConfig(attributes=("Smiling", "Male"), **{**TINY, **settings})
    torch.manual_seed(0)
    model = FaderModel.create(config.network(), config.attributes)
    return FaderTraining(config, model, Distributed(), guide)


def test_a_step_trains_every_network_and_reports_finite_losses() -> None:
    run = training(lambda_patch=0.1, lambda_schedule=0)
    before = {k: v.clone() for k, v in run.tensors().items()}
    losses = run.step(*batch(), step=0)
    assert losses.shape == (5,) and torch.isfinite(losses).all() and (losses[:3] > 0).all()
    for prefix in ("autoencoder.encoder.", "autoencoder.decoder.", "latent_dis.", "patch_dis."):
        assert any(not torch.equal(v, before[k]) for k, v in run.tensors().items() if k.startswith(prefix)), (
            prefix
        )


class HalvesGuide(torch.nn.Module):
    """A fixed classifier: Smiling is a bright left half, Male a bright right half."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(10.0))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        half = images.shape[-1] // 2
        return self.scale * torch.stack(
            (images[..., :half].mean((1, 2, 3)), images[..., half:].mean((1, 2, 3))), 1
        )


def test_the_guide_teaches_the_decoder_to_show_every_attribute_flipped_and_is_not_trained() -> None:
    guide = HalvesGuide()
    held = copy.deepcopy(guide.state_dict())
    run = training(guide, lambda_clf=1.0, lr=1e-3)
    assert run.loss_names == ("recon", "latent_dis", "adversarial", "classifier")
    images, labels = batch()
    losses = [run.step(images, labels, step=step) for step in range(30)]
    assert losses[-1][3] < 0.5 * losses[0][3]  # the fixed guide sees 1 − y in D(E(x), 1 − y)
    with torch.no_grad():
        edited = run.autoencoder.eval().decoder(run.autoencoder.encoder(images), 1 - labels)
        seen = torch.sigmoid(guide(edited)) > 0.5
    assert (seen == (1 - labels).bool()).sum() >= 7  # of 8 (an untrained decoder's edits: chance)
    assert all(torch.equal(v, held[k]) for k, v in guide.state_dict().items())


def test_the_classifier_loss_needs_a_guide() -> None:
    with pytest.raises(ValueError, match="--lambda-clf needs the run's classifier"):
        training(lambda_clf=0.5)


def test_frozen_blocks_keep_weights_and_statistics() -> None:
    run = training(freeze=("encoder-2", "decoder-1"))
    encoder, decoder = run.autoencoder.encoder, run.autoencoder.decoder
    frozen = [encoder.layers[0], encoder.layers[1], decoder.layers[0]]
    before = [copy.deepcopy(block.state_dict()) for block in frozen]
    trained = copy.deepcopy(encoder.layers[2].state_dict())
    for step in range(2):
        run.step(*batch(), step=step)
    for block, state in zip(frozen, before, strict=True):
        assert all(torch.equal(v, state[k]) for k, v in block.state_dict().items())
    assert not all(torch.equal(v, trained[k]) for k, v in encoder.layers[2].state_dict().items())


def test_freezing_everything_is_refused() -> None:
    with pytest.raises(ValueError, match="leaves nothing of the encoder and decoder to train"):
        training(freeze=("encoder", "decoder"))


def test_an_expanded_model_decodes_as_before_whatever_the_new_attribute() -> None:
    base = make_model()  # Eyeglasses, Smiling, Male
    specs = [AttributeSpec.for_name(n) for n in ("Male", "Bald", "Eyeglasses", "Smiling")]
    expanded = expand_model(base, specs).eval()
    assert torch.equal(expanded.encoder.layers[0][0].weight, base.encoder.layers[0][0].weight)
    images, _ = batch()
    with torch.no_grad():
        latent = base.encoder(images)
        wanted = base.decoder(latent, torch.tensor([[1.0, 0.0, 0.5]]).repeat(4, 1))
        for bald in (0.0, 1.0):
            got = expanded.decoder(latent, torch.tensor([[0.5, bald, 1.0, 0.0]]).repeat(4, 1))
            torch.testing.assert_close(got, wanted, atol=1e-5, rtol=0)


def test_expanding_cannot_drop_an_attribute() -> None:
    with pytest.raises(Exception, match="also controls Male; include it in --attrs"):
        expand_model(make_model(), [AttributeSpec.for_name(n) for n in ("Eyeglasses", "Smiling")])


def test_checkpoints_keep_the_newest_and_skip_damaged_ones(tmp_path: Path) -> None:
    folder = tmp_path / "checkpoints"
    tensors = {"a.weight": torch.arange(6.0).reshape(2, 3)}
    for step in (5, 10, 15, 20):
        save_checkpoint(
            folder, step, {k: v * step for k, v in tensors.items()}, {"best": {"recon": None}}, keep=3
        )
    assert sorted(p.name for p in folder.iterdir()) == ["step-10", "step-15", "step-20"]
    (folder / ".step-25.partial").mkdir()  # a write that was killed: never used
    checkpoint = read_checkpoint(folder / "step-20")
    assert checkpoint.step == 20 and torch.equal(checkpoint.tensors["a.weight"], tensors["a.weight"] * 20)
    assert checkpoint.state["best"] == {"recon": None}

    state = folder / "step-20" / "state.pt"
    data = bytearray(state.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one byte changed
    state.write_bytes(bytes(data))
    with pytest.warns(
        CheckpointWarning, match="step-20 is damaged \\(state.pt does not match its checksum\\)"
    ):
        assert latest_checkpoint(folder).step == 15
    (folder / "step-15" / "manifest.json").unlink()
    with pytest.warns(CheckpointWarning):
        assert latest_checkpoint(folder).step == 10
    assert latest_checkpoint(tmp_path / "none") is None
