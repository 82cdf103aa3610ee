"""The ``fader-studio`` command: the editor, and model tools for the terminal.

::

    fader-studio [PHOTO] [--model FILE]
                                 start the editor (with a photo and a model)
    fader-studio --version
    fader-studio info [MODEL]    validate a .fader file and print its metadata as JSON
    fader-studio edit PHOTO [--model M] --set Smiling=1 --out OUT
                                 edit the faces of a photo without the editor
    fader-studio edit PHOTO|FOLDER... --preset NAME --out-dir DIR
                                 the same edit (or a saved preset) on many photos
    (no model given: the bundled default model)

Bad input exits with status 2 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path

from trainer import PROGRAM

from . import __version__
from .core import paths
from .core.errors import FaderStudioError

PROG = "fader-studio"
#: ``--blend``: :data:`fader_studio.core.composite.BLEND_MODES`, named here so ``--help`` imports no OpenCV.
BLEND_CHOICES = ("detail", "replace")
#: ``--region``: the keys of :data:`fader_studio.core.regions.REGIONS`, for the same reason.
REGION_CHOICES = ("face", "mouth", "eyes", "hair", "skin", "crop")
#: :data:`fader_studio.core.batch.DEFAULT_PATTERN` and :data:`fader_studio.core.imageio.JPEG_QUALITY`,
#: for the same reason.
BATCH_PATTERN = "{name}-edited"
EXPORT_QUALITY = 95


BACKEND_HELP = (
    "auto, torch or onnx: run the networks on PyTorch or, on the CPU, on ONNX Runtime "
    "(onnx exports the model on first use; auto uses ONNX Runtime once an export is cached)"
)


def get_args_parser() -> argparse.ArgumentParser:
    """The parser of ``fader-studio`` (returned so tools can extend it)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Change attributes of faces in photos with one fader per attribute.",
        epilog=f"With no command, {PROG} [PHOTO] [--model FILE] [--device DEVICE] [--backend BACKEND] "
        "starts the editor.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", title="commands (none: start the editor)"
    )
    info = commands.add_parser("info", help="validate a .fader model file and print its metadata as JSON")
    info.add_argument(
        "model", metavar="MODEL", nargs="?", default=None, help="a .fader file (default: the bundled model)"
    )
    edit = commands.add_parser(
        "edit",
        help="change attributes of the faces in photos and save the results",
        description="Find the faces in each photo, set the given faders (or apply a preset) and write "
        "the edited photo: to OUT for one photo, into a folder for many (originals are never "
        "overwritten; in a folder, no existing file is).",
    )
    edit.add_argument(
        "photos",
        nargs="+",
        metavar="PHOTO",
        help="photos (JPEG, PNG, WebP, TIFF, BMP) or folders of photos to edit",
    )
    edit.add_argument(
        "--model", default=None, metavar="FILE", help="a .fader model file (default: the bundled model)"
    )
    edit.add_argument(
        "--set",
        dest="values",
        action="append",
        default=[],
        metavar="ATTR=VALUE",
        help="a fader value, e.g. Smiling=1 (repeatable); faders not set keep the face's own estimate",
    )
    edit.add_argument(
        "--preset",
        metavar="NAME|FILE",
        help="apply a saved preset (by name, or a preset .json file); --set values override its values",
    )
    edit.add_argument(
        "--relative",
        action="store_true",
        help="--set values are changes from each face's own estimate (Smiling=0.3: a bit more smile)",
    )
    output = edit.add_mutually_exclusive_group(required=True)
    output.add_argument("--out", metavar="FILE", help="where to write the edited photo (one photo)")
    output.add_argument(
        "--out-dir", metavar="DIR", help="the folder to write the edited photos to (made if needed)"
    )
    edit.add_argument(
        "--face",
        default="all",
        metavar="N|largest|all",
        help="edit only face N (1 = the largest) or the largest face (default: all)",
    )
    edit.add_argument(
        "-r", "--recursive", action="store_true", help="take the photos of folders' subfolders too"
    )
    edit.add_argument(
        "--pattern",
        default=BATCH_PATTERN,
        help="with --out-dir: the names of the edited photos, from {name} (the photo's name), "
        "{folder} (its folder's) and {n} (its number in the batch) (default: %(default)s)",
    )
    edit.add_argument(
        "--format",
        default=None,
        metavar="jpg|png|webp|tif|bmp",
        help="with --out-dir: the format to write (default: each photo's own)",
    )
    edit.add_argument(
        "--quality",
        type=int,
        default=EXPORT_QUALITY,
        metavar="1-100",
        help="JPEG and WebP quality (default: %(default)s)",
    )
    edit.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: the best one)")
    edit.add_argument("--backend", default=None, help=BACKEND_HELP)
    edit.add_argument(
        "--blend",
        choices=BLEND_CHOICES,
        default="detail",
        help="detail: add the change to the photo's own pixels, keeping its detail; "
        "replace: paste the decoded faces (default: detail)",
    )
    edit.add_argument(
        "--region",
        choices=REGION_CHOICES,
        default=REGION_CHOICES[0],
        help="where on each face the edit applies: the face oval, the mouth and lips, the eyes and brows, "
        "the hair, the skin, or everything in the model's crop (default: %(default)s)",
    )
    edit.add_argument(
        "--no-colour-match",
        dest="match_colour",
        action="store_false",
        help="no colour correction of the decoded faces (what replace pastes and detail blends toward)",
    )
    imp = commands.add_parser(
        "import",
        help="turn an official FaderNetworks model (.pth) into a .fader file, without running the pickle",
        description="Read an official FaderNetworks AutoEncoder (eyeglasses.pth, male.pth, ...) and "
        "optionally its attribute classifier (classifier256.pth) safely, and write a .fader model.",
    )
    imp.add_argument("pth", metavar="FILE.pth", help="an official AutoEncoder saved by torch.save")
    imp.add_argument(
        "--classifier", metavar="FILE.pth", help="an official Classifier for the same image size"
    )
    imp.add_argument("--out", required=True, metavar="MODEL.fader", help="the .fader file to write")
    return parser


COMMANDS = ("info", "edit", "import")
#: ``fader-studio fader-train ARGS`` is ``fader-train ARGS``.
TRAINER = PROGRAM


def get_app_args_parser() -> argparse.ArgumentParser:
    """The parser of ``fader-studio`` without a command: the editor's own options."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Start the editor. Commands: " + ", ".join(COMMANDS) + f" (see {PROG} COMMAND --help); "
        f"{PROG} {TRAINER} ARGS runs the trainer.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("photos", nargs="*", metavar="PHOTO", help="a photo to open")
    parser.add_argument("--model", metavar="FILE", help="a .fader model to open (default: the last one used)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: the best one)")
    parser.add_argument(
        "--backend", default=None, help="auto, torch or onnx (default auto: ONNX Runtime on the CPU)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fader-studio`` with ``argv`` (default: the process arguments); return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [TRAINER]:  # the trainer of a built app, which has no fader-train program of its own
        from trainer.cli import main as train

        return train(argv[1:])
    editor = not argv or (argv[0] not in COMMANDS and argv[0] not in ("-h", "--help"))
    warnings.showwarning = _show_warning
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _on_interrupt)
    parser = get_app_args_parser() if editor else get_args_parser()
    args, extra = parser.parse_known_args(argv)
    if not editor and args.command == "edit":  # photos after options: edit a.jpg --set Smiling=1 b.jpg
        args.photos += [e for e in extra if not e.startswith("-")]
        extra = [e for e in extra if e.startswith("-")]
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        if not editor and args.command == "info":
            return _info(args.model)
        if not editor and args.command == "edit":
            return _edit(args)
        if not editor and args.command == "import":
            return _import(args)
        from .display import display_problem

        problem = display_problem()
        if problem is not None:  # before Qt, which would abort the process without saying why
            raise FaderStudioError(problem)
        from .ui.app import run_app

        return run_app(args.photos, args.model, args.device, args.backend)
    except FaderStudioError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:  # Ctrl+C while starting or editing: nothing was written
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception:
        if _interrupted.is_set():  # Ctrl+C inside a library (a lazy import) that turned it into another error
            print(f"{PROG}: interrupted", file=sys.stderr)
            return 130
        raise


#: Set by the first Ctrl+C: whatever error it surfaces as, the command reports an interruption.
_interrupted = threading.Event()


def _on_interrupt(signum: int, frame: object) -> None:
    _interrupted.set()
    raise KeyboardInterrupt


def _show_warning(message: Warning | str, category: type[Warning], *_: object, **__: object) -> None:
    """A warning as one line on stderr, as errors are (not Python's two lines with a source line)."""
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def _model_or_bundled(path: str | None) -> Path:
    """``path``, or the bundled default model when none is given."""
    if path is not None:
        return Path(path)
    bundled = paths.bundled_model()
    if bundled is None:
        raise FaderStudioError("this copy of Fader Studio has no bundled model; give one with a path")
    return bundled


def _info(path: str | None) -> int:
    from .core.modelfile import model_info

    print(json.dumps(model_info(_model_or_bundled(path)), indent=2, allow_nan=False))
    return 0


def _edit(args: argparse.Namespace) -> int:
    from .edit_command import run

    return run(args, PROG, _model_or_bundled(args.model))


def _import(args: argparse.Namespace) -> int:
    from .core.modelfile import save_model
    from .core.official_import import import_official

    out = Path(args.out)
    if out.exists():
        raise FaderStudioError(f"{out} exists; choose another name")
    model = import_official(args.pth, args.classifier)
    save_model(model, out)
    names = ", ".join(model.attribute_names)
    extra = ", with its classifier" if model.classifier is not None else ""
    print(f"{out}: {names} at {model.image_size}px{extra}")
    return 0
