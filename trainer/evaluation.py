"""How good a Fader model is: reconstruction error, swap accuracy, and a grid of samples.

- Reconstruction: mean squared error of ``D(E(x), y)`` against ``x`` in
  [-1, 1], and the same as PSNR (peak-to-peak 2).
- Swap accuracy (the paper's model selection): flip one attribute, decode,
  and ask the attribute classifier whether the flip took; per attribute.
- Samples: rows of faces, with the original, the reconstruction and each
  attribute swept across its slider range.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont
from torch import nn

from fader_studio.core.attributes import AttributeSpec
from fader_studio.core.engine import to_uint8
from fader_studio.core.errors import FaderStudioError
from fader_studio.core.imageio import save_image
from fader_studio.core.modelfile import FaderModel
from fader_studio.core.network import Classifier, Decoder, Encoder
from trainer.cache import PreparedData
from trainer.celeba import DatasetWarning
from trainer.data import FaceDataset

#: Images evaluated at once.
EVAL_BATCH = 50
#: Values shown for each attribute in a sample grid.
SWEEP_STEPS = 5
#: Faces in the sample grid of ``fader-train evaluate``.
SAMPLE_FACES = 6


def spread(items: np.ndarray, count: int) -> np.ndarray:
    """Up to ``count`` of ``items``, evenly spaced from the first to the last."""
    picks = np.linspace(0, len(items) - 1, min(count, len(items))).round().astype(np.int64)
    return items[np.unique(picks)]


def evaluation_images(
    data: PreparedData, attributes: Sequence[str], count: int, split: str = "val", *, unknown: str = "drop"
) -> tuple[FaceDataset, np.ndarray]:
    """Up to ``count`` images of ``split``, spread over it, as a dataset and positions in it.

    Without images in ``split``, the test split is used, then the training
    split, with a warning (a dataset without a partition file may have no
    validation images).
    """
    for candidate in dict.fromkeys((split, "val", "test", "train")):
        if len(data.split_indices(candidate)):
            if candidate != split:
                warnings.warn(
                    f"the dataset has no {split} images; evaluating on {candidate} images", DatasetWarning, 2
                )
            dataset = FaceDataset(data, candidate, attributes, unknown=unknown)
            return dataset, spread(np.arange(len(dataset)), count)
    raise ValueError("the dataset has no usable images")


def reframe(
    images: torch.Tensor, template: Sequence[Sequence[float]], target: Sequence[Sequence[float]], size: int
) -> torch.Tensor:
    """``(N, 3, S, S)`` crops aligned to ``template`` warped to ``size``-px crops aligned to ``target``.

    Lets a judge read another framing's crops (a CelebA-framed model judged by
    a face-tight classifier): the similarity between the two templates, borders
    reflected as the aligner does.
    """
    from fader_studio.core.faces import similarity_matrix

    inverse = similarity_matrix(np.asarray(target), np.asarray(template))  # target pixel → source pixel
    rotation, shift = inverse[:, :2], inverse[:, 2]
    source = images.shape[-1]
    theta = np.empty((2, 3))
    theta[:, :2] = rotation * size / source
    theta[:, 2] = (rotation @ np.full(2, size - 1.0) + 2 * shift + 1) / source - 1
    theta = torch.as_tensor(theta, dtype=images.dtype, device=images.device).expand(len(images), 2, 3)
    grid = F.affine_grid(theta, [len(images), 3, size, size], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


class EvalMode:
    """Put modules in inference mode and gradients off; restore their modes afterwards."""

    def __init__(self, *modules: nn.Module | None) -> None:
        self.modules = [m for m in modules if m is not None]

    def __enter__(self) -> None:
        self.modes = [m.training for m in self.modules]
        self.grad = torch.is_grad_enabled()
        torch.set_grad_enabled(False)
        for m in self.modules:
            m.eval()

    def __exit__(self, *exc: object) -> None:
        torch.set_grad_enabled(self.grad)
        for m, mode in zip(self.modules, self.modes, strict=True):
            m.train(mode)


def evaluate(
    encoder: Encoder,
    decoder: Decoder,
    classifier: Classifier | None,
    dataset: FaceDataset,
    positions: np.ndarray,
    device: torch.device,
    *,
    own: Classifier | None = None,
    to_judge: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> dict:
    """Reconstruction MSE and PSNR, and (with a classifier) swap and classifier accuracy per attribute.

    ``classifier`` (the judge) and ``own`` (the model's classifier, optional)
    must predict ``dataset.attributes`` in that order. A label the dataset does
    not know (NaN) is given to the decoder as ``own``'s estimate, as the app
    sets a fader's starting value (0.5 without ``own``); accuracies count known
    labels only: attribute *i*'s swap accuracy is the share of the images that
    know label *i* whose decode with label *i* flipped the judge sees flipped.
    ``to_judge`` maps crops to the judge's framing (:func:`reframe`) when it differs.
    """
    judged = classifier
    if classifier is not None and to_judge is not None:
        judged = lambda images: classifier(to_judge(images))  # noqa: E731
    names = dataset.attributes
    squared_error = 0.0
    swaps = torch.zeros(len(names), dtype=torch.long)
    recognised = torch.zeros(len(names), dtype=torch.long)
    own_right = torch.zeros(len(names), dtype=torch.long)
    counted = torch.zeros(len(names), dtype=torch.long)
    with EvalMode(encoder, decoder, classifier, own):
        for start in range(0, len(positions), EVAL_BATCH):
            images, labels = dataset.__getitems__(positions[start : start + EVAL_BATCH])
            images, labels = images.to(device), labels.to(device)
            known = ~labels.isnan()
            estimate = None if own is None else own(images) > 0
            guess = torch.full_like(labels, 0.5) if estimate is None else estimate.float()
            values = torch.where(known, labels, guess)
            latent = encoder(images)
            squared_error += float(((decoder(latent, values) - images) ** 2).mean(dim=(1, 2, 3)).sum())
            counted += known.sum(0).cpu()
            if estimate is not None:
                own_right += ((estimate == (labels > 0.5)) & known).sum(0).cpu()
            if classifier is None:
                continue
            recognised += (((judged(images) > 0) == (labels > 0.5)) & known).sum(0).cpu()
            for i in range(len(names)):
                swapped = values.clone()
                swapped[:, i] = 1 - swapped[:, i]
                took = (judged(decoder(latent, swapped))[:, i] > 0) == (swapped[:, i] > 0.5)
                swaps[i] += int((took & known[:, i]).sum())
    count = len(positions)
    mse = squared_error / count
    result: dict = {
        "images": count,
        "split": dataset.split,
        "recon_mse": round(mse, 6),
        "psnr_db": round(10 * math.log10(4 / mse), 3) if mse > 0 else None,
    }

    def share(hits: torch.Tensor) -> dict[str, float | None]:
        return {
            n: round(int(h) / int(k), 4) if k else None for n, h, k in zip(names, hits, counted, strict=True)
        }

    if not bool((counted == count).all()):
        result["known_labels"] = {n: int(k) for n, k in zip(names, counted, strict=True)}
    if own is not None:
        result["own_classifier_accuracy"] = share(own_right)
    if classifier is not None:
        result["swap_accuracy"] = share(swaps)
        result["mean_swap_accuracy"] = round(float(swaps.sum()) / max(int(counted.sum()), 1), 4)
        result["classifier_accuracy"] = share(recognised)
    return result


def sample_grid(
    encoder: Encoder,
    decoder: Decoder,
    dataset: FaceDataset,
    positions: np.ndarray,
    specs: Sequence[AttributeSpec],
    device: torch.device,
) -> np.ndarray:
    """An RGB uint8 image: one row per face of ``positions``.

    Columns: the face, its reconstruction, then for each attribute
    :data:`SWEEP_STEPS` values from its slider minimum to maximum (the other
    attributes at the face's own labels). Groups are separated by white gaps.
    """
    images, labels = dataset.__getitems__(positions)
    images, labels = images.to(device), labels.nan_to_num(0.5).to(device)
    gap = max(2, images.shape[-1] // 32)
    with EvalMode(encoder, decoder):
        latent = encoder(images)
        groups = [[images], [decoder(latent, labels)]]
        for i, spec in enumerate(specs):
            column = []
            for value in np.linspace(spec.min, spec.max, SWEEP_STEPS):
                values = labels.clone()
                values[:, i] = float(value)
                column.append(decoder(latent, values))
            groups.append(column)
    rows = []
    for face in range(len(images)):
        pieces = []
        for group in groups:
            pieces += [to_uint8(g[face : face + 1])[0] for g in group]
            pieces.append(np.full((images.shape[-1], gap, 3), 255, np.uint8))
        rows.append(np.concatenate(pieces[:-1], axis=1))
        rows.append(np.full((gap, rows[-1].shape[1], 3), 255, np.uint8))
    side = images.shape[-1]
    titles = ["input", "recon"] + [f"{s.label}: {s.min:g} to {s.max:g}" for s in specs]
    widths = [side, side] + [SWEEP_STEPS * side for _ in specs]
    return np.concatenate([_header(titles, widths, gap, rows[0].shape[1]), *rows[:-1]], axis=0)


def _header(titles: list[str], widths: list[int], gap: int, width: int) -> np.ndarray:
    """A white strip with each column group's title above it."""
    size = 12 if widths[0] < 96 else 16
    strip = Image.new("RGB", (width, size + 8), "white")
    draw = ImageDraw.Draw(strip)
    font = ImageFont.load_default(size)
    x = 0
    for title, span in zip(titles, widths, strict=True):
        text = title
        while text and draw.textlength(text, font=font) > span - 4:
            text = text[:-1]
        draw.text((x + 2, 4), text, fill="black", font=font)
        x += span + gap
    return np.asarray(strip)


def evaluate_model(
    model: FaderModel,
    data: PreparedData,
    *,
    classifier: FaderModel | None = None,
    split: str = "test",
    images: int = 2000,
    samples: Path | None = None,
    device: torch.device,
) -> dict:
    """``fader-train evaluate``: the metrics of ``model`` on up to ``images`` images of ``split``.

    Swap accuracy uses ``classifier`` if given, else the model's own (none
    without either). ``samples`` gets a PNG sample grid.
    """
    if model.encoder is None or model.decoder is None:
        raise FaderStudioError(
            "this model is a classifier only; evaluate a model with an encoder and decoder"
        )
    if model.image_size != data.size:
        raise FaderStudioError(f"the model reads {model.image_size}px images, the data is {data.size}px")
    names = model.attribute_names
    judge = classifier if classifier is not None else (model if model.classifier is not None else None)
    clf = None if judge is None else classifier_for(judge, names, judge.image_size).to(device)
    own = None if model.classifier is None else classifier_for(model, names, model.image_size).to(device)
    to_judge = None
    if judge is not None and (judge.template != model.template or judge.image_size != model.image_size):
        to_judge = functools.partial(
            reframe, template=model.template, target=judge.template, size=judge.image_size
        )
    dataset, positions = evaluation_images(data, names, images, split, unknown="keep")
    options = {"own": own, "to_judge": to_judge}
    metrics = evaluate(model.encoder, model.decoder, clf, dataset, positions, device, **options)
    if len(data.info.get("sources", [])) > 1:
        metrics["by_source"] = {}
        for index, source in enumerate(data.info["sources"]):
            mine = positions[dataset.sources[positions] == index]
            if len(mine):
                figures = evaluate(model.encoder, model.decoder, clf, dataset, mine, device, **options)
                metrics["by_source"][source["path"]] = figures
    if samples is not None:
        grid = sample_grid(
            model.encoder, model.decoder, dataset, positions[:SAMPLE_FACES], model.attributes, device
        )
        save_image(grid, samples)
        metrics["samples"] = str(samples)
    return metrics


def classifier_for(model: FaderModel, attributes: Sequence[str], image_size: int) -> Classifier:
    """``model``'s classifier, reduced to ``attributes`` in that order (a copy on the CPU).

    Raises :class:`FaderStudioError` if the model has no classifier, lacks
    one of the attributes or reads another image size.
    """
    if model.classifier is None:
        raise FaderStudioError("the model has no classifier")
    missing = [a for a in attributes if a not in model.attribute_names]
    if missing:
        raise FaderStudioError(f"the classifier does not predict {', '.join(missing)}")
    if model.image_size != image_size:
        raise FaderStudioError(f"the classifier reads {model.image_size}px images, not {image_size}px")
    rows = [model.attribute_names.index(a) for a in attributes]
    classifier = Classifier(model.classifier_config, len(attributes))
    state = model.classifier.state_dict()
    last = [k for k in state if k.startswith("proj.")][-2:]  # the final layer's weight and bias
    for key in last:
        state[key] = state[key][rows]
    classifier.load_state_dict(state)
    return classifier.eval()
