"""Face detection, alignment and paste-back times on 12-megapixel photos, and alignment error on CelebA.

Builds 4000×3000 photos from the bundled public-domain portrait, with one face
and with five, and times each step of the editor's face pipeline (median of
``--repeats``). With a CelebA folder (default ``../shared/celeba-sample``),
detects and aligns every aligned image and reports how far the detected
landmarks are from CelebA's mean template and how far the fitted transform is
from the identity: a CelebA image needs no warping, so this measures the
detector and the alignment themselves. Ends with one JSON line.

    python -m bench.faces [--repeats 5] [--size 256] [--celeba DIR]

Baseline: the official code has no face pipeline (CelebA-aligned images only).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from fader_studio import resources
from fader_studio.core.composite import paste_back
from fader_studio.core.faces import FaceDetector, align_face, similarity_matrix
from fader_studio.core.imageio import load_image
from fader_studio.core.template import CELEBA_MEAN_LANDMARKS, default_template

CELEBA = Path(__file__).resolve().parents[2] / "shared" / "celeba-sample"


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.faces", description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per step (default 5)")
    parser.add_argument("--size", type=int, default=256, help="model crop size (default 256)")
    parser.add_argument("--celeba", type=Path, default=CELEBA, help="CelebA-aligned images (optional)")
    return parser


def group_photo(faces: int) -> np.ndarray:
    """A 4000×3000 photo with ``faces`` copies of the portrait at different sizes."""
    portrait = load_image(resources.path(resources.SAMPLE_PHOTO)).pixels
    photo = np.full((3000, 4000, 3), 90, np.uint8)
    places = [(200, 300, 1800), (2200, 200, 1100), (2300, 1500, 1000), (200, 2100, 800), (1300, 2200, 700)]
    for x, y, side in places[:faces]:
        photo[y : y + side, x : x + side] = cv2.resize(portrait, (side, side), interpolation=cv2.INTER_CUBIC)
    return photo


def median_ms(step, repeats: int) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 1)


def time_pipeline(detector: FaceDetector, faces: int, size: int, repeats: int) -> dict:
    photo = group_photo(faces)
    found = detector.detect(photo)
    template = default_template(size)
    aligned = [align_face(photo, face, template, size) for face in found]
    return {
        "faces_found": len(found),
        "detect_ms": median_ms(lambda: detector.detect(photo), repeats),
        "align_ms": median_ms(lambda: [align_face(photo, f, template, size) for f in found], repeats),
        "paste_back_ms": median_ms(lambda: [paste_back(photo, a, a.crop) for a in aligned], repeats),
    }


def celeba_alignment(detector: FaceDetector, folder: Path, size: int) -> dict | None:
    images = sorted((folder / "img_align_celeba").glob("*.jpg"))
    if not images:
        return None
    mean = np.asarray(CELEBA_MEAN_LANDMARKS)
    template = default_template(size)
    errors, scales, angles, shifts, direct = [], [], [], [], 0
    for path in images:
        pixels = load_image(path).pixels
        faces = detector.detect(pixels)
        if not faces:
            continue
        face = faces[0]
        errors.append(float(np.linalg.norm(face.landmarks - mean, axis=1).mean()))
        matrix = similarity_matrix(face.landmarks, mean)
        scales.append(abs(float(np.sqrt(np.linalg.det(matrix[:, :2]))) - 1))
        angles.append(abs(float(np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0])))))
        shifts.append(float(np.linalg.norm(matrix[:, 2] + (matrix[:, :2] - np.eye(2)) @ mean.mean(0))))
        direct += align_face(pixels, face, template, size).direct
    return {
        "images": len(images),
        "faces_found": len(errors),
        "mean_landmark_error_px": round(statistics.mean(errors), 2),
        "median_landmark_error_px": round(statistics.median(errors), 2),
        "mean_scale_deviation": round(statistics.mean(scales), 4),
        "mean_rotation_deg": round(statistics.mean(angles), 2),
        "mean_shift_px": round(statistics.mean(shifts), 2),
        "used_without_warping": round(direct / len(errors), 4),
    }


def main(args: argparse.Namespace) -> dict:
    detector = FaceDetector()
    report: dict = {"bench": "faces", "baseline": "none: the official code takes CelebA-aligned images only"}
    for faces in (1, 5):
        result = time_pipeline(detector, faces, args.size, args.repeats)
        report[f"photo_12mp_{faces}_faces"] = result
        print(
            f"12 MP, {faces} face(s) (found {result['faces_found']}): detect {result['detect_ms']} ms, "
            f"align {result['align_ms']} ms, paste back {result['paste_back_ms']} ms",
            flush=True,
        )
    report["celeba"] = celeba_alignment(detector, args.celeba, args.size)
    if report["celeba"]:
        c = report["celeba"]
        print(
            f"CelebA: faces in {c['faces_found']} of {c['images']} images; landmarks "
            f"{c['mean_landmark_error_px']} px from the mean template "
            f"(median {c['median_landmark_error_px']}); transform vs identity: "
            f"scale {c['mean_scale_deviation']:.2%}, rotation {c['mean_rotation_deg']} deg, "
            f"shift {c['mean_shift_px']} px; {c['used_without_warping']:.1%} used without warping"
        )
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main(get_args_parser().parse_args())
