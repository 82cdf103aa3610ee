"""Files shipped with Fader Studio: the face detector, the default model, sample photos, icons.

They live at the top of the repository, in ``resources/`` (see README.md there), and are
installed as this package, ``fader_studio.resources`` (pyproject.toml maps it), so a wheel, an
editable install and the PyInstaller build (which collects them into
``_internal/fader_studio/resources``) all find them through :mod:`importlib.resources`.
"""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path

#: The YuNet face detector (MIT).
FACE_DETECTOR = "models/face_detection_yunet.onnx"
#: MediaPipe's face mesh landmarks as ONNX (Apache-2.0), for the regions an edit may be limited to.
FACE_LANDMARKS = "models/face_landmark.onnx"
#: A public-domain portrait (NASA, via scikit-image).
SAMPLE_PHOTO = "samples/astronaut.png"
#: Sizes of ``icons/fader-studio-SIZE.png`` (also ``fader-studio.ico`` and ``.icns``).
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
#: The Linux desktop entry.
DESKTOP_FILE = "fader-studio.desktop"


def path(name: str) -> Path:
    """The path of the bundled file ``name`` (e.g. :data:`FACE_DETECTOR`) on disk."""
    with as_file(files(__name__).joinpath(*name.split("/"))) as found:
        return found  # installed as files (never zipped), so the path stays valid
