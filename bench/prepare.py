"""Speed and peak memory of ``fader-train prepare`` against the official preprocessing.

The official ``preprocess.py`` reads every CelebA image into a Python list,
resizes each into a second list, then concatenates them into one array (and
saves it as one tensor): its memory grows with the dataset, about 100 GB at
256 px for CelebA's 202,599 images. ``fader-train prepare`` streams the images
through worker processes into a memory-mapped file.

This generates a CelebA-format folder of ``--count`` JPEGs (178×218, kept in
``bench/out`` for later runs), runs the real ``fader-train prepare`` command at
each size while sampling the memory (RSS) of its whole process tree, and runs
the official way on the first ``--baseline-count`` images to measure its
per-image time and memory, extrapolated to all of CelebA. It also runs prepare
on that smaller set, so that the growth of our peak with the dataset size is
measured rather than assumed; ``--celeba-scale`` measures it directly on a
dataset of CelebA's size. Ends with one JSON line.

    python -m bench.prepare [--count 20000] [--sizes 128 256] [--workers N] [--celeba-scale]

Baseline: the official preprocessing (all images in RAM). Budget (DESIGN §8):
peak memory at most 2 GB for any dataset size.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from fader_studio.core.attributes import CELEBA_ATTRIBUTES

OUT = Path(__file__).resolve().parent / "out"
CELEBA_COUNT = 202_599
BUDGET_MB = 2048

OFFICIAL = r"""
import resource, sys, time
import numpy as np
from PIL import Image
folder, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
resample = Image.Resampling.BOX if size < 178 else Image.Resampling.LANCZOS
def rss_kb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() // 1024
start_kb = rss_kb()
t0 = time.perf_counter()
raw_images = []  # preprocess.py: mpimg.imread(...)[20:-20] for every image
for i in range(1, count + 1):
    raw_images.append(np.asarray(Image.open(f"{folder}/img_align_celeba/{i:06d}.jpg"))[20:-20])
all_images = []  # then each resized (cv2 INTER_AREA below 178 px, INTER_LANCZOS4 above)
for image in raw_images:
    all_images.append(np.asarray(Image.fromarray(image).resize((size, size), resample)))
data = np.concatenate([img.transpose((2, 0, 1))[None] for img in all_images], 0)
seconds = time.perf_counter() - t0
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(start_kb, peak_kb, seconds, data.shape[0])
"""


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.prepare", description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=20_000, help="images to generate (default 20000)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256], help="sizes (default 128 256)")
    parser.add_argument("--workers", type=int, default=None, help="prepare's workers (default: every core)")
    parser.add_argument(
        "--baseline-count", type=int, default=2_000, help="images for the official way (default 2000)"
    )
    parser.add_argument(
        "--celeba-scale",
        action="store_true",
        help="also prepare a dataset of CelebA's size (202,599 hard links to the generated images) at 64 px",
    )
    return parser


# --------------------------------------------------------------------------- data


def face_like(rng: np.random.Generator) -> np.ndarray:
    """A 218×178 image with CelebA-like JPEG statistics: smooth shapes, edges and sensor noise."""
    coarse = rng.uniform(0, 255, (6, 5, 3)).astype(np.uint8)
    image = np.asarray(Image.fromarray(coarse).resize((178, 218), Image.Resampling.BICUBIC), dtype=np.float32)
    y, x = np.mgrid[0:218, 0:178]
    face = ((x - 89) / 55) ** 2 + ((y - 125) / 75) ** 2 < 1
    image[face] = image[face] * 0.3 + np.array([200, 160, 140]) * 0.7
    image += rng.normal(0, 5, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def write_dataset(folder: Path, count: int, seed: int = 0) -> Path:
    """A CelebA-format folder of ``count`` images (reused when it is already complete)."""
    done = folder / "list_attr_celeba.txt"
    if done.exists():
        return folder
    rng = np.random.default_rng(seed)
    images = folder / "img_align_celeba"
    images.mkdir(parents=True, exist_ok=True)
    for i in range(1, count + 1):
        out = io.BytesIO()
        Image.fromarray(face_like(rng)).save(out, "JPEG", quality=90)
        (images / f"{i:06d}.jpg").write_bytes(out.getvalue())
    write_text_files(folder, count, rng)
    return folder


def write_text_files(folder: Path, count: int, rng: np.random.Generator) -> None:
    labels = np.where(rng.random((count, len(CELEBA_ATTRIBUTES))) < 0.3, 1, -1)
    rows = "\n".join(f"{i:06d}.jpg " + " ".join(map(str, r)) for i, r in enumerate(labels, 1))
    (folder / "list_eval_partition.txt").write_text(
        "".join(f"{i:06d}.jpg {0 if i % 10 < 8 else 1 + i % 2}\n" for i in range(1, count + 1))
    )
    (folder / "list_attr_celeba.txt").write_text(f"{count}\n{' '.join(CELEBA_ATTRIBUTES)}\n{rows}\n")


def linked(full: Path, available: int, folder: Path, count: int) -> Path:
    """A dataset of ``count`` images made of hard links to the ``available`` images of ``full``.

    Fewer than ``available`` is a subset; more repeats them, which gives a dataset
    of CelebA's size for measuring memory without generating 200,000 images.
    """
    if (folder / "list_attr_celeba.txt").exists():
        return folder
    images = folder / "img_align_celeba"
    images.mkdir(parents=True, exist_ok=True)
    for i in range(1, count + 1):
        os.link(full / "img_align_celeba" / f"{(i - 1) % available + 1:06d}.jpg", images / f"{i:06d}.jpg")
    write_text_files(folder, count, np.random.default_rng(1))
    return folder


# --------------------------------------------------------------------------- measuring


def tree_rss_mb(root: int) -> float:
    """Resident memory of process ``root`` and all its descendants, in MB (Linux /proc)."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as f:
                    parents[int(entry.name)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        children = [p for p, parent in parents.items() if parent == pid]
        tree.update(children)
        frontier.extend(children)
    pages = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/statm") as f:
                pages += int(f.read().split()[1])
        except OSError:
            continue
    return pages * resource.getpagesize() / 2**20


def run_prepare(data: Path, size: int, workers: int | None) -> dict:
    """Run the real command on ``data`` into a fresh cache; time it and sample its memory."""
    cache = Path(tempfile.mkdtemp(prefix="cache-", dir=OUT))
    command = [sys.executable, "-m", "trainer", "prepare", str(data), "--size", str(size)]
    command += ["--cache-dir", str(cache), "--progress", "none"]
    if workers:
        command += ["--workers", str(workers)]
    peak = 0.0
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, tree_rss_mb(process.pid))
            stop.wait(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    out, err = process.communicate()
    seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"prepare failed: {err}")
    (folder,) = cache.iterdir()
    info = json.loads((folder / "cache.json").read_text())
    shutil.rmtree(cache)
    count = info["usable"]
    return {
        "images": count,
        "seconds": round(seconds, 2),
        "images_per_s": round(count / seconds, 1),
        "build_images_per_s": round(count / max(info["build_seconds"], 1e-9), 1),
        "peak_rss_mb": round(peak, 1),
    }


def run_official(data: Path, count: int, size: int) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", OFFICIAL, str(data), str(count), str(size)],
        capture_output=True,
        text=True,
        check=True,
    )
    start_kb, peak_kb, seconds, done = result.stdout.split()
    per_image = (int(peak_kb) - int(start_kb)) * 1024 / int(done)
    full_gb = (int(start_kb) * 1024 + per_image * CELEBA_COUNT) / 1e9
    return {
        "images": int(done),
        "images_per_s": round(int(done) / float(seconds), 1),
        "peak_rss_mb": round(int(peak_kb) / 1024, 1),
        "bytes_per_image": round(per_image),
        "celeba_peak_gb_extrapolated": round(full_gb, 1),
    }


def main(args: argparse.Namespace) -> dict:
    OUT.mkdir(exist_ok=True)
    print(f"generating {args.count} CelebA-format images (kept in {OUT}) ...", flush=True)
    full = write_dataset(OUT / f"prepare-data-{args.count}", args.count)
    small = linked(full, args.count, OUT / f"prepare-data-{args.baseline_count}", args.baseline_count)
    workers = args.workers or len(os.sched_getaffinity(0))
    by_size = {}
    for size in args.sizes:
        ours = run_prepare(full, size, args.workers)
        ours_small = run_prepare(small, size, args.workers)
        growth = (ours["peak_rss_mb"] - ours_small["peak_rss_mb"]) / (args.count - args.baseline_count)
        celeba_peak = ours["peak_rss_mb"] + max(growth, 0.0) * (CELEBA_COUNT - args.count)
        official = run_official(full, args.baseline_count, size)
        by_size[size] = {
            "ours": ours,
            "ours_small": ours_small,
            "ours_mb_per_1000_images": round(growth * 1000, 3),
            "ours_celeba_peak_mb_extrapolated": round(celeba_peak, 1),
            "official": official,
        }
        print(
            f"{size}px: prepare {ours['images']} images in {ours['seconds']} s = "
            f"{ours['images_per_s']} img/s "
            f"({workers} workers), peak RSS {ours['peak_rss_mb']} MB "
            f"({ours_small['peak_rss_mb']} MB for {args.baseline_count} images; "
            f"~{celeba_peak:.0f} MB for all of CelebA)\n"
            f"       official way: {official['images_per_s']} img/s (1 process), "
            f"{official['bytes_per_image'] / 1e3:.0f} kB per image kept in RAM, "
            f"~{official['celeba_peak_gb_extrapolated']} GB peak for all of CelebA",
            flush=True,
        )
    celeba_scale = None
    if args.celeba_scale:
        print(f"linking a dataset of CelebA's size ({CELEBA_COUNT} images) ...", flush=True)
        huge = linked(full, args.count, OUT / f"prepare-data-{CELEBA_COUNT}", CELEBA_COUNT)
        celeba_scale = run_prepare(huge, 64, args.workers)
        print(
            f"64px at CelebA's size: {celeba_scale['images']} images in {celeba_scale['seconds']} s = "
            f"{celeba_scale['images_per_s']} img/s, peak RSS {celeba_scale['peak_rss_mb']} MB",
            flush=True,
        )
    peak = max(v["ours"]["peak_rss_mb"] for v in by_size.values())
    if celeba_scale is not None:
        peak = max(peak, celeba_scale["peak_rss_mb"])
    top = by_size[max(by_size)]
    report = {
        "bench": "prepare",
        "baseline": "official preprocess.py: every image in RAM, then one array",
        "images": args.count,
        "workers": workers,
        "images_per_s": top["ours"]["images_per_s"],
        "peak_rss_mb": peak,
        "within_budget": peak <= BUDGET_MB,
        "baseline_celeba_peak_gb": top["official"]["celeba_peak_gb_extrapolated"],
        "by_size": by_size,
        "celeba_scale_64px": celeba_scale,
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
    }
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main(get_args_parser().parse_args())
