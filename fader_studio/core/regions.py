"""Where on a face an edit applies: region masks in the model's crop.

Each face's edit goes through a mask (S, S) float32 in [0, 1] in its crop,
which multiplies the change the compositing adds (see
:mod:`fader_studio.core.composite`), so the photo stays exactly itself where
the mask is 0. A mask starts from a region — the face oval (the default),
the mouth, the eyes and brows, the hair, the skin, or everything in the crop
— drawn from the face's 468 mesh points (:mod:`fader_studio.core.landmarks`)
or, without them, from the detector's five points, and feathered in
proportion to the face; the user's brush then adds to it or holds it back
(:func:`fader_studio.core.masks.paint`).

The masks are drawn by :mod:`fader_studio.core.masks`; this module names the
regions and holds a face's mask, without OpenCV (the editor's window imports it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The regions, in the order menus show them, with their names for people.
REGIONS = {
    "face": "Whole face",
    "mouth": "Mouth",
    "eyes": "Eyes",
    "hair": "Hair",
    "skin": "Skin",
    "crop": "Everything in the crop",
}
DEFAULT_REGION = "face"


@dataclass(frozen=True)
class MaskState:
    """Where a face's edit applies: the region it started from, and the mask (S, S) float32 in [0, 1]."""

    region: str
    pixels: np.ndarray
    painted: bool = False  # the brush changed it since the region was chosen


def check_region(region: str) -> str:
    """``region`` if it is one of :data:`REGIONS`, else ``ValueError``."""
    if region not in REGIONS:
        raise ValueError(f"unknown region {region!r} (use {', '.join(REGIONS)})")
    return region
