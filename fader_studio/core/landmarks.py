"""468 face mesh points per face, for the regions an edit may be limited to.

MediaPipe's face landmark model (Apache-2.0, bundled as ONNX: see
``resources/README.md``) looks at an upright 192×192 view of each face, about
1.5 times the detector's box, and gives 468 points of the face's surface. It
runs on ONNX Runtime; when that or the model file is missing, or the model
does not see a face, :class:`FaceLandmarker` gives ``None`` and the regions
are drawn from the detector's five points instead
(:mod:`fader_studio.core.regions`).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import cv2
import numpy as np

from .faces import Face, eye_roll, map_points, turn_matrix

log = logging.getLogger(__name__)

#: The model's input side, in pixels.
VIEW_SIDE = 192
#: The view's side as a multiple of the detector box's longer side (MediaPipe's crops add 25 % a side).
BOX_MARGIN = 1.5
#: Below this probability that a face is in the view, its points are not trusted.
MIN_PRESENCE = 0.5
#: Points of the face mesh.
POINTS = 468


class FaceLandmarker:
    """Face mesh points of detected faces. Not thread-safe: one per worker thread (as the detector).

    ``problem`` says why points cannot be had (``None`` when they can); then
    :meth:`points` always gives ``None``.
    """

    def __init__(self, model: str | Path | None = None) -> None:
        self.problem: str | None = None
        self._session = None
        if model is None:
            from fader_studio import resources

            model = resources.path(resources.FACE_LANDMARKS)
        try:
            import onnxruntime as ort
        except ImportError:
            self.problem = "ONNX Runtime is not installed"
            return
        if not Path(model).is_file():
            self.problem = f"the face landmark model is missing ({model})"
            return
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # a face at a time, beside the editor's other work
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001 (onnxruntime raises its own exception types)
            self.problem = f"the face landmark model does not load ({str(e).splitlines()[0]})"

    def points(self, pixels: np.ndarray, face: Face) -> np.ndarray | None:
        """The face's 468 mesh points ``(468, 2)`` in photo pixels (``None``: no model, or no face seen)."""
        if self._session is None:
            return None
        matrix = view_matrix(face)
        view = cv2.warpAffine(
            pixels, matrix, (VIEW_SIDE, VIEW_SIDE), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
        )
        image = (view.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
        landmarks, presence = self._session.run(None, {"image": np.ascontiguousarray(image)})
        if 1.0 / (1.0 + math.exp(-float(presence.ravel()[0]))) < MIN_PRESENCE:
            return None
        points = landmarks.reshape(POINTS, 3)[:, :2].astype(np.float64) - 0.5  # pixel centres at integers
        back = cv2.invertAffineTransform(matrix)
        return map_points(back, points)


def view_matrix(face: Face) -> np.ndarray:
    """The (2, 3) map from photo pixels to the model's upright view of ``face``."""
    x, y, w, h = face.box
    side = BOX_MARGIN * max(w, h, 1.0)
    centre = np.array([x + w / 2, y + h / 2])
    return turn_matrix(centre, eye_roll(face.landmarks), VIEW_SIDE / side, VIEW_SIDE)
