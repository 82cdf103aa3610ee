"""JSON-lines progress events (DESIGN §4): what the GUI reads from ``--progress json``.

Each event is one JSON object on one line with ``event`` and ``time`` (Unix
seconds); fields may be added, never renamed.
"""

from __future__ import annotations

import json
import time
from typing import Any, TextIO


def emit(stream: TextIO, event: str, **fields: Any) -> None:
    """Write one event line to ``stream`` and flush it, so a reading process sees it at once."""
    stream.write(json.dumps({"event": event, "time": round(time.time(), 3), **fields}) + "\n")
    stream.flush()
