"""Small CelebA-format datasets written by the tests, in every layout the reader accepts."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fader_studio.core.attributes import CELEBA_ATTRIBUTES
from trainer.synth import DRAWN, draw_face

LAYOUTS = ("plain", "official", "zip", "flat")


@dataclass
class WrittenCelebA:
    """What a test dataset holds, to compare the reader's results against."""

    path: Path  # what to give the reader
    root: Path
    names: list[str]
    labels: np.ndarray  # (N, 40) bool
    partition: np.ndarray  # (N,) int
    landmarks: np.ndarray  # (N, 5, 2)
    images: dict[str, bytes]

    def text_file(self, name: str) -> Path:
        """Where the text file ``name`` was written."""
        return next(self.root.rglob(name))


def jpeg_bytes(pixels: np.ndarray, quality: int = 92) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=quality)
    return out.getvalue()


def write_celeba(
    root: Path,
    count: int = 24,
    *,
    layout: str = "plain",
    numbers: list[int] | None = None,
    partition: bool = True,
    landmarks: bool = True,
    seed: int = 0,
) -> WrittenCelebA:
    """Write a CelebA-format dataset of ``count`` 178×218 JPEGs under ``root``.

    Every label is random; the faces are drawn by ``trainer.synth`` and show
    the five attributes it draws as their labels say.
    """
    rng = np.random.default_rng(seed)
    numbers = numbers or list(range(1, count + 1))
    names = [f"{n:06d}.jpg" for n in numbers]
    labels = rng.random((len(names), len(CELEBA_ATTRIBUTES))) < 0.5
    columns = [CELEBA_ATTRIBUTES.index(n) for n in DRAWN]
    faces = [draw_face(dict(zip(DRAWN, row[columns], strict=True)), rng) for row in labels]
    images = {name: jpeg_bytes(pixels) for name, (pixels, _) in zip(names, faces, strict=True)}
    split = np.array([0, 0, 0, 1, 2] * len(names))[: len(names)]
    points = np.round([points for _, points in faces])

    text_dir = image_parent = root
    if layout == "official":
        text_dir = root / "Anno"
        image_parent = root / "Img"
    text_dir.mkdir(parents=True, exist_ok=True)
    if layout == "zip":
        path = root
        with zipfile.ZipFile(root / "img_align_celeba.zip", "w") as archive:
            for name, data in images.items():
                archive.writestr(f"img_align_celeba/{name}", data)
    else:
        folder = root if layout == "flat" else image_parent / "img_align_celeba"
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in images.items():
            (folder / name).write_bytes(data)
        path = root

    rows = [
        f"{name} " + " ".join(f"{v:2d}" for v in np.where(row, 1, -1))
        for name, row in zip(names, labels, strict=True)
    ]
    (text_dir / "list_attr_celeba.txt").write_text(
        f"{len(names)}\n" + " ".join(CELEBA_ATTRIBUTES) + "\n" + "\n".join(rows) + "\n"
    )
    if partition:
        eval_dir = root / "Eval" if layout == "official" else text_dir
        eval_dir.mkdir(exist_ok=True)
        (eval_dir / "list_eval_partition.txt").write_text(
            "".join(f"{name} {p}\n" for name, p in zip(names, split, strict=True))
        )
    if landmarks:
        header = " ".join(
            f"{p}_{c}" for p in ("lefteye", "righteye", "nose", "leftmouth", "rightmouth") for c in "xy"
        )
        rows = [
            f"{name} " + " ".join(f"{int(v):4d}" for v in p.ravel())
            for name, p in zip(names, points, strict=True)
        ]
        (text_dir / "list_landmarks_align_celeba.txt").write_text(
            f"{len(names)}\n{header}\n" + "\n".join(rows) + "\n"
        )
    return WrittenCelebA(path, root, names, labels, split, points.astype(float), images)


@pytest.fixture
def celeba(tmp_path: Path) -> WrittenCelebA:
    """A 24-image CelebA folder in the plain layout."""
    return write_celeba(tmp_path / "celeba")


@pytest.fixture(autouse=True)
def cache_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Dataset caches go under the test's own folder, never the user's cache: the folder they go to."""
    root = tmp_path / "cache"
    monkeypatch.setenv("FADER_STUDIO_CACHE_DIR", str(root))
    return root / "datasets"
