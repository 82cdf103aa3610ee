"""The ``fader-studio`` command: the editor, and model tools for the terminal.

::

    fader-studio                 start the editor
    fader-studio --version
    fader-studio info MODEL      validate a .fader file and print its metadata as JSON

Bad input exits with status 2 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from . import __version__
from .core.errors import FaderStudioError

PROG = "fader-studio"


def get_args_parser() -> argparse.ArgumentParser:
    """The parser of ``fader-studio`` (returned so tools can extend it)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Change attributes of faces in photos with one fader per attribute.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", title="commands (none: start the editor)"
    )
    info = commands.add_parser("info", help="validate a .fader model file and print its metadata as JSON")
    info.add_argument("model", metavar="MODEL", help="path to a .fader file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fader-studio`` with ``argv`` (default: the process arguments); return the exit status."""
    args = get_args_parser().parse_args(argv)
    try:
        if args.command == "info":
            return _info(args.model)
        from .ui.app import run_app

        return run_app()
    except FaderStudioError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return e.exit_code


def _info(path: str) -> int:
    from .core.modelfile import model_info

    print(json.dumps(model_info(path), indent=2))
    return 0
