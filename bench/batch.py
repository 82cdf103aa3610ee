"""Photos per second of one look applied to a folder: ``fader-studio edit`` on the folder vs once per photo.

Makes ``--count`` camera-sized photos (default 100 at 4000×3000, 12
megapixels, JPEG): the public-domain sample portrait enlarged to fill most of
the frame's height, shifted, mirrored and relit from photo to photo. Then
times, as a user runs them and in processes of their own:

- ours: ``fader-studio edit FOLDER --out-dir OUT --set Smiling=0.3 --relative``,
  one process for the whole folder (model and detector loaded once, reading
  and writing overlapped with the editing);
- the baseline: ``fader-studio edit PHOTO --out FILE ...`` once per photo (how a
  user edited many photos before), on the first ``--baseline-count`` photos.

Both runs use the bundled model and the same backend choice, and the
outputs are compared pixel for pixel (they must be equal). Ends with one JSON
line.

    python -m bench.batch [--count 100] [--baseline-count 100] [--megapixels 12]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from fader_studio import resources

OUT = Path("bench/out")


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.batch", description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100, help="photos in the folder (default 100)")
    parser.add_argument(
        "--baseline-count", type=int, default=100, help="photos edited one process each (default 100)"
    )
    parser.add_argument("--megapixels", type=float, default=12.0, help="photo size (default 12, 4:3)")
    parser.add_argument("--backend", default=None, help="passed to fader-studio edit (default: its own)")
    parser.add_argument("--keep", action="store_true", help="keep the photos and outputs (in bench/out)")
    return parser


def make_photos(folder: Path, count: int, megapixels: float) -> tuple[int, int]:
    """``count`` JPEG photos of ``megapixels`` with the sample face at varied places and light."""
    width = round((megapixels * 1e6 * 4 / 3) ** 0.5)
    height = round(width * 3 / 4)
    portrait = Image.open(resources.path(resources.SAMPLE_PHOTO)).convert("RGB")
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        side = int(height * rng.uniform(0.75, 0.95))
        face = portrait.resize((side, side), Image.Resampling.LANCZOS)
        if index % 2:
            face = ImageOps.mirror(face)
        gain = rng.uniform(0.85, 1.1)
        face = Image.fromarray(np.clip(np.asarray(face, np.float32) * gain, 0, 255).astype(np.uint8))
        canvas = Image.new("RGB", (width, height), tuple(int(v) for v in rng.integers(40, 200, 3)))
        canvas.paste(face, (int(rng.integers(0, width - side)), int(rng.integers(0, height - side))))
        canvas.save(folder / f"IMG_{index:04d}.jpg", quality=92)
    return width, height


def fader_studio() -> str:
    """The installed ``fader-studio`` program of this environment."""
    found = shutil.which("fader-studio", path=str(Path(sys.executable).parent))
    if found is None:
        raise SystemExit("fader-studio is not installed in this environment (pip install -e .)")
    return found


def timed(command: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    """Run ``command``; its wall time and result (exits on failure)."""
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])}… failed ({result.returncode}): {result.stderr.strip()}")
    return seconds, result


def main(argv: list[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    program = fader_studio()
    look = ["--set", "Smiling=0.3", "--relative"] + (["--backend", args.backend] if args.backend else [])
    if args.keep:
        OUT.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="bench-batch-", dir=OUT if args.keep else None))
    try:
        photos = root / "photos"
        started = time.perf_counter()
        width, height = make_photos(photos, args.count, args.megapixels)
        print(
            f"made {args.count} photos of {width}×{height} in {time.perf_counter() - started:.0f} s",
            flush=True,
        )

        batch_seconds, result = timed([program, "edit", str(photos), "--out-dir", str(root / "batch"), *look])
        print(result.stdout.strip(), flush=True)
        print(f"batch: {args.count} photos in {batch_seconds:.1f} s", flush=True)

        names = sorted(p.name for p in photos.iterdir())[: args.baseline_count]
        one_seconds = 0.0
        (root / "single").mkdir()
        for name in names:
            out = root / "single" / name.replace(".jpg", "-edited.jpg")
            seconds, _ = timed([program, "edit", str(photos / name), "--out", str(out), *look])
            one_seconds += seconds
        print(f"one process per photo: {len(names)} photos in {one_seconds:.1f} s", flush=True)

        same = all(
            np.array_equal(
                np.asarray(Image.open(root / "batch" / p.name)),
                np.asarray(Image.open(root / "single" / p.name)),
            )
            for p in sorted((root / "single").iterdir())
        )
        batch_rate = args.count / batch_seconds
        one_rate = len(names) / one_seconds if names else None
        report = {
            "bench": "batch",
            "baseline": "fader-studio edit PHOTO --out FILE once per photo (a process each)",
            "photos": args.count,
            "size": f"{width}x{height}",
            "megapixels": round(width * height / 1e6, 1),
            "batch_seconds": round(batch_seconds, 1),
            "batch_photos_per_s": round(batch_rate, 3),
            "baseline_photos": len(names),
            "baseline_seconds": round(one_seconds, 1),
            "baseline_photos_per_s": None if one_rate is None else round(one_rate, 3),
            "speedup": None if one_rate is None else round(batch_rate / one_rate, 2),
            "same_pixels": same,
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
        }
        print(json.dumps(report))
        return 0 if same else 1
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
