"""A new attribute from examples: two folders of photos, with it and without it (``fader-train teach``).

Users who want a fader no model has (glasses, a beard, a hat, a look of
their own) have a folder of photos that show it and a folder that do not,
not a labels file. :func:`examples_dataset` turns the two folders into a
photo folder (:mod:`trainer.photos`) whose new attribute is 1 for the first
folder and 0 for the second; the model's own attributes are then filled in
by its classifier where it is confident (:func:`trainer.photo_labels.label_photos`)
and left unknown elsewhere (a Fader run leaves those photos out and counts
them). :func:`counting_faces` is what the app's dialog shows before a run.
"""

from __future__ import annotations

import re
import shutil
import warnings
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fader_studio.core.errors import DatasetError, FaderStudioError
from trainer.celeba import IMAGE_SUFFIXES, DatasetWarning, new_dataset_folder
from trainer.labels import link_folder, read_provenance
from trainer.photos import FILE_COLUMN, LABELS_FILE, write_labels

#: What a new attribute may be called: a letter, then letters, digits or underscores.
ATTRIBUTE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")
#: Fewer faces than this in either folder are refused: too few to learn from.
MIN_EXAMPLES = 20
#: Fewer than this are allowed with a warning.
FEW_EXAMPLES = 100
#: The two example folders' names inside the dataset.
WITH, WITHOUT = "with", "without"


def check_attribute_name(name: str, existing: Sequence[str]) -> None:
    """Refuse a new attribute name that is malformed or that the model already has."""
    if not ATTRIBUTE_NAME.fullmatch(name):
        raise FaderStudioError(
            f"{name!r:.50} cannot name an attribute: use letters, digits and _ (e.g. Eyeglasses, Red_Hat)"
        )
    if name in existing:
        raise FaderStudioError(f"the model already has a {name} fader; choose another name")


def photo_files(folder: Path) -> list[str]:
    """The photos in ``folder`` and its subfolders (``.jpg``, ``.jpeg``, ``.png``), relative, sorted."""
    if not folder.is_dir():
        raise DatasetError(folder, "not a folder")
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() and not p.name.startswith(".")
    )


@dataclass(frozen=True)
class FaceCount:
    """What the dialog says about one example folder: photos, faces found, and photos without one face."""

    photos: int
    faces: int
    unusable: list[str]


def counting_faces(folder: Path) -> Generator[tuple[int, int], None, FaceCount]:
    """Find the one face of each photo in ``folder`` as training would; yields (done, total) per photo.

    Returns (as the generator's value) the :class:`FaceCount`: a photo counts
    when :func:`~trainer.photos.usable_face` accepts it.
    """
    from fader_studio.core.faces import FaceDetector
    from trainer.celeba import BadImage
    from trainer.photos import usable_face

    names = photo_files(folder)
    detector = FaceDetector()
    unusable = []
    for done, name in enumerate(names, 1):
        try:
            usable_face((folder / name).read_bytes(), detector)
        except (BadImage, OSError):
            unusable.append(name)
        yield done, len(names)
    return FaceCount(len(names), len(names) - len(unusable), unusable)


def write_examples(name: str, with_dir: Path, without_dir: Path, out: Path) -> Path:
    """A new photo folder in ``out`` listing both folders' photos with ``name`` 1 (with) or 0 (without).

    Its ``images/with`` and ``images/without`` show the two folders (links, or
    copies where links cannot be made). Raises :class:`DatasetError` when
    either folder has no photos.
    """
    rows: list[tuple[str, str]] = []
    for sub, folder, value in ((WITH, with_dir, "1"), (WITHOUT, without_dir, "0")):
        files = photo_files(folder)
        if not files:
            raise DatasetError(folder, "no .jpg, .jpeg or .png photos here")
        rows += [(f"{sub}/{f}", value) for f in files]
    with new_dataset_folder(out) as folder:
        (folder / "images").mkdir()
        link_folder(with_dir, folder / "images" / WITH)
        link_folder(without_dir, folder / "images" / WITHOUT)
        write_labels(folder, [FILE_COLUMN, name], rows)
    return out


def examples_dataset(
    name: str,
    with_dir: Path,
    without_dir: Path,
    model: Path,
    out: Path,
    *,
    threshold: float = 0.9,
    on_progress: Callable[[int, int], None] | None = None,
    **label_options: Any,
) -> dict[str, Any]:
    """Build ``out/given`` (the two folders as a photo folder) and ``out/labelled`` (with the model's labels).

    The model's own attributes come from its classifier where it is at least
    ``threshold`` sure (:func:`~trainer.photo_labels.label_photos`). Returns
    the labelling's provenance record. Already built parts are kept, so a
    resumed run does not redo them.
    """
    from fader_studio.core.modelfile import load_model
    from trainer.photo_labels import label_photos

    base = load_model(model)
    check_attribute_name(name, base.attribute_names)
    if base.classifier is None:
        raise DatasetError(
            model, "has no classifier to label its own attributes on the examples; teach a model that has one"
        )
    given, labelled = out / "given", out / "labelled"
    if not (given / LABELS_FILE).is_file():
        write_examples(name, with_dir, without_dir, given)
    record = read_provenance(labelled) if (labelled / LABELS_FILE).is_file() else None
    if record is None:
        shutil.rmtree(labelled, ignore_errors=True)
        record = label_photos(
            given,
            labelled,
            model,
            attributes=base.attribute_names,
            threshold=threshold,
            on_progress=on_progress,
            **label_options,
        )
    unlabelled = [
        a
        for a, entry in record["attributes"].items()
        if not entry["images"]["given"] + entry["images"]["predicted"]
    ]
    if unlabelled:
        raise DatasetError(
            model,
            f"its classifier cannot label {', '.join(unlabelled)} on these photos (not accurate or not sure "
            "enough); a fader cannot be added without them",
        )
    faces = record.get("faces_by_given_label", {}).get(name, {})
    for value, folder in (("1", with_dir), ("0", without_dir)):
        found = faces.get(value, 0)
        if found < MIN_EXAMPLES:
            raise DatasetError(
                folder, f"only {found} photos with one clear face; at least {MIN_EXAMPLES} are needed"
            )
        if found < FEW_EXAMPLES:
            warnings.warn(
                f"{folder}: only {found} photos with one clear face; {FEW_EXAMPLES} or more teach a "
                "fader more reliably",
                DatasetWarning,
                stacklevel=2,
            )
    return record
