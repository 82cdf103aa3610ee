"""Editing the faces of a real photo with a real (tiny) model."""

from __future__ import annotations

import numpy as np
import pytest

from fader_studio import resources
from fader_studio.core.edit import PhotoEdit
from fader_studio.core.engine import Engine
from fader_studio.core.errors import NoFaceError
from fader_studio.core.imageio import Photo, load_image
from fader_studio.core.modelfile import FaderModel
from tests.conftest import ATTRIBUTES


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
        np.testing.assert_allclose(list(face.start.values()), probabilities, atol=1e-6)
        assert face.values == face.start


def test_rendering_changes_only_the_faces_and_never_the_photo(model: FaderModel, photo: Photo) -> None:
    original = photo.pixels.copy()
    edit = PhotoEdit(photo, Engine(model, "cpu"))
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
    matched = PhotoEdit(photo, engine).render_face(0).astype(int)
    raw = PhotoEdit(photo, engine, match_colour=False)
    crop = raw.faces[0].aligned.crop.astype(int)
    assert np.abs(matched - crop).mean() < np.abs(raw.render_face(0).astype(int) - crop).mean()


def test_a_photo_without_a_face(model: FaderModel) -> None:
    with pytest.raises(NoFaceError):
        PhotoEdit(Photo(np.full((200, 300, 3), 90, np.uint8)), Engine(model, "cpu"))
