"""Complete the labels of a partly labelled CelebA sample (``fader-train label``).

A sample such as ``shared/celeba-sample`` has every image's identity
(``identity_CelebA.txt``) but the official attributes of only some images.
This writes a new CelebA-format folder whose labels are, per attribute:

- **official** for the images that have them;
- **propagated** (identity attributes such as ``Male`` and ``Young``) to every
  image of a person whose labelled images all agree;
- **predicted** by a classifier trained on the official labels of the
  training identities, where it is confident: per image for per-image
  attributes (``Smiling``), and from the mean over a person's images for
  identity attributes of people without (agreeing) labels.

Images left with any attribute unknown are not listed. People are split
between train, val and test, so held-out figures never see a trained face;
the classifier's held-out accuracy (on the official labels of val and test
people) is measured before its predictions are used. Everything is written to
``label_provenance.json`` in the folder, which the trainer copies into the
models it makes. The images themselves are linked (copied where links are
not allowed), never changed.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fader_studio.core.errors import DatasetError
from fader_studio.core.modelfile import FaderModel, save_model
from fader_studio.core.network import NetworkConfig
from trainer.cache import PreparedData, prepare
from trainer.celeba import (
    ATTRIBUTE_FILE,
    IMAGE_FOLDER,
    IMAGE_ZIP,
    PARTITION_FILE,
    SPLITS,
    DatasetWarning,
    new_dataset_folder,
    open_celeba,
    write_attributes,
    write_partition,
)
from trainer.classifier import train_classifier
from trainer.data import FaceDataset
from trainer.evaluation import EVAL_BATCH, EvalMode

IDENTITY_FILE = "identity_CelebA.txt"
PROVENANCE_FILE = "label_provenance.json"
CLASSIFIER_FILE = "label-classifier.fader"
#: Attributes that belong to a person rather than to one photo of them.
IDENTITY_ATTRIBUTES = ("Male", "Young")
#: Predictions of an attribute are used only if the classifier's balanced accuracy on held-out
#: people reaches this (a classifier that calls nearly everyone young is no labeller).
MIN_BALANCED_ACCURACY = 0.8
#: People per split: train, val, test (fractions of all identities).
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class LabelSettings:
    """How ``fader-train label`` completes the labels."""

    attributes: tuple[str, ...] = ("Male", "Young", "Smiling")
    image_size: int = 128
    steps: int = 1500
    threshold: float = 0.9
    seed: int = 0
    min_accuracy: float = MIN_BALANCED_ACCURACY


def read_provenance(folder: Path) -> dict[str, Any] | None:
    """The ``label_provenance.json`` of a dataset folder made by ``fader-train label``, if any.

    A file that is not a JSON object is ignored with a :class:`DatasetWarning`.
    """
    path = folder / PROVENANCE_FILE
    if not path.is_file():
        return None
    try:
        provenance = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        provenance = None
    if not isinstance(provenance, dict):
        warnings.warn(f"{path}: not a label record; ignoring it", DatasetWarning, stacklevel=2)
        return None
    return provenance


def label_provenance(datasets: Sequence[Any]) -> dict[str, Any] | None:
    """Where the labels of ``datasets`` (CelebA-format or photo folders) come from, for a model's metadata.

    One dataset: its ``label_provenance.json`` (``None`` without one). Several:
    each one's record (or its labels counted per attribute as given in its
    files), keyed by its path.
    """
    records = []
    for dataset in datasets:
        folder = dataset.path.parent if dataset.path.is_file() else dataset.path
        if hasattr(dataset, "layout"):
            folder = dataset.layout.attributes.parent
        records.append(read_provenance(folder))
    if len(datasets) == 1:
        return records[0]
    sources = {}
    for dataset, record in zip(datasets, records, strict=True):
        if record is None:
            known = dataset.known.sum(0)
            record = {
                "kind": "labels as given in the files",
                "known": {a: int(k) for a, k in zip(dataset.attribute_names, known, strict=True)},
            }
        sources[str(dataset.path)] = record
    return {"kind": "combined datasets", "sources": sources}


def parse_identities(path: Path) -> dict[str, int]:
    """Parse ``identity_CelebA.txt``: image file name → person number."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()  # a byte-order mark is not a name
    except OSError as e:
        raise DatasetError(path, f"cannot read ({e.strerror or e})") from None
    except UnicodeDecodeError:
        raise DatasetError(path, "not a text file") from None
    table: dict[str, int] = {}
    for number, line in enumerate(lines, 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or not (fields[1].isascii() and fields[1].isdigit() and len(fields[1]) <= 9):
            raise DatasetError(path, f"expected 'IMAGE PERSON' (a number), got {line.strip()!r:.60}", number)
        if fields[0] in table:
            raise DatasetError(path, f"{fields[0]} is listed twice", number)
        table[fields[0]] = int(fields[1])
    if not table:
        raise DatasetError(path, "no images listed")
    return table


def split_people(people: Sequence[int], seed: int) -> dict[int, int]:
    """Person → split code (0 train, 1 val, 2 test), :data:`SPLIT_FRACTIONS` of the people each."""
    unique = np.array(sorted(set(people)))
    order = np.random.default_rng(seed).permutation(len(unique))
    train_end = round(len(unique) * SPLIT_FRACTIONS[0])
    val_end = train_end + round(len(unique) * SPLIT_FRACTIONS[1])
    codes = np.zeros(len(unique), dtype=np.int8)
    codes[order[train_end:val_end]] = SPLITS["val"]
    codes[order[val_end:]] = SPLITS["test"]
    return dict(zip(unique.tolist(), codes.tolist(), strict=True))


def link_images(source: Path, folder: Path) -> None:
    """Make ``folder`` show the images of ``source`` (a folder or zip): a link, else a copy."""
    link_folder(source, folder / (IMAGE_ZIP if source.is_file() else IMAGE_FOLDER))


def link_folder(source: Path, target: Path) -> None:
    """Make ``target`` show ``source`` (a folder or file): a link, else a copy."""
    if target.exists() or target.is_symlink():
        return
    try:
        os.symlink(source.resolve(), target, target_is_directory=source.is_dir())
    except OSError:  # Windows without the right to make links
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)


def _predict(classifier: torch.nn.Module, dataset: FaceDataset, device: torch.device) -> np.ndarray:
    """Probabilities ``(N, n)`` of every image of ``dataset``."""
    parts = []
    with EvalMode(classifier):
        for start in range(0, len(dataset), EVAL_BATCH):
            images, _ = dataset.__getitems__(np.arange(start, min(start + EVAL_BATCH, len(dataset))))
            parts.append(torch.sigmoid(classifier(images.to(device))).cpu().numpy())
    return np.concatenate(parts)


def _held_out_figures(probabilities: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, Any]:
    """Accuracy of all predictions and of the confident ones, with coverage, for one attribute."""
    guess = probabilities > 0.5
    sure = np.maximum(probabilities, 1 - probabilities) >= threshold
    right = guess == labels
    positives, negatives = labels, ~labels
    return {
        "images": int(len(labels)),
        "accuracy": round(float(right.mean()), 4),
        "balanced_accuracy": round(
            float(
                (right[positives].mean() if positives.any() else 1.0) / 2
                + (right[negatives].mean() if negatives.any() else 1.0) / 2
            ),
            4,
        ),
        "confident_share": round(float(sure.mean()), 4),
        "confident_accuracy": round(float(right[sure].mean()), 4) if sure.any() else None,
    }


def _prepared(folder: Path, size: int, cache_dir: Path | None, workers: int | None) -> PreparedData:
    return prepare(open_celeba(folder), size, root=cache_dir, workers=workers)


@dataclass(frozen=True)
class _Sample:
    """A partly labelled sample: its images, people, official labels and split."""

    source: Path
    images: Path  # the image folder or zip
    identities: Path
    person_of: dict[str, int]  # every image present → person
    known: dict[str, np.ndarray]  # officially labelled image → (n,) bool
    split_of: dict[str, int]  # every image present → split code

    @property
    def people(self) -> dict[int, int]:
        """Person → split code."""
        return {self.person_of[n]: code for n, code in self.split_of.items()}


def _read_sample(source: Path, attributes: Sequence[str], identities: Path | None, seed: int) -> _Sample:
    with warnings.catch_warnings():  # the people are split here, not by image number
        warnings.filterwarnings("ignore", f"no {PARTITION_FILE}", DatasetWarning)
        official = open_celeba(source)
    missing = [a for a in attributes if a not in official.attribute_names]
    if missing:
        raise DatasetError(official.layout.attributes, f"no attribute {missing[0]!r}")
    identity_path = identities or official.layout.attributes.parent / IDENTITY_FILE
    if not identity_path.is_file():
        raise DatasetError(identity_path, "no identity file; give one with --identities")
    listed = parse_identities(identity_path)
    present = official.layout.images.list()
    person_of = {n: p for n, p in listed.items() if n in present}
    if not person_of:
        raise DatasetError(identity_path, f"none of the listed images is in {official.layout.images}")
    unknown = [n for n in official.names if n not in person_of]
    if unknown:
        raise DatasetError(identity_path, f"{unknown[0]} has labels but no identity")
    unlisted = sorted(set(present) - set(listed))
    if unlisted:
        warnings.warn(
            DatasetWarning(
                f"{identity_path}: {len(unlisted)} images of {official.layout.images} are not listed "
                f"(e.g. {unlisted[0]}); they are left out"
            ),
            stacklevel=2,
        )
    columns = [official.attribute_names.index(a) for a in attributes]
    people = split_people(list(person_of.values()), seed)
    return _Sample(
        source=source,
        images=Path(str(official.layout.images)),
        identities=identity_path,
        person_of=person_of,
        known={n: official.labels[i, columns] for i, n in enumerate(official.names)},
        split_of={n: people[p] for n, p in person_of.items()},
    )


@dataclass
class _Predictions:
    """The label classifier, its probabilities on held-out people's official labels, and on every image."""

    model: FaderModel
    held_out: tuple[np.ndarray, np.ndarray]  # (probabilities (m, n), labels (m, n) bool)
    every_image: dict[str, np.ndarray]  # image → (n,) probabilities
    trained_on: int


def _classify(
    sample: _Sample,
    settings: LabelSettings,
    work: Path,
    device: torch.device,
    cache_dir: Path | None,
    workers: int | None,
    on_step: Progress | None,
) -> _Predictions:
    """Train the label classifier on the training people's official labels; predict every image."""
    for sub in ("official", "all"):
        (work / sub).mkdir(parents=True, exist_ok=True)
        link_images(sample.images, work / sub)
        write_partition(work / sub / PARTITION_FILE, sample.split_of)
    write_attributes(
        work / "official" / ATTRIBUTE_FILE,
        settings.attributes,
        {n: v * 2 - 1 for n, v in sample.known.items()},
    )
    unlabelled = -np.ones(len(settings.attributes))
    write_attributes(
        work / "all" / ATTRIBUTE_FILE, settings.attributes, dict.fromkeys(sample.split_of, unlabelled)
    )
    labelled = _prepared(work / "official", settings.image_size, cache_dir, workers)
    if not len(labelled.split_indices("train")):
        raise DatasetError(sample.source, "no labelled image belongs to a training person")
    held_splits = [s for s in ("val", "test") if len(labelled.split_indices(s))]
    if not held_splits:
        raise DatasetError(sample.source, "no labelled image belongs to a held-out person")
    model = train_classifier(
        labelled,
        settings.attributes,
        NetworkConfig(image_size=settings.image_size),
        steps=settings.steps,
        seed=settings.seed,
        device=device,
        on_step=None if on_step is None else lambda step, total, loss: on_step(step, total),
    )
    classifier = model.classifier.to(device)
    held = [FaceDataset(labelled, split, settings.attributes) for split in held_splits]
    held_out = (
        np.concatenate([_predict(classifier, d, device) for d in held]),
        np.concatenate([d.labels.numpy() > 0.5 for d in held]),
    )
    everything = _prepared(work / "all", settings.image_size, cache_dir, workers)
    usable = everything.names[everything.split_indices("all")].tolist()
    every = _predict(classifier, FaceDataset(everything, "all", settings.attributes), device)
    return _Predictions(
        model=model.to("cpu"),
        held_out=held_out,
        every_image=dict(zip(usable, every, strict=True)),
        trained_on=len(labelled.split_indices("train")),
    )


def _person_values(
    sample: _Sample, column: int, predictions: _Predictions, trusted: bool, threshold: float
) -> tuple[dict[int, tuple[int, str]], str]:
    """Person → (value, source) for a person attribute, and how many labelled people agree."""
    votes: dict[int, set[bool]] = {}
    for name, values in sample.known.items():
        votes.setdefault(sample.person_of[name], set()).add(bool(values[column]))
    found = {person: (int(next(iter(v))), "propagated") for person, v in votes.items() if len(v) == 1}
    if trusted:
        means: dict[int, list[float]] = {}
        for name, p in predictions.every_image.items():
            means.setdefault(sample.person_of[name], []).append(float(p[column]))
        for person, ps in means.items():
            mean = float(np.mean(ps))
            if person not in found and max(mean, 1 - mean) >= threshold:
                found[person] = (int(mean > 0.5), "predicted")
    agreeing = sum(len(v) == 1 for v in votes.values())
    return found, f"{agreeing} of {len(votes)}"


def _complete(
    sample: _Sample,
    attribute: str,
    column: int,
    predictions: _Predictions,
    threshold: float,
    min_accuracy: float = MIN_BALANCED_ACCURACY,
) -> tuple[dict[str, int], dict[str, Any]]:
    """Every image's value of one attribute (-1 where unknown) and the record of where they came from."""
    figures = _held_out_figures(
        predictions.held_out[0][:, column], predictions.held_out[1][:, column], threshold
    )
    trusted = figures["balanced_accuracy"] >= min_accuracy
    per_person = attribute in IDENTITY_ATTRIBUTES
    if per_person:
        by_person, agreement = _person_values(sample, column, predictions, trusted, threshold)
    counts = dict.fromkeys(("official", "propagated", "predicted", "unknown"), 0)
    values: dict[str, int] = {}
    for name, p in predictions.every_image.items():
        if name in sample.known:
            value, kind = int(sample.known[name][column]), "official"
        elif per_person:
            value, kind = by_person.get(sample.person_of[name], (-1, "unknown"))
        elif trusted and max(p[column], 1 - p[column]) >= threshold:
            value, kind = int(p[column] > 0.5), "predicted"
        else:
            value, kind = -1, "unknown"
        counts[kind] += 1
        values[name] = value
    entry: dict[str, Any] = {
        "level": "person" if per_person else "image",
        "images": counts,
        "classifier_held_out": figures,
        "predictions_used": trusted,
    }
    if per_person:
        entry["labelled_people_agreeing"] = agreement
        entry["predicted_from"] = "the mean of the classifier's probabilities over the person's images"
    return values, entry


def label_sample(
    source: Path,
    out: Path,
    settings: LabelSettings,
    *,
    identities: Path | None = None,
    device: torch.device | str = "cpu",
    cache_dir: Path | None = None,
    workers: int | None = None,
    on_progress: Progress | None = None,
) -> dict[str, Any]:
    """Write the completed dataset into the new folder ``out``; return its provenance.

    ``source`` is a CelebA-format folder whose ``list_attr_celeba.txt`` labels
    some images and whose ``identity_CelebA.txt`` (or ``identities``) names
    the person in every image. ``on_progress(done, total)`` follows the
    classifier's training. Raises :class:`DatasetError` for unusable input;
    ``out`` is made whole or not at all (see :func:`new_dataset_folder`).
    """
    sample = _read_sample(source, settings.attributes, identities, settings.seed)
    with new_dataset_folder(out) as folder:
        work = folder / ".work"
        predictions = _classify(sample, settings, work, torch.device(device), cache_dir, workers, on_progress)
        columns, provenance = [], {}
        for column, attribute in enumerate(settings.attributes):
            values, provenance[attribute] = _complete(
                sample, attribute, column, predictions, settings.threshold, settings.min_accuracy
            )
            columns.append(values)
        rows = {
            n: np.array([c[n] for c in columns]) * 2 - 1
            for n in predictions.every_image
            if min(c[n] for c in columns) >= 0
        }
        if not rows:
            raise DatasetError(source, "no image has every attribute known; lower --threshold")
        link_images(sample.images, folder)
        write_attributes(folder / ATTRIBUTE_FILE, settings.attributes, rows)
        write_partition(folder / PARTITION_FILE, {n: sample.split_of[n] for n in rows})
        shutil.copyfile(sample.identities, folder / IDENTITY_FILE)
        save_model(predictions.model, folder / CLASSIFIER_FILE)
        listed = np.array([sample.split_of[n] for n in rows])
        people = np.array(list(sample.people.values()))
        result = {
            "kind": "completed CelebA labels (fader-train label)",
            "source": str(source),
            "images": {
                "listed": len(rows),
                "left_out": len(sample.person_of) - len(rows),
                "with_official_labels": len(sample.known),
            },
            "split": {
                "by": "person",
                "people": {s: int((people == code).sum()) for s, code in SPLITS.items()},
                "images": {s: int((listed == code).sum()) for s, code in SPLITS.items()},
            },
            "positives": {
                a: int(sum(r[i] > 0 for r in rows.values())) for i, a in enumerate(settings.attributes)
            },
            "threshold": settings.threshold,
            "classifier": {
                "file": CLASSIFIER_FILE,
                "image_size": settings.image_size,
                "steps": settings.steps,
                "trained_on": f"{predictions.trained_on} officially labelled images of training people",
            },
            "attributes": provenance,
        }
        (folder / PROVENANCE_FILE).write_text(json.dumps(result, indent=2))
        shutil.rmtree(work)
    return result
