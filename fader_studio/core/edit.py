"""The edit of one photo: its faces, each with its own crop, latent and fader values.

:class:`PhotoEdit` finds and aligns every face once, encodes each once, and
estimates each face's starting fader values with the model's classifier.
Moving a fader of a face decodes only that face; the decode becomes the
face's crop-space :class:`~fader_studio.core.composite.Layers` (in ``detail``
mode the change from the face's decode at its starting values, kept once per
face; in ``replace`` mode the decoded face itself), and
:func:`~fader_studio.core.composite.composite` brings them into the photo.
:meth:`PhotoEdit.render` does that for every edited face into a copy of the
photo (a face still at its starting values keeps its original pixels), and
:meth:`PhotoEdit.preview` for one face's rectangle, which is all an editor has
to redraw, at the resolution a view shows (:func:`preview_scale`):
compositing a 1,400-pixel face into a 12-megapixel photo at full size costs
more than decoding it, and a screen shows a fraction of those pixels. The
preview at 100 %, :meth:`PhotoEdit.render_region`, the export and the
command line are the same pixels.

The autoencoder does not reproduce a face's colours exactly. With
``match_colour`` (the default), each decode gets the low-frequency difference
between the face and its own reconstruction at the starting values added
back, which keeps the intended change and cancels the autoencoder's colour
drift (what ``replace`` mode pastes, and what ``detail`` mode blends toward
where the change is structural).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
import torch

from .composite import (
    DEFAULT_BLEND,
    Layers,
    StartDecode,
    check_blend,
    composite,
    detail_layers,
    edit_mask,
    replace_layers,
    start_of,
)
from .engine import Engine
from .faces import (
    AlignedFace,
    FaceDetector,
    face_region,
    find_faces,
    map_points,
    scaled_face,
    to_crop,
    whole_face,
)
from .imageio import Photo
from .landmarks import FaceLandmarker
from .masks import FaceShape, paint, region_mask, shape_from_five, shape_from_mesh
from .regions import DEFAULT_REGION, MaskState, check_region

#: A face's starting values are the classifier's probabilities to this many decimals (a fader's step).
START_DECIMALS = 2
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


@dataclass(frozen=True)
class _Placement:
    """A face in one resolution of the photo: its rectangle and the map from it to the crop."""

    rect: tuple[int, int, int, int]
    to_crop: np.ndarray


@dataclass
class _View:
    """The photo at one resolution (``level`` 1: the photo itself) with its faces mapped to it."""

    pixels: np.ndarray
    level: float  # from preview_scale
    scale: tuple[float, float]  # (x, y): exact ratios of the sizes
    faces: list[AlignedFace]
    placements: dict[int, _Placement] = field(default_factory=dict)

    def placement(self, index: int, size: int) -> _Placement:
        """Face ``index``'s placement for an S×S crop, made on first use."""
        if index not in self.placements:
            aligned = self.faces[index]
            rect = face_region(aligned, size, self.pixels.shape)
            self.placements[index] = _Placement(rect, to_crop(aligned, rect[0], rect[1]))
        return self.placements[index]


@dataclass
class FaceEdit:
    """One face of a photo being edited."""

    aligned: AlignedFace
    latent: torch.Tensor  # (1, C, L, L) on the engine's device
    start: dict[str, float]  # the classifier's estimate (or the defaults)
    shape: FaceShape  # where its parts lie in the crop
    mask: MaskState
    values: dict[str, float] = field(default_factory=dict)
    decoded: StartDecode | None = None  # the decode at ``start``, on the engine's backend
    layers: tuple[tuple, Layers] | None = None  # the last layers made, with what they were made for
    mask_version: int = 0  # counts changes of ``mask``, for the layers' key


class PhotoEdit:
    """Faces of ``photo`` with their fader values, rendered through ``engine``.

    ``blend`` is how edits go back into the photo (see
    :mod:`fader_studio.core.composite`): ``detail`` (the default) adds the
    change to the photo's own pixels, ``replace`` pastes the decoded face.
    Each face's edit goes through its mask (:class:`MaskState`), which starts
    as ``region`` (see :mod:`fader_studio.core.regions`), drawn from the
    face's mesh points found by ``landmarker`` (from the detector's five
    points where there are none: ``landmark_problem`` says why, if the model
    itself cannot run).
    """

    def __init__(
        self,
        photo: Photo,
        engine: Engine,
        detector: FaceDetector | None = None,
        *,
        match_colour: bool = True,
        whole_image: bool = False,
        blend: str = DEFAULT_BLEND,
        landmarker: FaceLandmarker | None = None,
        region: str = DEFAULT_REGION,
    ) -> None:
        """Find, align and encode every face (``whole_image``: take a 178×218 aligned photo as one face)."""
        check_region(region)
        self.photo = photo
        self.engine = engine
        self.blend = blend
        self.match_colour = match_colour
        model = engine.model
        name = str(photo.path) if photo.path else "the photo"
        if whole_image:
            aligned = [whole_face(photo.pixels, model.template, model.image_size)]
        else:
            aligned = find_faces(photo.pixels, model.template, model.image_size, detector, name=name)
        crops = np.stack([a.crop for a in aligned])
        latents = engine.encode(crops)
        names = model.attribute_names
        defaults = {a.name: a.default for a in model.attributes}
        if model.classifier is not None:  # a classifier gone wrong (NaN, inf) gives the defaults instead
            starts = [
                {
                    name: round(float(p), START_DECIMALS) if math.isfinite(p) else defaults[name]
                    for name, p in zip(names, row, strict=True)
                }
                for row in engine.classify(crops)
            ]
        else:
            starts = [dict(defaults) for _ in aligned]
        landmarker = landmarker or FaceLandmarker()
        self.landmark_problem = landmarker.problem
        size = model.image_size
        self.faces = []
        for i, (a, start) in enumerate(zip(aligned, starts, strict=True)):
            shape = face_shape(a, landmarker.points(photo.pixels, a.face))
            mask = MaskState(region, region_mask(region, shape, size))
            self.faces.append(FaceEdit(a, latents[i : i + 1], start, shape, mask, dict(start)))
        self._decoded_on = ""  # the backend the starting decodes came from
        self._decode_starts()
        self._full = _View(photo.pixels, 1.0, (1.0, 1.0), aligned)
        self._scaled: dict[float, _View] = {}

    @property
    def blend(self) -> str:
        """How edits go back into the photo: ``detail`` or ``replace`` (``ValueError`` for others)."""
        return self._blend

    @blend.setter
    def blend(self, mode: str) -> None:
        self._blend = check_blend(mode)

    def set(self, face: int | None, values: Mapping[str, float]) -> None:
        """Set fader values of face ``face`` (index, largest first), or of every face when ``None``."""
        unknown = set(values) - set(self.engine.model.attribute_names)
        if unknown:
            raise KeyError(f"the model has no attribute {sorted(unknown)[0]!r}")
        for target in self.faces if face is None else [self.faces[face]]:
            target.values.update({k: float(v) for k, v in values.items()})

    def set_region(self, index: int, region: str) -> None:
        """Limit face ``index``'s edit to ``region``; its painting is undone."""
        pixels = region_mask(region, self.faces[index].shape, self.engine.size)
        self.set_mask(index, MaskState(region, pixels))

    def mask(self, index: int) -> MaskState:
        """Face ``index``'s mask (a copy: changing it changes nothing)."""
        state = self.faces[index].mask
        return MaskState(state.region, state.pixels.copy(), state.painted)

    def set_mask(self, index: int, state: MaskState) -> None:
        """Give face ``index`` the mask ``state`` (as :meth:`mask` returned it: how an undo puts one back)."""
        size = self.engine.size
        if state.pixels.shape != (size, size):
            raise ValueError(f"a mask of this model is {size}×{size}, not {state.pixels.shape}")
        face = self.faces[index]
        face.mask = MaskState(state.region, np.clip(state.pixels, 0, 1).astype(np.float32), state.painted)
        face.mask_version += 1

    def paint(
        self,
        index: int,
        centre: tuple[float, float],
        radius: float,
        hardness: float = 0.5,
        erase: bool = False,
    ) -> None:
        """A brush dab on face ``index``'s mask (``erase``: holding it back); photo pixels."""
        face = self.faces[index]
        matrix = face.aligned.matrix
        x, y = map_points(matrix, centre)
        scale = math.sqrt(abs(np.linalg.det(matrix[:, :2])))
        paint(face.mask.pixels, (float(x), float(y)), radius * scale, hardness, erase)  # its own array
        if not face.mask.painted:
            face.mask = replace(face.mask, painted=True)
        face.mask_version += 1

    def mask_preview(self, index: int, scale: float = 1.0) -> RegionPixels:
        """Face ``index``'s mask as a view at ``scale`` shows it: (h, w) uint8, 255 = the full edit."""
        view = self._view_for(index, scale)
        place = view.placement(index, self.engine.size)
        x0, y0, x1, y1 = place.rect
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        weights = cv2.warpAffine(
            edit_mask(self.faces[index].mask.pixels), place.to_crop, (x1 - x0, y1 - y0), flags=flags
        )
        alpha = np.rint(np.clip(weights, 0, 1) * 255).astype(np.uint8)
        sx, sy = view.scale
        return RegionPixels(alpha, (x0 / sx, y0 / sy, x1 / sx, y1 / sy), view.level)

    def is_edited(self, index: int) -> bool:
        """Whether any fader of face ``index`` differs from the face's starting value."""
        face = self.faces[index]
        return face.values != face.start

    def region(self, index: int) -> tuple[int, int, int, int]:
        """The rectangle ``(x0, y0, x1, y1)`` of the photo that face ``index`` may change."""
        return self._full.placement(index, self.engine.size).rect

    def render_region(self, index: int) -> np.ndarray:
        """The :meth:`region` of face ``index`` as rendered at its current values (original if unedited)."""
        return self.preview(index, 1.0).pixels

    def preview(self, index: int, scale: float = 1.0) -> RegionPixels:
        """Face ``index``'s region rendered into the photo downscaled for a view at ``scale``.

        ``scale`` is the view's screen pixels per photo pixel; the preview's
        resolution is :func:`preview_scale` of it (from 100 % up, the photo's).

        Equal, within rounding, to downscaling :meth:`render_region` with
        ``cv2.INTER_AREA``, for a fraction of the cost. The downscaled photo
        and the face's mask are made on first use of each scale and kept. A
        face is never previewed smaller than the model's crop (whose detail
        would alias away), so a far zoomed-out face may get a finer scale.
        """
        view = self._view_for(index, scale)
        place = view.placement(index, self.engine.size)
        x0, y0, x1, y1 = place.rect
        region = view.pixels[y0:y1, x0:x1]
        if self.is_edited(index):
            pixels = composite(region, place.to_crop, self.layers(index))
        else:
            pixels = region.copy()
        sx, sy = view.scale
        return RegionPixels(pixels, (x0 / sx, y0 / sy, x1 / sx, y1 / sy), view.level)

    def render(self) -> np.ndarray:
        """The whole photo with every edited face at its values (a new array; the photo is untouched)."""
        out = self.photo.pixels.copy()
        for index in range(len(self.faces)):
            if self.is_edited(index):
                place = self._full.placement(index, self.engine.size)
                x0, y0, x1, y1 = place.rect
                region = out[y0:y1, x0:x1]
                out[y0:y1, x0:x1] = composite(region, place.to_crop, self.layers(index))
        return out

    def layers(self, index: int) -> Layers:
        """Face ``index``'s edit in crop space at its current values, in the current blend mode.

        The last layers of each face are kept, so a preview, the 100 % view
        and an export of the same values decode once.
        """
        face = self.faces[index]
        if self._decoded_on != self.engine.backend:  # both decodes of a change come from one backend
            self._decode_starts()
        key = (tuple(face.values.items()), self.blend, self._decoded_on, face.mask_version)
        if face.layers is None or face.layers[0] != key:
            assert face.decoded is not None
            current = self.engine.decode_levels(face.latent, face.values)[0]
            mask = edit_mask(face.mask.pixels)
            if self.blend == "detail":
                made = detail_layers(face.decoded, current, mask)
            else:
                made = replace_layers(current, face.decoded.correction, mask)
            face.layers = (key, made)
        return face.layers[1]

    def render_face(self, index: int) -> np.ndarray:
        """The edited S×S crop of face ``index`` (uint8), as the blend mode composes it on the face's crop."""
        return self.layers(index).on_crop(self.faces[index].aligned.crop)

    def warm_up(self, scale: float = 1.0) -> None:
        """Pay every first-call cost of a fader move now: a one-face decode, the preview's photo and masks."""
        if not self.faces:
            return
        self.render_face(0)
        for index in range(len(self.faces)):
            self._view_for(index, scale).placement(index, self.engine.size)

    def _view_for(self, index: int, scale: float) -> _View:
        """The photo at the resolution previews of face ``index`` at ``scale`` use."""
        crop_scale = math.sqrt(abs(np.linalg.det(self.faces[index].aligned.matrix[:, :2])))
        level = preview_scale(max(scale, crop_scale))
        if level >= 1:
            return self._full
        view = self._scaled.pop(level, None)
        if view is None:
            height, width = self.photo.pixels.shape[:2]
            size = (max(1, round(width * level)), max(1, round(height * level)))
            pixels = cv2.resize(self.photo.pixels, size, interpolation=cv2.INTER_AREA)
            sx, sy = size[0] / width, size[1] / height
            faces = [scaled_face(f.aligned, sx, sy) for f in self.faces]
            view = _View(pixels, level, (sx, sy), faces)
        self._scaled[level] = view  # most recently used last
        while len(self._scaled) > KEPT_SCALES:
            del self._scaled[next(iter(self._scaled))]
        return view

    def _decode_starts(self) -> None:
        """Decode every face at its starting values on the engine's backend (one at a time, as moves do)."""
        for face in self.faces:
            decode = self.engine.decode_levels(face.latent, face.start)[0]
            face.decoded = start_of(decode, face.aligned.crop if self.match_colour else None)
            face.layers = None
        self._decoded_on = self.engine.backend


def face_shape(aligned: AlignedFace, mesh: np.ndarray | None) -> FaceShape:
    """Where the face's parts lie in its crop: from its mesh points (photo pixels) or its five points."""
    matrix = aligned.matrix
    if mesh is not None:
        return shape_from_mesh(map_points(matrix, mesh))
    return shape_from_five(map_points(matrix, aligned.face.landmarks))
