"""The Fader Networks modules (Lample et al., 2017, section 4).

- :class:`Encoder`: ``n_layers`` blocks of Conv 4×4 stride 2, normalisation
  (none on the first block, as in pix2pix and the official code) and
  LeakyReLU(0.2). Channels double from ``first_channels`` up to
  ``max_channels``; a 256 image with 7 layers gives a 512×2×2 latent.
- :class:`Decoder`: the mirror image with ConvTranspose 4×4 stride 2,
  normalisation and ReLU, ending in Tanh. The attribute code (1 - α, α) for
  each attribute is concatenated as constant feature maps to the input of
  *every* decoder block.
- :class:`LatentDiscriminator`: C512 on the latent, then FC 512 and FC n, with
  dropout; predicts the attributes (one logit each) from the latent.
- :class:`Classifier`: the encoder's layer plan, then FC hidden and FC n; it
  estimates a face's attributes (one logit each) from the image itself.

Images are ``(N, 3, S, S)`` float tensors in [-1, 1]; attribute values are
``(N, n)`` float tensors of α.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from fader_studio.core.network_config import NetworkConfig


def _norm(config: NetworkConfig, channels: int) -> nn.Module:
    if config.normalization == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    return nn.BatchNorm2d(channels)


def _down_blocks(config: NetworkConfig) -> nn.Sequential:
    """The encoder's convolution blocks; the classifier reuses the same plan."""
    blocks = []
    in_channels = 3
    for i, out_channels in enumerate(config.channels):
        block: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, 4, 2, 1)]
        if i > 0:
            block.append(_norm(config, out_channels))
        block.append(nn.LeakyReLU(0.2, inplace=True))
        blocks.append(nn.Sequential(*block))
        in_channels = out_channels
    return nn.Sequential(*blocks)


def _head(in_features: int, config: NetworkConfig, n_attributes: int) -> nn.Sequential:
    """FC ``hidden`` → LeakyReLU → dropout → FC n: one logit per attribute."""
    return nn.Sequential(
        nn.Linear(in_features, config.hidden),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Dropout(config.dropout),
        nn.Linear(config.hidden, n_attributes),
    )


class Encoder(nn.Module):
    """Image ``(N, 3, S, S)`` in [-1, 1] → latent ``(N, C, L, L)``."""

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.config = config
        self.layers = _down_blocks(config)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.layers(images)


def attribute_code(values: torch.Tensor) -> torch.Tensor:
    """Code attribute values α ``(N, n)`` as ``(N, 2n)``: (1 - α, α) for each attribute."""
    return torch.stack((1.0 - values, values), dim=2).flatten(1)


class Decoder(nn.Module):
    """Latent ``(N, C, L, L)`` and attribute values ``(N, n)`` → image ``(N, 3, S, S)``."""

    def __init__(self, config: NetworkConfig, n_attributes: int) -> None:
        super().__init__()
        if n_attributes < 1:
            raise ValueError("a decoder needs at least one attribute")
        self.config = config
        self.n_attributes = n_attributes
        code = 2 * n_attributes
        outs = [*reversed(config.channels[:-1]), 3]
        ins = [config.channels[-1], *outs[:-1]]
        blocks = []
        for i, (in_channels, out_channels) in enumerate(zip(ins, outs, strict=True)):
            block: list[nn.Module] = [nn.ConvTranspose2d(in_channels + code, out_channels, 4, 2, 1)]
            if i < len(outs) - 1:
                block += [_norm(config, out_channels), nn.ReLU(inplace=True)]
            else:
                block.append(nn.Tanh())
            blocks.append(nn.Sequential(*block))
        self.layers = nn.Sequential(*blocks)

    def forward(self, latent: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        if values.shape != (latent.shape[0], self.n_attributes):
            raise ValueError(
                f"expected attribute values of shape ({latent.shape[0]}, {self.n_attributes}), "
                f"got {tuple(values.shape)}"
            )
        code = attribute_code(values.to(latent.dtype))[:, :, None, None]
        x = latent
        for block in self.layers:
            maps = code.expand(-1, -1, x.shape[2], x.shape[3])
            x = block(torch.cat((x, maps), dim=1))
        return x


class LatentDiscriminator(nn.Module):
    """Latent ``(N, C, L, L)`` → one logit per attribute: is it present?

    C512 convolutions (stride 2) down to 1×1, then FC ``hidden`` and FC n,
    with dropout on its input and hidden layer (0.3 in the paper).
    """

    def __init__(self, config: NetworkConfig, n_attributes: int) -> None:
        super().__init__()
        channels = config.channels[-1]
        convs: list[nn.Module] = [nn.Dropout(config.dropout)]
        for _ in range(int(math.log2(config.latent_size))):
            convs += [
                nn.Conv2d(channels, 512, 4, 2, 1),
                _norm(config, 512),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            channels = 512
        self.conv = nn.Sequential(*convs)
        self.proj = _head(channels, config, n_attributes)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.proj(self.conv(latent).flatten(1))


class Classifier(nn.Module):
    """Image ``(N, 3, S, S)`` in [-1, 1] → one logit per attribute.

    Trained separately on labelled crops; it measures swap accuracy during
    evaluation and sets each fader's starting value for a new photo.
    """

    def __init__(self, config: NetworkConfig, n_attributes: int) -> None:
        super().__init__()
        self.config = config
        self.layers = _down_blocks(config)
        self.proj = _head(config.channels[-1] * config.latent_size**2, config, n_attributes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.proj(self.layers(images).flatten(1))
