"""Detecting, aligning and pasting back faces in real photos (the bundled public-domain portrait)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from fader_studio import resources
from fader_studio.core.composite import paste_back
from fader_studio.core.errors import NoFaceError
from fader_studio.core.faces import FaceDetector, align_face, find_faces, similarity_matrix, whole_face
from fader_studio.core.imageio import load_image, paper_crop
from fader_studio.core.template import CELEBA_MEAN_LANDMARKS, default_template, template_points

SIZE = 128
TEMPLATE = default_template(SIZE)


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return load_image(resources.path(resources.SAMPLE_PHOTO)).pixels


def test_finds_the_face_with_landmarks_in_celeba_order(detector: FaceDetector, astronaut: np.ndarray) -> None:
    (face,) = detector.detect(astronaut)
    np.testing.assert_allclose(face.box, (178, 63, 90, 113), atol=2)
    assert face.score > 0.9
    left_eye, right_eye, nose, left_mouth, right_mouth = face.landmarks
    assert left_eye[0] < nose[0] < right_eye[0] and left_mouth[0] < right_mouth[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(left_mouth[1], right_mouth[1])


def test_finds_two_faces_side_by_side_largest_first(detector: FaceDetector, astronaut: np.ndarray) -> None:
    small = cv2.resize(astronaut, (384, 384), interpolation=cv2.INTER_AREA)
    pair = np.zeros((512, 896, 3), np.uint8)
    pair[:, :512] = astronaut
    pair[64:448, 512:] = small
    faces = detector.detect(pair)
    assert len(faces) == 2
    assert faces[0].box[0] < 512 <= faces[1].box[0] and faces[0].area > faces[1].area


def test_a_large_photo_is_searched_downscaled_and_mapped_back(
    detector: FaceDetector, astronaut: np.ndarray
) -> None:
    big = np.zeros((3000, 4000, 3), np.uint8)  # 12 megapixels
    big[500:2548, 1000:3048] = cv2.resize(astronaut, (2048, 2048), interpolation=cv2.INTER_CUBIC)
    (face,) = detector.detect(big)
    np.testing.assert_allclose(face.box, (1000 + 178 * 4, 500 + 63 * 4, 360, 452), atol=12)
    aligned = align_face(big, face, TEMPLATE, SIZE)
    small = align_face(astronaut, detector.detect(astronaut)[0], TEMPLATE, SIZE)
    assert np.abs(blurred(aligned.crop) - blurred(small.crop)).mean() < 10


def test_no_face_raises_no_face_error(detector: FaceDetector) -> None:
    wall = np.full((300, 400, 3), 128, np.uint8)
    assert detector.detect(wall) == []
    with pytest.raises(NoFaceError, match="wall.jpg: no face found"):
        find_faces(wall, TEMPLATE, SIZE, detector, name="wall.jpg")


def test_alignment_puts_the_landmarks_on_the_template(detector: FaceDetector, astronaut: np.ndarray) -> None:
    aligned = align_face(astronaut, detector.detect(astronaut)[0], TEMPLATE, SIZE)
    assert aligned.crop.shape == (SIZE, SIZE, 3) and not aligned.direct
    moved = aligned.face.landmarks @ aligned.matrix[:, :2].T + aligned.matrix[:, 2]
    assert np.linalg.norm(moved - np.asarray(TEMPLATE), axis=1).mean() < 3
    (again,) = detector.detect(aligned.crop)
    assert np.linalg.norm(again.landmarks - np.asarray(TEMPLATE), axis=1).mean() < 4


def test_similarity_matrix_recovers_rotation_scale_and_shift() -> None:
    points = np.asarray(CELEBA_MEAN_LANDMARKS)
    angle, scale = np.deg2rad(25), 1.7
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = points @ rotation.T + [12.0, -7.0]
    np.testing.assert_allclose(
        similarity_matrix(points, moved), np.hstack([rotation, [[12.0], [-7.0]]]), atol=1e-9
    )


def blurred(image: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(image.astype(np.float32), (0, 0), 3)


@pytest.mark.parametrize(
    ("angle", "scale"), [(10, 1.0), (20, 1.0), (-25, 1.6), (0, 0.7), (-35, 1.0), (30, 0.8)]
)
def test_rotated_and_scaled_copies_align_to_the_same_crop(
    detector: FaceDetector, astronaut: np.ndarray, angle: float, scale: float
) -> None:
    reference = align_face(astronaut, detector.detect(astronaut)[0], TEMPLATE, SIZE).crop
    size = round(512 * scale)
    matrix = cv2.getRotationMatrix2D((256, 256), angle, scale)
    matrix[:, 2] += (size - 512) / 2
    turned = cv2.warpAffine(
        astronaut, matrix, (size, size), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT
    )
    crop = align_face(turned, detector.detect(turned)[0], TEMPLATE, SIZE).crop
    (found,) = detector.detect(crop)
    assert np.linalg.norm(found.landmarks - np.asarray(TEMPLATE), axis=1).mean() < 4
    centre = slice(SIZE // 4, 3 * SIZE // 4)  # the face itself, not the reflected corners
    assert np.abs(blurred(crop)[centre, centre] - blurred(reference)[centre, centre]).mean() < 15


def changed_region(before: np.ndarray, after: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(np.any(before != after, axis=2))
    return xs.min(), ys.min(), xs.max(), ys.max()


def test_pasting_back_the_unmodified_crop_changes_little_inside_and_nothing_outside(
    detector: FaceDetector, astronaut: np.ndarray
) -> None:
    aligned = align_face(astronaut, detector.detect(astronaut)[0], TEMPLATE, SIZE)
    original = astronaut.copy()
    back = paste_back(astronaut, aligned, aligned.crop)
    assert np.array_equal(astronaut, original)  # the photo itself is untouched
    x0, y0, x1, y1 = changed_region(astronaut, back)
    corners = np.array([[-0.5, -0.5], [SIZE - 0.5, -0.5], [-0.5, SIZE - 0.5], [SIZE - 0.5, SIZE - 0.5]])
    inverse = cv2.invertAffineTransform(aligned.matrix)
    footprint = corners @ inverse[:, :2].T + inverse[:, 2]
    low, high = footprint.min(0) - 3, footprint.max(0) + 3
    assert low[0] <= x0 and x1 <= high[0] and low[1] <= y0 and y1 <= high[1]  # only inside the footprint
    face = (slice(y0, y1 + 1), slice(x0, x1 + 1))
    assert np.abs(back[face].astype(int) - astronaut[face]).mean() < 4  # resampling error only


def test_a_modified_crop_changes_only_the_masked_face(detector: FaceDetector, astronaut: np.ndarray) -> None:
    aligned = align_face(astronaut, detector.detect(astronaut)[0], TEMPLATE, SIZE)
    inverted = 255 - aligned.crop
    back = paste_back(astronaut, aligned, inverted)
    x0, y0, x1, y1 = changed_region(astronaut, back)
    box = aligned.face.box
    assert x0 > box[0] - box[2] and x1 < box[0] + 2 * box[2]  # near the face, not across the photo
    centre = back[round(box[1] + box[3] / 2), round(box[0] + box[2] / 2)].astype(int)
    original = astronaut[round(box[1] + box[3] / 2), round(box[0] + box[2] / 2)].astype(int)
    assert np.abs(centre - (255 - original)).max() < 40  # fully replaced in the middle
    outside = np.ones(astronaut.shape[:2], bool)
    outside[y0 : y1 + 1, x0 : x1 + 1] = False
    assert np.array_equal(back[outside], astronaut[outside])


def celeba_aligned(astronaut: np.ndarray, detector: FaceDetector) -> np.ndarray:
    """The portrait warped so that it is a CelebA-aligned 178×218 image."""
    face = detector.detect(astronaut)[0]
    matrix = similarity_matrix(face.landmarks, CELEBA_MEAN_LANDMARKS)
    return cv2.warpAffine(
        astronaut, matrix, (178, 218), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101
    )


def test_an_aligned_celeba_photo_is_cropped_exactly_as_training_data(
    detector: FaceDetector, astronaut: np.ndarray
) -> None:
    image = celeba_aligned(astronaut, detector)
    (aligned,) = find_faces(image, TEMPLATE, SIZE, detector)
    assert aligned.direct
    assert np.array_equal(aligned.crop, paper_crop(Image.fromarray(image), SIZE))
    back = paste_back(image, aligned, aligned.crop)
    assert np.array_equal(back[:20], image[:20]) and np.array_equal(back[199:], image[199:])
    assert np.abs(back.astype(int) - image).mean() < 3


def test_a_face_tight_model_gets_an_aligned_celeba_photo_warped_to_its_template(
    detector: FaceDetector, astronaut: np.ndarray
) -> None:
    image = celeba_aligned(astronaut, detector)
    tight = template_points("tight", SIZE)
    (aligned,) = find_faces(image, tight, SIZE, detector)
    assert not aligned.direct
    moved = cv2.transform(aligned.face.landmarks[None], aligned.matrix)[0]
    assert np.abs(moved - np.asarray(tight)).max() < 0.05 * SIZE  # its landmarks land on the template
    whole = whole_face(image, tight, SIZE)
    assert not whole.direct and whole.crop.shape == (SIZE, SIZE, 3)
    mean = cv2.transform(np.asarray(CELEBA_MEAN_LANDMARKS, np.float64)[None], whole.matrix)[0]
    assert np.abs(mean - np.asarray(tight)).max() < 0.02 * SIZE  # CelebA's mean landmarks, on the template
    assert whole_face(image, TEMPLATE, SIZE).direct
