"""The architecture of a Fader model, without torch (the Train dialog and the trainer's settings read it).

:mod:`fader_studio.core.network` builds the networks it describes.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from fader_studio.core.template import IMAGE_SIZES

NORMALIZATIONS = ("batch", "instance")


@dataclass(frozen=True)
class NetworkConfig:
    """Architecture of a Fader model; stored as the ``config`` of a ``.fader`` file.

    ``n_layers`` defaults to the paper's choice, a 2×2 latent
    (``log2(image_size) - 1``: 7 layers for 256, 6 for 128, 5 for 64).
    ``hidden`` and ``dropout`` shape the latent discriminator and the classifier.
    """

    image_size: int = 256
    n_layers: int = 0
    first_channels: int = 16
    max_channels: int = 512
    normalization: str = "batch"
    hidden: int = 512
    dropout: float = 0.3
    channels: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        for name in ("image_size", "n_layers", "first_channels", "max_channels", "hidden"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be an integer, got {value!r}")
        if self.image_size not in IMAGE_SIZES:
            raise ValueError(f"image_size must be one of {IMAGE_SIZES}, got {self.image_size}")
        max_layers = int(math.log2(self.image_size))
        if self.n_layers == 0:
            object.__setattr__(self, "n_layers", max_layers - 1)
        if not 3 <= self.n_layers <= max_layers:
            raise ValueError(
                f"n_layers must be between 3 and {max_layers} for {self.image_size}px images "
                f"(down to a 1×1 latent, as the official classifiers have), got {self.n_layers}"
            )
        if not 1 <= self.first_channels <= self.max_channels <= 4096:
            raise ValueError(
                "channels must satisfy 1 <= first_channels <= max_channels <= 4096, got "
                f"{self.first_channels} and {self.max_channels}"
            )
        if not 1 <= self.hidden <= 8192:
            raise ValueError(f"hidden must be between 1 and 8192, got {self.hidden}")
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {self.normalization!r}")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)):
            raise ValueError(f"dropout must be a number, got {self.dropout!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        channels = tuple(min(self.first_channels * 2**i, self.max_channels) for i in range(self.n_layers))
        object.__setattr__(self, "channels", channels)

    @property
    def latent_size(self) -> int:
        """Height (= width) of the latent feature maps."""
        return self.image_size >> self.n_layers

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        """``(channels, height, width)`` of one face's latent."""
        return (self.channels[-1], self.latent_size, self.latent_size)

    def to_json(self) -> dict[str, Any]:
        """The JSON-ready dict stored in model files (``channels`` is derived, so left out)."""
        data = asdict(self)
        del data["channels"]
        return data

    @classmethod
    def from_json(cls, data: Any) -> NetworkConfig:
        """Parse a stored config; ``ValueError`` on unknown keys or bad values."""
        if not isinstance(data, dict):
            raise ValueError(f"config must be an object, got {type(data).__name__}")
        known = {f.name for f in fields(cls) if f.init}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"config has unknown keys {sorted(unknown)}")
        return cls(**data)
