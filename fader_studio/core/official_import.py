"""Turn the official FaderNetworks models (``eyeglasses.pth``, ``classifier256.pth``…) into ``.fader`` files.

The files are read by :func:`~fader_studio.core.official_pickle.read_module_pickle`,
which runs nothing in them; this module reads the recorded module tree (the
``AutoEncoder``'s hyper-parameters, its ``enc_layers`` and ``dec_layers``, each
layer's parameters and normalisation statistics) and copies it into our
networks, which compute the same function:

- encoder block i: Conv 4×4/2, normalisation for i > 0, LeakyReLU(0.2) — the same;
- decoder blocks from the latent up, each fed the attribute code (1 - α, α) per
  attribute: the official ``ConvTranspose2d`` has no bias, ours gets zeros;
  dropout layers (identity at inference) are skipped;
- the official classifier's two logits per binary attribute (a softmax) become
  our one logit (a sigmoid) as their difference, which gives the same probability.

Architectures Fader Studio cannot express yet are refused with one line:
skip connections (``n_skip`` > 0), decoders other than ``convtranspose``,
attributes with more than two categories, and torch 0.3 instance
normalisation with running statistics.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from .attributes import AttributeSpec
from .errors import ModelFileError
from .modelfile import FaderModel
from .network import NetworkConfig
from .official_pickle import Recorded, read_module_pickle
from .template import IMAGE_SIZES

#: Slider range of imported models: the official interpolation's α from -1 to 2, wider than ours.
OFFICIAL_RANGE = (-1.0, 2.0)
#: Layers that hold no weights and act the same at inference (or not at all).
_STATELESS = {"LeakyReLU", "ReLU", "Tanh", "Dropout", "Dropout2d"}


def import_official(model_path: str | Path, classifier_path: str | Path | None = None) -> FaderModel:
    """A :class:`FaderModel` with the official ``AutoEncoder`` in ``model_path`` (and its classifier).

    Raises :class:`ModelFileError` with one line for anything it cannot import.
    """
    model_path = Path(model_path)
    auto = _expect(read_module_pickle(model_path), "AutoEncoder", model_path)
    hp = auto.attrs
    attributes = _binary_attributes(hp.get("attr"), model_path)
    for name, wanted in (("img_fm", 3), ("n_skip", 0), ("deconv_method", "convtranspose")):
        if hp.get(name, wanted) != wanted:
            raise ModelFileError(
                model_path, f"{name}={hp.get(name)!r} is not supported yet (only {name}={wanted!r})"
            )
    config = _config(hp, model_path)
    classifier_config, classifier = None, None
    if classifier_path is not None:
        classifier_path = Path(classifier_path)
        classifier = _expect(read_module_pickle(classifier_path), "Classifier", classifier_path)
        classifier_config = _classifier_config(classifier.attrs, config.image_size, classifier_path)
    specs = [
        AttributeSpec.for_name(name, min=OFFICIAL_RANGE[0], max=OFFICIAL_RANGE[1]) for name in attributes
    ]
    training = {
        "imported_from": "facebookresearch/FaderNetworks (a torch.save pickle, read without running it)",
        "file": model_path.name,
        "official_hyperparameters": {k: _plain(hp.get(k)) for k in sorted(hp) if not k.startswith("_")},
    }
    if classifier_path is not None:
        training["classifier_file"] = classifier_path.name
    model = FaderModel.create(config, specs, classifier_config=classifier_config, training=training)
    modules = hp.get("_modules") or {}
    _copy_blocks(model.encoder.layers, modules.get("enc_layers"), model_path, "enc_layers")
    _copy_blocks(model.decoder.layers, modules.get("dec_layers"), model_path, "dec_layers")
    if classifier is not None:
        _copy_classifier(model, classifier, attributes, classifier_path)
    return model.eval()


def _expect(found: Any, class_name: str, path: Path) -> Recorded:
    if not isinstance(found, Recorded) or found.class_name != class_name:
        what = found.qualname if isinstance(found, Recorded) else type(found).__name__
        hint = " (pass classifiers with --classifier)" if "Classifier" in what else ""
        raise ModelFileError(path, f"expected an official {class_name}, found {what}{hint}")
    return found


def _attribute_entries(attr: Any, path: Path) -> list[tuple[str, int]]:
    """A recorded ``attr`` list: ``(name, number of categories)`` per attribute, checked."""
    if not isinstance(attr, (list, tuple)) or not attr:
        raise ModelFileError(path, "the model lists no attributes")
    for entry in attr:
        if not (
            isinstance(entry, (list, tuple))
            and len(entry) == 2
            and isinstance(entry[0], str)
            and isinstance(entry[1], int)
        ):
            raise ModelFileError(path, f"unreadable attribute entry {entry!r}")
    return [(name, categories) for name, categories in attr]


def _binary_attributes(attr: Any, path: Path) -> list[str]:
    entries = _attribute_entries(attr, path)
    for name, categories in entries:
        if categories != 2:
            raise ModelFileError(
                path,
                f"attribute {name} has {categories} categories; only binary attributes are supported yet",
            )
    return [name for name, _ in entries]


def _int(hp: dict[str, Any], name: str, path: Path) -> int:
    value = hp.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ModelFileError(path, f"the model has no integer {name} (found {value!r})")
    return value


def _config(hp: dict[str, Any], path: Path) -> NetworkConfig:
    size = _int(hp, "img_sz", path)
    if size not in IMAGE_SIZES:
        raise ModelFileError(path, f"image size {size} is not supported (only {IMAGE_SIZES})")
    return _network_config(
        hp,
        path,
        "architecture",
        image_size=size,
        n_layers=_int(hp, "n_layers", path),
        normalization="instance" if hp.get("instance_norm") else "batch",
    )


def _classifier_config(hp: dict[str, Any], size: int, path: Path) -> NetworkConfig:
    if hp.get("img_sz") != size:
        raise ModelFileError(path, f"the classifier reads {hp.get('img_sz')}px images, the model {size}px")
    hidden = _int(hp, "hid_dim", path)
    return _network_config(
        hp, path, "classifier architecture", image_size=size, n_layers=int(math.log2(size)), hidden=hidden
    )


def _network_config(hp: dict[str, Any], path: Path, what: str, **architecture: Any) -> NetworkConfig:
    """A config with the official channel counts and ``architecture``; one line if ours cannot express it."""
    try:
        return NetworkConfig(
            first_channels=_int(hp, "init_fm", path), max_channels=_int(hp, "max_fm", path), **architecture
        )
    except ValueError as e:
        raise ModelFileError(path, f"unsupported {what}: {e}") from e


def _copy_blocks(ours: torch.nn.Sequential, theirs: Any, path: Path, what: str) -> None:
    """Copy a ModuleList of Sequential blocks into ours, layer by layer of the same kind."""
    blocks = theirs.children() if isinstance(theirs, Recorded) else []
    if len(blocks) != len(ours):
        raise ModelFileError(path, f"{what} has {len(blocks)} blocks, the architecture needs {len(ours)}")
    for i, (block, recorded) in enumerate(zip(ours, blocks, strict=True)):
        _copy_layers(list(block), recorded.children(), path, f"{what}.{i}")


def _copy_layers(ours: list[torch.nn.Module], theirs: list[Recorded], path: Path, where: str) -> None:
    with_state = [m for m in ours if type(m).__name__ not in _STATELESS]
    recorded = [r for r in theirs if r.class_name not in _STATELESS]
    kinds = [type(m).__name__ for m in with_state]
    if [r.class_name for r in recorded] != kinds:
        raise ModelFileError(
            path, f"{where}: layers {[r.class_name for r in recorded]} where {kinds} were expected"
        )
    for module, record in zip(with_state, recorded, strict=True):
        _copy_tensors(module, record, path, f"{where}.{record.class_name}")


def _copy_tensors(module: torch.nn.Module, record: Recorded, path: Path, where: str) -> None:
    tensors = record.tensors()
    if type(module).__name__ == "InstanceNorm2d" and "running_mean" in tensors:
        raise ModelFileError(path, f"{where}: instance normalisation with running statistics (torch 0.3)")
    state = module.state_dict()
    for name, target in state.items():
        source = tensors.get(name)
        if source is None:
            if name == "bias" or name == "num_batches_tracked":  # official ConvTranspose2d has none
                state[name] = torch.zeros_like(target)
                continue
            raise ModelFileError(path, f"{where}: no {name}")
        if tuple(source.shape) != tuple(target.shape):
            raise ModelFileError(
                path, f"{where}.{name} has shape {list(source.shape)}, expected {list(target.shape)}"
            )
        if not torch.isfinite(source.float()).all():
            raise ModelFileError(path, f"{where}.{name} holds NaN or infinite values")
        state[name] = source.to(target.dtype)
    module.load_state_dict(state)


def _copy_classifier(model: FaderModel, record: Recorded, attributes: list[str], path: Path) -> None:
    modules = record.attrs.get("_modules") or {}
    _copy_blocks(model.classifier.layers, modules.get("conv_layers"), path, "conv_layers")
    proj = modules.get("proj_layers")
    linears = [r for r in (proj.children() if isinstance(proj, Recorded) else []) if r.class_name == "Linear"]
    ours = [m for m in model.classifier.proj if isinstance(m, torch.nn.Linear)]
    if len(linears) != 2:
        raise ModelFileError(path, "proj_layers: expected two Linear layers")
    _copy_tensors(ours[0], linears[0], path, "proj_layers.0")
    # their last layer: two logits per binary attribute; ours: one, their difference
    offsets, start = {}, 0
    for name, categories in _attribute_entries(record.attrs.get("attr"), path):
        offsets[name] = (start, categories)
        start += categories
    weight, bias = linears[1].tensors().get("weight"), linears[1].tensors().get("bias")
    if weight is None or bias is None or weight.shape[0] != start:
        raise ModelFileError(path, "proj_layers: the last layer does not match the classifier's attributes")
    rows = []
    for name in attributes:
        if name not in offsets:
            raise ModelFileError(path, f"the classifier does not predict {name}")
        first, categories = offsets[name]
        if categories != 2:
            raise ModelFileError(path, f"the classifier's {name} has {categories} categories, not 2")
        rows.append(first)
    index = torch.tensor(rows)
    ours[1].load_state_dict(
        {"weight": weight[index + 1] - weight[index], "bias": bias[index + 1] - bias[index]}
    )


def _plain(value: Any) -> Any:
    """A JSON-ready copy of a hyper-parameter (tuples become lists; anything else becomes text)."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return repr(value)
