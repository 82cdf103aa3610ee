"""Bringing edits back into the photo: the change added in detail mode, the decode where it is structural."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fader_studio import resources
from fader_studio.core.composite import (
    BLEND_MODES,
    composite,
    detail_layers,
    replace_layers,
    start_of,
    structure_gate,
)
from fader_studio.core.edit import PhotoEdit
from fader_studio.core.engine import Engine
from fader_studio.core.faces import AlignedFace, Face, face_region, feather_mask, to_crop
from fader_studio.core.imageio import Photo, load_image
from fader_studio.core.modelfile import FaderModel

S = 64


def textured(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Mid-grey pixels with a fine, photo-like grain of a few levels."""
    rng = np.random.default_rng(seed)
    return np.clip(128 + rng.normal(0, 6, shape), 0, 255).astype(np.uint8)


def a_face(photo: np.ndarray, x0: int, y0: int, scale: float) -> AlignedFace:
    """A face whose S×S crop is the photo's square at (x0, y0) of side S / scale, no rotation."""
    matrix = np.array([[scale, 0.0, -x0 * scale], [0.0, scale, -y0 * scale]])
    crop = cv2.warpAffine(photo, matrix, (S, S), flags=cv2.INTER_LINEAR)
    return AlignedFace(Face((x0, y0, S / scale, S / scale), np.zeros((5, 2)), 1.0), crop, matrix, False)


def bar(amplitude: float, size: int = S) -> np.ndarray:
    """A structural change: a sharp-edged bar (a closed mouth's line, a glasses frame) of ``amplitude``."""
    delta = np.zeros((size, size, 3), np.float32)
    k = size // S
    delta[40 * k : 44 * k, 20 * k : 44 * k] = amplitude
    return delta


def bump(amplitude: float, size: int = S) -> np.ndarray:
    """A smooth change: a broad bump of shading over the face."""
    y, x = np.mgrid[0:size, 0:size] - size / 2
    shading = amplitude * np.exp(-(x**2 + y**2) / (2 * (size / 5) ** 2))
    return np.repeat(shading[..., None], 3, 2).astype(np.float32)


#: The mask of an edit limited to nothing but the crop: its feathered edge.
CROP = feather_mask(S)


def region_weights(aligned: AlignedFace, shape: tuple[int, ...], mask: np.ndarray = CROP) -> np.ndarray:
    """``mask`` (crop space) as it lies over the face's region of a photo of ``shape``."""
    x0, y0, x1, y1 = face_region(aligned, S, shape)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    return cv2.warpAffine(mask, to_crop(aligned, x0, y0), (x1 - x0, y1 - y0), flags=flags)


def apply(photo: np.ndarray, aligned: AlignedFace, layers) -> tuple[np.ndarray, tuple[int, int, int, int]]:  # noqa: ANN001
    rect = face_region(aligned, S, photo.shape)
    x0, y0, x1, y1 = rect
    return composite(photo[y0:y1, x0:x1], to_crop(aligned, x0, y0), layers), rect


def test_no_change_gives_the_photo_bit_for_bit() -> None:
    photo = textured((300, 300, 3))
    aligned = a_face(photo, 50, 60, 0.4)  # a 160-px face
    start = np.full((S, S, 3), 120.0, np.float32)
    layers = detail_layers(start_of(start, None), start.copy(), CROP)
    assert not layers.add.any() and not layers.cover.any()
    out, (x0, y0, x1, y1) = apply(photo, aligned, layers)
    assert np.array_equal(out, photo[y0:y1, x0:x1])


def test_a_known_change_is_added_to_the_photos_own_pixels_through_the_mask() -> None:
    photo = textured((300, 300, 3), seed=1)
    aligned = a_face(photo, 50, 60, 0.4)
    start = np.full((S, S, 3), 120.0, np.float32)
    layers = detail_layers(start_of(start, None), start + 10, CROP)
    assert not layers.cover.any()  # an even change is no structure
    out, (x0, y0, x1, y1) = apply(photo, aligned, layers)
    weights = region_weights(aligned, photo.shape)
    added = out.astype(int) - photo[y0:y1, x0:x1]
    assert np.abs(added - 10 * weights[..., None]).max() <= 1  # 10 levels through the feathered mask
    assert not added[weights == 0].any()
    inside = weights > 0.999
    assert inside.sum() > 10_000  # the face's middle: the photo's grain, every pixel 10 levels up
    assert np.array_equal(
        out[inside].astype(int) - photo[y0:y1, x0:x1][inside], np.full((inside.sum(), 3), 10)
    )


def test_replace_mode_pastes_the_decode_where_the_mask_is_full() -> None:
    photo = textured((300, 300, 3), seed=2)
    aligned = a_face(photo, 50, 60, 0.4)
    current = np.full((S, S, 3), 77.0, np.float32)
    out, (x0, y0, x1, y1) = apply(photo, aligned, replace_layers(current, np.zeros_like(current), CROP))
    inside = region_weights(aligned, photo.shape) > 0.999
    assert np.all(out[inside] == 77)


@pytest.mark.parametrize("size", [S, 4 * S])  # 256-px crops: the gate is worked out smaller
def test_the_gate_opens_on_a_structural_change_and_not_on_a_smooth_one(size: int) -> None:
    k = size // S
    start = start_of(np.full((size, size, 3), 120, np.float32), None)  # plain: what the change draws is new
    for amplitude in (6.0, 60.0):  # a weak model's change and a strong one's
        gate = structure_gate(bar(amplitude, size), start)
        assert gate.shape == (size, size)
        assert gate[40 * k : 44 * k, 24 * k : 40 * k].min() > 0.9, amplitude
        far = np.ones((size, size), bool)
        far[24 * k : 60 * k, 4 * k : 60 * k] = False  # the bar and a quarter of the crop around it
        assert gate[far].max() < 0.01  # far from the bar, the photo keeps its detail
        assert structure_gate(bump(amplitude, size), start).max() < 0.05, amplitude
        assert not structure_gate(np.full((size, size, 3), amplitude, np.float32), start).any()


def test_the_gate_opens_gradually_as_the_change_replaces_the_starts_own_structure() -> None:
    start = np.full((S, S, 3), 120, np.float32)
    start[40:44, 20:44] = 160  # the decode's own idea of teeth there, 40 levels bright
    peaks = [
        float(structure_gate(-bar(a), start_of(start, None))[40:44, 24:40].mean()) for a in (0.5, 4, 15, 40)
    ]
    assert peaks[0] < 0.1 and peaks[-1] > 0.9
    assert peaks == sorted(peaks)


def test_where_the_gate_is_open_the_decode_replaces_the_old_structure() -> None:
    # teeth in the photo (a bright bar) that the edit closes: adding Δ alone would leave their edges
    photo = np.full((300, 300, 3), 100, np.uint8)
    aligned = a_face(photo, 50, 60, 0.4)
    crop = aligned.crop.astype(np.float32)
    teeth = crop.copy()
    teeth[40:44, 20:44] = 220
    start = cv2.GaussianBlur(teeth, (0, 0), 1.5)  # the model's soft idea of the teeth
    closed = cv2.GaussianBlur(crop, (0, 0), 1.5)
    teeth_photo = photo.copy()
    inverse = cv2.invertAffineTransform(aligned.matrix)
    corners = (np.array([[20, 40], [44, 44]]) @ inverse[:, :2].T + inverse[:, 2]).astype(int)
    (tx0, ty0), (tx1, ty1) = corners
    teeth_photo[ty0:ty1, tx0:tx1] = 220
    ghost_aligned = AlignedFace(aligned.face, teeth.astype(np.uint8), aligned.matrix, False)
    layers = detail_layers(start_of(start, None), closed, CROP)
    out, (x0, y0, _, _) = apply(teeth_photo, ghost_aligned, layers)
    mouth = out[ty0 - y0 + 2 : ty1 - y0 - 2, tx0 - x0 + 2 : tx1 - x0 - 2].astype(int)
    assert np.abs(mouth - 100).max() <= 12  # the teeth are gone, not a ghost 120 levels bright


@pytest.mark.parametrize("blend", BLEND_MODES)
def test_an_edited_photo_changes_only_inside_the_faces_region_and_starts_as_the_photo(
    model: FaderModel, blend: str
) -> None:
    photo = load_image(resources.path(resources.SAMPLE_PHOTO))
    document = PhotoEdit(photo, Engine(model, "cpu"), blend=blend)
    document.set(0, {"Smiling": 1.5, "Male": -0.5})
    rendered = document.render()
    x0, y0, x1, y1 = document.region(0)
    outside = np.ones(rendered.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(rendered[outside], photo.pixels[outside])
    assert not np.array_equal(rendered[y0:y1, x0:x1], photo.pixels[y0:y1, x0:x1])
    document.set(0, document.faces[0].start)  # back to the start: the photo bit for bit
    assert np.array_equal(document.render(), photo.pixels)


def test_detail_mode_keeps_the_photos_grain_that_replace_mode_loses(model: FaderModel) -> None:
    portrait = load_image(resources.path(resources.SAMPLE_PHOTO)).pixels
    big = cv2.resize(portrait, (1024, 1024), interpolation=cv2.INTER_CUBIC)
    grain = np.random.default_rng(5).normal(0, 5, big.shape)  # a sharp, noisy photo: the 64-px model is not
    photo = Photo(np.clip(big + grain, 0, 255).astype(np.uint8))
    document = PhotoEdit(photo, Engine(model, "cpu"))
    document.set(0, {"Smiling": 1.5})
    x, y, w, h = (int(v) for v in document.faces[0].aligned.face.box)

    def sharpness(pixels: np.ndarray) -> float:
        return float(
            cv2.Laplacian(cv2.cvtColor(pixels[y : y + h, x : x + w], cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()
        )

    original = sharpness(photo.pixels)
    detail = sharpness(document.render())
    document.blend = "replace"
    replace = sharpness(document.render())
    assert detail > 0.85 * original
    assert replace < 0.5 * original


def test_the_starting_decode_follows_a_change_of_backend(model: FaderModel, tmp_path) -> None:
    engine = Engine(model, "cpu", backend="torch", cache=tmp_path)
    document = PhotoEdit(load_image(resources.path(resources.SAMPLE_PHOTO)), engine)
    document.set(0, {"Smiling": 1.5})
    on_torch = document.render()
    engine.use_onnx(engine.prepare_onnx())
    assert engine.backend == "onnx"
    document.set(0, document.faces[0].start)
    document.set(0, {"Smiling": 1.5})
    on_onnx = document.render()
    assert np.abs(on_onnx.astype(int) - on_torch).max() <= 2  # the same change, decoded elsewhere
    first = document.faces[0]
    expected = engine.decode_levels(first.latent, first.start)[0]
    assert np.array_equal(first.decoded.decode, expected)


def test_an_unknown_blend_is_refused(model: FaderModel) -> None:
    with pytest.raises(ValueError, match="unknown blend mode 'soft'"):
        PhotoEdit(load_image(resources.path(resources.SAMPLE_PHOTO)), Engine(model, "cpu"), blend="soft")
