"""Bringing an edited face back into the photo: the one compositing path of the editor, export and CLI.

A model's crop is small and its reconstruction soft, while the photo is sharp.
In ``detail`` mode (the default) what goes back into the photo is the
*change*: ``Δ = dec(z, v) − dec(z, v_start)``, warped into the photo through
the face's inverse alignment and added to the photo's own pixels through the
feathered paste mask. At the starting values Δ is zero and the photo comes
back bit for bit; wherever a fader changes nothing, the photo keeps its skin
texture, hair strands, noise and sharpness.

Adding a difference leaves the old structure visible where the edit removes or
creates one (teeth under lips that close, half an eyeglass frame). Those areas
are found by :func:`structure_gate`, from the local size of Δ's fine structure
relative to the face's own Δ, and there the photo's detail is blended toward
the colour-matched decode instead. In ``replace`` mode the whole crop is the
colour-matched decode, as the official code does.

Both modes reduce to crop-space :class:`Layers` that :func:`composite` warps
into a rectangle of the photo (full size or downscaled for a view), so one
function serves every mode, zoom and output: detail mode's additive layer and
opacity (``out = photo + w · (add − cover · photo)``), replace mode's decoded
face blended through ``w``. ``w`` is the face's mask: the region the edit is
limited to (:mod:`fader_studio.core.regions`, painted or not) times the
feathered edge of the crop (:func:`edit_mask`); where it is 0 the photo keeps
its exact pixels. :func:`paste_back` pastes a whole crop (the ``replace`` of a
crop one has).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .faces import AlignedFace, face_region, feather_mask, photo_rect, to_crop

#: How an edit goes back into the photo: its change added to the photo, or the decoded face pasted.
BLEND_MODES = ("detail", "replace")
DEFAULT_BLEND = "detail"
#: Blur of the colour correction, as a fraction of the crop size.
COLOUR_BLUR = 1 / 12
#: Δ's fine structure is what a blur of this size (fraction of the crop) removes.
STRUCTURE_BLUR = 1 / 16
#: Neighbourhood over which local sizes are measured, as a fraction of the crop size.
LOCAL_BLUR = 1 / 48
#: The gate opens where Δ's fine structure is between these multiples of the face's typical |Δ| ...
GATE_LOW, GATE_HIGH = 2.5, 5.0
#: (typical: the median, but at least this share of the mean)
TYPICAL_FLOOR = 0.25
#: ... as far as that structure reaches this fraction of the start's own structure there ...
REPLACED = 0.5
#: ... (taken as at least this many levels, so that a flat area needs a real change);
MIN_STRUCTURE = 2.0
#: holes in it up to this radius (fraction of the crop) are filled, ...
GATE_FILL = 1 / 16
#: ... and it is spread this far (fraction of the crop) to cover the structure it found.
GATE_SPREAD = 1 / 40
#: Less cover than this moves no pixel by half a level: it is left out.
MIN_COVER = 0.5 / 255
#: The gate is worked out on crops of at most this many pixels: it is smooth, and 256-px crops cost 16× more.
GATE_SIDE = 64


def check_blend(mode: str) -> str:
    """``mode`` if it is one of :data:`BLEND_MODES`, else ``ValueError``."""
    if mode not in BLEND_MODES:
        raise ValueError(f"unknown blend mode {mode!r} (use {' or '.join(BLEND_MODES)})")
    return mode


@dataclass(frozen=True)
class Layers:
    """An edit of one face in crop space.

    ``detail``: ``out = photo + add − cover · photo``, with ``add`` (S, S, 3)
    float32 in levels and ``cover`` (S, S) float32 in [0, 1], both already
    multiplied by the face's mask (in crop space: S×S pixels, fewer than a
    large face has in the photo). ``replace``: ``pasted``, the (S, S, 3)
    uint8 decoded face, blended over the photo through ``mask`` (S, S).
    """

    add: np.ndarray | None = None
    cover: np.ndarray | None = None
    cover_box: tuple[int, int, int, int] | None = None  # (x0, y0, x1, y1) of the crop where cover > 0
    pasted: np.ndarray | None = None
    mask: np.ndarray | None = None

    def on_crop(self, crop: np.ndarray) -> np.ndarray:
        """The edited S×S crop (uint8) that these layers make of the face's own ``crop``."""
        if self.pasted is not None:
            assert self.mask is not None
            weight = self.mask[..., None]
            return np.clip(np.rint(self.pasted * weight + crop * (1 - weight)), 0, 255).astype(np.uint8)
        assert self.add is not None and self.cover is not None
        out = crop + self.add - self.cover[..., None] * crop
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def edit_mask(region: np.ndarray) -> np.ndarray:
    """The mask an edit goes through: a face's ``region`` mask (S, S) times the crop's feathered edge."""
    return cv2.multiply(region, feather_mask(region.shape[0]))


def low_frequency(image: np.ndarray) -> np.ndarray:
    """``image`` (S, S, C) float32 blurred by :data:`COLOUR_BLUR` of its size: its colour, not its detail."""
    return _blur(image, COLOUR_BLUR * image.shape[0])


@dataclass(frozen=True)
class StartDecode:
    """A face's decode at its starting values, and what every edit of the face reuses from it."""

    decode: np.ndarray  # (S, S, 3) float32, levels
    correction: np.ndarray  # (S, S, 3) float32: added to every decode to match the photo's colours
    structure: np.ndarray  # (G, G) float32: the decode's own local structure, at the gate's resolution
    matched: np.ndarray  # (S, S, 3) float32: decode + correction


def start_of(decode: np.ndarray, crop: np.ndarray | None) -> StartDecode:
    """What edits of a face reuse from its float ``decode`` at the starting values and its ``crop`` (uint8).

    The colour correction is the low frequencies of crop − decode, which
    cancels the autoencoder's colour drift and keeps every change (``crop``
    ``None``: no correction).
    """
    correction = np.zeros_like(decode) if crop is None else low_frequency(crop.astype(np.float32) - decode)
    small = _gate_view(decode)
    own = _local_size(_fine(small), LOCAL_BLUR * small.shape[0])
    return StartDecode(decode, correction, np.maximum(own, MIN_STRUCTURE), decode + correction)


def structure_gate(delta: np.ndarray, start: StartDecode) -> np.ndarray:
    """Where adding ``delta`` would leave a ghost: (S, S) float32 in [0, 1].

    ``delta`` is the change Δ (S, S, 3) in levels from ``start``. The gate
    opens where Δ's fine structure (what a blur of :data:`STRUCTURE_BLUR`
    removes) is locally :data:`GATE_LOW` to :data:`GATE_HIGH` times the face's
    typical (median) |Δ| — relative, so a weak model's few-level change and a
    strong one's tens are judged alike, and a smooth change (shading, colour,
    a broad bump) never opens it — and as far as that structure replaces the
    start's own structure there (all of it from :data:`REPLACED` of it on), so
    it opens gradually as the fader moves and the photo is untouched at the
    start. It is a smooth mask, so it is worked out on crops of at most
    :data:`GATE_SIDE` pixels.
    """
    full = delta.shape[0]
    delta = _gate_view(delta)
    size = delta.shape[0]
    magnitude = _local_size(delta, LOCAL_BLUR * size)
    # the median: a change over much of the face must not hide its own structure; for one that
    # touches little of the crop (a median near 0), a share of the mean
    typical = max(float(np.median(magnitude)), TYPICAL_FLOOR * float(magnitude.mean()))
    if typical <= 1e-6:
        return np.zeros((full, full), np.float32)
    structure = _local_size(_fine(delta), LOCAL_BLUR * size)
    relative = np.clip((structure / typical - GATE_LOW) / (GATE_HIGH - GATE_LOW), 0, 1)
    replaced = np.clip(structure / (REPLACED * start.structure), 0, 1)
    gate = _smoothstep(relative) * replaced
    # a change drawn around an area changes the area too (lips that close over teeth): fill such holes,
    # then spread over the structure's neighbourhood without weakening its peak
    gate = cv2.morphologyEx(gate, cv2.MORPH_CLOSE, _disc(GATE_FILL * size))
    spread = max(1, round(GATE_SPREAD * size))
    gate = np.clip(_blur(cv2.dilate(gate, _disc(spread)), spread), 0, 1)
    return gate if size == full else cv2.resize(gate, (full, full), interpolation=cv2.INTER_LINEAR)


def detail_layers(start: StartDecode, current: np.ndarray, mask: np.ndarray) -> Layers:
    """The layers of ``detail`` mode: Δ added, and the colour-matched decode where Δ is structural.

    ``current`` is the float decode at the current values, ``mask`` (S, S)
    the face's :func:`edit_mask`.
    """
    delta = current - start.decode
    cover = structure_gate(delta, start) * mask
    cover[cover < MIN_COVER] = 0
    # photo + Δ where the gate is shut; photo → current + correction where it is open
    add = cv2.multiply(delta, cv2.merge([mask, mask, mask]))
    x, y, width, height = cv2.boundingRect((cover > 0).view(np.uint8))  # where the gate is open
    box = None
    if width:
        box = (x, y, x + width, y + height)
        x0, y0, x1, y1 = box
        add[y0:y1, x0:x1] += cover[y0:y1, x0:x1, None] * start.matched[y0:y1, x0:x1]
    return Layers(add=add, cover=cover, cover_box=box)


def replace_layers(current: np.ndarray, correction: np.ndarray, mask: np.ndarray) -> Layers:
    """The layers of ``replace`` mode: the colour-matched decode pasted through the face's ``mask``."""
    return Layers(pasted=np.clip(np.rint(current + correction), 0, 255).astype(np.uint8), mask=mask)


def composite(region: np.ndarray, to_crop: np.ndarray, layers: Layers) -> np.ndarray:
    """A rectangle of the photo with a face's ``layers`` applied (a new uint8 array; ``region`` is untouched).

    ``region`` is the face's :func:`~fader_studio.core.faces.face_region` of
    the photo (or of a downscaled copy) and ``to_crop`` the (2, 3) map from
    its pixels to crop pixels (:func:`~fader_studio.core.faces.to_crop`), made
    once per face and photo size. Pixels where the mask is 0 keep their exact
    values, and so does every pixel where the layers add nothing and cover
    nothing.

    The change is added as ``photo + round(add)``, saturated, in one pass of
    OpenCV over the region; the float arithmetic of ``cover`` is done only on
    the rectangle where the gate is open. Replace mode's mask is warped into
    the region for its blend (detail mode's layers carry it already).
    """
    height, width = region.shape[:2]
    if height == 0 or width == 0:
        return region.copy()
    region = np.ascontiguousarray(region)
    size = (width, height)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    if layers.pasted is not None:
        edited = cv2.warpAffine(layers.pasted, to_crop, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
        weights = cv2.warpAffine(layers.mask, to_crop, size, flags=flags, borderMode=cv2.BORDER_CONSTANT)
        return cv2.blendLinear(edited, region, weights, 1.0 - weights)
    assert layers.add is not None and layers.cover is not None
    # the layers carry the mask; beyond the crop there is nothing (the border is 0), as for the mask
    add = cv2.warpAffine(layers.add, to_crop, size, flags=flags)
    out = cv2.add(region, add, dtype=cv2.CV_8U)
    if layers.cover_box is None:
        return out
    cx0, cy0, cx1, cy1 = layers.cover_box  # whole crop pixels: their bilinear reach is one pixel more
    x0, y0, x1, y1 = photo_rect(to_crop, (cx0 - 1, cy0 - 1, cx1, cy1), region.shape, margin=2)
    if x1 > x0 and y1 > y0:
        shifted = to_crop @ np.array([[1.0, 0, x0], [0, 1.0, y0], [0, 0, 1]])
        keep = 1.0 - cv2.warpAffine(layers.cover, shifted, (x1 - x0, y1 - y0), flags=flags)
        kept = cv2.multiply(region[y0:y1, x0:x1], cv2.merge([keep, keep, keep]), dtype=cv2.CV_32F)
        out[y0:y1, x0:x1] = cv2.add(kept, add[y0:y1, x0:x1], dtype=cv2.CV_8U)
    return out


def paste_back(pixels: np.ndarray, aligned: AlignedFace, crop: np.ndarray) -> np.ndarray:
    """A copy of the photo with the S×S uint8 ``crop`` (an edit of ``aligned.crop``) pasted over the face.

    Only the face's region is touched, through the feathered mask warped into
    the photo; every pixel where the mask is zero keeps its exact value.
    """
    out = pixels.copy()
    size = crop.shape[0]
    x0, y0, x1, y1 = face_region(aligned, size, pixels.shape)
    layers = Layers(pasted=np.ascontiguousarray(crop), mask=feather_mask(size))
    out[y0:y1, x0:x1] = composite(pixels[y0:y1, x0:x1], to_crop(aligned, x0, y0), layers)
    return out


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), max(1.0, sigma), borderType=cv2.BORDER_REFLECT_101)


def _gate_view(image: np.ndarray) -> np.ndarray:
    """``image`` (S, S, C) shrunk to at most :data:`GATE_SIDE` pixels (area filter), or as it is."""
    if image.shape[0] <= GATE_SIDE:
        return image
    return cv2.resize(image, (GATE_SIDE, GATE_SIDE), interpolation=cv2.INTER_AREA)


def _disc(radius: float) -> np.ndarray:
    size = 2 * max(1, round(radius)) + 1
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))


def _fine(image: np.ndarray) -> np.ndarray:
    """What a blur of :data:`STRUCTURE_BLUR` of the crop removes from ``image``: its structure."""
    return image - _blur(image, STRUCTURE_BLUR * image.shape[0])


def _local_size(image: np.ndarray, sigma: float) -> np.ndarray:
    """The local root-mean-square size of an (S, S, C) image over all channels: (S, S) float32."""
    energy = np.einsum("ijc,ijc->ij", image, image, dtype=np.float32)
    return np.sqrt(np.maximum(_blur(energy, sigma), 0))


def _smoothstep(x: np.ndarray) -> np.ndarray:
    return x * x * (3 - 2 * x)
