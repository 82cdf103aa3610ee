"""Fine-tuning: start from a trained model, add attributes, freeze parts of it.

Seed 004 (AttGAN fine-tuning with FreezeD) found that freezing the lower
layers and warming the learning rate up stabilise fine-tuning; ``--freeze``
and ``--warmup-steps`` give both.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from fader_studio.core.attributes import AttributeSpec
from fader_studio.core.errors import FaderStudioError
from fader_studio.core.modelfile import FaderModel
from trainer.config import check_freeze


def frozen_blocks(model: FaderModel, parts: Sequence[str]) -> list[nn.Module]:
    """The blocks of ``model`` that ``parts`` freeze.

    ``encoder-N`` is the first N encoder blocks (from the image side);
    ``decoder-N`` the first N decoder blocks (from the latent side).
    """
    check_freeze(parts, model.config.n_layers)
    blocks: list[nn.Module] = []
    for part in parts:
        name, _, count = part.partition("-")
        layers = getattr(model, name).layers
        blocks += list(layers)[: int(count) if count else len(layers)]
    return blocks


def expand_model(base: FaderModel, attributes: Sequence[AttributeSpec]) -> FaderModel:
    """A trainable copy of ``base`` that controls ``attributes`` (the base's, in any order, plus new ones).

    The encoder is copied as it is. In every decoder block, the input channels
    of the attribute codes are moved to their new places; a new attribute's
    channels start at zero, so the copy decodes exactly as ``base`` did until
    training teaches it the new attribute. Dropping an attribute is refused:
    the decoder's output depends on it.
    """
    names = [a.name for a in attributes]
    dropped = [n for n in base.attribute_names if n not in names]
    if dropped:
        raise FaderStudioError(
            f"the model to fine-tune also controls {', '.join(dropped)}; include it in --attrs "
            "(fine-tuning can add attributes, not remove them)"
        )
    if base.encoder is None or base.decoder is None:
        raise FaderStudioError("the model to fine-tune is a classifier only; it has no encoder and decoder")
    model = FaderModel.create(base.config, attributes, template=base.template)
    model.encoder.load_state_dict(base.encoder.state_dict())
    old_code = 2 * len(base.attributes)
    sources = [
        2 * base.attribute_names.index(n) + k if n in base.attribute_names else -1
        for n in names
        for k in (0, 1)
    ]
    new_state = model.decoder.state_dict()
    for key, tensor in base.decoder.state_dict().items():
        target = new_state[key]
        if tensor.shape == target.shape:
            target.copy_(tensor)
            continue
        # a ConvTranspose2d weight (in_channels, out, k, k): features first, then the attribute code
        features = tensor.shape[0] - old_code
        target.zero_()
        target[:features] = tensor[:features]
        for new_index, old_index in enumerate(sources):
            if old_index >= 0:
                target[features + new_index] = tensor[features + old_index]
    model.decoder.load_state_dict(new_state)
    return model


def freeze(blocks: Sequence[nn.Module]) -> None:
    """Stop training ``blocks``: no gradients, and normalisation statistics kept (eval mode)."""
    for block in blocks:
        block.requires_grad_(False)
        block.eval()


def trainable(module: nn.Module) -> list[torch.nn.Parameter]:
    """The parameters of ``module`` that training updates."""
    return [p for p in module.parameters() if p.requires_grad]
