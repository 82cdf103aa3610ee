"""The alignment template: where a model expects the 5 face landmarks.

Models learn from CelebA-aligned faces (178×218), cropped to rows 20:198
(178×178) and resized to S×S. A face in a user's photo is warped so that its
landmarks land on the same points. The template is stored in every model in
crop coordinates (pixels of the S×S crop, pixel centres at integers).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

#: The sizes S of the S×S crops that models work on (the paper: 256; 64 and 128 for smaller machines).
IMAGE_SIZES = (64, 128, 256)

#: CelebA's aligned image and the paper's crop of it.
CELEBA_WIDTH, CELEBA_HEIGHT = 178, 218
CROP_TOP, CROP_SIZE = 20, 178

#: Mean landmarks of real CelebA aligned images (measured on 6,000 of them), in
#: the 178×218 image: left eye, right eye, nose, left and right mouth corners
#: (image left first).
CELEBA_MEAN_LANDMARKS: tuple[tuple[float, float], ...] = (
    (69.3, 112.4),
    (108.4, 112.8),
    (88.2, 135.1),
    (72.2, 151.9),
    (105.1, 152.6),
)

#: The face-tight template, as fractions of the crop's side: the mean YuNet landmarks of
#: 1,000 UTKFace "Aligned&Cropped" photos (eyes 0.39 of the width apart, forehead to chin),
#: made left-right symmetric about the middle so that a mirrored crop fits it as well.
TIGHT_LANDMARKS: tuple[tuple[float, float], ...] = (
    (0.3055, 0.2890),
    (0.6945, 0.2890),
    (0.5, 0.4993),
    (0.3367, 0.6831),
    (0.6633, 0.6831),
)

#: The templates a training run may choose (``--template``): CelebA's framing (face, hair and
#: background) or the face-tight one that fits tightly cropped face photos such as UTKFace.
TEMPLATES = ("celeba", "tight")

Points = list[list[float]]


#: A crop rectangle ``(left, top, right, bottom)`` in pixel-edge coordinates.
Box = tuple[float, float, float, float]

#: The paper's crop of a CelebA image.
CELEBA_BOX: Box = (0.0, float(CROP_TOP), float(CELEBA_WIDTH), float(CROP_TOP + CROP_SIZE))


def crop_box(width: int, height: int) -> Box | None:
    """The paper's square crop of an aligned face image of ``width``×``height``.

    A 178×218 CelebA image gives rows 20:198; an image with CelebA's aspect
    ratio at another scale gives the same rows scaled; a square image is
    already cropped and is used whole. Any other shape is not an aligned face
    image: ``None``.
    """
    if width <= 0 or height <= 0:
        return None
    if width == height:
        return (0.0, 0.0, float(width), float(height))
    if width * CELEBA_HEIGHT == height * CELEBA_WIDTH:
        top = CROP_TOP * width / CELEBA_WIDTH
        return (0.0, top, float(width), top + width)
    return None


def to_crop(points: Sequence[Sequence[float]], box: Box, image_size: int) -> Points:
    """Map image points into the S×S crop that ``box`` is resized to."""
    left, top, right, _ = box
    scale = image_size / (right - left)
    return [[(x + 0.5 - left) * scale - 0.5, (y + 0.5 - top) * scale - 0.5] for x, y in points]


def celeba_to_crop(points: Sequence[Sequence[float]], image_size: int) -> Points:
    """Map points of a 178×218 CelebA-aligned image into the S×S model crop."""
    return to_crop(points, CELEBA_BOX, image_size)


def default_template(image_size: int) -> Points:
    """The CelebA template for an S×S model: for datasets without a landmark file."""
    return celeba_to_crop(CELEBA_MEAN_LANDMARKS, image_size)


def template_points(name: str, image_size: int) -> Points:
    """The landmarks of template ``name`` (one of :data:`TEMPLATES`) in an S×S crop."""
    if name == "celeba":
        return default_template(image_size)
    if name == "tight":
        return [[x * image_size - 0.5, y * image_size - 0.5] for x, y in TIGHT_LANDMARKS]
    raise ValueError(f"unknown template {name!r}; choose {' or '.join(TEMPLATES)}")


def is_celeba_framing(points: Sequence[Sequence[float]], image_size: int) -> bool:
    """Whether ``points`` frame a face as CelebA's crop does (within 4 % of the crop's side).

    Such a model reads a 178×218 CelebA-aligned photo cropped exactly as in
    training; any other template needs the face warped to it.
    """
    expected = default_template(image_size)
    error = max(abs(a - b) for p, q in zip(points, expected, strict=True) for a, b in zip(p, q, strict=True))
    return error <= 0.04 * image_size


def template_name(points: Sequence[Sequence[float]], image_size: int) -> str:
    """The :data:`TEMPLATES` name of a stored template: ``celeba`` for CelebA's framing, else ``tight``."""
    return "celeba" if is_celeba_framing(points, image_size) else "tight"


def validate_template(data: Any, image_size: int) -> Points:
    """Check a stored template: 5 finite ``[x, y]`` points inside the crop; ``ValueError`` else."""
    if not isinstance(data, list) or len(data) != 5:
        raise ValueError("template must be a list of 5 [x, y] points")
    points = []
    for point in data:
        if (
            not isinstance(point, list)
            or len(point) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in point)
        ):
            raise ValueError(f"template point must be [x, y] numbers, got {point!r}")
        if not all(math.isfinite(v) and -0.5 <= v <= image_size - 0.5 for v in point):
            raise ValueError(f"template point {point} is outside the {image_size}px crop")
        points.append([float(point[0]), float(point[1])])
    _check_geometry(points, image_size)
    return points


#: The least distance between a template's eyes, as a share of the crop (the default ones are 0.2–0.4).
MIN_EYE_SPREAD = 0.05


def _check_geometry(points: Points, image_size: int) -> None:
    """``ValueError`` unless the points are a face: eyes apart, left of right, above the nose and mouth.

    Coinciding or jumbled points pass the range check but make the alignment
    degenerate (every warp then spins on an empty or infinite map).
    """
    (lx, ly), (rx, ry), (nx, ny), (mlx, mly), (mrx, mry) = points
    if math.hypot(rx - lx, ry - ly) < MIN_EYE_SPREAD * image_size:
        raise ValueError(f"template eyes are less than {MIN_EYE_SPREAD:.0%} of the crop apart")
    if not (rx > lx and mrx > mlx):
        raise ValueError("template points are not in order (left eye, right eye, nose, left and right mouth)")
    if not max(ly, ry) < ny < min(mly, mry):
        raise ValueError("template nose is not below the eyes and above the mouth")
