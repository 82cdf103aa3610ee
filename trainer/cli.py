"""The ``fader-train`` command: the Fader Networks trainer.

Bad input exits with status 2 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from fader_studio import __version__
from fader_studio.core.errors import FaderStudioError

PROG = "fader-train"


def get_args_parser() -> argparse.ArgumentParser:
    """The parser of ``fader-train``; each command adds its own sub-parser."""
    parser = argparse.ArgumentParser(prog=PROG, description="Train Fader Networks on CelebA-format data.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND", title="commands", required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fader-train`` with ``argv`` (default: the process arguments); return the exit status."""
    args = get_args_parser().parse_args(argv)
    try:
        return args.run(args)
    except FaderStudioError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return e.exit_code
