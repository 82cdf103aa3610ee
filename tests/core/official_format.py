"""Files in the official FaderNetworks format, made here (the real ones cannot be downloaded in tests).

The classes carry the official names (``src.model.AutoEncoder``, ``src.model.Classifier``),
attributes and layer layout: encoder block i is Conv 4×4/2, normalisation for
i > 0 and LeakyReLU(0.2); decoder blocks, listed from the latent up, take the
previous output with the attribute code, ConvTranspose 4×4/2 without bias,
normalisation, dropout on the last blocks and ReLU, or Tanh at the end.
"""

from __future__ import annotations

import math
import sys
import types
import warnings
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

OFFICIAL_MODULE = types.ModuleType("src.model")


def official_layers(
    img_sz: int, init_fm: int, max_fm: int, n_layers: int, n_attr: int, *, instance_norm: bool = False,
    dec_dropout: float = 0.0, n_skip: int = 0, deconv_method: str = "convtranspose", enc_dropout: float = 0.0,
) -> tuple[list[nn.Sequential], list[nn.Sequential]]:  # fmt: skip
    """Encoder and decoder blocks in the official layout."""
    norm = nn.InstanceNorm2d if instance_norm else nn.BatchNorm2d
    encoder, decoder = [], []
    n_in, n_out = 3, init_fm
    for i in range(n_layers):
        skip = n_layers - (n_skip + 1) <= i < n_layers - 1
        down: list[nn.Module] = [nn.Conv2d(n_in, n_out, 4, 2, 1)]
        if i > 0:
            down.append(norm(n_out, affine=True))
        down.append(nn.LeakyReLU(0.2, inplace=True))
        if enc_dropout:
            down.append(nn.Dropout(enc_dropout))
        width = n_out + n_attr + (n_out if skip else 0)
        if deconv_method == "convtranspose":
            up: list[nn.Module] = [nn.ConvTranspose2d(width, n_in, 4, 2, 1, bias=False)]
        else:
            up = [nn.UpsamplingNearest2d(scale_factor=2), nn.Conv2d(width, n_in, 3, 1, 1)]
        if i > 0:
            up.append(norm(n_in, affine=True))
            if dec_dropout and i >= n_layers - 3:
                up.append(nn.Dropout(dec_dropout))
            up.append(nn.ReLU(inplace=True))
        else:
            up.append(nn.Tanh())
        encoder.append(nn.Sequential(*down))
        decoder.insert(0, nn.Sequential(*up))
        n_in, n_out = n_out, min(2 * n_out, max_fm)
    return encoder, decoder


def _randomise_statistics(module: nn.Module, seed: int) -> None:
    """Non-trivial normalisation statistics and affine parameters, as after training."""
    generator = torch.Generator().manual_seed(seed)
    for layer in module.modules():
        if isinstance(layer, nn.BatchNorm2d):
            layer.running_mean.copy_(torch.randn(layer.num_features, generator=generator) * 0.2)
            layer.running_var.copy_(torch.rand(layer.num_features, generator=generator) + 0.5)
        if isinstance(layer, (nn.BatchNorm2d, nn.InstanceNorm2d)) and layer.affine:
            layer.weight.data.copy_(torch.rand(layer.num_features, generator=generator) + 0.5)
            layer.bias.data.copy_(torch.randn(layer.num_features, generator=generator) * 0.1)


class AutoEncoder(nn.Module):
    """The official ``src.model.AutoEncoder``'s attributes and layers."""

    def __init__(
        self, img_sz: int = 64, init_fm: int = 8, max_fm: int = 32, n_layers: int = 4,
        attr: tuple[tuple[str, int], ...] = (("Eyeglasses", 2), ("Smiling", 2)), **options: object,
    ) -> None:  # fmt: skip
        super().__init__()
        self.img_sz, self.img_fm, self.init_fm, self.max_fm, self.n_layers = (
            img_sz,
            3,
            init_fm,
            max_fm,
            n_layers,
        )
        self.instance_norm = bool(options.get("instance_norm", False))
        self.n_skip = int(options.get("n_skip", 0))
        self.deconv_method = str(options.get("deconv_method", "convtranspose"))
        self.dropout = float(options.get("dec_dropout", 0.3))
        self.attr = list(attr)
        self.n_attr = sum(n for _, n in attr)
        encoder, decoder = official_layers(
            img_sz, init_fm, max_fm, n_layers, self.n_attr, instance_norm=self.instance_norm,
            dec_dropout=self.dropout, n_skip=self.n_skip, deconv_method=self.deconv_method,
        )  # fmt: skip
        self.enc_layers = nn.ModuleList(encoder)
        self.dec_layers = nn.ModuleList(decoder)
        _randomise_statistics(self, seed=1)
        self.eval()

    def encode_latent(self, images: torch.Tensor) -> torch.Tensor:
        for layer in self.enc_layers:
            images = layer(images)
        return images

    def decode_latent(self, latent: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        """The official decode (without skip connections): the code expanded at every block."""
        x, code = latent, code[:, :, None, None]
        for layer in self.dec_layers:
            x = layer(torch.cat([x, code.expand(-1, -1, x.shape[2], x.shape[3])], 1))
        return x


class Classifier(nn.Module):
    """The official ``src.model.Classifier``: encoder blocks down to 1×1, then two Linear layers."""

    def __init__(
        self, img_sz: int = 64, init_fm: int = 8, max_fm: int = 32, hid_dim: int = 16,
        attr: tuple[tuple[str, int], ...] = (("Male", 2), ("Eyeglasses", 2), ("Smiling", 2)),
    ) -> None:  # fmt: skip
        super().__init__()
        self.img_sz, self.img_fm, self.init_fm, self.max_fm, self.hid_dim = (
            img_sz,
            3,
            init_fm,
            max_fm,
            hid_dim,
        )
        self.attr = list(attr)
        self.n_attr = sum(n for _, n in attr)
        layers = int(math.log2(img_sz))
        self.conv_out_fm = min(init_fm * 2 ** (layers - 1), max_fm)
        encoder, _ = official_layers(img_sz, init_fm, max_fm, layers, self.n_attr)
        self.conv_layers = nn.Sequential(*encoder)
        self.proj_layers = nn.Sequential(
            nn.Linear(self.conv_out_fm, hid_dim),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(hid_dim, self.n_attr),
        )
        _randomise_statistics(self, seed=2)
        self.eval()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.proj_layers(self.conv_layers(images).flatten(1))


for _cls in (AutoEncoder, Classifier):
    _cls.__module__ = "src.model"
    setattr(OFFICIAL_MODULE, _cls.__name__, _cls)


def save_official(module: object, path: Path, *, legacy: bool) -> Path:
    """``torch.save`` the whole module, as the official training did (legacy or zip serialization)."""
    package = types.ModuleType("src")
    package.model = OFFICIAL_MODULE
    saved = {name: sys.modules.get(name) for name in ("src", "src.model")}
    sys.modules.update({"src": package, "src.model": OFFICIAL_MODULE})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "couldn't retrieve source code" for the legacy format
            torch.save(module, path, _use_new_zipfile_serialization=not legacy)
    finally:
        for name, value in saved.items():
            if value is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = value
    return path


THNN = types.ModuleType("torch.nn.backends.thnn")  # gone from torch since 1.x; torch 0.3 modules named it


class THNNFunctionBackend:
    """Stands for torch 0.3's ``torch.nn.backends.thnn.THNNFunctionBackend`` (every module's ``_backend``)."""


THNNFunctionBackend.__module__ = THNN.__name__
THNN.THNNFunctionBackend = THNNFunctionBackend


class _Reduced:
    """An object that pickles as ``function(*args)`` then ``BUILD state``."""

    def __init__(self, function: object, args: tuple, state: object = None) -> None:
        self.reduced = (function, args, state) if state is not None else (function, args)

    def __reduce__(self) -> tuple:
        return self.reduced


def as_torch03(module: nn.Module) -> _Reduced:
    """``module`` pickled the way torch 0.3 pickled modules.

    A module is its class called with no arguments and then its ``__dict__``
    (with a ``_backend`` object, no ``num_batches_tracked``); a parameter is
    ``Parameter(data, requires_grad)``; a tensor is ``torch._utils._rebuild_tensor``
    (the first version, without ``requires_grad``) over a typed storage.
    """

    def tensor(t: torch.Tensor) -> _Reduced:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TypedStorage is deprecated, and what the legacy format holds
            storage = t.detach().storage()
        return _Reduced(
            torch._utils._rebuild_tensor, (storage, t.storage_offset(), tuple(t.shape), t.stride())
        )

    state = {k: v for k, v in vars(module).items() if not k.startswith("_")}
    state["_backend"] = _Reduced(THNNFunctionBackend, ())
    state["_parameters"] = OrderedDict(
        (name, _Reduced(nn.Parameter, (tensor(p), True)))
        for name, p in module._parameters.items()
        if p is not None
    )
    state["_buffers"] = OrderedDict(
        (name, tensor(b)) for name, b in module._buffers.items() if name != "num_batches_tracked"
    )
    state["_modules"] = OrderedDict((name, as_torch03(m)) for name, m in module._modules.items())
    return _Reduced(type(module), (), state)


def save_torch03(module: nn.Module, path: Path) -> Path:
    """``module`` in the legacy serialization, pickled as torch 0.3 did."""
    saved = sys.modules.get(THNN.__name__)
    sys.modules[THNN.__name__] = THNN
    try:
        return save_official(as_torch03(module), path, legacy=True)
    finally:
        if saved is None:
            sys.modules.pop(THNN.__name__, None)
        else:
            sys.modules[THNN.__name__] = saved
