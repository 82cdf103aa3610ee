"""The ``fader-train`` command: the Fader Networks trainer.

Bad input exits with status 2 and one line on stderr, never a traceback;
an interrupted command exits with 130 and keeps what it finished.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

from fader_studio import __version__
from fader_studio.core.errors import FaderStudioError
from trainer import events
from trainer.progress import MODES, ProgressReporter

PROG = "fader-train"


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def get_args_parser() -> argparse.ArgumentParser:
    """The parser of ``fader-train``; each command adds its own sub-parser."""
    parser = argparse.ArgumentParser(prog=PROG, description="Train Fader Networks on CelebA-format data.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands", required=True)

    prepare = commands.add_parser(
        "prepare",
        help="crop and resize a dataset once into the cache that training reads",
        description="Crop every image of a CelebA-format dataset (rows 20:198), resize it and store it "
        "as uint8 in the user cache folder. Runs on all cores, resumes if interrupted, and is reused "
        "by later runs; memory use stays small whatever the dataset size.",
    )
    prepare.add_argument(
        "celeba", metavar="CELEBA", type=Path, help="a CelebA folder or img_align_celeba.zip"
    )
    _add_data_arguments(prepare)
    prepare.add_argument(
        "--progress", choices=MODES, default="bar", help="how to show progress (default: %(default)s)"
    )
    prepare.set_defaults(run=run_prepare)
    return parser


def _add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of every command that reads a dataset through the cache."""
    from fader_studio.core.imageio import RESIZE_CHOICES
    from fader_studio.core.template import IMAGE_SIZES

    group = parser.add_argument_group("dataset cache")
    group.add_argument(
        "--size",
        type=int,
        choices=IMAGE_SIZES,
        default=128,
        help="image size S of the S×S crops (default: %(default)s)",
    )
    group.add_argument(
        "--resize",
        choices=RESIZE_CHOICES,
        default="auto",
        help="resampling filter; auto shrinks with area and enlarges with lanczos, as the official "
        "code (default: %(default)s)",
    )
    group.add_argument(
        "--workers", type=_positive_int, default=None, help="processes to use (default: every core)"
    )
    group.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="where caches live (default: $FADER_STUDIO_CACHE_DIR or the user cache folder)",
    )


def run_prepare(args: argparse.Namespace) -> int:
    """``fader-train prepare``: build or finish the cache and print where it is."""
    from trainer.cache import prepare
    from trainer.celeba import open_celeba

    progress = ProgressReporter(args.progress, "prepare", f"prepare {args.size}px")
    with _warnings_to(progress, json=args.progress == "json"):
        celeba = open_celeba(args.celeba)
        try:
            data = prepare(
                celeba,
                args.size,
                resize=args.resize,
                workers=args.workers,
                root=args.cache_dir,
                on_progress=progress,
            )
        except KeyboardInterrupt:
            progress.close()
            print(
                f"{PROG}: interrupted after {progress.done} of {progress.total} images; "
                "run the same command again to go on from there",
                file=sys.stderr,
            )
            return 130
        finally:
            progress.close()
    info = data.info
    counts = info["split_counts"]
    summary = (
        f"{info['usable']} images ({counts['train']} train, {counts['val']} val, {counts['test']} test) "
        f"at {data.size}px, {info['unusable']} unusable"
    )
    if args.progress == "json":
        events.emit(
            sys.stdout, "prepared", cache=str(data.path), **{k: info[k] for k in ("usable", "unusable")}
        )
    else:
        print(f"cache: {data.path}{'' if progress.total else ' (already prepared)'}\n{summary}")
    return 0


@contextlib.contextmanager
def _warnings_to(progress: ProgressReporter, *, json: bool) -> Iterator[None]:
    """Show warnings as ``fader-train: warning: …`` lines (and JSON events) while active."""

    def show(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
        if json:
            events.emit(sys.stdout, "warning", message=str(message))
        progress.write(f"{PROG}: warning: {message}")

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = show
        yield


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fader-train`` with ``argv`` (default: the process arguments); return the exit status."""
    args = get_args_parser().parse_args(argv)
    try:
        return args.run(args)
    except FaderStudioError as e:
        if getattr(args, "progress", None) == "json":
            events.emit(sys.stdout, "error", message=str(e))
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
