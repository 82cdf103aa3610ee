"""Synthetic CelebA-format faces whose attributes are known exactly (``fader-train synth``).

Each face is drawn in CelebA's aligned 178×218 frame with its eyes, nose and
mouth corners at CelebA's mean landmark positions, then moved by a small
random similarity (pose jitter), lit from a random side and given sensor
noise. Five attributes are drawn from their labels, independently:

- ``Eyeglasses``: dark round frames, a bridge and temples;
- ``Smiling``: an open smile with teeth instead of closed lips;
- ``Male``: short hair and a beard, instead of long hair;
- ``Blond_Hair``: light yellow hair instead of dark hair;
- ``Young``: smooth skin and coloured hair, else wrinkles and greying hair.

The other 35 attributes are -1. The output is a complete CelebA folder
(``img_align_celeba/`` JPEGs and the three text files) that the trainer reads
like the real one. Image ``i`` depends only on the seed and ``i``, so the
dataset is the same however many processes draw it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from fader_studio.core.attributes import CELEBA_ATTRIBUTES
from fader_studio.core.errors import FaderStudioError
from fader_studio.core.faces import map_points
from fader_studio.core.template import CELEBA_MEAN_LANDMARKS
from trainer.celeba import (
    ATTRIBUTE_FILE,
    IMAGE_FOLDER,
    PARTITION_FILE,
    new_dataset_folder,
    write_attributes,
    write_partition,
)

#: The attributes a synthetic face shows; every other one is absent.
DRAWN = ("Eyeglasses", "Smiling", "Male", "Blond_Hair", "Young")
WIDTH, HEIGHT = 178, 218
#: Split of the images, in order: train, validation, test (as CelebA's 81/10/9 %).
SPLIT = (0.8, 0.1, 0.1)
JPEG_QUALITY = 92
_EYES = np.array(CELEBA_MEAN_LANDMARKS[:2])
_NOSE = np.array(CELEBA_MEAN_LANDMARKS[2])
_MOUTH = np.array(CELEBA_MEAN_LANDMARKS[3:])

Progress = Callable[[int, int], None]


def _pt(xy: np.ndarray | tuple[float, float]) -> tuple[int, int]:
    """A point in the 4× fixed-point coordinates ``cv2`` draws with (shift=2)."""
    return int(round(xy[0] * 4)), int(round(xy[1] * 4))


def _axes(a: float, b: float) -> tuple[int, int]:
    return int(round(a * 4)), int(round(b * 4))


def _ellipse(img: np.ndarray, centre, axes, colour, angle: float = 0, start=0, end=360, thickness=-1) -> None:
    cv2.ellipse(img, _pt(centre), _axes(*axes), angle, start, end, colour, thickness, cv2.LINE_AA, 2)


def _line(img: np.ndarray, a, b, colour, thickness: int = 1) -> None:
    cv2.line(img, _pt(a), _pt(b), colour, thickness, cv2.LINE_AA, 2)


def draw_face(labels: dict[str, bool], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One face: RGB uint8 ``(218, 178, 3)`` and its 5 landmarks ``(5, 2)`` (x, y).

    ``labels`` says which of :data:`DRAWN` are present; everything else
    (skin, hair and background colours, pose, light, noise) comes from ``rng``.
    """
    young, male = labels["Young"], labels["Male"]
    # every random draw first, in a fixed order, so that labels change only what they draw
    top, bottom = rng.uniform(40, 230, 3), rng.uniform(40, 230, 3)
    skin_shade, skin_tint = rng.uniform(0.45, 1.05), rng.normal(0, 8, 3)
    blond_tint, dark_shade, dark_tint = rng.normal(0, 12, 3), rng.uniform(0.4, 1.3), rng.normal(0, 6, 3)
    face_w, face_h = 43 * rng.uniform(0.95, 1.05), 58 * rng.uniform(0.95, 1.05)
    shirt = tuple(float(c) for c in rng.uniform(20, 235, 3))
    irises = [tuple(float(c) for c in rng.uniform(20, 110, 3)) for _ in _EYES]
    frame = tuple(float(c) for c in rng.uniform(0, 60, 3))
    angle, scale, shift = rng.normal(0, 4), rng.uniform(0.95, 1.05), rng.normal(0, 2, 2)
    direction = rng.normal(0, 1, 2)
    brightness, contrast = rng.uniform(0.85, 1.1), rng.uniform(0.1, 0.35)
    noise = rng.normal(0, 3, (HEIGHT, WIDTH, 3))

    canvas = np.linspace(0, 1, HEIGHT)[:, None, None] * (bottom - top) + top
    img = np.ascontiguousarray(np.broadcast_to(canvas, (HEIGHT, WIDTH, 3)).astype(np.uint8))
    skin = tuple(float(c) for c in np.clip(np.array([225, 185, 150]) * skin_shade + skin_tint, 30, 250))
    if labels["Blond_Hair"]:
        hair = np.array([225, 195, 110]) + blond_tint
    else:
        hair = np.array([70, 45, 30]) * dark_shade + dark_tint
    if not young:
        hair = 0.45 * hair + 0.55 * np.array([175, 175, 175])  # greying
    hair = tuple(float(c) for c in np.clip(hair, 0, 255))
    centre_x = (_EYES[0, 0] + _EYES[1, 0]) / 2
    head = (centre_x, 124.0)

    cv2.rectangle(img, _pt((centre_x - 17, 160)), _pt((centre_x + 17, 205)), skin, -1, cv2.LINE_AA, 2)
    _ellipse(img, (centre_x, 238), (75, 45), shirt)
    if not male:  # long hair behind the head, down to the shoulders
        cv2.rectangle(img, _pt((centre_x - 54, 110)), _pt((centre_x + 54, 200)), hair, -1, cv2.LINE_AA, 2)
    _ellipse(img, (centre_x, 112), (face_w + 8, face_h * 0.8), hair)
    _ellipse(img, head, (face_w, face_h), skin)
    fringe = 68 if male else 74
    _ellipse(img, (centre_x, fringe), (face_w + 2, 16 if male else 22), hair)
    if not male:
        _ellipse(img, (centre_x - face_w + 2, 120), (8, 38), hair)
        _ellipse(img, (centre_x + face_w - 2, 120), (8, 38), hair)

    dark = tuple(float(c) * 0.55 for c in skin)
    if male:  # a beard along the jaw and chin
        beard = tuple(float(c) for c in np.array(hair) * 0.6 + np.array(skin) * 0.15)
        _ellipse(img, (centre_x, 150), (face_w - 3, 33), beard, start=0, end=180)
    if not young:  # wrinkles
        for dy in (84, 90):
            _ellipse(img, (centre_x, dy + 8), (22, 8), dark, start=200, end=340, thickness=1)
        for eye in _EYES:
            _line(img, eye + (-9, 9), eye + (-2, 11), dark)
            _line(img, eye + (2, 11), eye + (9, 9), dark)

    brow = tuple(float(c) * 0.7 for c in hair)
    for i, eye in enumerate(_EYES):
        side = -1 if i == 0 else 1
        _ellipse(img, eye, (7, 3.6), (245, 245, 245))
        _ellipse(img, eye, (3, 3), irises[i])
        _ellipse(img, eye, (1.3, 1.3), (10, 10, 10))
        _line(img, eye + (-8 * side, -8), eye + (9 * side, -9), brow, 2)
    _line(img, (_NOSE[0] - 1, 116), (_NOSE[0] - 3, _NOSE[1]), dark)
    _line(img, (_NOSE[0] - 5, _NOSE[1] + 1), (_NOSE[0] + 5, _NOSE[1] + 1), dark)

    left, right = _MOUTH
    middle = (left + right) / 2
    lips = (175.0, 70.0, 75.0)
    if labels["Smiling"]:
        _ellipse(
            img, (middle[0], middle[1] - 1), ((right[0] - left[0]) / 2, 9), (120, 30, 40), start=0, end=180
        )
        _ellipse(
            img,
            (middle[0], middle[1] - 1),
            ((right[0] - left[0]) / 2 - 2, 4),
            (250, 250, 245),
            start=0,
            end=180,
        )
        _line(img, left, right, lips, 2)
    else:
        _line(img, left, right, lips, 3)

    if labels["Eyeglasses"]:
        for eye in _EYES:
            _ellipse(img, eye, (11, 9), frame, thickness=2)
        _line(img, _EYES[0] + (11, 0), _EYES[1] - (11, 0), frame, 2)
        _line(img, _EYES[0] - (11, 0), (centre_x - face_w, 110), frame, 2)
        _line(img, _EYES[1] + (11, 0), (centre_x + face_w, 110), frame, 2)

    # pose jitter: a small rotation, scale and shift about the eyes' centre
    pivot = tuple(_EYES.mean(0))
    matrix = cv2.getRotationMatrix2D(pivot, angle, scale)
    matrix[:, 2] += shift
    img = cv2.warpAffine(
        img, matrix, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    landmarks = map_points(matrix, CELEBA_MEAN_LANDMARKS)

    # light from a random side, and sensor noise
    direction /= np.linalg.norm(direction) + 1e-9
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    ramp = ((xx - WIDTH / 2) * direction[0] + (yy - HEIGHT / 2) * direction[1]) / WIDTH
    light = brightness * (1 + contrast * ramp)
    pixels = img.astype(np.float32) * light[:, :, None] + noise
    return np.clip(pixels, 0, 255).astype(np.uint8), landmarks


def _labels(seed: int, index: int) -> tuple[dict[str, bool], np.random.Generator]:
    rng = np.random.default_rng([seed, index])
    return {name: bool(rng.random() < 0.5) for name in DRAWN}, rng


def _draw_chunk(task: tuple[Path, int, list[int]]) -> list[tuple[int, list[float]]]:
    """Draw and save images ``indices`` (a worker's task); their landmarks."""
    folder, seed, indices = task
    results = []
    for index in indices:
        labels, rng = _labels(seed, index)
        pixels, landmarks = draw_face(labels, rng)
        ok, data = cv2.imencode(".jpg", pixels[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise OSError(f"cannot encode image {index}")
        (folder / f"{index + 1:06d}.jpg").write_bytes(data.tobytes())
        results.append((index, landmarks.ravel().tolist()))
    return results


def synthesize(
    folder: Path,
    count: int,
    *,
    seed: int = 0,
    workers: int | None = None,
    on_progress: Progress | None = None,
) -> Path:
    """Write a CelebA-format dataset of ``count`` synthetic faces into the new folder ``folder``.

    It is built beside ``folder`` under a temporary name and renamed when
    complete, so an interrupted or failed run leaves nothing behind. Raises
    :class:`FaderStudioError` if ``folder`` exists and is not empty or cannot
    be written.
    """
    folder = Path(folder)
    if count < 1:
        raise FaderStudioError("--count must be at least 1")
    with new_dataset_folder(folder) as partial:
        (partial / IMAGE_FOLDER).mkdir()
        _write_dataset(partial, count, seed, workers or os.cpu_count() or 1, on_progress)
    return folder


def _write_dataset(folder: Path, count: int, seed: int, workers: int, on_progress: Progress | None) -> None:
    chunk = 200
    tasks = [
        (folder / IMAGE_FOLDER, seed, list(range(s, min(s + chunk, count)))) for s in range(0, count, chunk)
    ]
    landmarks: dict[int, list[float]] = {}

    def record(results: list[tuple[int, list[float]]]) -> None:
        landmarks.update(results)
        if on_progress is not None:
            on_progress(len(landmarks), count)

    if workers > 1 and len(tasks) > 1:
        with ProcessPoolExecutor(min(workers, len(tasks))) as pool:
            for results in pool.map(_draw_chunk, tasks):
                record(results)
    else:
        for task in tasks:
            record(_draw_chunk(task))

    names = [f"{i + 1:06d}.jpg" for i in range(count)]
    columns = {name: i for i, name in enumerate(CELEBA_ATTRIBUTES)}
    rows = {}
    for i, name in enumerate(names):
        values = [-1] * len(CELEBA_ATTRIBUTES)
        for attribute, present in _labels(seed, i)[0].items():
            values[columns[attribute]] = 1 if present else -1
        rows[name] = values
    write_attributes(folder / ATTRIBUTE_FILE, CELEBA_ATTRIBUTES, rows)
    bounds = np.cumsum(SPLIT)[:2] * count
    split = np.searchsorted(bounds, np.arange(count), side="right")
    write_partition(folder / PARTITION_FILE, dict(zip(names, split.tolist(), strict=True)))
    header = " ".join(
        f"{p}_{c}" for p in ("lefteye", "righteye", "nose", "leftmouth", "rightmouth") for c in "xy"
    )
    points = [f"{n} " + " ".join(f"{round(v):4d}" for v in landmarks[i]) for i, n in enumerate(names)]
    (folder / "list_landmarks_align_celeba.txt").write_text(f"{count}\n{header}\n" + "\n".join(points) + "\n")
