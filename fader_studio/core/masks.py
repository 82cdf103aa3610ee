"""Region masks drawn in a face's crop, and the brush that changes them (see :mod:`.regions`).

The point sets are MediaPipe's face mesh contours (``face_mesh_connections``,
Apache-2.0).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .regions import check_region

# MediaPipe face mesh contours (indices of the 468 points)
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
LIPS = (
    0, 13, 14, 17, 37, 39, 40, 61, 78, 80, 81, 82, 84, 87, 88, 91, 95, 146, 178, 181, 185, 191,
    267, 269, 270, 291, 308, 310, 311, 312, 314, 317, 318, 321, 324, 375, 402, 405, 409, 415,
)  # fmt: skip
NOSE_TIP = 1
RIGHT_EYE = (
    7, 33, 133, 144, 145, 153, 154, 155, 157, 158, 159, 160, 161, 163, 173, 246,  # eye
    46, 52, 53, 55, 63, 65, 66, 70, 105, 107,  # brow
)  # fmt: skip
LEFT_EYE = (
    249, 263, 362, 373, 374, 380, 381, 382, 384, 385, 386, 387, 388, 390, 398, 466,  # eye
    276, 282, 283, 285, 293, 295, 296, 300, 334, 336,  # brow
)  # fmt: skip

#: Feathering: a Gaussian of this share of the face's width (the oval's, or 2.25 eye distances).
FEATHER = 0.035
#: The mouth region reaches this share of the mouth's width beyond the lips (cheek folds, corners).
MOUTH_GROW = 0.5
#: The eye regions reach this share of an eye-and-brow's width beyond them.
EYE_GROW = 0.2
#: The skin region leaves out the lips and the eyes and brows, each grown by this share of its width.
SKIN_HOLE = 0.2
#: The hair region: the oval pushed out this much (× its radius) sideways, more upwards.
HAIR_SIDE, HAIR_TOP = 0.3, 0.6

# Without mesh points: the face's parts in eye distances from the eyes' midpoint (x along the eye
# line, y down), the means of the mesh on 60 CelebA-sample faces.
FIVE_OVAL = ((0.0, 0.45), (1.13, 1.37))  # centre, half-axes
FIVE_EYE = ((0.0, -0.2), (0.4, 0.3))  # about each eye, brow included
FIVE_MOUTH_HALF_HEIGHT = 0.12


@dataclass(frozen=True)
class FaceShape:
    """A face's parts in its crop's pixels: the oval, the lips, each eye with its brow (polygons)."""

    oval: np.ndarray  # (k, 2), in order around the face
    mouth: np.ndarray  # (k, 2), convex
    eyes: tuple[np.ndarray, np.ndarray]  # (k, 2) each, convex
    nose: np.ndarray  # (2,): the tip
    from_mesh: bool  # drawn from mesh points (else from the five detector points)


def shape_from_mesh(points: np.ndarray) -> FaceShape:
    """The shape from the 468 mesh points ``(468, 2)`` in crop pixels."""
    hull = lambda ids: cv2.convexHull(points[list(ids)].astype(np.float32))[:, 0]  # noqa: E731
    eyes = (hull(RIGHT_EYE), hull(LEFT_EYE))
    return FaceShape(points[list(FACE_OVAL)], hull(LIPS), eyes, points[NOSE_TIP], True)


def shape_from_five(five: np.ndarray) -> FaceShape:
    """The shape estimated from the detector's five points ``(5, 2)`` in crop pixels (eyes, nose, mouth)."""
    right, left, nose, mouth_right, mouth_left = np.asarray(five, np.float64)
    distance = max(float(np.linalg.norm(left - right)), 1.0)
    across = (left - right) / distance
    down = np.array([-across[1], across[0]])
    middle = (right + left) / 2

    def ellipse(centre: np.ndarray, half: tuple[float, float]) -> np.ndarray:
        angles = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        return centre + np.outer(half[0] * np.cos(angles), across) + np.outer(half[1] * np.sin(angles), down)

    (ox, oy), (ax, ay) = FIVE_OVAL
    oval = ellipse(middle + distance * (ox * across + oy * down), (ax * distance, ay * distance))
    mouth_width = float(np.linalg.norm(mouth_left - mouth_right))
    mouth = ellipse((mouth_left + mouth_right) / 2, (mouth_width / 2, FIVE_MOUTH_HALF_HEIGHT * distance))
    (ex, ey), (hx, hy) = FIVE_EYE
    eyes = tuple(
        ellipse(eye + distance * (ex * across + ey * down), (hx * distance, hy * distance))
        for eye in (right, left)
    )
    return FaceShape(oval, mouth, eyes, nose, False)


def region_mask(region: str, shape: FaceShape, size: int) -> np.ndarray:
    """The feathered mask (S, S) float32 in [0, 1] of ``region`` (a key of :data:`REGIONS`) of a face."""
    if check_region(region) == "crop":
        return np.ones((size, size), np.float32)
    width = _width(shape.oval)
    feather = max(0.5, FEATHER * width)
    if region == "face":
        return _soft(_filled(size, shape.oval), feather, grow=feather)
    if region == "mouth":
        grown = _grown(shape.mouth, MOUTH_GROW * _width(shape.mouth))
        return _soft(_filled(size, grown), feather)
    if region == "eyes":
        eyes = [_grown(eye, EYE_GROW * _width(eye)) for eye in shape.eyes]
        return _soft(_filled(size, *eyes), feather)
    if region == "skin":
        holes = [_grown(part, SKIN_HOLE * _width(part)) for part in (shape.mouth, *shape.eyes)]
        parts = _filled(size, *holes)
        return _soft(np.clip(_filled(size, shape.oval) - parts, 0, 1), feather)
    # hair: around the oval, wider above it, down to the nose (lower, beside the jaw, is mostly background)
    centre = shape.oval.mean(0)
    out = shape.oval - centre
    lengths = np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-6)
    upward = np.clip(-out[:, 1:] / lengths, 0, 1)
    head = centre + out * (1 + HAIR_SIDE + (HAIR_TOP - HAIR_SIDE) * upward)
    hair = np.clip(_filled(size, head) - _filled(size, _grown(shape.oval, feather)), 0, 1)
    hair[max(0, int(np.ceil(shape.nose[1]))) :] = 0
    return _soft(hair, feather)


def paint(mask: np.ndarray, centre: tuple[float, float], radius: float, hardness: float, erase: bool) -> None:
    """Paint (or with ``erase`` hold back) a round brush dab into ``mask`` (S, S) float32, in place.

    ``centre`` and ``radius`` are in the mask's pixels; ``hardness`` in [0, 1]
    is the share of the radius at full strength (the rest falls off
    smoothly). Painting moves the mask toward 1 by the brush's strength,
    erasing toward 0, so strokes over strokes never go past either.
    """
    size = mask.shape[0]
    reach = radius + 1
    x0, y0 = max(0, int(np.floor(centre[0] - reach))), max(0, int(np.floor(centre[1] - reach)))
    x1, y1 = min(size, int(np.ceil(centre[0] + reach)) + 1), min(size, int(np.ceil(centre[1] + reach)) + 1)
    if x1 <= x0 or y1 <= y0:
        return
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    distance = np.hypot(xs - centre[0], ys - centre[1]) / max(radius, 0.5)
    inner = min(max(hardness, 0.0), 0.99)
    t = np.clip((distance - inner) / (1 - inner), 0, 1)
    strength = 1 - t * t * (3 - 2 * t)  # smooth fall-off from the inner core to the rim
    patch = mask[y0:y1, x0:x1]
    if erase:
        patch *= 1 - strength
    else:
        patch += strength * (1 - patch)


def _width(polygon: np.ndarray) -> float:
    return float(max(np.ptp(polygon[:, 0]), np.ptp(polygon[:, 1]), 1.0))


def _grown(polygon: np.ndarray, by: float) -> np.ndarray:
    """A convex or star-shaped ``polygon`` pushed out from its centre by ``by`` pixels."""
    centre = polygon.mean(0)
    out = polygon - centre
    lengths = np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-6)
    return centre + out * (1 + by / lengths)


def _filled(size: int, *polygons: np.ndarray) -> np.ndarray:
    """Polygons filled with 1 on an (S, S) float32 canvas, to a 16th of a pixel."""
    canvas = np.zeros((size, size), np.float32)
    shift = 4
    points = [np.round((np.asarray(p) + 0.5) * (1 << shift) - 0.5).astype(np.int32) for p in polygons]
    cv2.fillPoly(canvas, points, 1.0, lineType=cv2.LINE_AA, shift=shift)
    return canvas


def _soft(mask: np.ndarray, sigma: float, grow: float = 0.0) -> np.ndarray:
    """``mask`` feathered by a Gaussian of ``sigma`` (after growing it by ``grow`` pixels), in [0, 1]."""
    if grow > 0:
        radius = max(1, round(grow))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        mask = cv2.dilate(mask, kernel)
    soft = cv2.GaussianBlur(mask, (0, 0), sigma, borderType=cv2.BORDER_CONSTANT)
    soft[soft < 1e-3] = 0.0
    return np.clip(soft, 0, 1)
