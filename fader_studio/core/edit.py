"""The edit of one photo: its faces, each with its own crop, latent and fader values.

:class:`PhotoEdit` finds and aligns every face once, encodes each once, and
estimates each face's starting fader values with the model's classifier.
Moving a fader of a face decodes only that face; :meth:`PhotoEdit.render`
pastes every edited face back into a copy of the photo (a face still at its
starting values keeps its original pixels), and :meth:`PhotoEdit.render_region`
composites just one face's rectangle, which is all an editor has to redraw.
:meth:`PhotoEdit.preview` does the same into a copy of the photo at the
resolution a view shows (:func:`preview_scale`): compositing a 1,400-pixel face
into a 12-megapixel photo at full size costs more than decoding it, and a
screen shows a fraction of those pixels.

The autoencoder does not reproduce a face's colours exactly, and a visible
seam would follow. With ``match_colour`` (the default), each decoded crop gets
the low-frequency difference between the face and its own reconstruction at
the starting values added back, which keeps the intended change (the
difference between two decodes) and cancels the autoencoder's colour drift.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from .engine import Engine
from .faces import (
    AlignedFace,
    FaceDetector,
    composite_region,
    face_region,
    find_faces,
    region_weights,
    scaled_face,
    whole_face,
)
from .imageio import Photo

#: A face's starting values are the classifier's probabilities to this many decimals (a fader's step).
START_DECIMALS = 2
#: Blur of the colour correction, as a fraction of the crop size.
COLOUR_BLUR = 1 / 12
#: Previews are never made smaller than this fraction of the photo.
MIN_PREVIEW_SCALE = 1 / 64
#: Downscaled copies of the photo kept for previews (one per zoom level recently used).
KEPT_SCALES = 4


def preview_scale(view_scale: float) -> float:
    """The resolution to preview at for a view that shows ``view_scale`` screen pixels per photo pixel.

    At least the view's resolution (never blurrier than the screen), on steps
    of a quarter octave (``2^(-k/4)``) so that small zoom changes reuse the same
    downscaled photo, and full resolution (1) from 100 % up.
    """
    if not view_scale < 1:
        return 1.0
    step = math.floor(-4 * math.log2(max(view_scale, MIN_PREVIEW_SCALE)) + 1e-9)
    return 2.0 ** (-step / 4)


@dataclass(frozen=True)
class RegionPixels:
    """A face's region rendered for a view: ``pixels`` cover ``rect`` (x0, y0, x1, y1) of the photo."""

    pixels: np.ndarray  # (h, w, 3) uint8, at the preview's resolution
    rect: tuple[float, float, float, float]  # in full-resolution photo pixels
    scale: float = 1.0  # the preview's resolution (1: the photo's)


@dataclass
class _ScaledPhoto:
    """The photo downscaled for previews, with its faces mapped to it and their paste masks."""

    pixels: np.ndarray
    level: float  # from preview_scale
    scale: tuple[float, float]  # (x, y): exact ratios of the sizes
    faces: list[AlignedFace]
    weights: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


@dataclass
class FaceEdit:
    """One face of a photo being edited."""

    aligned: AlignedFace
    latent: torch.Tensor  # (1, C, L, L) on the engine's device
    start: dict[str, float]  # the classifier's estimate (or the defaults)
    values: dict[str, float] = field(default_factory=dict)
    correction: np.ndarray | None = None  # (S, S, 3) float32, added to every decode
    weights: tuple[np.ndarray, np.ndarray] | None = None  # the paste mask, made on first use


class PhotoEdit:
    """Faces of ``photo`` with their fader values, rendered through ``engine``."""

    def __init__(
        self,
        photo: Photo,
        engine: Engine,
        detector: FaceDetector | None = None,
        *,
        match_colour: bool = True,
        whole_image: bool = False,
    ) -> None:
        """Find, align and encode every face (``whole_image``: take a 178×218 aligned photo as one face)."""
        self.photo = photo
        self.engine = engine
        model = engine.model
        name = str(photo.path) if photo.path else "the photo"
        if whole_image:
            aligned = [whole_face(photo.pixels, model.image_size)]
        else:
            aligned = find_faces(photo.pixels, model.template, model.image_size, detector, name=name)
        crops = np.stack([a.crop for a in aligned])
        latents = engine.encode(crops)
        names = model.attribute_names
        if model.classifier is not None:
            starts = [
                {name: round(float(p), START_DECIMALS) for name, p in zip(names, row, strict=True)}
                for row in engine.classify(crops)
            ]
        else:
            starts = [{a.name: a.default for a in model.attributes} for _ in aligned]
        self.faces = [
            FaceEdit(a, latents[i : i + 1], start, dict(start))
            for i, (a, start) in enumerate(zip(aligned, starts, strict=True))
        ]
        if match_colour:
            for face, recon in zip(self.faces, self._decode_all(), strict=True):
                face.correction = _low_frequency(face.aligned.crop.astype(np.float32) - recon)
        self._scaled: dict[float, _ScaledPhoto] = {}

    def set(self, face: int | None, values: Mapping[str, float]) -> None:
        """Set fader values of face ``face`` (index, largest first), or of every face when ``None``."""
        unknown = set(values) - set(self.engine.model.attribute_names)
        if unknown:
            raise KeyError(f"the model has no attribute {sorted(unknown)[0]!r}")
        for target in self.faces if face is None else [self.faces[face]]:
            target.values.update({k: float(v) for k, v in values.items()})

    def is_edited(self, index: int) -> bool:
        """Whether any fader of face ``index`` differs from the face's starting value."""
        face = self.faces[index]
        return face.values != face.start

    def region(self, index: int) -> tuple[int, int, int, int]:
        """The rectangle ``(x0, y0, x1, y1)`` of the photo that face ``index`` may change."""
        return face_region(self.faces[index].aligned, self.engine.size, self.photo.pixels.shape)

    def render_region(self, index: int) -> np.ndarray:
        """The :meth:`region` of face ``index`` as rendered at its current values (original if unedited)."""
        if not self.is_edited(index):
            x0, y0, x1, y1 = self.region(index)
            return self.photo.pixels[y0:y1, x0:x1].copy()
        return self._composite(self.photo.pixels, index)

    def preview(self, index: int, scale: float = 1.0) -> RegionPixels:
        """Face ``index``'s region rendered into the photo downscaled for a view at ``scale``.

        ``scale`` is the view's screen pixels per photo pixel; the preview's
        resolution is :func:`preview_scale` of it.

        Equal, within rounding, to downscaling :meth:`render_region` with
        ``cv2.INTER_AREA``, for a fraction of the cost. The downscaled photo
        and the face's mask are made on first use of each scale and kept. A
        face is never previewed smaller than the model's crop (whose detail
        would alias away), so a far zoomed-out face may get a finer scale.
        """
        view = self._view_for(index, scale)
        if view is None:
            x0, y0, x1, y1 = self.region(index)
            return RegionPixels(self.render_region(index), (x0, y0, x1, y1))
        aligned = view.faces[index]
        x0, y0, x1, y1 = face_region(aligned, self.engine.size, view.pixels.shape)
        if self.is_edited(index):
            pixels = composite_region(view.pixels, aligned, self.render_face(index), self._mask(index, view))
        else:
            pixels = view.pixels[y0:y1, x0:x1].copy()
        sx, sy = view.scale
        return RegionPixels(pixels, (x0 / sx, y0 / sy, x1 / sx, y1 / sy), view.level)

    def warm_up(self, scale: float = 1.0) -> None:
        """Pay every first-call cost of a fader move now: a one-face decode, the preview's photo and masks."""
        if not self.faces:
            return
        self.render_face(0)
        for index in range(len(self.faces)):
            self._mask(index, self._view_for(index, scale))

    def _view_for(self, index: int, scale: float) -> _ScaledPhoto | None:
        """The downscaled photo that previews of face ``index`` at ``scale`` use (``None``: full size)."""
        crop_scale = math.sqrt(abs(np.linalg.det(self.faces[index].aligned.matrix[:, :2])))
        level = preview_scale(max(scale, crop_scale))
        if level >= 1:
            return None
        view = self._scaled.pop(level, None)
        if view is None:
            height, width = self.photo.pixels.shape[:2]
            size = (max(1, round(width * level)), max(1, round(height * level)))
            pixels = cv2.resize(self.photo.pixels, size, interpolation=cv2.INTER_AREA)
            sx, sy = size[0] / width, size[1] / height
            faces = [scaled_face(f.aligned, sx, sy) for f in self.faces]
            view = _ScaledPhoto(pixels, level, (sx, sy), faces)
        self._scaled[level] = view  # most recently used last
        while len(self._scaled) > KEPT_SCALES:
            del self._scaled[next(iter(self._scaled))]
        return view

    def _mask(self, index: int, view: _ScaledPhoto | None) -> tuple[np.ndarray, np.ndarray]:
        """Face ``index``'s paste weights in the full-size photo (``view`` None) or in ``view``."""
        if view is None:
            face = self.faces[index]
            if face.weights is None:
                face.weights = region_weights(face.aligned, self.engine.size, self.photo.pixels.shape)
            return face.weights
        if index not in view.weights:
            view.weights[index] = region_weights(view.faces[index], self.engine.size, view.pixels.shape)
        return view.weights[index]

    def render_face(self, index: int) -> np.ndarray:
        """The edited S×S crop of face ``index`` (uint8)."""
        face = self.faces[index]
        return _corrected(self.engine.decode(face.latent, face.values)[0], face.correction)

    def render(self) -> np.ndarray:
        """The whole photo with every edited face at its values (a new array; the photo is untouched)."""
        out = self.photo.pixels.copy()
        for index in range(len(self.faces)):
            if self.is_edited(index):
                x0, y0, x1, y1 = self.region(index)
                out[y0:y1, x0:x1] = self._composite(out, index)
        return out

    def _composite(self, pixels: np.ndarray, index: int) -> np.ndarray:
        face = self.faces[index]
        return composite_region(pixels, face.aligned, self.render_face(index), self._mask(index, None))

    def _decode_all(self) -> np.ndarray:
        latent = torch.cat([f.latent for f in self.faces])
        names = self.engine.model.attribute_names
        values = np.array([[f.values[n] for n in names] for f in self.faces], dtype=np.float32)
        return self.engine.decode(latent, values).astype(np.float32)


def _low_frequency(difference: np.ndarray) -> np.ndarray:
    sigma = max(1.0, COLOUR_BLUR * difference.shape[0])
    return cv2.GaussianBlur(difference, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)


def _corrected(crop: np.ndarray, correction: np.ndarray | None) -> np.ndarray:
    if correction is None:
        return crop
    return np.clip(np.rint(crop.astype(np.float32) + correction), 0, 255).astype(np.uint8)
