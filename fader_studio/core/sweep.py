"""Sweeps: one attribute of one face moved across its range, as a strip or an animated GIF.

The paper's figures show a face with one attribute swept from one end to the
other; :func:`sweep_frames` makes those frames for a face of any photo (its
region of the photo, so the face is seen in place) and :func:`save_sweep`
writes them side by side (PNG, JPEG, WebP) or as a GIF that plays forth and back.
"""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from .atomic import atomic_write_bytes
from .edit import PhotoEdit
from .errors import ImageError
from .imageio import EXPORT_FORMATS, save_image

#: Frames are shrunk to at most this height.
FRAME_HEIGHT = 320
#: Milliseconds per GIF frame.
GIF_FRAME_MS = 120
DEFAULT_STEPS = 7


def sweep_frames(
    document: PhotoEdit, face: int, name: str, steps: int = DEFAULT_STEPS, *, height: int = FRAME_HEIGHT
) -> list[np.ndarray]:
    """Face ``face``'s region with attribute ``name`` at ``steps`` evenly spaced values across its range.

    The face's other faders keep their current values; the document is left as it was.
    """
    spec = {a.name: a for a in document.engine.model.attributes}.get(name)
    if spec is None:
        raise KeyError(f"the model has no attribute {name!r}")
    if steps < 2:
        raise ValueError("a sweep needs at least 2 steps")
    target = document.faces[face]
    kept = dict(target.values)
    frames = []
    try:
        for value in np.linspace(spec.min, spec.max, steps):
            target.values[name] = float(value)
            frames.append(_shrunk(document.render_region(face), height))
    finally:
        target.values.clear()
        target.values.update(kept)
    return frames


def save_sweep(frames: list[np.ndarray], path: str | Path) -> Path:
    """Write ``frames`` atomically: a GIF animation for ``.gif``, else one strip, left to right."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in EXPORT_FORMATS:
        return save_image(np.concatenate(frames, axis=1), path)
    if suffix != ".gif":
        raise ImageError(
            f"{path}: cannot save a sweep as {suffix or 'a file without a suffix'} (use .gif or .png)"
        )
    buffer = io.BytesIO()
    images = [Image.fromarray(f) for f in frames + frames[-2:0:-1]]  # forth and back
    images[0].save(buffer, "GIF", save_all=True, append_images=images[1:], duration=GIF_FRAME_MS, loop=0)
    atomic_write_bytes(path, buffer.getvalue(), lambda reason: ImageError(f"{path}: {reason}"))
    return path


def _shrunk(region: np.ndarray, height: int) -> np.ndarray:
    if region.shape[0] <= height:
        return region
    width = max(1, round(region.shape[1] * height / region.shape[0]))
    return cv2.resize(region, (width, height), interpolation=cv2.INTER_AREA)
