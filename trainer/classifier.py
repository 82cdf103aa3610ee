"""The attribute classifier: trained on the same crops, stored in ``.fader`` files.

It measures swap accuracy while a Fader model trains, and in the app it
estimates each fader's starting value for a new photo (a user's photo has no
labels). A classifier-only ``.fader`` file holds just it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from fader_studio.core.errors import TrainingError
from fader_studio.core.modelfile import FaderModel
from fader_studio.core.network import Classifier, NetworkConfig
from trainer.cache import PreparedData
from trainer.data import FaceDataset, check_learnable, flip_some, training_loader
from trainer.evaluation import EVAL_BATCH, EvalMode, evaluation_images

#: Test images used to report a classifier's accuracy.
TEST_IMAGES = 2000

StepCallback = Callable[[int, int, float], None]


def train_classifier(
    data: PreparedData,
    attributes: Sequence[str],
    network: NetworkConfig,
    *,
    steps: int,
    batch_size: int = 32,
    lr: float = 2e-4,
    seed: int = 0,
    device: torch.device | str = "cpu",
    on_step: StepCallback | None = None,
) -> FaderModel:
    """Train a classifier of ``attributes`` on the training split for ``steps`` batches.

    Adam (β1 0.5) on binary cross-entropy, with flips; the learning rate
    follows a cosine from ``lr`` down to zero at the last step. The result is a
    classifier-only model whose ``training`` metadata carries its accuracy
    per attribute on test images. ``on_step(step, steps, loss)`` is called
    after every step.
    """
    device = torch.device(device)
    dataset = FaceDataset(data, "train", attributes, unknown="keep")
    check_learnable(dataset)
    torch.manual_seed(seed)
    model = FaderModel.create(
        network,
        dataset.attribute_specs(),
        autoencoder=False,
        classifier_config=network,
        template=data.template,
    )
    classifier = model.classifier.to(device).train()
    optimizer = torch.optim.Adam(classifier.parameters(), lr=lr, betas=(0.5, 0.999))
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    batches = training_loader(dataset, min(batch_size, len(dataset)), seed=seed)
    for step, (images, labels) in enumerate(itertools.islice(batches, steps)):
        images = flip_some(images.to(device), seed, step)
        loss = masked_bce(classifier(images), labels.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        value = loss.item()
        if not math.isfinite(value):
            raise TrainingError(f"the classifier's training diverged at step {step + 1}; try a lower --lr")
        if on_step is not None:
            on_step(step + 1, steps, value)
    test, positions = evaluation_images(data, attributes, TEST_IMAGES, split="test", unknown="keep")
    model.training = {
        "kind": "classifier",
        "data": str(data.info.get("source", data.path)),
        "steps": steps,
        "batch_size": batch_size,
        "metrics": {"split": test.split, **classifier_accuracy(classifier, test, positions, device)},
    }
    return model.to("cpu").eval()


def masked_bce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy over the known labels only (an unknown label is NaN)."""
    known = ~labels.isnan()
    losses = F.binary_cross_entropy_with_logits(logits, labels.nan_to_num(0.5), reduction="none")
    return (losses * known).sum() / known.sum().clamp(min=1)


def classifier_predictions(
    classifier: Classifier, dataset: FaceDataset, positions: np.ndarray, device: torch.device
) -> tuple[np.ndarray, np.ndarray]:
    """The classifier's probabilities ``(m, n)`` on ``positions`` and their labels (NaN where unknown)."""
    probabilities, labels = [], []
    with EvalMode(classifier):
        for start in range(0, len(positions), EVAL_BATCH):
            images, batch = dataset.__getitems__(positions[start : start + EVAL_BATCH])
            probabilities.append(torch.sigmoid(classifier(images.to(device))).float().cpu().numpy())
            labels.append(batch.numpy())
    return np.concatenate(probabilities), np.concatenate(labels)


def accuracy_figures(
    probabilities: np.ndarray, labels: np.ndarray, names: Sequence[str]
) -> dict[str, dict[str, float | None]]:
    """Accuracy and balanced accuracy (the mean of the two classes' accuracies) per attribute.

    Only known labels count (NaN is unknown); ``None`` where an attribute has none.
    """
    accuracy: dict[str, float | None] = {}
    balanced: dict[str, float | None] = {}
    for i, name in enumerate(names):
        known = ~np.isnan(labels[:, i])
        truth, guess = labels[known, i] > 0.5, probabilities[known, i] > 0.5
        right = guess == truth
        accuracy[name] = round(float(right.mean()), 4) if known.any() else None
        classes = [right[truth].mean() for truth in (truth, ~truth) if truth.any()]
        balanced[name] = round(float(np.mean(classes)), 4) if classes else None
    return {"accuracy": accuracy, "balanced_accuracy": balanced}


def classifier_accuracy(
    classifier: Classifier, dataset: FaceDataset, positions: np.ndarray, device: torch.device
) -> dict[str, dict[str, float | None]]:
    """:func:`accuracy_figures` of the classifier on the known labels of ``positions``."""
    probabilities, labels = classifier_predictions(classifier, dataset, positions, device)
    return accuracy_figures(probabilities, labels, dataset.attributes)
