"""Files shipped with Fader Studio: the face detector and sample photos (see README.md here)."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent

#: The YuNet face detector (MIT).
FACE_DETECTOR = "models/face_detection_yunet.onnx"
#: A public-domain portrait (NASA, via scikit-image).
SAMPLE_PHOTO = "samples/astronaut.png"


def path(name: str) -> Path:
    """The path of the bundled file ``name`` (e.g. :data:`FACE_DETECTOR`)."""
    return _HERE / name
