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

Both modes reduce to two crop-space layers (:class:`Layers`): an additive
layer ``add`` and an opacity ``cover``; compositing a region of the photo is
``out = photo + w · (add − cover · photo)`` with ``w`` the warped paste mask,
so one warp and one blend serve every mode, zoom and output.
:func:`paste_back` pastes a whole crop (the ``replace`` of a crop one has).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .faces import AlignedFace, face_region, region_weights, to_crop

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


def check_blend(mode: str) -> str:
    """``mode`` if it is one of :data:`BLEND_MODES`, else ``ValueError``."""
    if mode not in BLEND_MODES:
        raise ValueError(f"unknown blend mode {mode!r} (use {' or '.join(BLEND_MODES)})")
    return mode


@dataclass(frozen=True)
class Layers:
    """An edit of one face in crop space: ``out = photo + w · (add − cover · photo)``.

    ``add`` is (S, S, 3) float32 in levels, ``cover`` (S, S) float32 in [0, 1].
    Both are stacked in ``stack`` (S, S, 4), so they are warped in one pass.
    """

    stack: np.ndarray

    @property
    def add(self) -> np.ndarray:
        """The additive layer (levels of 255)."""
        return self.stack[..., :3]

    @property
    def cover(self) -> np.ndarray:
        """How much of the photo the edit replaces (0: the change is added, 1: the decode replaces it)."""
        return self.stack[..., 3]


def low_frequency(image: np.ndarray) -> np.ndarray:
    """``image`` (S, S, C) float32 blurred by :data:`COLOUR_BLUR` of its size: its colour, not its detail."""
    return _blur(image, COLOUR_BLUR * image.shape[0])


def colour_correction(crop: np.ndarray, start: np.ndarray) -> np.ndarray:
    """What to add to every decode to match the photo's colours: the low frequencies of crop − start."""
    return low_frequency(crop.astype(np.float32) - start)


def structure_gate(delta: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Where adding ``delta`` would leave a ghost: (S, S) float32 in [0, 1].

    ``delta`` is the change Δ (S, S, 3) in levels and ``start`` the decode it
    starts from. The gate opens where Δ's fine structure (what a blur of
    :data:`STRUCTURE_BLUR` removes) is locally :data:`GATE_LOW` to
    :data:`GATE_HIGH` times the face's typical (median) |Δ| — relative, so a weak
    model's few-level change and a strong one's tens are judged alike, and a
    smooth change (shading, colour, a broad bump) never opens it — and as far
    as that structure replaces the start's own structure there (all of it from
    :data:`REPLACED` of it on), so it opens gradually as the fader moves and
    the photo is untouched at the start.
    """
    size = delta.shape[0]
    magnitude = _local_size(delta, LOCAL_BLUR * size)
    # the median: a change over much of the face must not hide its own structure; for one that
    # touches little of the crop (a median near 0), a share of the mean
    typical = max(float(np.median(magnitude)), TYPICAL_FLOOR * float(magnitude.mean()))
    if typical <= 1e-6:
        return np.zeros(delta.shape[:2], np.float32)
    structure = _local_size(_fine(delta), LOCAL_BLUR * size)
    relative = np.clip((structure / typical - GATE_LOW) / (GATE_HIGH - GATE_LOW), 0, 1)
    own = np.maximum(_local_size(_fine(start), LOCAL_BLUR * size), MIN_STRUCTURE)
    replaced = np.clip(structure / (REPLACED * own), 0, 1)
    gate = _smoothstep(relative) * replaced
    # a change drawn around an area changes the area too (lips that close over teeth): fill such holes,
    # then spread over the structure's neighbourhood without weakening its peak
    gate = cv2.morphologyEx(gate, cv2.MORPH_CLOSE, _disc(GATE_FILL * size))
    spread = max(1, round(GATE_SPREAD * size))
    return np.clip(_blur(cv2.dilate(gate, _disc(spread)), spread), 0, 1)


def detail_layers(start: np.ndarray, current: np.ndarray, correction: np.ndarray) -> Layers:
    """The layers of ``detail`` mode: Δ added, and the colour-matched decode where Δ is structural.

    ``start`` and ``current`` are the float decodes at the starting and the
    current values, ``correction`` from :func:`colour_correction` (zeros for none).
    """
    delta = current - start
    matched_start = start + correction
    gate = structure_gate(delta, start)
    # photo + Δ where the gate is shut; photo → current + correction where it is open
    add = delta + gate[..., None] * matched_start
    return Layers(np.ascontiguousarray(np.dstack([add, gate]), dtype=np.float32))


def replace_layers(current: np.ndarray, correction: np.ndarray) -> Layers:
    """The layers of ``replace`` mode: the colour-matched decode over the whole crop."""
    size = current.shape[0]
    opaque = np.ones((size, size, 1), np.float32)
    return Layers(np.ascontiguousarray(np.dstack([current + correction, opaque]), dtype=np.float32))


def composite(region: np.ndarray, to_crop: np.ndarray, weights: np.ndarray, layers: Layers) -> np.ndarray:
    """A rectangle of the photo with a face's ``layers`` applied (a new uint8 array; ``region`` is untouched).

    ``region`` is the face's :func:`~fader_studio.core.faces.face_region` of
    the photo (or of a downscaled copy), ``to_crop`` the (2, 3) map from its
    pixels to crop pixels (:func:`~fader_studio.core.faces.to_crop`) and
    ``weights`` the paste mask over it
    (:func:`~fader_studio.core.faces.region_weights`), both made once per face
    and photo size. Pixels where the mask is 0 keep their exact values, and so
    does every pixel where the layers add nothing and cover nothing.
    """
    height, width = region.shape[:2]
    if height == 0 or width == 0:
        return region.copy()
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    warped = cv2.warpAffine(
        layers.stack, to_crop, (width, height), flags=flags, borderMode=cv2.BORDER_REPLICATE
    )
    photo = region.astype(np.float32)
    out = photo + weights[..., None] * (warped[..., :3] - warped[..., 3:] * photo)
    return np.clip(np.rint(out, out=out), 0, 255, out=out).astype(np.uint8)


def paste_back(pixels: np.ndarray, aligned: AlignedFace, crop: np.ndarray) -> np.ndarray:
    """A copy of the photo with the S×S uint8 ``crop`` (an edit of ``aligned.crop``) pasted over the face.

    Only the face's region is touched, through the feathered mask warped into
    the photo; every pixel where the mask is zero keeps its exact value.
    """
    out = pixels.copy()
    size = crop.shape[0]
    x0, y0, x1, y1 = face_region(aligned, size, pixels.shape)
    layers = replace_layers(crop.astype(np.float32), np.zeros(crop.shape, np.float32))
    weights = region_weights(aligned, size, pixels.shape)
    out[y0:y1, x0:x1] = composite(pixels[y0:y1, x0:x1], to_crop(aligned, x0, y0), weights, layers)
    return out


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), max(1.0, sigma), borderType=cv2.BORDER_REFLECT_101)


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
