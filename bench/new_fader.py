"""What each part of seed 004's recipe is worth: teaching a model Eyeglasses from a few examples.

1. Two synthetic sets (``fader-train synth``): A trains the base model and
   judges; B supplies the examples, as a user's own photos would.
2. A judge (``fader-train classifier`` on A: Eyeglasses, Smiling, Male) and a
   base model that has never seen Eyeglasses (Smiling, Male; 64 px;
   ``--base-minutes``).
3. From B, two folders of photos: N faces with glasses and 3N without
   (N = 100, 300, 1,000), as a user would give them to ``fader-train teach``.
4. ``fader-train teach`` for ``--minutes`` of CPU each: the full recipe (extended
   batches, discriminator alignment, FreezeD on a patch discriminator, the
   fine-tuning warm-up and λ schedule) at every N, and at the middle N with each
   part turned off in turn (the ablation).
5. ``fader-train evaluate`` on A's test faces with the judge: the new
   attribute's swap accuracy, the old attributes' swap accuracy before (base)
   and after, and the reconstruction PSNR.

    python -m bench.new_fader [--minutes 2] [--base-minutes 8] [--out bench/out/new_fader]

Goal: the full recipe teaches Eyeglasses (swap accuracy well above the ablations')
while the old attributes drop by at most 2 points. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from bench.learnability import run
from trainer.celeba import open_celeba

#: Patch discriminator weight of the full recipe (FreezeD needs one).
PATCH = ["--lambda-patch", "0.01", "--freeze-d", "2"]
#: The runs at the middle example count: the full recipe, then each part turned off.
ABLATIONS = {
    "full": PATCH,
    "no_extended": [*PATCH, "--extended", "none"],
    "no_alignment": [*PATCH, "--align-steps", "0"],
    "no_freeze_d": ["--lambda-patch", "0.01", "--freeze-d", "0"],
    "no_finetune_defaults": [
        *PATCH,
        "--warmup-steps",
        "0",
        "--lambda-e",
        "1e-4",
        "--lambda-schedule",
        "500000",
    ],
}
BASE_ATTRIBUTES = "Smiling,Male"
JUDGE_ATTRIBUTES = "Eyeglasses,Smiling,Male"


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.new_fader", description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=2, help="training minutes per teach run (default 2)")
    parser.add_argument("--base-minutes", type=float, default=8, help="base model minutes (default 8)")
    parser.add_argument("--count", type=int, default=6000, help="faces in each synthetic set (default 6000)")
    parser.add_argument("--examples", default="100,300,1000", help="wearers given (default 100,300,1000)")
    parser.add_argument("--out", type=Path, default=Path("bench/out/new_fader"), help="work folder")
    return parser


def example_folders(data: Path, wearers: int, out: Path) -> tuple[Path, Path]:
    """Folders of links to ``wearers`` photos of B with glasses and three times as many without."""
    celeba = open_celeba(data)
    glasses = celeba.labels[:, celeba.attribute_names.index("Eyeglasses")]
    folders = (out / f"with-{wearers}", out / f"without-{wearers}")
    chosen = (np.flatnonzero(glasses)[:wearers], np.flatnonzero(~glasses)[: 3 * wearers])
    for folder, rows in zip(folders, chosen, strict=True):
        if folder.exists():
            continue
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        for row in rows:
            name = celeba.names[row]
            os.symlink(data / "img_align_celeba" / name, partial / name)
        partial.rename(folder)
    return folders


def evaluate(model: Path, data: Path, judge: Path, common: list[str], samples: Path | None = None) -> dict:
    """The judge's swap accuracy and the PSNR of ``model`` on A's test faces."""
    extra = ["--samples", str(samples)] if samples else []
    return json.loads(
        run("evaluate", str(model), "--data", str(data), "--classifier", str(judge), *extra, *common)
    )


def main(argv: list[str] | None = None) -> dict:
    args = get_args_parser().parse_args(argv)
    start = time.monotonic()
    out = args.out.resolve()
    sets = {name: out / f"synth-{name}-{args.count}" for name in ("A", "B")}
    for seed, folder in enumerate(sets.values()):
        if not folder.exists():
            run("synth", str(folder), "--count", str(args.count), "--seed", str(seed), "--progress", "none")
    common = ["--cache-dir", str(out / "cache"), "--device", "cpu"]
    judge = out / "judge.fader"
    if not judge.exists():
        run("classifier", str(sets["A"]), "--attrs", JUDGE_ATTRIBUTES, "--out", str(judge), "--steps", "1000",
            "--progress", "none", "--size", "64", *common)  # fmt: skip
    base = out / "base" / "last.fader"
    if not base.exists():
        shutil.rmtree(base.parent, ignore_errors=True)
        run("train", str(sets["A"]), "--attrs", BASE_ATTRIBUTES, "--out", str(base.parent), "--size", "64",
            "--classifier", str(judge), "--lambda-e", "0.003", "--lambda-schedule", "2000", "--lr", "0.0005",
            "--max-minutes", str(args.base_minutes), "--max-steps", "10000000", "--eval-every", "1000",
            "--checkpoint-minutes", "1000", "--progress", "none", *common)  # fmt: skip
    before = evaluate(base, sets["A"], judge, common)
    print(f"base: PSNR {before['psnr_db']} dB, swap accuracy {before['swap_accuracy']}")

    counts = [int(n) for n in args.examples.split(",")]
    middle = counts[len(counts) // 2]
    plan = [(n, "full") for n in counts] + [(middle, name) for name in ABLATIONS if name != "full"]
    results: dict[str, dict] = {}
    for wearers, variant in plan:
        with_dir, without_dir = example_folders(sets["B"], wearers, out / "examples")
        key = f"{variant}-{wearers}"
        folder = out / "runs" / key
        shutil.rmtree(folder, ignore_errors=True)
        run("teach", str(base), "Eyeglasses", "--with", str(with_dir), "--without", str(without_dir),
            "--out", str(folder), "--classifier", str(judge), "--lr", "0.0005",
            "--max-minutes", str(args.minutes), "--max-steps", "10000000", "--eval-every", "100000",
            "--checkpoint-minutes", "1000", "--progress", "none", *common, *ABLATIONS[variant])  # fmt: skip
        events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
        metrics = evaluate(folder / "last.fader", sets["A"], judge, common, out / f"{key}-sweep.png")
        started = next(e for e in events if e["event"] == "start")
        results[key] = {
            "examples_with": wearers,
            "train_images": started["train_images"],
            "left_out": started["left_out"],
            "steps": events[-1]["step"],
            "psnr_db": metrics["psnr_db"],
            "swap_accuracy": metrics["swap_accuracy"],
            "old_attribute_change": {
                a: round(metrics["swap_accuracy"][a] - before["swap_accuracy"][a], 4)
                for a in before["swap_accuracy"]
            },
        }
        print(f"{key}: {json.dumps(results[key])}")
    summary = {
        "bench": "new_fader",
        "new_attribute": "Eyeglasses",
        "base": {"psnr_db": before["psnr_db"], "swap_accuracy": before["swap_accuracy"]},
        "runs": results,
        "minutes_per_run": args.minutes,
        "minutes": round((time.monotonic() - start) / 60, 1),
        "baseline": "the base model (old attributes); the full recipe with each part turned off (ablation)",
    }
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
