"""Files shipped with Fader Studio: the face detector, sample photos, icons (see README.md here).

They live inside the package, so a ``pip install`` and the PyInstaller build (which collects
them into ``_internal/fader_studio/resources``, where the frozen module's ``__file__`` points)
find them with the same :func:`path`.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent

#: The YuNet face detector (MIT).
FACE_DETECTOR = "models/face_detection_yunet.onnx"
#: A public-domain portrait (NASA, via scikit-image).
SAMPLE_PHOTO = "samples/astronaut.png"
#: Sizes of ``icons/fader-studio-SIZE.png`` (also ``fader-studio.ico`` and ``.icns``).
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
#: The Linux desktop entry.
DESKTOP_FILE = "fader-studio.desktop"


def path(name: str) -> Path:
    """The path of the bundled file ``name`` (e.g. :data:`FACE_DETECTOR`)."""
    return _HERE / name
