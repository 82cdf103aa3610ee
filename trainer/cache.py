"""The preprocessed dataset cache: every image cropped and resized once, as uint8 on disk.

``prepare`` writes, in the user cache folder, one folder per dataset (or
combination of datasets: CelebA-format folders and photo folders, see
:mod:`trainer.photos`), size, resampling filter and template::

    celeba-128px-area-3f2a9c01b7de/
        plan.json     what is being built (written once the files below exist)
        table.npz     file names, labels and known-label mask (bool), partition
                      and source dataset of every image
        images.npy    (N, S, S, 3) uint8, read as a memory map
        status.bin    one byte per image: 0 to do, 1 done, 2 unusable
        skipped.txt   the unusable images and why
        cache.json    written last: the cache is complete and may be used

Images are processed in chunks by worker processes that write straight into
``images.npy`` and fsync it; only then is the chunk marked done in
``status.bin``. Memory stays bounded whatever the dataset size, an interrupted
build resumes where it stopped, and a cache without ``cache.json`` is never
used. The folder name carries a fingerprint of the dataset's files, so a
changed dataset gets a new cache.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import multiprocessing
import os
import re
import shutil
import time
import warnings
import zipfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from fader_studio.core import paths
from fader_studio.core.atomic import atomic_write_bytes
from fader_studio.core.errors import DatasetError
from fader_studio.core.imageio import resize_filter
from fader_studio.core.template import (
    IMAGE_SIZES,
    TEMPLATES,
    Points,
    default_template,
    template_points,
    validate_template,
)
from trainer.celeba import (
    PREPROCESS_VERSION,
    SPLITS,
    BadImage,
    CelebA,
    DatasetWarning,
    ImageSource,
    count_splits,
    preprocess_image,
)
from trainer.photos import AlignToTemplate, PhotoFolder

#: A dataset the cache can be built from.
Dataset = CelebA | PhotoFolder

FORMAT = "fader-studio-cache/1"

TODO, DONE, UNUSABLE = 0, 1, 2
#: Bytes of images one worker task writes (the last chunk may be smaller).
CHUNK_BYTES = 8 << 20
#: Unusable images named one by one in warnings; the rest are counted.
NAMED_WARNINGS = 10

Progress = Callable[[int, int], None]


def default_cache_root() -> Path:
    """Where dataset caches live: ``datasets`` in the app's cache folder (``$FADER_STUDIO_CACHE_DIR``)."""
    return paths.cache_dir() / "datasets"


def _as_list(datasets: Dataset | Sequence[Dataset]) -> list[Dataset]:
    return list(datasets) if isinstance(datasets, (list, tuple)) else [datasets]


def _fingerprint(datasets: list[Dataset], template: str) -> str:
    """One dataset's own fingerprint, or a digest of several datasets' and the template's."""
    if len(datasets) == 1 and template == "celeba":
        return datasets[0].fingerprint
    digest = hashlib.sha256(f"fader-studio sources {template}\n".encode())
    for dataset in datasets:
        digest.update(f"{dataset.fingerprint}\n".encode())
    return digest.hexdigest()


def cache_folder(
    datasets: Dataset | Sequence[Dataset],
    size: int,
    resize: str = "auto",
    root: Path | None = None,
    template: str = "celeba",
) -> Path:
    """The cache folder of ``datasets`` at ``size``, ``resize`` (:func:`resize_filter`) and ``template``."""
    datasets = _as_list(datasets)
    resize = resize_filter(resize, size)
    first = datasets[0].path
    stem = first.parent.name if first.is_file() and first.suffix == ".csv" else first.stem
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-")[:40] or "dataset"
    if len(datasets) > 1:
        slug += f"-and-{len(datasets) - 1}"
    kind = "" if template == "celeba" else f"-{template}"
    root = default_cache_root() if root is None else Path(root)
    return root / f"{slug.lower()}-{size}px-{resize}{kind}-{_fingerprint(datasets, template)[:12]}"


def open_dataset(path: str | Path) -> Dataset:
    """The dataset at ``path``: a photo folder (a labels CSV) or a CelebA-format folder or zip."""
    from trainer.celeba import open_celeba
    from trainer.photos import is_photo_folder, open_photos

    return open_photos(path) if is_photo_folder(path) else open_celeba(path)


# --------------------------------------------------------------------------- the finished cache


@dataclass(frozen=True)
class PreparedData:
    """A complete cache, opened read-only; images stay on disk (memory-mapped)."""

    path: Path
    size: int
    resize: str
    images: np.ndarray  # (N, S, S, 3) uint8 memmap
    names: np.ndarray  # (N,) str
    attribute_names: list[str]
    labels: np.ndarray  # (N, A) bool (False where unknown)
    known: np.ndarray  # (N, A) bool
    partition: np.ndarray  # (N,) int8
    source: np.ndarray  # (N,) int16: which of ``info["sources"]`` each image came from
    usable: np.ndarray  # (N,) bool
    template: Points
    info: dict

    def __len__(self) -> int:
        return len(self.names)

    def split_indices(self, split: str) -> np.ndarray:
        """Indices of the usable images of ``split`` ("train", "val", "test" or "all")."""
        if split == "all":
            return np.flatnonzero(self.usable)
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}")
        return np.flatnonzero(self.usable & (self.partition == SPLITS[split]))

    def attribute_indices(self, names: Sequence[str]) -> list[int]:
        """Column indices of attributes ``names``; a clear error for an unknown one."""
        unknown = [n for n in names if n not in self.attribute_names]
        if unknown:
            raise DatasetError(
                self.path, f"unknown attribute {unknown[0]!r}; valid: {', '.join(self.attribute_names)}"
            )
        return [self.attribute_names.index(n) for n in names]


def _damaged(path: Path, what: str) -> DatasetError:
    return DatasetError(path, f"damaged dataset cache ({what}); run `fader-train prepare` to rebuild it")


def open_cache(path: str | Path) -> PreparedData:
    """Open a complete cache folder; :class:`DatasetError` if it is incomplete or damaged."""
    path = Path(path)
    try:
        info = json.loads((path / "cache.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(path, "not a complete dataset cache (no cache.json)") from None
    except (OSError, ValueError) as e:
        raise _damaged(path, f"cache.json: {e}") from None
    try:
        if info.get("format") != FORMAT:
            raise ValueError(f"format {info.get('format')!r}")
        size, count = int(info["size"]), int(info["count"])
        with np.load(path / "table.npz", allow_pickle=False) as table:
            names, labels, partition = table["names"], table["labels"], table["partition"]
            known = table["known"] if "known" in table.files else np.ones_like(labels, dtype=bool)
            source = table["source"] if "source" in table.files else np.zeros(len(names), np.int16)
        images = np.load(path / "images.npy", mmap_mode="r", allow_pickle=False)
        status = np.fromfile(path / "status.bin", dtype=np.uint8)
        template = validate_template(info["template"], size)
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as e:
        raise _damaged(path, str(e)) from None
    shapes_ok = (
        images.shape == (count, size, size, 3)
        and images.dtype == np.uint8
        and names.shape == (count,)
        and labels.shape == known.shape == (count, len(info["attribute_names"]))
        and partition.shape == status.shape == source.shape == (count,)
    )
    if not shapes_ok:
        raise _damaged(path, "its files disagree on the number of images")
    if np.any(status == TODO):
        raise _damaged(path, "some images were never written")
    return PreparedData(
        path=path,
        size=size,
        resize=info["resize"],
        images=images,
        names=names,
        attribute_names=list(info["attribute_names"]),
        labels=labels.astype(bool),
        known=known.astype(bool),
        partition=partition.astype(np.int8),
        source=source.astype(np.int16),
        usable=status == DONE,
        template=template,
        info=info,
    )


# --------------------------------------------------------------------------- building


#: Turns an image file's bytes into the ``(S, S, 3)`` uint8 crop; raises :class:`BadImage`.
Preprocess = Callable[[bytes], np.ndarray]


class _ChunkWriter:
    """Preprocesses chunks of images and writes them into ``images.npy`` (one per process)."""

    def __init__(
        self,
        sources: Sequence[ImageSource],
        preprocessors: Sequence[Preprocess],
        images_path: Path,
        offset: int,
        size: int,
    ) -> None:
        self.sources = list(sources)
        self.preprocessors = list(preprocessors)
        self.images_path = images_path
        self.offset = offset
        self.size = size

    def __call__(self, chunk: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
        """Write the images of ``chunk`` (index, source, name); return (index, status, reason) of each."""
        image_bytes = self.size * self.size * 3
        results = []
        with open(self.images_path, "r+b") as file:
            for index, source, name in chunk:
                try:
                    try:
                        data = self.sources[source].read(name)
                    except OSError as e:
                        raise BadImage(f"cannot read ({e.strerror or e})") from None
                    pixels = self.preprocessors[source](data)
                except BadImage as e:
                    results.append((index, UNUSABLE, str(e)))
                    continue
                file.seek(self.offset + index * image_bytes)
                file.write(pixels.tobytes())
                results.append((index, DONE, ""))
            file.flush()
            os.fsync(file.fileno())
        return results


_worker: _ChunkWriter | None = None


def _init_worker(writer: _ChunkWriter) -> None:
    global _worker
    _worker = writer


def _run_chunk(chunk: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    assert _worker is not None
    return _worker(chunk)


CACHE_FILES = ("cache.json", "plan.json", "table.npz", "images.npy", "status.bin", "skipped.txt", "lock")


def _clear(folder: Path) -> None:
    """Delete the files of a cache folder (only ours)."""
    for name in CACHE_FILES:
        with contextlib.suppress(FileNotFoundError):
            (folder / name).unlink()


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` so that two builds never write one cache."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; one build at a time is the user's job
        yield
        return
    with open(folder / "lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise DatasetError(folder, "another `fader-train prepare` is building this cache") from None
        yield


def _write_json(path: Path, data: dict) -> None:
    atomic_write_bytes(path, (json.dumps(data, indent=1) + "\n").encode(), DatasetError)


@dataclass(frozen=True)
class _Table:
    """Every image of one or more datasets, with the union of their attributes (unknown where absent)."""

    names: list[str]
    source: np.ndarray  # (N,) int16
    attribute_names: list[str]
    labels: np.ndarray  # (N, A) bool
    known: np.ndarray  # (N, A) bool
    partition: np.ndarray  # (N,) int8

    def __len__(self) -> int:
        return len(self.names)


def _table(datasets: list[Dataset]) -> _Table:
    attributes = list(dict.fromkeys(a for d in datasets for a in d.attribute_names))
    labels, known = [], []
    for d in datasets:
        rows = np.zeros((len(d), len(attributes)), dtype=bool)
        mask = np.zeros_like(rows)
        for column, name in enumerate(d.attribute_names):
            rows[:, attributes.index(name)] = d.labels[:, column]
            mask[:, attributes.index(name)] = d.known[:, column]
        labels.append(rows & mask)
        known.append(mask)
    return _Table(
        names=[name for d in datasets for name in d.names],
        source=np.concatenate([np.full(len(d), i, np.int16) for i, d in enumerate(datasets)]),
        attribute_names=attributes,
        labels=np.concatenate(labels),
        known=np.concatenate(known),
        partition=np.concatenate([d.partition for d in datasets]).astype(np.int8),
    )


def _create(folder: Path, table: _Table, size: int, plan: dict) -> None:
    """Create the cache files, reserving the disk space of the images up front."""
    _clear(folder)
    count = len(table)
    needed = count * size * size * 3
    free = shutil.disk_usage(folder).free
    if free < needed + (64 << 20):
        raise DatasetError(
            folder,
            f"not enough free disk space for the cache: needs {needed / 1e9:.1f} GB, has {free / 1e9:.1f}",
        )
    with open(folder / "table.npz", "wb") as f:
        np.savez(
            f,
            names=np.asarray(table.names),
            labels=table.labels,
            known=table.known,
            partition=table.partition,
            source=table.source,
        )
    images = np.lib.format.open_memmap(folder / "images.npy", "w+", np.uint8, (count, size, size, 3))
    offset = images.offset
    del images
    with open(folder / "images.npy", "r+b") as f:
        if hasattr(os, "posix_fallocate"):
            os.posix_fallocate(f.fileno(), offset, needed)
        os.fsync(f.fileno())
    (folder / "status.bin").write_bytes(bytes(count))
    (folder / "skipped.txt").write_text("", encoding="utf-8")
    _write_json(folder / "plan.json", plan)


def _can_resume(folder: Path, plan: dict, count: int, size: int) -> bool:
    try:
        if json.loads((folder / "plan.json").read_text(encoding="utf-8")) != plan:
            return False
        images = np.load(folder / "images.npy", mmap_mode="r", allow_pickle=False)
        return images.shape == (count, size, size, 3) and (folder / "status.bin").stat().st_size == count
    except (OSError, ValueError):
        return False


def _chunks(todo: np.ndarray, table: _Table, chunk_size: int) -> list[list[tuple[int, int, str]]]:
    return [
        [(int(i), int(table.source[i]), table.names[i]) for i in todo[start : start + chunk_size]]
        for start in range(0, len(todo), chunk_size)
    ]


def _run_in_workers(
    writer: _ChunkWriter,
    chunks: list[list[tuple[int, int, str]]],
    workers: int,
    record: Callable[[list[tuple[int, int, str]]], None],
) -> list[list[tuple[int, int, str]]]:
    """Run ``chunks`` in worker processes; return those left undone if the processes could not run."""
    left = dict(enumerate(chunks))
    context = multiprocessing.get_context("spawn")  # no fork: the caller may have threads (torch)
    try:
        with ProcessPoolExecutor(workers, context, initializer=_init_worker, initargs=(writer,)) as pool:
            futures = {pool.submit(_run_chunk, chunk): key for key, chunk in left.items()}
            try:
                for future in as_completed(futures):
                    record(future.result())
                    del left[futures[future]]
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    except BrokenProcessPool as e:  # e.g. run from `python -` or a script without a __main__ guard
        warnings.warn(
            f"worker processes failed ({e}); preparing in this process instead", DatasetWarning, stacklevel=4
        )
    return list(left.values())


def _preprocessor(dataset: Dataset, size: int, resize: str, template: str) -> Preprocess:
    """How ``dataset``'s images become crops: CelebA's paper crop, or a face found and aligned."""
    if template == "celeba" and isinstance(dataset, CelebA):
        return functools.partial(preprocess_image, size=size, resize=resize)
    return AlignToTemplate(template_points(template, size), size)


def _template(datasets: list[Dataset], template: str, size: int, table: _Table, status: np.ndarray) -> Points:
    """The template the cached crops are aligned to."""
    if template != "celeba":
        return template_points(template, size)
    if len(datasets) == 1 and isinstance(datasets[0], CelebA):
        celeba = datasets[0]
        first = int(np.flatnonzero(status == DONE)[0])
        with Image.open(io.BytesIO(celeba.images.read(table.names[first]))) as image:
            return celeba.template(size, image.size)  # the landmark file's mean, when there is one
    return default_template(size)


def prepare(
    datasets: Dataset | Sequence[Dataset],
    size: int = 128,
    *,
    resize: str = "auto",
    template: str = "celeba",
    workers: int | None = None,
    root: str | Path | None = None,
    on_progress: Progress | None = None,
) -> PreparedData:
    """Build (or reuse, or finish) the cache of ``datasets`` at ``size``; return it opened.

    ``datasets`` is one dataset or several, combined into one cache (the union
    of their attributes; a label a dataset lacks is unknown). ``template``
    (:data:`~fader_studio.core.template.TEMPLATES`) is how faces are framed:
    ``celeba`` crops CelebA-format images as the paper does and aligns photos
    to CelebA's template; ``tight`` finds every face and aligns it to the
    face-tight template. ``workers`` processes (default: every core) decode
    and resize the images; ``on_progress(done, total)`` is called after each
    chunk. If the build stops for any reason, the images written so far are
    kept and the next call goes on from there. Warns with
    :class:`DatasetWarning` about unusable images.
    """
    datasets = _as_list(datasets)
    first = datasets[0].path
    if size not in IMAGE_SIZES:
        raise DatasetError(first, f"size must be one of {', '.join(map(str, IMAGE_SIZES))}, not {size}")
    if template not in TEMPLATES:
        raise DatasetError(first, f"unknown template {template!r}; choose {' or '.join(TEMPLATES)}")
    try:
        resize = resize_filter(resize, size)
    except ValueError as e:
        raise DatasetError(first, str(e)) from None
    folder = cache_folder(datasets, size, resize, None if root is None else Path(root), template)
    if (folder / "cache.json").exists():
        try:
            return open_cache(folder)
        except DatasetError as e:
            warnings.warn(f"{e}; rebuilding it", DatasetWarning, stacklevel=2)
            _clear(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DatasetError(folder, f"cannot create the cache folder ({e.strerror or e})") from None
    table = _table(datasets)
    plan = {
        "format": FORMAT,
        "preprocess_version": PREPROCESS_VERSION,
        "fingerprint": _fingerprint(datasets, template),
        "size": size,
        "resize": resize,
        "count": len(table),
    }
    if template != "celeba":
        plan["template_name"] = template
    started = time.monotonic()
    try:
        with _locked(folder):
            if not _can_resume(folder, plan, len(table), size):
                try:
                    _create(folder, table, size, plan)
                except BaseException:
                    _clear(folder)
                    raise
            writer = _ChunkWriter(
                [d.images for d in datasets],
                [_preprocessor(d, size, resize, template) for d in datasets],
                folder / "images.npy",
                np.load(folder / "images.npy", mmap_mode="r", allow_pickle=False).offset,
                size,
            )
            _build(folder, table, writer, workers, on_progress)
            status = np.fromfile(folder / "status.bin", dtype=np.uint8)
            if not np.any(status == DONE):
                raise DatasetError(first, "none of the images could be used (see the warnings)")
            info = {
                **plan,
                "source": " + ".join(str(d.path) for d in datasets),
                "sources": [
                    {
                        "path": str(d.path),
                        "kind": "celeba" if isinstance(d, CelebA) else "photos",
                        "images": len(d),
                        "usable": int(np.count_nonzero(status[table.source == i] == DONE)),
                    }
                    for i, d in enumerate(datasets)
                ],
                "attribute_names": table.attribute_names,
                "template_name": template,
                "template": _template(datasets, template, size, table, status),
                "usable": int(np.count_nonzero(status == DONE)),
                "unusable": int(np.count_nonzero(status == UNUSABLE)),
                "split_counts": count_splits(table.partition),
                "build_seconds": round(time.monotonic() - started, 1),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
            _write_json(folder / "cache.json", info)
    except OSError as e:
        raise DatasetError(
            folder,
            f"cannot write the cache ({e.strerror or e}); the next prepare goes on from where it stopped",
        ) from None
    return open_cache(folder)


def _build(
    folder: Path, table: _Table, writer: _ChunkWriter, workers: int | None, on_progress: Progress | None
) -> None:
    """Process every image still to do, marking each chunk in ``status.bin`` once it is on disk."""
    status = np.fromfile(folder / "status.bin", dtype=np.uint8)
    todo = np.flatnonzero(status == TODO)
    total = len(status)
    done = total - len(todo)
    if on_progress is not None:
        on_progress(done, total)
    if len(todo) == 0:
        return
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    size = writer.size
    chunk_size = max(1, min(CHUNK_BYTES // (size * size * 3), -(-len(todo) // (4 * workers))))
    chunks = _chunks(todo, table, chunk_size)
    workers = max(1, min(workers, len(chunks)))
    named = int(np.count_nonzero(status == UNUSABLE))
    with (
        open(folder / "status.bin", "r+b") as status_file,
        open(folder / "skipped.txt", "a", encoding="utf-8") as skipped,
    ):

        def record(results: list[tuple[int, int, str]]) -> None:
            nonlocal done, named
            for index, code, reason in results:
                status_file.seek(index)
                status_file.write(bytes((code,)))
                if code == UNUSABLE:
                    skipped.write(f"{table.names[index]}\t{reason}\n")
                    if named < NAMED_WARNINGS:
                        warnings.warn(
                            f"skipping {table.names[index]}: {reason}", DatasetWarning, stacklevel=4
                        )
                    named += 1
            status_file.flush()
            skipped.flush()
            done += len(results)
            if on_progress is not None:
                on_progress(done, total)

        pending = chunks
        if workers > 1:
            pending = _run_in_workers(writer, chunks, workers, record)
        for chunk in pending:
            record(writer(chunk))
        os.fsync(status_file.fileno())
    unusable = int(np.count_nonzero(np.fromfile(folder / "status.bin", dtype=np.uint8) == UNUSABLE))
    if unusable > NAMED_WARNINGS:
        warnings.warn(
            f"{unusable} unusable images skipped in all; see {folder / 'skipped.txt'}",
            DatasetWarning,
            stacklevel=3,
        )
