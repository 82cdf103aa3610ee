"""The edit of one photo: its faces, each with its own crop, latent and fader values.

:class:`PhotoEdit` finds and aligns every face once, encodes each once, and
estimates each face's starting fader values with the model's classifier.
Moving a fader of a face decodes only that face; :meth:`PhotoEdit.render`
pastes every edited face back into a copy of the photo (a face still at its
starting values keeps its original pixels), and :meth:`PhotoEdit.render_region`
composites just one face's rectangle, which is all an editor has to redraw.

The autoencoder does not reproduce a face's colours exactly, and a visible
seam would follow. With ``match_colour`` (the default), each decoded crop gets
the low-frequency difference between the face and its own reconstruction at
the starting values added back, which keeps the intended change (the
difference between two decodes) and cancels the autoencoder's colour drift.
"""

from __future__ import annotations

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
    whole_face,
)
from .imageio import Photo

#: A face's starting values are the classifier's probabilities to this many decimals (a fader's step).
START_DECIMALS = 2
#: Blur of the colour correction, as a fraction of the crop size.
COLOUR_BLUR = 1 / 12


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
        if face.weights is None:
            face.weights = region_weights(face.aligned, self.engine.size, pixels.shape)
        return composite_region(pixels, face.aligned, self.render_face(index), face.weights)

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
