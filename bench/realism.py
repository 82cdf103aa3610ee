"""Do edits stay photographs? Sharpness, edit strength and untouched pixels, per blend mode, on real faces.

For each face, each attribute of the model is pushed to each end of its
range, and the photo is rendered in ``detail`` mode (the change added to the
photo) and in ``replace`` mode (the decoded face pasted; the baseline, as the
official code and this app before it did). Per mode it reports:

- sharpness ratio: Laplacian variance of the edited face box ÷ the original's
  (median over faces, attributes and ends);
- edit strength: the share of pushes toward the other class after which the
  classifier, on the edited photo opened again (detected and aligned anew),
  changes its mind, per attribute; and, as a control, the share of faces
  whose estimate changes with no visible move at all (a fader nudged by
  0.001): none in detail mode, whatever replacing the face by its
  reconstruction does in replace mode;
- the mean change inside the face box, in levels of 255;
- whether every pixel outside every face's region is the photo's own.

Faces: the held-out (test) people of ``--celeba`` (default
``../shared/celeba-sample``, split by person as ``fader-train label`` does),
at their native 178×218 and enlarged 3× (a stand-in for portrait photos), and
the bundled sample portrait at 512 px and enlarged to 16 MP. Without the
CelebA folder only the portrait is measured. ``--pictures DIR`` writes
side-by-side sheets (original, replace, detail) of the pushes that change the
most, to look at. Ends with one JSON line.

    python -m bench.realism [--model FILE] [--faces 60] [--pictures DIR]

Targets: sharpness ratio ≥ 0.85 in detail mode; detail's edit strength ≥ 90 %
of replace's for every attribute; outside pixels identical.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from fader_studio import resources
from fader_studio.core import paths
from fader_studio.core.composite import BLEND_MODES
from fader_studio.core.edit import PhotoEdit
from fader_studio.core.engine import Engine
from fader_studio.core.errors import NoFaceError
from fader_studio.core.faces import FaceDetector
from fader_studio.core.imageio import Photo, load_image
from fader_studio.core.modelfile import load_model
from trainer.labels import IDENTITY_FILE, parse_identities, split_people

CELEBA = Path(__file__).resolve().parents[2] / "shared" / "celeba-sample"
#: The split seed of ``fader-train label`` (its default), whose test people the bundled model never saw.
LABEL_SEED = 0
TEST = 2
#: What a sheet shows beside the original.
SHEET_MODES = ("replace", "detail")


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.realism", description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="a .fader model (default: the bundled one)")
    parser.add_argument("--celeba", type=Path, default=CELEBA, help="CelebA sample with identities")
    parser.add_argument("--faces", type=int, default=60, help="held-out faces per size (default 60)")
    parser.add_argument("--pictures", type=Path, default=None, help="write side-by-side sheets here")
    parser.add_argument("--backend", default="auto", help="auto, torch or onnx (default auto)")
    return parser


def held_out_faces(folder: Path, count: int) -> list[Path]:
    """``count`` images of the test people of ``folder``, spread evenly over them (none if no folder)."""
    identities = folder / IDENTITY_FILE
    if not identities.is_file():
        return []
    person_of = {
        name: person
        for name, person in parse_identities(identities).items()
        if (folder / "img_align_celeba" / name).is_file()
    }
    split = split_people(list(person_of.values()), LABEL_SEED)
    test = sorted(name for name, person in person_of.items() if split[person] == TEST)
    step = max(1, len(test) // max(count, 1))
    return [folder / "img_align_celeba" / name for name in test[::step][:count]]


def enlarged(pixels: np.ndarray, factor: float) -> np.ndarray:
    """``pixels`` resized by ``factor`` with a cubic filter."""
    height, width = pixels.shape[:2]
    return cv2.resize(pixels, (round(width * factor), round(height * factor)), interpolation=cv2.INTER_CUBIC)


def sharpness(pixels: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """The Laplacian variance of the grey ``box`` (x0, y0, x1, y1) of ``pixels``."""
    x0, y0, x1, y1 = box
    grey = cv2.cvtColor(np.ascontiguousarray(pixels[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


@dataclass
class Tally:
    """What one blend mode did over every face and push."""

    sharpness: list[float] = field(default_factory=list)
    change: list[float] = field(default_factory=list)
    pushes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    flips: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    faces: int = 0
    unmoved_flips: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    outside_identical: bool = True

    def summary(self) -> dict:
        return {
            "sharpness_ratio": round(statistics.median(self.sharpness), 3),
            "mean_change": round(statistics.fmean(self.change), 2),
            "edit_strength": {a: round(self.flips[a] / n, 3) for a, n in self.pushes.items() if n},
            "unmoved_flips": {a: round(self.unmoved_flips[a] / max(self.faces, 1), 3) for a in self.pushes},
            "outside_identical": self.outside_identical,
        }


def face_box(document: PhotoEdit, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The detector's box of the largest face, clipped to the photo."""
    x, y, w, h = document.faces[0].aligned.face.box
    height, width = shape[:2]
    return max(0, int(x)), max(0, int(y)), min(width, int(x + w)), min(height, int(y + h))


def measure(
    photo: Photo, engine: Engine, detector: FaceDetector, tallies: dict[str, Tally], sheets: Sheets | None
) -> None:
    """Push every attribute of the largest face of ``photo`` to both ends, in each mode, and tally."""
    document = PhotoEdit(photo, engine, detector)
    face = document.faces[0]
    box = face_box(document, photo.pixels.shape)
    original = sharpness(photo.pixels, box)
    outside = np.ones(photo.pixels.shape[:2], bool)
    for index in range(len(document.faces)):
        x0, y0, x1, y1 = document.region(index)
        outside[y0:y1, x0:x1] = False
    x0, y0, x1, y1 = box
    first = engine.model.attributes[0].name
    for mode in BLEND_MODES:  # the control: no visible move (a fader nudged by 0.001), opened again
        document.blend = mode
        document.set(0, {first: face.start[first] + 1e-3})
        again = PhotoEdit(Photo(document.render()), engine, detector).faces[0].start
        tallies[mode].faces += 1
        for name, value in face.start.items():
            tallies[mode].unmoved_flips[name] += (again[name] >= 0.5) != (value >= 0.5)
    for spec in engine.model.attributes:
        start = face.start[spec.name]
        for end in (spec.min, spec.max):
            document.set(0, face.start)
            document.set(0, {spec.name: end})
            toward_other = (start >= 0.5) == (end < 0.5)
            shown = {}
            for mode in BLEND_MODES:
                document.blend = mode
                edited = document.render()
                shown[mode] = edited
                tally = tallies[mode]
                tally.sharpness.append(sharpness(edited, box) / max(original, 1e-6))
                difference = np.abs(edited[y0:y1, x0:x1].astype(np.int16) - photo.pixels[y0:y1, x0:x1])
                tally.change.append(float(difference.mean()))
                tally.outside_identical &= bool(np.array_equal(edited[outside], photo.pixels[outside]))
                if toward_other:
                    try:
                        again = PhotoEdit(Photo(edited), engine, detector).faces[0].start[spec.name]
                    except NoFaceError:
                        again = start
                    tally.pushes[spec.name] += 1
                    tally.flips[spec.name] += (again >= 0.5) != (start >= 0.5)
            if toward_other and sheets is not None:
                rx0, ry0, rx1, ry1 = document.region(0)
                tiles = [photo.pixels[ry0:ry1, rx0:rx1]] + [shown[m][ry0:ry1, rx0:rx1] for m in SHEET_MODES]
                change = float(np.abs(tiles[1].astype(np.int16) - tiles[0]).mean())
                sheets.add(spec.name, end, change, tiles)


class Sheets:
    """The pushes that change a face most, ``per_push`` per attribute and end: original, replace, detail."""

    def __init__(self, per_push: int = 4) -> None:
        self.per_push = per_push
        self.best: dict[tuple[str, float], list[tuple[float, list[np.ndarray]]]] = defaultdict(list)

    def add(self, name: str, end: float, change: float, tiles: list[np.ndarray]) -> None:
        kept = self.best[(name, end)]
        kept.append((change, tiles))
        kept.sort(key=lambda item: -item[0])
        del kept[self.per_push :]

    def save(self, folder: Path, width: int = 400) -> list[Path]:
        """One PNG per kept push, the three side by side at ``width`` pixels each."""
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for (name, end), kept in sorted(self.best.items()):
            for rank, (_, tiles) in enumerate(kept):
                size = (width, round(width * tiles[0].shape[0] / tiles[0].shape[1]))
                row = [cv2.resize(t, size, interpolation=cv2.INTER_AREA) for t in tiles]
                path = folder / f"{name}{end:+g}-{rank}.png"
                Image.fromarray(np.hstack(row)).save(path)
                written.append(path)
        return written


def main(args: argparse.Namespace) -> dict:
    began = time.perf_counter()
    model_path = args.model or paths.bundled_model()
    engine = Engine(load_model(model_path), "cpu", backend=args.backend)
    detector = FaceDetector()
    portrait = load_image(resources.path(resources.SAMPLE_PHOTO)).pixels
    sets: dict[str, list[np.ndarray]] = {
        "portrait 512 px": [portrait],
        "portrait 16 MP": [enlarged(portrait, 4000 / portrait.shape[1])],
    }
    celeba = held_out_faces(args.celeba, args.faces)
    if celeba:
        native = [load_image(p).pixels for p in celeba]
        sets["celeba held-out 178x218"] = native
        sets["celeba held-out x3"] = [enlarged(p, 3) for p in native]
    results, sheets = {}, Sheets()
    overall = {mode: Tally() for mode in BLEND_MODES}
    for name, photos in sets.items():
        tallies = {mode: Tally() for mode in BLEND_MODES}
        for pixels in photos:
            try:
                measure(Photo(pixels), engine, detector, tallies, sheets if "x3" in name else None)
            except NoFaceError:
                continue
        for mode, tally in tallies.items():
            whole = overall[mode]
            whole.sharpness += tally.sharpness
            whole.change += tally.change
            whole.outside_identical &= tally.outside_identical
            whole.faces += tally.faces
            for a in tally.unmoved_flips:
                whole.unmoved_flips[a] += tally.unmoved_flips[a]
            for a in tally.pushes:
                whole.pushes[a] += tally.pushes[a]
                whole.flips[a] += tally.flips[a]
        results[name] = {"faces": len(photos), **{m: t.summary() for m, t in tallies.items()}}
        print(f"{name}: {len(photos)} face(s)")
        for mode, tally in tallies.items():
            s = tally.summary()
            print(
                f"  {mode:7} sharpness ratio {s['sharpness_ratio']:.3f}, mean change {s['mean_change']:.1f} "
                f"levels, edit strength {s['edit_strength']} (unmoved: {s['unmoved_flips']}), "
                f"outside identical {s['outside_identical']}"
            )
    summary = {m: t.summary() for m, t in overall.items()}
    detail, replace = summary["detail"], summary["replace"]
    strength_ratio = {
        a: round(detail["edit_strength"][a] / replace["edit_strength"][a], 3)
        if replace["edit_strength"].get(a)
        else None
        for a in replace["edit_strength"]
    }
    if args.pictures is not None:
        for path in sheets.save(args.pictures):
            print(f"wrote {path}")
    sharp_ok = detail["sharpness_ratio"] >= 0.85
    strength_ok = all(r is None or r >= 0.9 for r in strength_ratio.values())
    print(
        f"detail: sharpness ratio {detail['sharpness_ratio']} "
        f"(target >= 0.85: {'met' if sharp_ok else 'NOT met'}; "
        f"replace {replace['sharpness_ratio']}); edit strength vs replace {strength_ratio} "
        f"(target >= 0.9 each: {'met' if strength_ok else 'NOT met'}); outside pixels identical: "
        f"{detail['outside_identical'] and replace['outside_identical']}"
    )
    report = {
        "bench": "realism",
        "baseline": "replace mode: the decoded face pasted over the crop (the official code's way)",
        "model": Path(model_path).name,
        "backend": engine.backend,
        "sharpness_ratio": detail["sharpness_ratio"],
        "baseline_sharpness_ratio": replace["sharpness_ratio"],
        "edit_strength": detail["edit_strength"],
        "baseline_edit_strength": replace["edit_strength"],
        "baseline_unmoved_flips": replace["unmoved_flips"],
        "edit_strength_ratio": strength_ratio,
        "mean_change": detail["mean_change"],
        "baseline_mean_change": replace["mean_change"],
        "outside_identical": detail["outside_identical"] and replace["outside_identical"],
        "sets": results,
        "minutes": round((time.perf_counter() - began) / 60, 2),
    }
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main(get_args_parser().parse_args())
