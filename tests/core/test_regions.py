"""Where an edit applies: face mesh points, region masks, the brush, and the photo untouched outside."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from fader_studio import resources
from fader_studio.core.edit import PhotoEdit
from fader_studio.core.engine import Engine
from fader_studio.core.faces import FaceDetector
from fader_studio.core.imageio import Photo, load_image
from fader_studio.core.landmarks import FaceLandmarker
from fader_studio.core.masks import paint, region_mask, shape_from_five, shape_from_mesh
from fader_studio.core.modelfile import FaderModel
from fader_studio.core.regions import REGIONS, MaskState
from tests.conftest import console_script

RIGHT_EYE, LEFT_EYE, NOSE, MOUTH_RIGHT, MOUTH_LEFT = range(5)


@pytest.fixture(scope="module")
def photo() -> Photo:
    return load_image(resources.path(resources.SAMPLE_PHOTO))


@pytest.fixture(scope="module")
def mesh(photo: Photo) -> tuple[np.ndarray, np.ndarray]:
    """The sample portrait's face: the detector's five points and the 468 mesh points (photo pixels)."""
    face = FaceDetector().detect(photo.pixels)[0]
    points = FaceLandmarker().points(photo.pixels, face)
    assert points is not None and points.shape == (468, 2)
    return face.landmarks, points


def test_the_mesh_lands_on_the_face_the_detector_found(mesh: tuple[np.ndarray, np.ndarray]) -> None:
    five, points = mesh
    eyes = np.linalg.norm(five[LEFT_EYE] - five[RIGHT_EYE])
    for index, ids in ((MOUTH_RIGHT, 61), (MOUTH_LEFT, 291), (NOSE, 1)):  # mesh corners and nose tip
        assert np.linalg.norm(points[ids] - five[index]) < 0.15 * eyes
    right_eye = points[[33, 133]].mean(0)  # the corners of the image-left eye
    assert np.linalg.norm(right_eye - five[RIGHT_EYE]) < 0.15 * eyes


def test_a_missing_landmark_model_says_why_and_gives_no_points(tmp_path: Path, photo: Photo) -> None:
    landmarker = FaceLandmarker(tmp_path / "absent.onnx")
    assert "missing" in landmarker.problem
    face = FaceDetector().detect(photo.pixels)[0]
    assert landmarker.points(photo.pixels, face) is None


def test_a_view_without_a_face_gives_no_points() -> None:
    wall = np.full((400, 400, 3), 128, np.uint8)
    from fader_studio.core.faces import Face

    face = Face(
        (100.0, 100.0, 200.0, 200.0),
        np.array([[160, 170], [240, 170], [200, 210], [170, 250], [230, 250.0]]),
        1,
    )
    assert FaceLandmarker().points(wall, face) is None


@pytest.mark.parametrize("from_mesh", [True, False])
def test_regions_lie_in_the_face_and_cover_their_landmarks(
    mesh: tuple[np.ndarray, np.ndarray], from_mesh: bool
) -> None:
    five, points = mesh
    # the crop: the photo's face square, 128 px
    x0, y0 = five.min(0) - 60
    scale = 128 / 240
    to_crop = lambda p: (p - [x0, y0]) * scale  # noqa: E731
    shape = shape_from_mesh(to_crop(points)) if from_mesh else shape_from_five(to_crop(five))
    masks = {region: region_mask(region, shape, 128) for region in REGIONS}
    at = lambda mask, p: mask[int(round(p[1])), int(round(p[0]))]  # noqa: E731
    corners = [to_crop(five[i]) for i in (MOUTH_RIGHT, MOUTH_LEFT)]
    eyes = [to_crop(five[i]) for i in (RIGHT_EYE, LEFT_EYE)]
    assert all(at(masks["mouth"], p) > 0.5 for p in corners)
    assert all(at(masks["eyes"], p) > 0.5 for p in eyes)
    assert all(at(masks["face"], p) > 0.9 for p in [*corners, *eyes])
    assert all(at(masks["eyes"], p) < 0.05 for p in corners) and all(
        at(masks["mouth"], p) < 0.05 for p in eyes
    )
    assert all(at(masks["skin"], p) < 0.5 for p in [*corners, *eyes])  # skin leaves the features out
    cheek = at(masks["skin"], to_crop((five[RIGHT_EYE] + five[MOUTH_RIGHT]) / 2))
    assert cheek > (0.9 if from_mesh else 0.5)  # five points draw the features larger
    face = masks["face"] > 0
    for region, share in (("mouth", 0.4), ("eyes", 0.35), ("skin", 0.9)):
        assert masks[region].sum() < share * masks["face"].sum()
        assert not (masks[region] > 0.05)[~face].any()  # inside the face oval
    feather = 3 * 0.035 * np.ptp(shape.oval[:, 0])  # a feathered edge reaches about 3 sigmas
    assert masks["hair"][int(shape.nose[1] + feather) + 1 :].max() < 0.01  # none below the nose
    assert masks["crop"].min() == 1.0
    for mask in masks.values():
        assert mask.dtype == np.float32 and mask.min() >= 0 and mask.max() <= 1


def test_painting_adds_where_the_brush_went_and_erasing_holds_back() -> None:
    mask = np.zeros((64, 64), np.float32)
    paint(mask, (20, 30), 6, 0.5, erase=False)
    assert mask[30, 20] == 1.0 and mask[30, 24] > 0 and mask[30, 27] == 0 and mask[10, 10] == 0
    painted = mask.copy()
    paint(mask, (20, 30), 6, 0.5, erase=False)  # again: never past 1
    assert mask.max() == 1.0 and np.all(mask >= painted)
    paint(mask, (17, 30), 3, 1.0, erase=True)
    assert mask[30, 17] == 0 and mask[30, 23] == painted[30, 23]
    paint(mask, (-50, -50), 6, 0.5, erase=False)  # off the crop: nothing
    assert mask[30, 23] == painted[30, 23]


@pytest.mark.parametrize("blend", ["detail", "replace"])
@pytest.mark.parametrize("region", list(REGIONS))
def test_outside_its_mask_an_edit_leaves_the_photo_bit_identical(
    model: FaderModel, photo: Photo, region: str, blend: str
) -> None:
    edit = PhotoEdit(photo, Engine(model, "cpu"), region=region, blend=blend)
    edit.set(0, {"Smiling": 1.4, "Male": 0.0})
    rendered = edit.render()
    x0, y0, x1, y1 = edit.region(0)
    weights = edit.mask_preview(0, 1.0).pixels
    changed = np.any(rendered != photo.pixels, axis=2)
    outside = np.ones(changed.shape, bool)
    outside[y0:y1, x0:x1] = weights == 0
    assert changed.any() and not changed[outside].any()


def test_a_mask_limits_the_edit_and_the_brush_extends_it(model: FaderModel, photo: Photo) -> None:
    edit = PhotoEdit(photo, Engine(model, "cpu"), region="mouth")
    edit.set(0, {"Smiling": 1.5, "Male": 0.0})
    mouth_only = edit.render()
    five = edit.faces[0].aligned.face.landmarks
    eye = tuple(five[RIGHT_EYE])
    x, y = np.rint(eye).astype(int)
    assert np.array_equal(
        mouth_only[y - 3 : y + 4, x - 3 : x + 4], photo.pixels[y - 3 : y + 4, x - 3 : x + 4]
    )
    before = edit.mask(0)
    edit.paint(0, eye, 12, hardness=0.8)
    assert edit.mask(0).painted and edit.mask(0).region == "mouth"
    painted = edit.render()
    assert not np.array_equal(
        painted[y - 3 : y + 4, x - 3 : x + 4], photo.pixels[y - 3 : y + 4, x - 3 : x + 4]
    )
    edit.set_mask(0, before)  # as an undo does
    assert np.array_equal(edit.render(), mouth_only)
    edit.paint(0, tuple(five[MOUTH_RIGHT]), 40, hardness=1.0, erase=True)
    mx, my = np.rint(five[MOUTH_RIGHT]).astype(int)
    erased = edit.render()
    assert np.array_equal(
        erased[my - 3 : my + 4, mx - 3 : mx + 4], photo.pixels[my - 3 : my + 4, mx - 3 : mx + 4]
    )
    with pytest.raises(ValueError, match="64×64"):
        edit.set_mask(0, MaskState("face", np.zeros((8, 8), np.float32)))
    with pytest.raises(ValueError, match="unknown region"):
        edit.set_region(0, "nose")


def test_without_the_landmark_model_regions_come_from_five_points(
    tmp_path: Path, model: FaderModel, photo: Photo
) -> None:
    landmarker = FaceLandmarker(tmp_path / "absent.onnx")
    edit = PhotoEdit(photo, Engine(model, "cpu"), landmarker=landmarker, region="mouth")
    assert "missing" in edit.landmark_problem and not edit.faces[0].shape.from_mesh
    edit.set(0, {"Smiling": 1.5})
    assert np.any(edit.render() != photo.pixels)  # the mouth still edits


def test_preview_at_100_percent_export_and_the_command_line_agree_with_a_region(
    tmp_path: Path, model_file: Path
) -> None:
    import subprocess

    from fader_studio.core.editor import Editor

    source = resources.path(resources.SAMPLE_PHOTO)
    editor = Editor("cpu", "torch")
    editor.region = "eyes"
    editor.load_model(model_file)
    editor.open_photo(source)
    (render,) = editor.render([(0, {"Smiling": 1.4, "Male": 0.1})], 1.0)
    written, _ = editor.export(tmp_path / "app.png")
    out = tmp_path / "cli.png"
    command = [console_script("fader-studio"), "edit", str(source), "--model", str(model_file)]
    command += ["--region", "eyes", "--set", "Smiling=1.4", "--set", "Male=0.1"]
    command += ["--device", "cpu", "--backend", "torch", "--out", str(out)]
    subprocess.run(command, check=True, capture_output=True)
    app, cli = (cv2.imread(str(p))[:, :, ::-1] for p in (written, out))
    assert np.array_equal(app, cli)
    x0, y0, x1, y1 = map(int, render.rect)
    assert np.array_equal(app[y0:y1, x0:x1], render.pixels)
    face = Editor("cpu", "torch")
    face.load_model(model_file)
    face.open_photo(source)
    face.render([(0, {"Smiling": 1.4, "Male": 0.1})], 1.0)
    whole, _ = face.export(tmp_path / "face.png")
    assert not np.array_equal(cv2.imread(str(whole)), cv2.imread(str(out)))  # the region made a difference
