"""JSON-lines progress events (DESIGN §4): what the GUI reads from ``--progress json``.

Each event is one JSON object on one line with ``event`` and ``time`` (Unix
seconds); fields may be added, never renamed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any, TextIO


def emit(stream: TextIO | Sequence[TextIO], event: str, **fields: Any) -> None:
    """Write one event line to ``stream`` (or to each of several) and flush it at once."""
    line = json.dumps({"event": event, "time": round(time.time(), 3), **fields}, allow_nan=False) + "\n"
    for out in [stream] if hasattr(stream, "write") else stream:
        out.write(line)
        out.flush()
