"""Training data from any folder of face photos with a labels CSV.

A photo folder is a folder holding ``labels.csv`` (or the path of any CSV
file) and the photos it names, beside it or in ``images/``. The CSV has a
header row and one row per photo::

    file,Male,Smiling,Young,age
    anna.jpg,0,1,,34
    holiday/ben.png,1,,0,61

- ``file`` (required): the photo, relative to the image folder;
- attribute columns: ``1``, ``0``, or blank for unknown. A column is an
  attribute when its name is one of CelebA's 40 or all of its values are
  ``1``/``0``/blank; any other column (``age``, ``race``) is kept out;
- ``split`` (optional): ``train``, ``val`` or ``test``; ``person`` (optional):
  photos of one person go to the same split. Without either, each photo's
  split comes from a hash of its name (80/10/10).

:class:`AlignToTemplate` finds the photo's face with the bundled detector and
warps it to the run's template, exactly as the app aligns a user's photo;
photos without a face, or with several faces of similar size, are unusable
and skipped with a count and examples (the cache builder does that).
Nothing here imports torch: the cache builder's worker processes use it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fader_studio.core.attributes import CELEBA_ATTRIBUTES
from fader_studio.core.errors import DatasetError
from fader_studio.core.template import Points
from trainer.celeba import (
    IMAGE_SUFFIXES,
    SPLITS,
    BadImage,
    DatasetWarning,
    FolderImages,
    _examples,
    count_splits,
    opened_image,
)

if TYPE_CHECKING:  # the detector loads OpenCV's DNN module; a worker imports it on first use
    from fader_studio.core.faces import Face, FaceDetector

LABELS_FILE = "labels.csv"
FILE_COLUMN, SPLIT_COLUMN, PERSON_COLUMN = "file", "split", "person"
#: A second face at least this fraction of the largest one's area makes a photo ambiguous.
SIMILAR_FACE_AREA = 0.5
#: Bump when the alignment of photos changes, so that old caches are rebuilt.
ALIGN_VERSION = 1
#: Shares of the train, val and test splits when the CSV gives none.
HASH_SPLIT = (8, 1, 1)


def is_photo_folder(path: str | Path) -> bool:
    """Whether ``path`` is a labels CSV or a folder holding ``labels.csv``."""
    path = Path(path).expanduser()
    return (path.is_file() and path.suffix.lower() == ".csv") or (path / LABELS_FILE).is_file()


@dataclass(frozen=True)
class PhotoFolder:
    """The photos a labels CSV lists that exist, with their labels (known or not) and split."""

    path: Path  # the CSV file
    images: FolderImages
    attribute_names: list[str]
    names: list[str]  # photo paths relative to the image folder, in CSV order
    labels: np.ndarray  # (N, A) bool (False where unknown)
    known: np.ndarray  # (N, A) bool
    partition: np.ndarray  # (N,) int8
    fingerprint: str

    def __len__(self) -> int:
        return len(self.names)

    def split_counts(self) -> dict[str, int]:
        """How many photos each split has."""
        return count_splits(self.partition)


def _hash_split(key: str) -> int:
    """0, 1 or 2 (train, val, test) from a stable hash of ``key``, in :data:`HASH_SPLIT` shares."""
    bucket = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % sum(HASH_SPLIT)
    return 0 if bucket < HASH_SPLIT[0] else 1 if bucket < HASH_SPLIT[0] + HASH_SPLIT[1] else 2


def _read_csv(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the (line number, fields) of every non-empty row; refuses a malformed file."""
    try:
        text = path.read_text(encoding="utf-8-sig", errors="strict")
    except UnicodeDecodeError:
        raise DatasetError(path, "not a UTF-8 text file") from None
    except OSError as e:
        raise DatasetError(path, f"cannot read ({e.strerror or e})") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        rows = [(reader.line_num, [f.strip() for f in row]) for row in reader if any(f.strip() for f in row)]
    except csv.Error as e:
        raise DatasetError(path, f"not a CSV file ({e})", reader.line_num) from None
    if not rows:
        raise DatasetError(path, "empty: expected a header row (file,Attribute,…) and one row per photo")
    header = rows[0][1]
    if FILE_COLUMN not in header:
        raise DatasetError(path, f"the header has no {FILE_COLUMN!r} column", rows[0][0])
    if len(set(header)) != len(header):
        raise DatasetError(path, "a column name is repeated in the header", rows[0][0])
    for number, fields in rows[1:]:
        if len(fields) != len(header):
            raise DatasetError(
                path, f"expected {len(header)} fields as in the header, got {len(fields)}", number
            )
    return header, rows[1:]


def write_labels(folder: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Write ``folder/labels.csv``: the ``header`` row, then ``rows`` (as :func:`open_photos` reads it)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    (folder / LABELS_FILE).write_text(text.getvalue(), encoding="utf-8")


def _attribute_columns(path: Path, header: list[str], rows: list[tuple[int, list[str]]]) -> list[int]:
    """The indices of attribute columns (see the module docstring); a bad value in one is refused."""
    columns = []
    for column, name in enumerate(header):
        if name in (FILE_COLUMN, SPLIT_COLUMN, PERSON_COLUMN):
            continue
        bad = next(((n, f[column]) for n, f in rows if f[column] not in ("1", "0", "")), None)
        if bad is None:
            columns.append(column)
        elif name in CELEBA_ATTRIBUTES:
            raise DatasetError(path, f"{name} must be 1, 0 or blank, got {bad[1]!r:.20}", bad[0])
    return columns


def _partition(path: Path, header: list[str], rows: list[tuple[int, list[str]]]) -> np.ndarray:
    if SPLIT_COLUMN in header:
        column = header.index(SPLIT_COLUMN)
        codes = []
        for number, fields in rows:
            if fields[column] not in SPLITS:
                raise DatasetError(
                    path, f"split must be train, val or test, got {fields[column]!r:.20}", number
                )
            codes.append(SPLITS[fields[column]])
        return np.array(codes, dtype=np.int8)
    key = header.index(PERSON_COLUMN) if PERSON_COLUMN in header else header.index(FILE_COLUMN)
    prefix = "person " if PERSON_COLUMN in header else ""
    return np.array([_hash_split(prefix + fields[key]) for _, fields in rows], dtype=np.int8)


def _image_folder(csv_path: Path, names: Sequence[str]) -> Path:
    """``images/`` beside the CSV when the first photo is there, else the CSV's own folder."""
    nested = csv_path.parent / "images"
    return nested if names and (nested / names[0]).is_file() else csv_path.parent


def open_photos(path: str | Path) -> PhotoFolder:
    """Read the photo folder (or labels CSV) at ``path``.

    Raises :class:`DatasetError` naming the file and line for a malformed CSV;
    warns with :class:`DatasetWarning` about listed photos that do not exist.
    """
    path = Path(path).expanduser()
    csv_path = path if path.is_file() else path / LABELS_FILE
    if not csv_path.is_file():
        raise DatasetError(path, f"no {LABELS_FILE} here")
    header, rows = _read_csv(csv_path)
    files = header.index(FILE_COLUMN)
    seen: dict[str, int] = {}
    for number, fields in rows:
        name = fields[files]
        if not name or Path(name).is_absolute() or ".." in Path(name).parts:
            raise DatasetError(csv_path, f"{name!r:.60} is not a photo path inside the folder", number)
        if not name.lower().endswith(IMAGE_SUFFIXES):
            raise DatasetError(csv_path, f"{name!r:.60} is not a .jpg, .jpeg or .png photo", number)
        if name in seen:
            raise DatasetError(csv_path, f"{name} is listed twice (lines {seen[name]} and {number})", number)
        seen[name] = number
    if not rows:
        raise DatasetError(csv_path, "no photos listed")
    columns = _attribute_columns(csv_path, header, rows)
    partition = _partition(csv_path, header, rows)
    folder = _image_folder(csv_path, [rows[0][1][files]])
    present = [(folder / fields[files]).is_file() for _, fields in rows]
    missing = [fields[files] for (_, fields), p in zip(rows, present, strict=True) if not p]
    if not any(present):
        raise DatasetError(csv_path, f"none of the {len(rows)} listed photos is in {folder}")
    if missing:
        warnings.warn(
            f"{len(missing)} of the {len(rows)} photos listed in {csv_path.name} are not in {folder} "
            f"({_examples(missing)}); skipping them",
            DatasetWarning,
            stacklevel=2,
        )
    kept = [fields for (_, fields), p in zip(rows, present, strict=True) if p]
    values = np.array([[fields[c] for c in columns] for fields in kept], dtype=object).reshape(len(kept), -1)
    digest = hashlib.sha256(f"fader-studio photos {ALIGN_VERSION}\n".encode())
    digest.update(csv_path.read_bytes())
    names = [fields[files] for fields in kept]
    for name in names:
        stat = (folder / name).stat()
        digest.update(f"{name} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    return PhotoFolder(
        path=csv_path,
        images=FolderImages(folder),
        attribute_names=[header[c] for c in columns],
        names=names,
        labels=values == "1",
        known=values != "",
        partition=partition[np.array(present)],
        fingerprint=digest.hexdigest(),
    )


class AlignToTemplate:
    """Preprocessing of a photo: find its one face and warp it to ``template`` at ``size``.

    Called with a photo's bytes, it returns the ``(S, S, 3)`` uint8 RGB crop
    or raises :class:`BadImage`. The detector is made on first use in each
    worker process.
    """

    def __init__(self, template: Points, size: int) -> None:
        self.template = template
        self.size = size
        self._detector = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_detector": None}

    def __call__(self, data: bytes) -> np.ndarray:
        from fader_studio.core.faces import FaceDetector, align_face

        if self._detector is None:
            self._detector = FaceDetector()
        pixels, face = usable_face(data, self._detector)
        return align_face(pixels, face, self.template, self.size).crop


def usable_face(data: bytes, detector: FaceDetector) -> tuple[np.ndarray, Face]:
    """A photo's RGB pixels and its one face, found by ``detector``.

    Raises :class:`BadImage` for an unreadable photo, one without a face, or
    one with several faces of similar size (which one is meant is unclear).
    """
    with opened_image(data, "too large ({width}×{height}); at most 16 megapixels") as image:
        pixels = np.asarray(image.convert("RGB"))
    faces = detector.detect(pixels)
    if not faces:
        raise BadImage("no face found")
    if len(faces) > 1 and faces[1].area >= SIMILAR_FACE_AREA * faces[0].area:
        raise BadImage(f"{len(faces)} faces of similar size; which one is labelled is unclear")
    return pixels, faces[0]
