"""``fader-studio edit``: one photo to ``--out``, or many photos and folders to ``--out-dir``.

Both go through :mod:`fader_studio.core.batch`, the path of the editor's own
export, so the command writes the pixels the editor would. With many photos,
the model and detector are loaded once, a progress bar is drawn on a
terminal, each photo that could not be edited gets one line, and the exit
status is 2 when any could not (0 when all were). The first Ctrl+C stops
after the photo being edited (every written file is complete); a second
one stops at once.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from .core.errors import FaderStudioError

if TYPE_CHECKING:
    from .core.attributes import AttributeSpec
    from .core.batch import Progress
    from .core.modelfile import FaderModel
    from .core.presets import Preset

#: Exit status of a batch stopped by Ctrl+C (128 + SIGINT, as shells report it).
STOPPED = 130
BAR_WIDTH = 24


def run(args: argparse.Namespace, prog: str, model_path: Path) -> int:
    """Run ``fader-studio edit`` with parsed ``args`` and the model at ``model_path``; the exit status."""
    from .core.modelfile import load_model

    if not 1 <= args.quality <= 100:
        raise FaderStudioError(f"--quality {args.quality}: use 1 to 100")
    faces = parse_face(args.face)
    single = args.out is not None
    if single and (len(args.photos) != 1 or Path(args.photos[0]).is_dir()):
        raise FaderStudioError("--out names one file; for several photos or a folder use --out-dir DIR")
    model = load_model(model_path)
    look = edit_look(args, model.attributes)
    if single:
        return _edit_one(args, prog, model, model_path, look, faces)
    return _edit_many(args, prog, model, look, faces)


def parse_face(text: str) -> str | int:
    """``--face``: "all", "largest", or a face's index (0: the largest) from its number."""
    if text in ("all", "largest"):
        return text
    if text.isascii() and text.isdigit() and len(text) < 6 and int(text) >= 1:
        return int(text) - 1
    raise FaderStudioError(f"--face {text}: use a face's number (1 = the largest), largest or all")


def edit_look(args: argparse.Namespace, specs: Sequence[AttributeSpec]) -> Preset:
    """The look ``args`` ask for: ``--preset`` with ``--set`` values over it, relative or absolute."""
    from .core.presets import Preset, find_preset

    base = find_preset(args.preset) if args.preset else None
    if base is not None and args.relative and not base.relative:
        raise FaderStudioError(
            f"--relative: preset {base.name!r} holds absolute values, not changes; drop --relative"
        )
    relative = args.relative or (base is not None and base.relative)
    values = dict(base.values) if base is not None else {}
    values.update(parse_values(args.values, specs, relative=relative))
    name = base.name if base is not None else "command line"
    return Preset(name, values, relative)


def parse_values(pairs: list[str], specs: Sequence[AttributeSpec], *, relative: bool) -> dict[str, float]:
    """``--set ATTR=VALUE`` pairs as values, each in its fader's range (as a change, when ``relative``)."""
    by_name = {a.name: a for a in specs}
    values = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep:
            raise FaderStudioError(f"--set {pair!r}: expected ATTR=VALUE, e.g. Smiling=1")
        if name not in by_name:
            raise FaderStudioError(f"--set {pair!r}: the model has no {name!r}; it has {', '.join(by_name)}")
        try:
            value = float(text)
        except ValueError:
            raise FaderStudioError(f"--set {pair!r}: {text!r} is not a number") from None
        spec = by_name[name]
        span = spec.max - spec.min
        if relative and not (math.isfinite(value) and abs(value) <= span):
            raise FaderStudioError(f"--set {pair!r}: a change of {name} goes from {-span:g} to {span:g}")
        if not relative and not spec.min <= value <= spec.max:
            raise FaderStudioError(f"--set {pair!r}: {name} goes from {spec.min:g} to {spec.max:g}")
        values[name] = value
    return values


def _edit_one(
    args: argparse.Namespace, prog: str, model: FaderModel, model_path: Path, look: Preset, faces: str | int
) -> int:
    """One photo through the editor's own service: open, apply the look, export."""
    from .core.editor import Editor
    from .core.errors import NoFaceError
    from .core.imageio import export_format

    export_format(Path(args.out), Path(args.photos[0]))  # refused before the work, not after
    editor = Editor(args.device, args.backend, match_colour=args.match_colour)
    editor.region = args.region
    editor.use_model(model, model_path)
    photo = editor.open_photo(args.photos[0])
    if photo.no_face is not None:
        raise NoFaceError(photo.no_face)
    edited, skipped = editor.apply_look(look, faces)
    _warn_skipped(look, skipped)
    out, notes = editor.export(args.out, quality=args.quality, blend=args.blend)
    if photo.regions_note is not None and args.region != "crop":
        notes.insert(0, photo.regions_note)
    for note in notes:
        print(f"{prog}: warning: {note}", file=sys.stderr)
    count = len(photo.faces)
    print(f"{out}: {edited} of {count} face{'s' * (count != 1)} edited")
    return 0


def _edit_many(args: argparse.Namespace, prog: str, model: FaderModel, look: Preset, faces: str | int) -> int:
    from .core.batch import BatchSettings, find_photos, output_suffix, plan_batch, run_batch
    from .core.engine import Engine

    settings = BatchSettings(
        look,
        Path(args.out_dir),
        args.pattern,
        None if args.format is None else output_suffix(Path(), args.format),
        args.quality,
        faces,
        args.blend,
        args.match_colour,
        args.region,
    )
    photos, missing = find_photos(args.photos, recursive=args.recursive)
    jobs, clashes = plan_batch(photos, settings)
    engine = Engine(model, args.device, backend=args.backend)
    stop = threading.Event()
    bar = ProgressBar(sys.stderr) if sys.stderr.isatty() else None
    with _stop_on_interrupt(stop, prog):
        report = run_batch(engine, jobs, settings, progress=bar, stop=stop, problems=missing + clashes)
    if bar is not None:
        bar.clear()
    for problem in report.problems:
        print(f"{prog}: {problem.reason}", file=sys.stderr)
    _warn_skipped(look, report.skipped_attributes)
    print(f"{settings.out_dir}: {report.summary()}")
    if report.cancelled:
        return STOPPED
    if report.problems:
        print(
            f"{prog}: error: {len(report.problems)} of {report.total} photos could not be edited",
            file=sys.stderr,
        )
        return 2
    return 0


def _warn_skipped(look: Preset, skipped: Sequence[str]) -> None:
    if skipped:
        print(
            f"note: this model has no {', '.join(skipped)}; preset {look.name!r} applied without it",
            file=sys.stderr,
        )


class ProgressBar:
    """A one-line progress bar on a terminal: ``[#####.....] 12/100 IMG_0012.jpg, 1:23 left``."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, progress: Progress) -> None:
        """Draw ``progress`` over the last line drawn."""
        filled = BAR_WIDTH * progress.done // max(progress.total, 1)
        left = progress.remaining
        eta = "" if left is None else f", {int(left) // 60}:{int(left) % 60:02d} left"
        name = progress.current.name if progress.current is not None else "done"
        line = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {progress.done}/{progress.total} {name}{eta}"
        self.stream.write("\r\x1b[K" + line[:200])
        self.stream.flush()

    def clear(self) -> None:
        """Remove the bar from the terminal."""
        self.stream.write("\r\x1b[K")
        self.stream.flush()


@contextlib.contextmanager
def _stop_on_interrupt(stop: threading.Event, prog: str) -> Iterator[None]:
    """While active, the first Ctrl+C sets ``stop`` (the batch ends after this photo); the second raises."""

    def interrupted(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print(f"\n{prog}: stopping after this photo (Ctrl+C again to stop now)", file=sys.stderr)

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
