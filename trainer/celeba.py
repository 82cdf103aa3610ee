"""Read a CelebA-format dataset: a folder in any common layout, or the official zip.

A dataset is aligned face images plus three text files (DESIGN §4):
``list_attr_celeba.txt`` (required), ``list_eval_partition.txt`` (else CelebA's
standard split by image number) and ``list_landmarks_align_celeba.txt``
(optional; gives the alignment template). Images live in ``img_align_celeba/``,
``Img/img_align_celeba/``, the official ``img_align_celeba.zip`` (read in place),
or beside the text files. Rows whose image is missing are reported once and
skipped. Problems that cannot be skipped raise :class:`DatasetError` naming the
file and line; problems that can are :class:`DatasetWarning`.
:func:`new_dataset_folder`, :func:`write_attributes` and :func:`write_partition`
write datasets in the same format (``fader-train synth`` and ``label``).

Nothing here imports torch: the cache builder's worker processes use it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import shutil
import warnings
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from fader_studio.core.errors import DatasetError, FaderStudioError
from fader_studio.core.files import file_problem, read_member
from fader_studio.core.imageio import paper_crop
from fader_studio.core.template import CELEBA_MEAN_LANDMARKS, Points, crop_box, to_crop

ATTRIBUTE_FILE = "list_attr_celeba.txt"
PARTITION_FILE = "list_eval_partition.txt"
LANDMARK_FILE = "list_landmarks_align_celeba.txt"
IMAGE_FOLDER = "img_align_celeba"
IMAGE_ZIP = "img_align_celeba.zip"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")

#: Partition codes of ``list_eval_partition.txt``.
SPLITS = {"train": 0, "val": 1, "test": 2}
#: CelebA's standard split: the last image number of train and of val.
STANDARD_SPLIT_ENDS = (162_770, 182_637)
#: How many images CelebA has; the standard split's proportions.
CELEBA_COUNT = 202_599

#: Aligned face images larger than this are refused before decoding.
MAX_SOURCE_PIXELS = 4096 * 4096
#: The largest image file a dataset may hold (an uncompressed 4096×4096 RGB image, with room for headers):
#: a zip member that inflates to more is refused before it is inflated.
MAX_IMAGE_BYTES = MAX_SOURCE_PIXELS * 3 + (1 << 20)

#: Bump when preprocessing changes, so that old caches are rebuilt.
PREPROCESS_VERSION = 1


class DatasetWarning(UserWarning):
    """Something in a dataset was skipped or guessed; training can go on."""


class BadImage(ValueError):
    """An image that cannot be used: unreadable, truncated, or not an aligned face image."""


# --------------------------------------------------------------------------- images


@contextlib.contextmanager
def opened_image(data: bytes, too_large: str) -> Iterator[Image.Image]:
    """The image file ``data``, opened for the block; :class:`BadImage` for anything unusable.

    That is an image over :data:`MAX_SOURCE_PIXELS` (the message ``too_large``,
    formatted with its ``width`` and ``height``), or one that cannot be read,
    also when the block finds out (decoding a truncated file, say).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PIL's notes on odd but readable files
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > MAX_SOURCE_PIXELS:
                    raise BadImage(too_large.format(width=image.width, height=image.height))
                yield image
    except BadImage:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise BadImage(f"unreadable image ({e})") from None


def preprocess_image(data: bytes, size: int, resize: str = "auto") -> np.ndarray:
    """Decode an aligned face image and return the paper's crop at ``size``: ``(S, S, 3)`` uint8 RGB.

    A 178×218 CelebA image is cropped to rows 20:198 and resized with
    :func:`resize_filter`; see
    :func:`fader_studio.core.template.crop_box` for other shapes. Raises
    :class:`BadImage` for anything that is not a complete aligned face image.
    """
    with opened_image(data, "too large for an aligned face ({width}×{height})") as image:
        width, height = image.size
        if crop_box(width, height) is None:
            raise BadImage(f"not an aligned face image ({width}×{height}; expected 178×218 or square)")
        image.load()
        return paper_crop(image, size, resize)


def count_splits(partition: np.ndarray) -> dict[str, int]:
    """How many images each split of ``partition`` (codes of :data:`SPLITS`) has."""
    return {split: int(np.count_nonzero(partition == code)) for split, code in SPLITS.items()}


class FolderImages:
    """Images in a folder, read by file name."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __str__(self) -> str:
        return str(self.folder)

    def list(self) -> dict[str, tuple[int, int]]:
        """Image file name → (size in bytes, modification time in ns)."""
        found = {}
        try:
            with os.scandir(self.folder) as entries:
                for entry in entries:
                    if entry.name.lower().endswith(IMAGE_SUFFIXES) and entry.is_file():
                        stat = entry.stat()
                        found[entry.name] = (stat.st_size, stat.st_mtime_ns)
        except OSError as e:
            raise DatasetError(self.folder, f"cannot read the image folder ({e.strerror or e})") from None
        return found

    def read(self, name: str) -> bytes:
        """The bytes of image ``name`` (:class:`BadImage` if it is not a regular file)."""
        problem = file_problem(self.folder / name)
        if problem is not None and problem != "no such file":
            raise BadImage(problem)
        return (self.folder / name).read_bytes()


class ZipImages:
    """Images inside a zip file (the official ``img_align_celeba.zip``), read in place."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._members: dict[str, str] = {}
        self._zip: zipfile.ZipFile | None = None

    def __str__(self) -> str:
        return str(self.path)

    def __getstate__(self) -> dict:
        return {"path": self.path, "_members": self._members, "_zip": None}

    def _open(self) -> zipfile.ZipFile:
        if self._zip is None:
            try:
                self._zip = zipfile.ZipFile(self.path)
            except (OSError, zipfile.BadZipFile) as e:
                raise DatasetError(self.path, f"cannot read the zip file ({e})") from None
        return self._zip

    def list(self) -> dict[str, tuple[int, int]]:
        """Image file name → (uncompressed size, CRC-32) of each image member."""
        found = {}
        for info in self._open().infolist():
            name = info.filename.rsplit("/", 1)[-1]
            if not info.is_dir() and name.lower().endswith(IMAGE_SUFFIXES):
                self._members[name] = info.filename
                found[name] = (info.file_size, info.CRC)
        return found

    def read(self, name: str) -> bytes:
        """The bytes of image ``name`` (:meth:`list` must have run)."""
        try:
            return read_member(self._open(), self._members[name], MAX_IMAGE_BYTES)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as e:
            raise BadImage(f"unreadable zip member ({e})") from None


ImageSource = FolderImages | ZipImages


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class Layout:
    """Where a dataset's files are."""

    images: ImageSource
    attributes: Path
    partition: Path | None
    landmarks: Path | None


def _has_images(folder: Path) -> bool:
    try:
        with os.scandir(folder) as entries:
            return any(e.name.lower().endswith(IMAGE_SUFFIXES) for e in entries)
    except OSError:
        return False


def find_layout(path: str | Path) -> Layout:
    """Find the images and text files of the dataset at ``path`` (a folder or an image zip)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DatasetError(path, "no such file or folder")
    problem = file_problem(path)
    if problem is not None and problem != "is a folder, not a file":
        raise DatasetError(path, problem)
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise DatasetError(path, "not a folder or a zip file of images")
        images: ImageSource | None = ZipImages(path)
        base = path.parent
    else:
        if not os.access(path, os.R_OK | os.X_OK):
            raise DatasetError(path, "cannot read the folder (permission denied)")
        base = path
        images = None
        for candidate in (
            path / IMAGE_FOLDER / IMAGE_FOLDER,  # the folder as some mirrors unpack it
            path / IMAGE_FOLDER,
            path / "Img" / IMAGE_FOLDER,
            path / IMAGE_ZIP,
            path / "Img" / IMAGE_ZIP,
            path,
        ):
            if candidate.is_dir() and _has_images(candidate):
                images = FolderImages(candidate)
                break
            if candidate.is_file() and zipfile.is_zipfile(candidate):
                images = ZipImages(candidate)
                break
        if images is None:
            raise DatasetError(
                path, f"no images found (expected {IMAGE_FOLDER}/, Img/{IMAGE_FOLDER}/ or {IMAGE_ZIP})"
            )

    folders = [base, base / "Anno", base / "Eval"]

    def find(name: str) -> Path | None:
        return next((f / name for f in folders if (f / name).is_file()), None)

    attributes = find(ATTRIBUTE_FILE)
    if attributes is None:
        raise DatasetError(base, f"no {ATTRIBUTE_FILE} here or in Anno/")
    return Layout(images, attributes, find(PARTITION_FILE), find(LANDMARK_FILE))


# --------------------------------------------------------------------------- text files


def _read_lines(path: Path) -> list[str]:
    try:  # utf-8-sig: a byte-order mark (from Windows editors) is not part of the first line
        return path.read_text(encoding="utf-8-sig", errors="strict").splitlines()
    except UnicodeDecodeError:
        raise DatasetError(path, "not a text file") from None
    except OSError as e:
        raise DatasetError(path, f"cannot read ({e.strerror or e})") from None


def _parse_table(
    path: Path, lines: list[str], first: int, columns: int, dtype: type
) -> tuple[list[str], np.ndarray, list[int]]:
    """Rows ``name v1 … v<columns>`` from line index ``first``: names, values, line numbers."""
    names: list[str] = []
    numbers: list[int] = []
    rests: list[str] = []
    for index in range(first, len(lines)):
        parts = lines[index].split(maxsplit=1)
        if not parts:
            continue
        rest = parts[1] if len(parts) > 1 else ""
        if len(rest.split()) != columns:
            raise DatasetError(path, f"expected a file name and {columns} values", index + 1)
        names.append(parts[0])
        rests.append(rest)
        numbers.append(index + 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            values = np.fromstring(" ".join(rests), dtype=dtype, sep=" ")
    except (ValueError, DeprecationWarning):
        values = np.empty(0, dtype=dtype)
    if values.size != len(rests) * columns:  # find the first line that does not parse
        convert = int if np.issubdtype(dtype, np.integer) else float
        for rest, number in zip(rests, numbers, strict=True):
            try:
                [convert(v) for v in rest.split()]
            except ValueError:
                raise DatasetError(path, f"not a number in {rest.strip()!r:.60}", number) from None
        raise DatasetError(path, "cannot parse the values")
    return names, values.reshape(len(rests), columns), numbers


def _check_unique(path: Path, names: list[str], numbers: list[int]) -> None:
    if len(set(names)) != len(names):
        seen: set[str] = set()
        for name, number in zip(names, numbers, strict=True):
            if name in seen:
                raise DatasetError(path, f"{name} is listed twice", number)
            seen.add(name)


def _read_count(path: Path, lines: list[str]) -> int:
    """The count on line 1 of a file that has a count line and a header line."""
    if len(lines) < 2:
        raise DatasetError(path, "expected a count line and a header line")
    try:
        return int(lines[0].strip())
    except ValueError:
        raise DatasetError(path, f"expected the image count, got {lines[0].strip()!r:.40}", 1) from None


def parse_attributes(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """Parse ``list_attr_celeba.txt``: (attribute names, file names, ``(N, A)`` bool labels)."""
    lines = _read_lines(path)
    count = _read_count(path, lines)
    attributes = lines[1].split()
    if not attributes:
        raise DatasetError(path, "no attribute names", 2)
    if len(set(attributes)) != len(attributes):
        raise DatasetError(path, "an attribute name is repeated", 2)
    if not all(re.fullmatch(r"[A-Za-z0-9_]+", a) for a in attributes):
        raise DatasetError(path, "attribute names must be letters, digits and _", 2)
    names, values, numbers = _parse_table(path, lines, 2, len(attributes), np.int32)
    bad = ~np.isin(values, (-1, 0, 1))
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise DatasetError(path, f"attribute values must be -1 or 1, got {values[bad][0]}", numbers[row])
    if not names:
        raise DatasetError(path, "no images listed")
    _check_unique(path, names, numbers)
    if count != len(names):
        warnings.warn(
            f"{path}: says {count} images but lists {len(names)}; using the {len(names)} listed",
            DatasetWarning,
            stacklevel=2,
        )
    return attributes, names, values > 0


def parse_partition(path: Path) -> dict[str, int]:
    """Parse ``list_eval_partition.txt``: file name → 0 (train), 1 (val) or 2 (test)."""
    lines = _read_lines(path)
    names, values, numbers = _parse_table(path, lines, 0, 1, np.int32)
    bad = ~np.isin(values[:, 0], (0, 1, 2))
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise DatasetError(path, f"partition must be 0, 1 or 2, got {values[row, 0]}", numbers[row])
    _check_unique(path, names, numbers)
    return dict(zip(names, values[:, 0].tolist(), strict=True))


def parse_landmarks(path: Path) -> dict[str, np.ndarray]:
    """Parse ``list_landmarks_align_celeba.txt``: file name → ``(5, 2)`` points."""
    lines = _read_lines(path)
    _read_count(path, lines)
    names, values, numbers = _parse_table(path, lines, 2, 10, np.float32)
    finite = np.isfinite(values).all(axis=1)
    if not finite.all():
        raise DatasetError(path, "landmarks must be finite numbers", numbers[int(np.argmin(finite))])
    _check_unique(path, names, numbers)
    return {name: row.reshape(5, 2) for name, row in zip(names, values, strict=True)}


def standard_partition(names: list[str]) -> np.ndarray:
    """CelebA's standard split by image number; file names that are not numbers split by position."""
    train_end, val_end = STANDARD_SPLIT_ENDS
    numbers = []
    for position, name in enumerate(names):
        stem = name.rsplit(".", 1)[0]
        if stem.isascii() and stem.isdigit() and len(stem) <= 9:
            numbers.append(int(stem))
        else:  # same proportions over the listed order
            numbers.append(1 + position * CELEBA_COUNT // len(names))
    number = np.asarray(numbers)
    return np.where(number <= train_end, 0, np.where(number <= val_end, 1, 2)).astype(np.int8)


def write_attributes(path: Path, attributes: Sequence[str], rows: Mapping[str, Sequence[int]]) -> None:
    """Write ``list_attr_celeba.txt``: the count, the attribute names, then each file's values (-1 or 1)."""
    lines = [str(len(rows)), " ".join(attributes)]
    lines += [f"{name} " + " ".join(f"{int(v):2d}" for v in values) for name, values in rows.items()]
    path.write_text("\n".join(lines) + "\n")


def write_partition(path: Path, splits: Mapping[str, int]) -> None:
    """Write ``list_eval_partition.txt``: each file name and its split, 0, 1 or 2."""
    path.write_text("".join(f"{name} {code}\n" for name, code in splits.items()))


@contextlib.contextmanager
def new_dataset_folder(folder: Path) -> Iterator[Path]:
    """Build the new dataset ``folder`` in a temporary folder beside it, renamed to ``folder`` at the end.

    Refuses a ``folder`` that exists and is not an empty folder. Whatever stops
    the block (an error, Ctrl+C) removes the temporary folder, so nothing is
    left behind; an ``OSError`` (a full disk) becomes a one-line
    :class:`FaderStudioError`.
    """
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise FaderStudioError(f"{folder} already exists and is not empty; choose a new folder")
    partial = folder.with_name(f".{folder.name}.partial")
    try:
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        yield partial
        if folder.exists():
            folder.rmdir()
        os.replace(partial, folder)
    except OSError as e:
        shutil.rmtree(partial, ignore_errors=True)
        raise FaderStudioError(f"{folder}: cannot write the dataset: {e.strerror or e}") from None
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


# --------------------------------------------------------------------------- the dataset


@dataclass(frozen=True)
class CelebA:
    """A CelebA-format dataset: the images that exist, with their labels and split."""

    path: Path
    layout: Layout
    attribute_names: list[str]
    names: list[str]  # image file names in the image source, in attribute-file order
    labels: np.ndarray  # (N, A) bool
    partition: np.ndarray  # (N,) int8: 0 train, 1 val, 2 test
    landmarks: np.ndarray | None  # (N, 5, 2) float32 in the source images, or None
    fingerprint: str  # changes when any file or label changes

    def __len__(self) -> int:
        return len(self.names)

    @property
    def images(self) -> ImageSource:
        """Where the images are read from."""
        return self.layout.images

    @property
    def known(self) -> np.ndarray:
        """``(N, A)`` bool: which labels are known (all of them: CelebA's files have no blanks)."""
        return np.ones_like(self.labels, dtype=bool)

    def split_counts(self) -> dict[str, int]:
        """How many images each split has."""
        return count_splits(self.partition)

    def template(self, image_size: int, source_size: tuple[int, int] = (178, 218)) -> Points:
        """The alignment template of an S×S model trained on this dataset, in crop coordinates.

        The mean of the landmark file when there is one, else CelebA's measured
        mean; ``source_size`` is the width and height of the dataset's images.
        """
        box = crop_box(*source_size)
        if box is None:
            raise DatasetError(
                self.path, f"images of {source_size[0]}×{source_size[1]} are not aligned faces"
            )
        if self.landmarks is None:
            points = np.asarray(CELEBA_MEAN_LANDMARKS) * (source_size[0] / 178)
        else:
            points = self.landmarks.astype(np.float64).mean(axis=0)
        return to_crop(points.tolist(), box, image_size)


def _match_images(names: list[str], found: dict[str, tuple[int, int]]) -> list[str | None]:
    """The image file of each listed name: the same name, else the same stem with another suffix."""
    by_stem: dict[str, str] = {}
    for name in found:
        by_stem.setdefault(name.rsplit(".", 1)[0], name)
    return [name if name in found else by_stem.get(name.rsplit(".", 1)[0]) for name in names]


def _examples(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown + (", …" if len(names) > limit else "")


def open_celeba(path: str | Path) -> CelebA:
    """Read the CelebA-format dataset at ``path`` (a folder or the official image zip).

    Raises :class:`DatasetError` when it cannot be used; warns with
    :class:`DatasetWarning` about missing images, a missing partition file and
    similar things it works around.
    """
    path = Path(path).expanduser()
    layout = find_layout(path)
    attribute_names, listed, labels = parse_attributes(layout.attributes)
    found = layout.images.list()
    matched = _match_images(listed, found)
    keep = np.array([m is not None for m in matched])
    missing = [name for name, m in zip(listed, matched, strict=True) if m is None]
    if not keep.any():
        raise DatasetError(
            layout.attributes, f"none of the {len(listed)} listed images is in {layout.images}"
        )
    if missing:
        warnings.warn(
            f"{len(missing)} of the {len(listed)} images listed in {layout.attributes.name} are not in "
            f"{layout.images} ({_examples(missing)}); skipping them",
            DatasetWarning,
            stacklevel=2,
        )
    listed = [name for name, k in zip(listed, keep, strict=True) if k]
    names = [m for m in matched if m is not None]
    labels = labels[keep]

    if layout.partition is None:
        warnings.warn(
            f"no {PARTITION_FILE}: using CelebA's standard split by image number "
            f"(train ≤ {STANDARD_SPLIT_ENDS[0]} < val ≤ {STANDARD_SPLIT_ENDS[1]} < test)",
            DatasetWarning,
            stacklevel=2,
        )
        partition = standard_partition(listed)
    else:
        table = parse_partition(layout.partition)
        unsplit = [name for name in listed if name not in table]
        partition = np.array([table.get(name, -1) for name in listed], dtype=np.int8)
        if unsplit:
            warnings.warn(
                f"{len(unsplit)} images are not in {layout.partition.name} ({_examples(unsplit)}); "
                "putting them in the standard split by image number",
                DatasetWarning,
                stacklevel=2,
            )
            fallback = standard_partition(listed)
            partition = np.where(partition < 0, fallback, partition).astype(np.int8)

    landmarks = None
    if layout.landmarks is not None:
        points = parse_landmarks(layout.landmarks)
        rows = [points.get(name) for name in listed]
        if any(r is None for r in rows):
            warnings.warn(
                f"{layout.landmarks.name} lacks some images; using CelebA's mean template",
                DatasetWarning,
                stacklevel=2,
            )
        else:
            landmarks = np.stack(rows).astype(np.float32)

    digest = hashlib.sha256(f"fader-studio celeba {PREPROCESS_VERSION}\n".encode())
    for text in (layout.attributes, layout.partition, layout.landmarks):
        digest.update(text.read_bytes() if text is not None else b"-")
    for name in names:
        digest.update(f"{name} {found[name][0]} {found[name][1]}\n".encode())
    return CelebA(
        path=path,
        layout=layout,
        attribute_names=attribute_names,
        names=names,
        labels=labels,
        partition=partition,
        landmarks=landmarks,
        fingerprint=digest.hexdigest(),
    )
