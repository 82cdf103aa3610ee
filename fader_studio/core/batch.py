"""One look applied to many photos: what the app's Export Batch and ``fader-studio edit`` on many files run.

:func:`edit_photo` is the edit of one photo, the same path as the editor's
export (:class:`~fader_studio.core.edit.PhotoEdit`, then
:func:`~fader_studio.core.imageio.save_image`), so a batch output equals the
single-photo export pixel for pixel. :func:`find_photos` turns files and
folders into a list of photos, :func:`plan_batch` gives each an output name
(never over an existing file, never two photos on one name), and
:func:`run_batch` edits them with the model and detector loaded once: the
next photo is read while this one is edited, and the last one written while
the next is detected and encoded. A stop asked for between photos leaves
every written file complete (each is written atomically) and no partial one.
"""

from __future__ import annotations

import string
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .composite import DEFAULT_BLEND
from .edit import PhotoEdit
from .engine import Engine
from .errors import FaderStudioError, ImageError
from .faces import FaceDetector
from .imageio import EXPORT_FORMATS, JPEG_QUALITY, Photo, load_image, save_image
from .landmarks import FaceLandmarker
from .presets import Preset
from .regions import DEFAULT_REGION

#: Suffixes of the files a folder's photos are found by.
PHOTO_SUFFIXES = frozenset(EXPORT_FORMATS)
#: The output name of each photo unless told otherwise: ``portrait.jpg`` → ``portrait-edited.jpg``.
DEFAULT_PATTERN = "{name}-edited"
#: The fields a name pattern may use: the photo's name without suffix, its folder's name, its number.
PATTERN_FIELDS = ("name", "folder", "n")


@dataclass(frozen=True)
class Problem:
    """A photo that was not edited, and why (one line)."""

    path: Path
    reason: str


@dataclass(frozen=True)
class Job:
    """One photo of a batch and the file its edit goes to."""

    source: Path
    target: Path


@dataclass(frozen=True)
class BatchSettings:
    """What a batch does to each photo, and where and how it writes the results."""

    look: Preset
    out_dir: Path
    pattern: str = DEFAULT_PATTERN
    suffix: str | None = None  # ".jpg", ".png"...; None: the photo's own format
    quality: int = JPEG_QUALITY
    faces: str | int = "all"  # "all", "largest", or a face's index (0: the largest)
    blend: str = DEFAULT_BLEND
    match_colour: bool = True
    region: str = DEFAULT_REGION  # where on each face the look applies (see core.regions)


@dataclass(frozen=True)
class Edited:
    """A photo's edit: its pixels, how many faces it has, how many changed, the look's skipped faders."""

    pixels: np.ndarray
    faces: int
    edited: int
    skipped: tuple[str, ...]


@dataclass(frozen=True)
class Progress:
    """Where a batch is: ``done`` of ``total`` photos finished (edited or failed), working on ``current``."""

    done: int
    total: int
    current: Path | None
    elapsed: float
    failed: int = 0

    @property
    def remaining(self) -> float | None:
        """Seconds left at the pace so far (``None`` before the first photo is done)."""
        if not self.done:
            return None
        return self.elapsed / self.done * (self.total - self.done)


@dataclass
class Report:
    """What a batch did: the files written, the photos not edited, whether it was stopped."""

    written: list[Job] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    skipped_attributes: tuple[str, ...] = ()
    cancelled: bool = False
    seconds: float = 0.0
    total: int = 0

    def summary(self) -> str:
        """One line: how many photos were edited, of how many, and how fast."""
        rate = (
            f" ({len(self.written) / self.seconds:.2f} photos/s)" if self.seconds > 0 and self.written else ""
        )
        line = f"edited {len(self.written)} of {self.total} photo{'s' * (self.total != 1)}"
        line += f" in {self.seconds:.1f} s{rate}"
        if self.cancelled:
            line += "; cancelled"
        if self.problems:
            line += f"; {len(self.problems)} could not be edited"
        return line


def edit_photo(
    photo: Photo,
    engine: Engine,
    look: Preset,
    *,
    faces: str | int = "all",
    detector: FaceDetector | None = None,
    landmarker: FaceLandmarker | None = None,
    blend: str = DEFAULT_BLEND,
    match_colour: bool = True,
    region: str = DEFAULT_REGION,
) -> Edited:
    """``photo`` with ``look`` applied to ``region`` of its faces (``faces``: "all", "largest" or an index).

    :class:`~fader_studio.core.errors.NoFaceError` when it has no face,
    :class:`FaderStudioError` when it has no face ``faces``.
    """
    document = PhotoEdit(
        photo, engine, detector, match_colour=match_colour, blend=blend, landmarker=landmarker, region=region
    )
    skipped = apply_look(document, look, faces)
    count = len(document.faces)
    edited = sum(document.is_edited(i) for i in range(count))
    return Edited(document.render(), count, edited, skipped)


def apply_look(document: PhotoEdit, look: Preset, faces: str | int = "all") -> tuple[str, ...]:
    """Set ``faces`` ("all", "largest" or an index) of ``document`` to ``look``; the look's attributes
    the model lacks. :class:`FaderStudioError` when the photo has no face ``faces``."""
    count = len(document.faces)
    if faces == "all":
        targets = range(count)
    elif faces == "largest":
        targets = range(1)
    elif isinstance(faces, int) and 0 <= faces < count:
        targets = range(faces, faces + 1)
    else:
        name = document.photo.path or "the photo"
        choices = "1" if count == 1 else f"1 to {count}"
        raise FaderStudioError(f"{name} has {count} face{'s' * (count != 1)}; use {choices} or all")
    skipped: tuple[str, ...] = ()
    for index in targets:
        applied = look.apply(document.engine.model.attributes, document.faces[index].start)
        document.set(index, applied.values)
        skipped = applied.skipped
    return skipped


def find_photos(inputs: Iterable[str | Path], *, recursive: bool = False) -> tuple[list[Path], list[Problem]]:
    """The photos named by ``inputs`` (files, and folders' photo files), each once, in order.

    A file is taken whatever its suffix (reading it says whether it is a
    photo); a folder gives its files with a photo suffix, by name, not hidden
    ones, and with ``recursive`` those of its subfolders. Inputs that do not
    exist, and folders without photos, are problems.
    """
    photos: list[Path] = []
    problems: list[Problem] = []
    seen: set[Path] = set()
    for given in map(Path, inputs):
        if given.is_dir():
            try:
                found = [
                    p
                    for p in sorted(given.rglob("*") if recursive else given.iterdir())
                    if p.suffix.lower() in PHOTO_SUFFIXES
                    and p.is_file()
                    and not any(part.startswith(".") for part in p.relative_to(given).parts)
                ]
            except OSError as e:
                problems.append(Problem(given, f"{given}: cannot list this folder ({e.strerror or e})"))
                continue
            if not found:
                where = "or its subfolders " if recursive else ""
                problems.append(Problem(given, f"{given}: no photos in this folder {where}".rstrip()))
        elif given.exists():
            found = [given]
        else:
            problems.append(Problem(given, f"{given}: no such file or folder"))
            found = []
        for path in found:
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                photos.append(path)
    return photos, problems


def check_pattern(pattern: str) -> str:
    """``pattern`` if it can name the outputs of a batch; :class:`FaderStudioError` otherwise."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(pattern) if name is not None}
    except ValueError as e:
        raise FaderStudioError(f"name pattern {pattern!r}: {e}") from None
    unknown = fields - set(PATTERN_FIELDS)
    if unknown:
        known = ", ".join("{" + f + "}" for f in PATTERN_FIELDS)
        raise FaderStudioError(
            f"name pattern {pattern!r}: unknown field {{{sorted(unknown)[0]}}} (use {known})"
        )
    if not fields & {"name", "n"}:
        raise FaderStudioError(
            f"name pattern {pattern!r}: use {{name}} or {{n}}, or every photo would get the same name"
        )
    if any(sep in pattern for sep in "/\\") or pattern.startswith("."):
        raise FaderStudioError(f"name pattern {pattern!r}: a file name, without folders or a leading dot")
    return pattern


def output_suffix(source: Path, suffix: str | None) -> str:
    """The suffix of ``source``'s output: ``suffix``, else the photo's own if writable, else .png."""
    if suffix is not None:
        suffix = suffix.lower() if suffix.startswith(".") else f".{suffix.lower()}"
        if suffix not in EXPORT_FORMATS:
            raise FaderStudioError(f"cannot save as {suffix} (use {', '.join(sorted(set(EXPORT_FORMATS)))})")
        return suffix
    own = source.suffix.lower()
    return own if own in EXPORT_FORMATS else ".png"


def plan_batch(photos: Sequence[Path], settings: BatchSettings) -> tuple[list[Job], list[Problem]]:
    """Each photo with the file its edit goes to; photos whose name is taken are problems.

    A name is taken by an existing file (which is never overwritten) or by
    an earlier photo of the same batch.
    """
    pattern = check_pattern(settings.pattern)
    width = len(str(len(photos)))
    jobs: list[Job] = []
    problems: list[Problem] = []
    claimed: dict[Path, Path] = {}
    for number, source in enumerate(photos, 1):
        stem = pattern.format(name=source.stem, folder=source.parent.name, n=f"{number:0{width}d}")
        target = settings.out_dir / (stem + output_suffix(source, settings.suffix))
        if target in claimed:
            problems.append(
                Problem(source, f"{source}: {target.name} is also the name of {claimed[target]}'s edit")
            )
        elif _taken(target):
            problems.append(Problem(source, f"{source}: {target} exists; not overwritten"))
        else:
            claimed[target] = source
            jobs.append(Job(source, target))
    return jobs, problems


def run_batch(
    engine: Engine,
    jobs: Sequence[Job],
    settings: BatchSettings,
    *,
    detector: FaceDetector | None = None,
    landmarker: FaceLandmarker | None = None,
    progress: Callable[[Progress], None] | None = None,
    stop: threading.Event | None = None,
    problems: Sequence[Problem] = (),
) -> Report:
    """Edit every job's photo with ``settings`` and write it to the job's target.

    A photo that cannot be read, has no face, or cannot be written becomes a
    :class:`Problem` and the batch goes on. ``progress`` is called before each
    photo and once at the end; ``stop`` is checked between photos: the photo
    being written is finished, no other is begun. Never writes over a file.
    ``problems`` (of finding and planning the photos) start the report's list.
    """
    detector = detector or FaceDetector()
    landmarker = landmarker or FaceLandmarker()
    report = Report(problems=list(problems), total=len(jobs) + len(problems))
    started = time.perf_counter()
    skipped: dict[str, None] = {}

    def tell(done: int, current: Path | None) -> None:
        if progress is not None:
            elapsed = time.perf_counter() - started
            progress(Progress(done, report.total, current, elapsed, len(report.problems)))

    def finish(write: tuple[Job, Future[None]] | None) -> None:
        if write is None:
            return
        job, future = write
        try:
            future.result()
            report.written.append(job)
        except FaderStudioError as e:
            report.problems.append(Problem(job.source, str(e)))

    try:
        settings.out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FaderStudioError(
            f"{settings.out_dir}: cannot make the output folder ({e.strerror or e})"
        ) from None

    with (
        ThreadPoolExecutor(1, "fader-batch-read") as reader,
        ThreadPoolExecutor(1, "fader-batch-write") as writer,
    ):
        reading = reader.submit(load_image, jobs[0].source) if jobs else None
        writing: tuple[Job, Future[None]] | None = None
        for index, job in enumerate(jobs):
            tell(index + len(problems), job.source)
            if stop is not None and stop.is_set():
                report.cancelled = True
                break
            assert reading is not None
            photo_future = reading
            reading = reader.submit(load_image, jobs[index + 1].source) if index + 1 < len(jobs) else None
            try:
                photo = photo_future.result()
                edited = edit_photo(
                    photo,
                    engine,
                    settings.look,
                    faces=settings.faces,
                    detector=detector,
                    landmarker=landmarker,
                    blend=settings.blend,
                    match_colour=settings.match_colour,
                    region=settings.region,
                )
            except FaderStudioError as e:
                report.problems.append(Problem(job.source, str(e)))
                continue
            skipped.update(dict.fromkeys(edited.skipped))
            finish(writing)  # one write in flight: memory stays at a few photos
            writing = job, writer.submit(_write, job, edited.pixels, photo, settings.quality)
        finish(writing)
        if reading is not None:
            reading.cancel()
    report.skipped_attributes = tuple(skipped)
    report.seconds = time.perf_counter() - started
    tell(len(report.written) + len(report.problems), None)
    return report


def _write(job: Job, pixels: np.ndarray, photo: Photo, quality: int) -> None:
    """Write one edit; refuses a target that appeared since the batch was planned."""
    if _taken(job.target):
        raise ImageError(f"{job.source}: {job.target} exists; not overwritten")
    save_image(pixels, job.target, source=photo, quality=quality)


def _taken(target: Path) -> bool:
    """Whether something is at ``target`` (a dangling link too), so a batch must not write there."""
    return target.exists() or target.is_symlink()
