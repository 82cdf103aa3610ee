"""Face regions: the landmark model's time per face, and whether its regions hold what they name.

On real faces (the CelebA sample's aligned photos), for each face the
detector finds: the time of the face mesh model (one face, on ONNX Runtime,
one thread, as the editor runs it), and whether the regions drawn from its
points, in the bundled model's crop, hold the detector's own five points: the
mouth region both mouth corners, the eye region both eyes, the face region
all five. Baseline: the regions drawn from the five points alone (what the
editor falls back to without the landmark model), which hold them by
construction but have no shape of their own.

    python -m bench.regions [--celeba ../shared/celeba-sample] [--images 6000]

Target (issue 28): the mouth and eye regions hold their points on ≥ 98 % of faces.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image

from bench.render import percentile
from fader_studio.core.edit import face_shape
from fader_studio.core.faces import FaceDetector, align_face, map_points
from fader_studio.core.landmarks import FaceLandmarker
from fader_studio.core.masks import region_mask
from fader_studio.core.modelfile import load_model
from fader_studio.core.paths import bundled_model

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
#: A region holds a point where its mask there is at least this.
HOLDS = 0.5


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.regions", description=__doc__.split("\n")[0])
    parser.add_argument("--celeba", type=Path, default=SHARED / "celeba-sample", help="a CelebA folder")
    parser.add_argument("--images", type=int, default=6000, help="photos to look at (default all 6,000)")
    return parser


def holds(shape, points: np.ndarray, size: int) -> dict[str, bool]:  # noqa: ANN001
    """Whether the mouth, eye and face regions of ``shape`` hold the five ``points`` (crop pixels)."""
    masks = {region: region_mask(region, shape, size) for region in ("mouth", "eyes", "face")}

    def at(region: str, index: int) -> float:
        x, y = np.clip(np.rint(points[index]).astype(int), 0, size - 1)
        return float(masks[region][y, x])

    return {
        "mouth": all(at("mouth", i) >= HOLDS for i in (3, 4)),
        "eyes": all(at("eyes", i) >= HOLDS for i in (0, 1)),
        "face": all(at("face", i) >= HOLDS for i in range(5)),
    }


def main(args: argparse.Namespace) -> dict:
    model = load_model(bundled_model())
    size = model.image_size
    detector, landmarker = FaceDetector(), FaceLandmarker()
    if landmarker.problem:
        raise SystemExit(f"bench.regions: {landmarker.problem}")
    photos = sorted((args.celeba / "img_align_celeba").glob("*.jpg"))[: args.images]
    times: list[float] = []
    counts = {"mesh": {"mouth": 0, "eyes": 0, "face": 0}, "five_points": {"mouth": 0, "eyes": 0, "face": 0}}
    faces = no_mesh = 0
    for path in photos:
        pixels = np.asarray(Image.open(path).convert("RGB"))
        found = detector.detect(pixels)
        if not found:
            continue
        face = found[0]
        aligned = align_face(pixels, face, model.template, size)
        start = time.perf_counter()
        mesh = landmarker.points(pixels, face)
        times.append((time.perf_counter() - start) * 1000)
        faces += 1
        five = map_points(aligned.matrix, face.landmarks)
        if mesh is None:
            no_mesh += 1
        for kind, points in (("mesh", mesh), ("five_points", None)):
            shape = face_shape(aligned, points)
            for region, held in holds(shape, five, size).items():
                counts[kind][region] += held
    share = {kind: {r: round(n / max(faces, 1), 4) for r, n in c.items()} for kind, c in counts.items()}
    report = {
        "bench": "regions",
        "baseline": "five_points: regions drawn from the detector's five points (the fallback)",
        "photos": len(photos),
        "faces": faces,
        "no_mesh": no_mesh,
        "landmark_ms_per_face_p50": round(statistics.median(times), 2) if times else None,
        "landmark_ms_per_face_p95": round(percentile(times, 95), 2) if times else None,
        "holds": share,
    }
    mesh = share["mesh"]
    verdict = "met" if min(mesh["mouth"], mesh["eyes"]) >= 0.98 else "NOT met"
    print(
        f"{faces} faces in {len(photos)} photos ({no_mesh} without a mesh: five-point regions); landmarks "
        f"{report['landmark_ms_per_face_p50']} ms a face (p95 {report['landmark_ms_per_face_p95']} ms)"
    )
    print(
        f"mesh regions hold their points: mouth {mesh['mouth']:.1%}, eyes {mesh['eyes']:.1%}, face "
        f"{mesh['face']:.1%} (target >= 98 % for mouth and eyes: {verdict})"
    )
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main(get_args_parser().parse_args())
