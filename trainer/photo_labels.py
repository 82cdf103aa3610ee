"""Complete a photo folder's labels with a classifier's confident predictions (``fader-train label``).

UTKFace, for example, has real gender and age labels but no Smiling: a
classifier trained on other people's real Smiling labels (``fader-train
classifier``, which learns from whatever labels each source has) fills in the
blanks where it is confident (``threshold``) and only for attributes whose
balanced accuracy on its own held-out images reaches
:data:`~trainer.labels.MIN_BALANCED_ACCURACY`. Given labels are never changed.
The new folder holds the completed ``labels.csv`` (every original column kept),
a link to the photos and ``label_provenance.json``, which counts every label
by source and records how often the classifier agrees with the given labels.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fader_studio.core.errors import DatasetError
from fader_studio.core.modelfile import load_model
from fader_studio.core.template import template_name
from trainer.cache import prepare
from trainer.celeba import new_dataset_folder
from trainer.classifier import accuracy_figures, classifier_predictions
from trainer.data import FaceDataset
from trainer.evaluation import classifier_for
from trainer.labels import MIN_BALANCED_ACCURACY, PROVENANCE_FILE, link_folder
from trainer.photos import FILE_COLUMN, _read_csv, open_photos, write_labels


def label_photos(
    source: Path,
    out: Path,
    classifier_path: Path,
    *,
    attributes: Sequence[str] | None = None,
    threshold: float = 0.9,
    min_accuracy: float = MIN_BALANCED_ACCURACY,
    device: torch.device | str = "cpu",
    cache_dir: Path | None = None,
    workers: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Write the photo folder ``source`` with completed labels into the new folder ``out``.

    The blanks of ``attributes`` (default: every attribute of the classifier)
    are filled; other columns are copied as they are.
    A blank is filled where the classifier is at least ``threshold`` sure, for
    attributes whose held-out balanced accuracy (in its metadata) reaches
    ``min_accuracy``. Returns the provenance record. Raises :class:`DatasetError` for unusable
    input; ``out`` is made whole or not at all.
    """
    photos = open_photos(source)
    model = load_model(classifier_path)
    if model.classifier is None:
        raise DatasetError(classifier_path, "not a classifier (train one with `fader-train classifier`)")
    template = template_name(model.template, model.image_size)
    data = prepare(
        photos, model.image_size, template=template, root=cache_dir, workers=workers, on_progress=on_progress
    )
    attributes = list(model.attribute_names if attributes is None else attributes)
    missing = [a for a in attributes if a not in model.attribute_names]
    if missing:
        raise DatasetError(classifier_path, f"the classifier does not predict {', '.join(missing)}")
    dataset = FaceDataset(data, "all", data.attribute_names, unknown="all")  # every photo with a face
    classifier = classifier_for(model, attributes, model.image_size).to(device)
    positions = np.arange(len(dataset))
    probabilities, _ = classifier_predictions(classifier, dataset, positions, torch.device(device))
    metrics = (model.training or {}).get("metrics", {})
    # a classifier's own held-out balanced accuracy; a Fader model's classifier has its validation accuracy
    held_out = metrics.get("balanced_accuracy") or metrics.get("classifier_accuracy") or {}
    names = data.names[dataset.indices].tolist()
    predicted = dict(zip(names, probabilities, strict=True))

    header, rows = _read_csv(photos.path)
    given = {a: header.index(a) for a in attributes if a in header}
    header_out = header + [a for a in attributes if a not in given]
    files = header.index(FILE_COLUMN)
    counts = {a: dict.fromkeys(("given", "predicted", "unknown"), 0) for a in attributes}
    trusted = {a: (held_out.get(a) or 0.0) >= min_accuracy for a in attributes}
    table = []
    for _, fields in rows:
        values = dict(zip(header, fields, strict=True))
        p = predicted.get(fields[files])
        for i, a in enumerate(attributes):
            if values.get(a, ""):
                counts[a]["given"] += 1
            elif p is not None and trusted[a] and max(p[i], 1 - p[i]) >= threshold:
                values[a] = "1" if p[i] > 0.5 else "0"
                counts[a]["predicted"] += 1
            else:
                values[a] = ""
                counts[a]["unknown"] += 1
        table.append([values[c] for c in header_out])

    given_labels = dataset.labels.numpy()  # the folder's own attributes, NaN where blank
    labels = np.full((len(names), len(attributes)), np.nan, np.float32)
    for i, a in enumerate(attributes):
        if a in data.attribute_names:
            labels[:, i] = given_labels[:, data.attribute_names.index(a)]
    agreement = accuracy_figures(probabilities, labels, attributes)
    record = {
        "kind": "photo folder labels completed by a classifier (fader-train label)",
        "source": str(photos.path),
        "photos": {"listed": len(rows), "with_a_face": len(names)},
        "faces_by_given_label": {  # of the folder's own attributes: photos with a face, by label
            a: {"1": int((given_labels[:, i] == 1).sum()), "0": int((given_labels[:, i] == 0).sum())}
            for i, a in enumerate(data.attribute_names)
        },
        "threshold": threshold,
        "min_balanced_accuracy": min_accuracy,
        "classifier": {
            "file": str(classifier_path),
            "trained_on": (model.training or {}).get("data"),
            "held_out_balanced_accuracy": held_out,
            "agreement_with_given_labels": agreement,
        },
        "attributes": {a: {"images": counts[a], "predictions_used": trusted[a]} for a in attributes},
    }
    with new_dataset_folder(out) as folder:
        write_labels(folder, header_out, table)
        link_folder(Path(str(photos.images)), folder / "images")
        (folder / PROVENANCE_FILE).write_text(json.dumps(record, indent=2))
    return record
