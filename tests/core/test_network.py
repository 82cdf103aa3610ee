from __future__ import annotations

import pytest
import torch

from fader_studio.core.network import (
    Classifier,
    Decoder,
    Encoder,
    LatentDiscriminator,
    NetworkConfig,
    attribute_code,
)


@pytest.mark.parametrize(
    ("size", "layers", "latent"),
    [(64, 5, (256, 2, 2)), (128, 6, (512, 2, 2)), (256, 7, (512, 2, 2))],
)
def test_paper_architecture_shapes_for_every_size(size: int, layers: int, latent: tuple) -> None:
    config = NetworkConfig(image_size=size)
    assert config.n_layers == layers
    assert config.latent_shape == latent
    images = torch.rand(2, 3, size, size) * 2 - 1
    encoder, decoder = Encoder(config).eval(), Decoder(config, 3).eval()
    discriminator, classifier = LatentDiscriminator(config, 3).eval(), Classifier(config, 3).eval()
    with torch.inference_mode():
        z = encoder(images)
        out = decoder(z, torch.rand(2, 3))
        assert z.shape == (2, *latent)
        assert out.shape == (2, 3, size, size)
        assert out.min() >= -1 and out.max() <= 1
        assert discriminator(z).shape == (2, 3)
        assert classifier(images).shape == (2, 3)


def test_paper_256_model_has_the_papers_channels() -> None:
    config = NetworkConfig(image_size=256)
    assert config.channels == (16, 32, 64, 128, 256, 512, 512)
    decoder = Decoder(config, 2)
    ins = [block[0].in_channels for block in decoder.layers]
    outs = [block[0].out_channels for block in decoder.layers]
    # C512+2n - C512+2n - C256+2n - C128+2n - C64+2n - C32+2n - C16+2n (paper, section 4)
    assert ins == [516, 516, 260, 132, 68, 36, 20]
    assert outs == [512, 256, 128, 64, 32, 16, 3]


def test_official_code_layout_6_layers_from_32_channels_gives_a_4x4_latent() -> None:
    config = NetworkConfig(image_size=256, n_layers=6, first_channels=32)
    assert config.channels == (32, 64, 128, 256, 512, 512)
    z = Encoder(config).eval()(torch.zeros(1, 3, 256, 256))
    assert z.shape == (1, 512, 4, 4)
    assert LatentDiscriminator(config, 4).eval()(z).shape == (1, 4)


def test_instance_normalisation_variant_runs() -> None:
    config = NetworkConfig(image_size=64, normalization="instance", first_channels=8, max_channels=32)
    decoder = Decoder(config, 1).eval()
    assert any(isinstance(m, torch.nn.InstanceNorm2d) for m in decoder.modules())
    assert decoder(torch.randn(1, 32, 2, 2), torch.ones(1, 1)).shape == (1, 3, 64, 64)


def test_attribute_code_is_one_minus_alpha_then_alpha_per_attribute() -> None:
    code = attribute_code(torch.tensor([[0.25, 1.0], [-1.0, 2.0]]))
    assert code.tolist() == [[0.75, 0.25, 0.0, 1.0], [2.0, -1.0, -1.0, 2.0]]


def test_attribute_maps_reach_every_decoder_layer() -> None:
    config = NetworkConfig(image_size=64, first_channels=8, max_channels=32)
    decoder = Decoder(config, 2).eval()
    seen = []
    hooks = [
        b.register_forward_pre_hook(lambda m, a: seen.append(a[0][:, -4:].clone())) for b in decoder.layers
    ]
    decoder(torch.randn(1, 32, 2, 2), torch.tensor([[0.3, 0.9]]))
    for h in hooks:
        h.remove()
    assert len(seen) == config.n_layers
    for maps in seen:  # constant maps (0.7, 0.3, 0.1, 0.9) at every layer's input
        assert torch.allclose(maps, torch.tensor([0.7, 0.3, 0.1, 0.9])[None, :, None, None].expand_as(maps))


def test_decoder_rejects_wrong_number_of_values() -> None:
    config = NetworkConfig(image_size=64, first_channels=8, max_channels=32)
    with pytest.raises(ValueError, match="attribute values of shape"):
        Decoder(config, 2)(torch.zeros(1, 32, 2, 2), torch.zeros(1, 3))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"image_size": 100}, "image_size must be one of"),
        ({"image_size": 64, "n_layers": 7}, "n_layers must be between 3 and 6"),
        ({"n_layers": 2}, "n_layers must be between"),
        ({"first_channels": 64, "max_channels": 32}, "first_channels <= max_channels"),
        ({"normalization": "group"}, "normalization must be one of"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
        ({"image_size": "256"}, "image_size must be an integer"),
        ({"hidden": True}, "hidden must be an integer"),
    ],
)
def test_bad_configs_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        NetworkConfig(**kwargs)


def test_config_json_round_trip_and_unknown_keys() -> None:
    config = NetworkConfig(image_size=128, first_channels=32, hidden=256)
    assert NetworkConfig.from_json(config.to_json()) == config
    assert "channels" not in config.to_json()
    with pytest.raises(ValueError, match="unknown keys"):
        NetworkConfig.from_json({**config.to_json(), "skip_connections": 2})
