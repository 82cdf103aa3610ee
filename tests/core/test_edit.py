"""Editing the faces of a real photo with a real (tiny) model."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from fader_studio import resources
from fader_studio.core.composite import BLEND_MODES
from fader_studio.core.edit import PhotoEdit, preview_scale
from fader_studio.core.engine import Engine
from fader_studio.core.errors import NoFaceError
from fader_studio.core.imageio import Photo, load_image
from fader_studio.core.modelfile import FaderModel, load_model
from tests.conftest import ATTRIBUTES, make_model


@pytest.fixture
def photo() -> Photo:
    return load_image(resources.path(resources.SAMPLE_PHOTO))


def two_faces(photo: Photo) -> Photo:
    return Photo(np.hstack([photo.pixels, photo.pixels[:, ::-1]]))


def test_each_face_is_encoded_once_and_starts_at_the_classifiers_estimate(
    model: FaderModel, photo: Photo
) -> None:
    engine = Engine(model, "cpu")
    edit = PhotoEdit(two_faces(photo), engine)
    assert len(edit.faces) == 2
    expected = engine.classify(np.stack([f.aligned.crop for f in edit.faces]))
    for face, probabilities in zip(edit.faces, expected, strict=True):
        assert face.latent.shape[0] == 1
        assert list(face.start) == list(ATTRIBUTES)
        np.testing.assert_allclose(list(face.start.values()), probabilities, atol=0.005)  # to 2 decimals
        assert face.values == face.start


def test_rendering_changes_only_the_edited_faces_and_never_the_photo(model: FaderModel, photo: Photo) -> None:
    original = photo.pixels.copy()
    edit = PhotoEdit(photo, Engine(model, "cpu"))
    assert not edit.is_edited(0)
    assert np.array_equal(edit.render(), original)  # a face at its starting values keeps its pixels
    edit.set(0, {"Smiling": 1.2})
    assert edit.is_edited(0)
    box = edit.faces[0].aligned.face.box
    rendered = edit.render()
    assert np.array_equal(photo.pixels, original)
    changed = np.any(rendered != original, axis=2)
    ys, xs = np.nonzero(changed)
    assert box[0] - box[2] < xs.min() and xs.max() < box[0] + 2 * box[2]
    assert box[1] - box[3] < ys.min() and ys.max() < box[1] + 2 * box[3]
    assert np.array_equal(rendered[:, : int(box[0] - box[2])], original[:, : int(box[0] - box[2])])


def test_moving_a_fader_changes_that_face_only(model: FaderModel, photo: Photo) -> None:
    edit = PhotoEdit(two_faces(photo), Engine(model, "cpu"))
    before = [edit.render_face(i) for i in range(2)]
    edit.set(1, {"Smiling": 1.5, "Male": -0.5})
    after = [edit.render_face(i) for i in range(2)]
    assert np.array_equal(before[0], after[0])
    assert not np.array_equal(before[1], after[1])
    edit.set(None, {"Eyeglasses": 1.0})
    assert all(f.values["Eyeglasses"] == 1.0 for f in edit.faces)
    with pytest.raises(KeyError, match="the model has no attribute 'Bald'"):
        edit.set(0, {"Bald": 1.0})


def test_colour_matching_brings_the_start_closer_to_the_photo(model: FaderModel, photo: Photo) -> None:
    engine = Engine(model, "cpu")
    matched = PhotoEdit(photo, engine, blend="replace").render_face(0).astype(int)
    raw = PhotoEdit(photo, engine, match_colour=False, blend="replace")
    crop = raw.faces[0].aligned.crop.astype(int)
    assert np.abs(matched - crop).mean() < np.abs(raw.render_face(0).astype(int) - crop).mean()


def test_a_photo_without_a_face(model: FaderModel) -> None:
    with pytest.raises(NoFaceError):
        PhotoEdit(Photo(np.full((200, 300, 3), 90, np.uint8)), Engine(model, "cpu"))


def test_render_region_is_the_rendered_photo_inside_the_faces_region(model: FaderModel, photo: Photo) -> None:
    edit = PhotoEdit(two_faces(photo), Engine(model, "cpu"))
    edit.set(0, {"Smiling": 1.4, "Male": -0.2})
    x0, y0, x1, y1 = edit.region(0)
    assert 0 <= x0 < x1 <= edit.photo.size[0] and 0 <= y0 < y1 <= edit.photo.size[1]
    region = edit.render_region(0)
    rendered = edit.render()
    assert np.array_equal(region, rendered[y0:y1, x0:x1])
    outside = np.ones(rendered.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(rendered[outside], edit.photo.pixels[outside])
    x0, y0, x1, y1 = edit.region(1)  # not edited: the original pixels
    assert np.array_equal(edit.render_region(1), edit.photo.pixels[y0:y1, x0:x1])


def test_preview_scales_never_fall_below_the_view_and_step_by_quarter_octaves() -> None:
    assert preview_scale(1.0) == preview_scale(3.0) == 1.0
    views = np.geomspace(0.02, 0.999, 200)
    levels = [preview_scale(v) for v in views]
    assert all(v <= level < v * 2**0.25 + 1e-9 for v, level in zip(views, levels, strict=True))
    assert set(np.round(np.log2(levels) * 4, 9)) <= set(range(-30, 1))  # 2^(-k/4): few distinct copies
    assert preview_scale(0.5) == 0.5 and preview_scale(0.49) == 0.5


@pytest.mark.parametrize("blend", BLEND_MODES)
@pytest.mark.parametrize("view_scale", [0.8, 0.45, 0.3])
def test_a_preview_equals_the_full_render_downscaled(
    synth_model: Path, photo: Photo, view_scale: float, blend: str
) -> None:
    big = Photo(cv2.resize(photo.pixels, (2048, 2048), interpolation=cv2.INTER_CUBIC))  # a 300-px face
    edit = PhotoEdit(big, Engine(load_model(synth_model), "cpu"), blend=blend)  # a face-like decode
    edit.set(0, {"Smiling": 1.5, "Male": -0.3})
    preview = edit.preview(0, view_scale)
    assert preview.scale == preview_scale(view_scale) < 1
    size = round(2048 * preview.scale)
    expected = cv2.resize(edit.render(), (size, size), interpolation=cv2.INTER_AREA)
    x0, y0, x1, y1 = (round(v * size / 2048) for v in preview.rect)
    assert preview.pixels.shape == (y1 - y0, x1 - x0, 3)
    assert (x0, y0, x1, y1) == tuple(v * size / 2048 for v in preview.rect)  # on whole preview pixels
    difference = np.abs(preview.pixels.astype(int) - expected[y0:y1, x0:x1].astype(int))
    assert difference.mean() < 0.3
    assert np.percentile(difference, 99.9) <= 2  # within 2 levels but for a few pixels on sharp edges
    # and those few: the change pushes dark pixels below 0, clipped before or after averaging
    assert difference.max() <= (4 if blend == "replace" else 10)
    full = edit.preview(0, 1.0)  # at 100 %: the full-resolution region itself
    assert np.array_equal(full.pixels, edit.render_region(0)) and full.rect == edit.region(0)


def test_a_face_is_never_previewed_smaller_than_the_models_crop(model: FaderModel, photo: Photo) -> None:
    edit = PhotoEdit(photo, Engine(model, "cpu"))  # a 512-px photo, a 64-px model
    edit.set(0, {"Smiling": 1.5})
    preview = edit.preview(0, 0.02)
    crop_scale = np.sqrt(abs(np.linalg.det(edit.faces[0].aligned.matrix[:, :2])))
    assert crop_scale <= preview.scale < crop_scale * 2**0.25
    edit.set(0, edit.faces[0].start)  # back to the start: the downscaled original
    unedited = edit.preview(0, 0.02)
    size = round(512 * unedited.scale)
    small = cv2.resize(photo.pixels, (size, size), interpolation=cv2.INTER_AREA)
    x0, y0, x1, y1 = (round(v * size / 512) for v in unedited.rect)
    assert np.array_equal(unedited.pixels, small[y0:y1, x0:x1])


def test_an_aligned_celeba_image_can_be_edited_whole(model: FaderModel) -> None:
    from trainer.synth import DRAWN, draw_face

    pixels, _ = draw_face(dict.fromkeys(DRAWN, False), np.random.default_rng(3))
    edit = PhotoEdit(Photo(pixels), Engine(model, "cpu"), whole_image=True)
    assert len(edit.faces) == 1 and edit.faces[0].aligned.direct
    edit.set(0, {"Smiling": 1.5})
    assert edit.region(0) == (0, 17, 178, 200)  # rows 20:198 and a 2-pixel margin
    with pytest.raises(NoFaceError, match="only a 178×218 CelebA-aligned face"):
        PhotoEdit(Photo(np.zeros((100, 100, 3), np.uint8)), Engine(model, "cpu"), whole_image=True)


def test_a_sweep_moves_one_fader_across_its_range_and_leaves_the_edit_alone(
    model: FaderModel, photo: Photo, tmp_path
) -> None:
    from PIL import Image

    from fader_studio.core.sweep import save_sweep, sweep_frames

    edit = PhotoEdit(photo, Engine(model, "cpu"))
    edit.set(0, {"Male": 0.3})
    values = dict(edit.faces[0].values)
    frames = sweep_frames(edit, 0, "Smiling", 5, height=120)
    assert edit.faces[0].values == values
    assert len(frames) == 5 and all(f.shape == frames[0].shape and f.shape[0] <= 120 for f in frames)
    assert not np.array_equal(frames[0], frames[-1])
    strip = Image.open(save_sweep(frames, tmp_path / "strip.png"))
    assert strip.size == (5 * frames[0].shape[1], frames[0].shape[0])
    gif = Image.open(save_sweep(frames, tmp_path / "sweep.gif"))
    assert gif.n_frames == 8  # forth and back
    with pytest.raises(KeyError, match="no attribute 'Bald'"):
        sweep_frames(edit, 0, "Bald")


def test_a_classifier_that_gives_nan_starts_its_faces_at_the_defaults(
    model: FaderModel, photo: Photo
) -> None:
    import torch

    with torch.no_grad():
        for parameter in model.classifier.parameters():
            parameter.fill_(float("inf"))  # inf · 0 and inf − inf: NaN out
    engine = Engine(model, "cpu")
    assert np.isnan(
        engine.classify(PhotoEdit(photo, Engine(make_model(), "cpu")).faces[0].aligned.crop[None])
    ).all()
    edit = PhotoEdit(photo, engine)
    assert edit.faces[0].start == {a.name: a.default for a in model.attributes}
    edit.set(0, {"Smiling": 1.2})
    assert np.isfinite(edit.render()).all() and edit.is_edited(0)
