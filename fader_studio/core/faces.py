"""Faces in real photos: detect, align to a model's template, and the region an edit goes back to.

Models only understand CelebA-aligned S×S crops. For a user's photo,
:class:`FaceDetector` finds every face with 5 landmarks (YuNet, bundled,
offline); :func:`align_face` fits a similarity transform (rotation, uniform
scale, translation; least squares over the 5 points) from those landmarks to
the model's template and warps the face to S×S; :func:`face_region` and
:func:`feather_mask` give the rectangle of the photo an edit may change and
the crop's feathered edge, through which :mod:`fader_studio.core.composite`
brings the edit back, leaving every pixel outside the mask bit-identical. All of it works
on regions, so a 50-megapixel photo is never converted to float as a whole.

Landmark order everywhere: image-left eye, image-right eye, nose, image-left
mouth corner, image-right mouth corner (YuNet's and CelebA's order).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from .errors import NoFaceError
from .imageio import paper_crop
from .template import CELEBA_BOX, CELEBA_HEIGHT, CELEBA_MEAN_LANDMARKS, CELEBA_WIDTH, is_celeba_framing

#: Faces scoring below this are ignored.
DEFAULT_SCORE_THRESHOLD = 0.7
#: Photos are searched at most this large (longest side); boxes map back to full size.
DETECTION_SIDE = 1280
#: A 178×218 photo whose landmarks are this close (mean, pixels) to CelebA's is used as it is.
ALIGNED_TOLERANCE = 10.0
#: The feathered mask: kept border and blur, as fractions of the crop size.
MASK_BORDER, MASK_BLUR = 0.06, 0.035

#: Faces tilted more than this (degrees) get their landmarks found again upright.
REFINE_ROLL = 5.0
#: When YuNet's eyes are tilted more than this (degrees), it has seen the tilt; below, symmetry decides.
TRUSTED_EYE_ROLL = 10.0
#: A tilt found by symmetry counts only if it is this much more symmetric than no tilt.
SYMMETRY_GAIN = 0.7
#: Tilts searched by symmetry (±degrees), on a small grayscale view of this size.
MAX_ROLL, SYMMETRY_VIEW = 50, 64
#: The upright view: its size, and the distance between the eyes in it.
UPRIGHT_VIEW, UPRIGHT_EYES = 256, 64.0


def _symmetry_mask() -> np.ndarray:
    y, x = np.mgrid[0:SYMMETRY_VIEW, 0:SYMMETRY_VIEW] + 0.5
    half = SYMMETRY_VIEW / 2
    return ((x - half) / (0.3 * SYMMETRY_VIEW)) ** 2 + ((y - half) / (0.42 * SYMMETRY_VIEW)) ** 2 < 1


_SYMMETRY_MASK = _symmetry_mask()

cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # OpenCV 5 warns about DNN targets


@dataclass(frozen=True)
class Face:
    """A face found in a photo: box ``(x, y, w, h)``, 5 landmarks ``(5, 2)`` and a score, in photo pixels."""

    box: tuple[float, float, float, float]
    landmarks: np.ndarray
    score: float

    @property
    def area(self) -> float:
        """Area of the box, for ordering faces by size."""
        return self.box[2] * self.box[3]


@dataclass(frozen=True)
class AlignedFace:
    """A face warped to a model's S×S crop, with the transform to put it back."""

    face: Face
    crop: np.ndarray  # (S, S, 3) uint8
    matrix: np.ndarray  # (2, 3) float64: photo pixel → crop pixel (pixel centres at integers)
    direct: bool  # an aligned CelebA photo, cropped as in training instead of warped


class FaceDetector:
    """Finds faces with YuNet (``cv2.FaceDetectorYN``). Not thread-safe: one per worker thread."""

    def __init__(
        self, model: str | Path | None = None, *, score_threshold: float = DEFAULT_SCORE_THRESHOLD
    ) -> None:
        if model is None:
            from fader_studio import resources

            model = resources.path(resources.FACE_DETECTOR)
        self._detector = cv2.FaceDetectorYN.create(str(model), "", (320, 320), score_threshold, 0.3, 5000)

    def detect(self, pixels: np.ndarray) -> list[Face]:
        """Every face in an (H, W, 3) uint8 RGB photo, largest first."""
        height, width = pixels.shape[:2]
        scale = min(1.0, DETECTION_SIDE / max(height, width))
        small = pixels
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            small = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
            scale = size[0] / width
        self._detector.setInputSize((small.shape[1], small.shape[0]))
        _, rows = self._detector.detect(np.ascontiguousarray(small[:, :, ::-1]))  # YuNet wants BGR
        faces = []
        for row in [] if rows is None else rows:
            x, y, w, h = (float(v) / scale for v in row[:4])
            landmarks = (row[4:14].reshape(5, 2).astype(np.float64) + 0.5) / scale - 0.5
            faces.append(self._upright(pixels, Face((x, y, w, h), landmarks, float(row[14]))))
        return sorted(faces, key=lambda f: f.area, reverse=True)

    def _upright(self, pixels: np.ndarray, face: Face) -> Face:
        """``face`` with its landmarks found again on an upright view when the face is tilted.

        YuNet's landmarks barely follow in-plane tilt up to about 30° (on a face
        turned 20° they come out turned 2°), so unless they show a clear tilt,
        the tilt is measured from the face's left-right symmetry; a face tilted
        more than :data:`REFINE_ROLL` is turned upright and searched again,
        where YuNet's landmarks are accurate.
        """
        roll = eye_roll(face.landmarks)
        if abs(roll) <= TRUSTED_EYE_ROLL:  # YuNet saw little or no tilt: it may have missed it
            roll = _symmetry_roll(pixels, face.landmarks)
        if abs(roll) <= REFINE_ROLL:
            return face
        eyes = max(1.0, float(np.linalg.norm(face.landmarks[1] - face.landmarks[0])))
        matrix = turn_matrix(face.landmarks.mean(0), roll, UPRIGHT_EYES / eyes, UPRIGHT_VIEW)
        view = _warp(pixels, matrix, UPRIGHT_VIEW, cv2.INTER_LINEAR)
        self._detector.setInputSize((UPRIGHT_VIEW, UPRIGHT_VIEW))
        _, rows = self._detector.detect(np.ascontiguousarray(view[:, :, ::-1]))
        if rows is None:
            return face
        middle = UPRIGHT_VIEW / 2
        row = min(rows, key=lambda r: abs(r[0] + r[2] / 2 - middle) + abs(r[1] + r[3] / 2 - middle))
        back = cv2.invertAffineTransform(matrix)
        landmarks = map_points(back, row[4:14].reshape(5, 2))
        return Face(face.box, landmarks, face.score)


def eye_roll(landmarks: np.ndarray) -> float:
    """The tilt of the line between the eyes (degrees, OpenCV's sense)."""
    dx, dy = landmarks[1] - landmarks[0]
    return float(np.degrees(np.arctan2(dy, dx)))


def _symmetry_roll(pixels: np.ndarray, landmarks: np.ndarray) -> float:
    """The rotation (degrees, OpenCV's sense) that makes the face most left-right symmetric."""
    centre = landmarks.mean(0)
    eyes = max(1.0, float(np.linalg.norm(landmarks[1] - landmarks[0])))
    x0, y0 = np.maximum(np.floor(centre - 1.6 * eyes).astype(int), 0)
    patch = pixels[y0 : int(centre[1] + 1.6 * eyes) + 1, x0 : int(centre[0] + 1.6 * eyes) + 1]
    if patch.size == 0:
        return 0.0
    gray = cv2.cvtColor(np.ascontiguousarray(patch), cv2.COLOR_RGB2GRAY).astype(np.float32)
    local = centre - np.array([x0, y0], np.float64)
    scale = SYMMETRY_VIEW * 0.35 / eyes
    best, best_roll, upright = np.inf, 0.0, np.inf
    for roll in np.arange(-MAX_ROLL, MAX_ROLL + 1, 2.0):
        matrix = turn_matrix(local, float(roll), scale, SYMMETRY_VIEW)
        view = cv2.warpAffine(gray, matrix, (SYMMETRY_VIEW, SYMMETRY_VIEW), borderMode=cv2.BORDER_REFLECT_101)
        view -= cv2.GaussianBlur(view, (0, 0), SYMMETRY_VIEW / 8)  # edges, not lighting
        inside = np.abs(view[_SYMMETRY_MASK]).mean() + 1e-3
        score = np.abs(view - view[:, ::-1])[_SYMMETRY_MASK].mean() / inside
        if roll == 0:
            upright = score
        if score < best:
            best, best_roll = score, float(roll)
    # a face turned sideways is asymmetric at every tilt: trust only a clear optimum
    return best_roll if best < SYMMETRY_GAIN * upright else 0.0


def map_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``points`` (k, 2) (or one point, (2,)) moved by the (2, 3) affine ``matrix``."""
    return np.asarray(points, np.float64) @ matrix[:, :2].T + matrix[:, 2]


def similarity_matrix(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The (2, 3) rotation + uniform scale + translation that best maps ``source`` points onto ``target``.

    Least squares over all points (Umeyama 1991), never a reflection.
    """
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    mean_s, mean_t = source.mean(0), target.mean(0)
    s, t = source - mean_s, target - mean_t
    covariance = t.T @ s / len(source)
    u, d, vt = np.linalg.svd(covariance)
    sign = np.diag([1.0, 1.0 if np.linalg.det(u) * np.linalg.det(vt) > 0 else -1.0])
    rotation = u @ sign @ vt
    scale = np.trace(np.diag(d) @ sign) / (s**2).sum(1).mean()
    matrix = np.empty((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = mean_t - matrix[:, :2] @ mean_s
    return matrix


def _is_celeba_aligned(pixels: np.ndarray, face: Face) -> bool:
    if pixels.shape[:2] != (CELEBA_HEIGHT, CELEBA_WIDTH):
        return False
    error = np.linalg.norm(face.landmarks - np.asarray(CELEBA_MEAN_LANDMARKS), axis=1).mean()
    return bool(error <= ALIGNED_TOLERANCE)


def _celeba_matrix(size: int) -> np.ndarray:
    left, top, right, _ = CELEBA_BOX
    k = size / (right - left)
    return np.array([[k, 0.0, (0.5 - left) * k - 0.5], [0.0, k, (0.5 - top) * k - 0.5]])


def align_face(pixels: np.ndarray, face: Face, template: Sequence[Sequence[float]], size: int) -> AlignedFace:
    """Warp ``face`` of an RGB photo to the S×S crop whose landmarks are ``template``.

    A 178×218 photo that already is a CelebA-aligned face is cropped exactly as
    training data (rows 20:198, resized), not warped, when the template frames
    faces as CelebA does.
    """
    if is_celeba_framing(template, size) and _is_celeba_aligned(pixels, face):
        crop = paper_crop(Image.fromarray(pixels), size)
        return AlignedFace(face, crop, _celeba_matrix(size), direct=True)
    matrix = similarity_matrix(face.landmarks, template)
    return AlignedFace(face, _warp(pixels, matrix, size, cv2.INTER_CUBIC), matrix, direct=False)


def turn_matrix(centre: np.ndarray, roll: float, scale: float, view: int) -> np.ndarray:
    """The (2, 3) matrix that turns by ``roll`` degrees and scales about ``centre``, into a view's middle."""
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), roll, scale)
    matrix[:, 2] += view / 2 - np.asarray(centre, np.float64)
    return matrix


def _warp(pixels: np.ndarray, matrix: np.ndarray, size: int, interpolation: int) -> np.ndarray:
    """The S×S image that ``matrix`` maps the photo to, reflected at its borders, never aliased."""
    region, to_view = _shrunk_region(pixels, matrix, size)
    return cv2.warpAffine(
        region, to_view, (size, size), flags=interpolation, borderMode=cv2.BORDER_REFLECT_101
    )


def _footprint(
    matrix: np.ndarray, size: int, shape: tuple[int, ...], margin: int
) -> tuple[int, int, int, int]:
    """The photo rectangle ``(x0, y0, x1, y1)`` that the S×S crop covers, grown by ``margin``, clipped."""
    return photo_rect(matrix, (-0.5, -0.5, size - 0.5, size - 0.5), shape, margin)


def photo_rect(
    matrix: np.ndarray, rect: tuple[float, float, float, float], shape: tuple[int, ...], margin: int
) -> tuple[int, int, int, int]:
    """The photo rectangle ``(x0, y0, x1, y1)`` that the crop rectangle ``rect`` maps to, grown, clipped.

    ``matrix`` maps photo pixels to crop pixels; ``rect`` is in crop coordinates; the
    result is grown by ``margin`` pixels and clipped to a photo of ``shape`` (it may be empty).
    """
    inverse = cv2.invertAffineTransform(matrix)
    left, top, right, bottom = rect
    corners = np.array([[left, top, 1], [right, top, 1], [left, bottom, 1], [right, bottom, 1]])
    points = corners @ inverse.T
    x0, y0 = np.floor(points.min(0)).astype(int) - margin
    x1, y1 = np.ceil(points.max(0)).astype(int) + margin
    height, width = shape[:2]
    return int(max(x0, 0)), int(max(y0, 0)), int(min(x1, width)), int(min(y1, height))


def _shrunk_region(pixels: np.ndarray, matrix: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The part of the photo the crop needs, pre-shrunk with an area filter when the face is large.

    Returns the region and the matrix from region pixels to crop pixels, so that
    the final warp never shrinks by more than 2× (no aliasing).
    """
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    x0, y0, x1, y1 = _footprint(matrix, size, pixels.shape, margin=4)
    if x1 <= x0 or y1 <= y0:  # the face lies outside the photo: warp from the whole photo
        return pixels, matrix
    region = pixels[y0:y1, x0:x1]
    to_region = np.array([[1.0, 0.0, x0], [0.0, 1.0, y0], [0.0, 0.0, 1.0]])
    shrink = 1.0
    if scale < 0.5:
        shrink = 2.0 * scale  # leave a 2× downscale to the warp
        shape = (max(1, round(region.shape[1] * shrink)), max(1, round(region.shape[0] * shrink)))
        shrink = shape[0] / region.shape[1]
        region = cv2.resize(region, shape, interpolation=cv2.INTER_AREA)
    # region pixel r ↔ photo pixel p: p = (r + 0.5) / shrink - 0.5 + origin
    unshrink = np.array(
        [[1 / shrink, 0.0, 0.5 / shrink - 0.5], [0.0, 1 / shrink, 0.5 / shrink - 0.5], [0, 0, 1]]
    )
    full = np.vstack([matrix, [0.0, 0.0, 1.0]]) @ to_region @ unshrink
    return region, full[:2]


@functools.lru_cache(maxsize=8)
def feather_mask(size: int) -> np.ndarray:
    """The blend weights of an S×S crop: 1 inside, falling smoothly to 0 before its edges (float32)."""
    border = max(1, round(MASK_BORDER * size))
    mask = np.zeros((size, size), np.float32)
    mask[border:-border, border:-border] = 1.0
    sigma = max(0.5, MASK_BLUR * size)
    mask = cv2.GaussianBlur(mask, (0, 0), sigma, borderType=cv2.BORDER_CONSTANT)
    mask[mask < 1e-3] = 0.0
    mask.setflags(write=False)
    return mask


def face_region(aligned: AlignedFace, size: int, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The rectangle ``(x0, y0, x1, y1)`` of a photo of ``shape`` that pasting an S×S crop may change."""
    x0, y0, x1, y1 = _footprint(aligned.matrix, size, shape, margin=2)
    return int(x0), int(y0), int(x1), int(y1)


def scaled_face(aligned: AlignedFace, scale_x: float, scale_y: float) -> AlignedFace:
    """``aligned`` as a face of the photo resized by ``(scale_x, scale_y)`` (as ``cv2.resize`` maps pixels).

    Pixel centre ``u`` of the resized photo lies at ``(u + 0.5) / scale - 0.5``
    of the original, so compositing into the resized photo matches resizing the
    full-size composite.
    """
    to_photo = np.array(
        [[1 / scale_x, 0, 0.5 / scale_x - 0.5], [0, 1 / scale_y, 0.5 / scale_y - 0.5], [0, 0, 1]]
    )
    return AlignedFace(aligned.face, aligned.crop, aligned.matrix @ to_photo, aligned.direct)


def to_crop(aligned: AlignedFace, x0: int, y0: int) -> np.ndarray:
    """The (2, 3) affine map from pixels of a photo region starting at ``(x0, y0)`` to crop pixels."""
    shift = np.array([[1.0, 0, x0], [0, 1.0, y0], [0, 0, 1]])
    return (np.vstack([aligned.matrix, [0, 0, 1]]) @ shift)[:2]


def whole_face(pixels: np.ndarray, template: Sequence[Sequence[float]], size: int) -> AlignedFace:
    """A 178×218 CelebA-aligned photo taken as one face without detection.

    It is cropped as in training for a template with CelebA's framing, and
    warped from CelebA's mean landmarks to any other template.
    """
    if pixels.shape[:2] != (CELEBA_HEIGHT, CELEBA_WIDTH):
        raise NoFaceError(
            f"only a {CELEBA_WIDTH}×{CELEBA_HEIGHT} CelebA-aligned face can be edited as a whole image"
        )
    left, top, right, bottom = CELEBA_BOX
    face = Face((left, top, right - left, bottom - top), np.asarray(CELEBA_MEAN_LANDMARKS), 1.0)
    if not is_celeba_framing(template, size):
        return align_face(pixels, face, template, size)
    crop = paper_crop(Image.fromarray(pixels), size)
    return AlignedFace(face, crop, _celeba_matrix(size), direct=True)


def find_faces(
    pixels: np.ndarray,
    template: Sequence[Sequence[float]],
    size: int,
    detector: FaceDetector | None = None,
    *,
    name: str = "the photo",
) -> list[AlignedFace]:
    """Detect and align every face of an RGB photo, largest first; :class:`NoFaceError` if none."""
    faces = (detector or FaceDetector()).detect(pixels)
    if not faces:
        raise NoFaceError(
            f"{name}: no face found (faces should be at least about 20 pixels wide and upright)"
        )
    return [align_face(pixels, face, template, size) for face in faces]
