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

Points = list[list[float]]


def celeba_to_crop(points: Sequence[Sequence[float]], image_size: int) -> Points:
    """Map points of a 178×218 CelebA-aligned image into the S×S model crop."""
    scale = image_size / CROP_SIZE
    return [[(x + 0.5) * scale - 0.5, (y - CROP_TOP + 0.5) * scale - 0.5] for x, y in points]


def default_template(image_size: int) -> Points:
    """The CelebA template for an S×S model: for datasets without a landmark file."""
    return celeba_to_crop(CELEBA_MEAN_LANDMARKS, image_size)


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
    return points
