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
   part turned off in turn (the ablation), and with no patch discriminator at
   all (``teach``'s defaults).
5. ``fader-train evaluate`` on A's test faces with the judge: the new
   attribute's swap accuracy, the old attributes' swap accuracy before (base)
   and after, and the reconstruction PSNR.

    python -m bench.new_fader [--minutes 2] [--base-minutes 8] [--out bench/out/new_fader]

With ``--real CELEBA_SAMPLE`` it does the same on real faces instead: the
bundled model learns Eyeglasses from the labelled wearers of the people in
the CelebA sample (``../shared/celeba-sample``) outside a held-out fifth of
them, with three times as many non-wearers, for ``--minutes``; a judge
classifier trained on the same people measures, on the held-out people, the
new attribute's swap accuracy (with a 95 % Wilson interval: the wearers are
few) and the old attributes' before and after.

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
    "no_patch_discriminator": [],
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
    parser.add_argument("--only", help="run only these runs, comma-separated (e.g. full-300,no_extended-300)")
    parser.add_argument(
        "--non-wearers",
        type=int,
        default=3,
        help="with --real: non-wearers given per wearer (0: all; default 3)",
    )
    parser.add_argument("--real", type=Path, help="a labelled CelebA sample: teach the bundled model on it")
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


def _read_table(path: Path) -> dict[str, list[str]]:
    """A CelebA text file's rows by image name (the attribute file's header row under "")."""
    lines = path.read_text().splitlines()
    if path.name.startswith("list_attr"):
        return {
            "": lines[1].split(),
            **{line.split()[0]: line.split()[1:] for line in lines[2:] if line.strip()},
        }
    return {line.split()[0]: line.split()[1:] for line in lines if line.strip()}


def _photo_folder(folder: Path, sample: Path, rows: dict[str, dict[str, str]], split: str | None) -> Path:
    """A photo folder of links to ``rows`` (image name → labels) of the sample, with their labels."""
    if (folder / "labels.csv").exists():
        return folder
    folder.mkdir(parents=True)
    names = sorted(rows)
    columns = list(rows[names[0]])
    lines = [",".join(["file", *columns, *(["split"] if split else [])])]
    for name in names:
        os.symlink(sample / "img_align_celeba" / name, folder / name)
        lines.append(",".join([name, *(rows[name][c] for c in columns), *([split] if split else [])]))
    (folder / "labels.csv").write_text("\n".join(lines) + "\n")
    return folder


def wilson(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson score interval of a proportion ``successes / n``."""
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5 / (1 + z * z / n)
    return round(centre - half, 3), round(centre + half, 3)


def real_faces(args: argparse.Namespace, out: Path) -> dict:
    """The bundled model taught Eyeglasses from the CelebA sample's wearers (see the module docstring)."""
    from fader_studio import resources

    start = time.monotonic()
    sample = args.real.resolve()
    attributes = _read_table(sample / "list_attr_celeba.txt")
    header = attributes.pop("")
    people = {name: int(row[0]) for name, row in _read_table(sample / "identity_CelebA.txt").items()}
    wanted = ("Eyeglasses", "Male", "Smiling", "Young")
    labels = {
        name: {a: "1" if row[header.index(a)] == "1" else "0" for a in wanted}
        for name, row in attributes.items()
    }
    held_out = {name for name in labels if people[name] % 5 == 0}  # a fifth of the people
    rng = np.random.default_rng(0)
    seen = sorted(set(labels) - held_out)
    wearers = [n for n in seen if labels[n]["Eyeglasses"] == "1"]
    others = [n for n in seen if labels[n]["Eyeglasses"] == "0"]
    if args.non_wearers:
        others = sorted(
            rng.choice(others, min(len(others), args.non_wearers * len(wearers)), replace=False).tolist()
        )
    folders = []
    for key, names in (("with", wearers), (f"without-{len(others)}", others)):
        folder = out / "real" / key
        if not folder.exists():
            folder.mkdir(parents=True)
            for name in names:
                os.symlink(sample / "img_align_celeba" / name, folder / name)
        folders.append(folder)
    test = _photo_folder(out / "real" / "held-out", sample, {n: labels[n] for n in held_out}, "test")
    train = _photo_folder(out / "real" / "seen", sample, {n: labels[n] for n in seen}, None)
    common = ["--cache-dir", str(out / "cache"), "--device", "cpu"]
    judge = out / "real" / "judge.fader"
    if not judge.exists():
        run("classifier", str(train), "--attrs", ",".join(wanted), "--out", str(judge), "--steps", "1500",
            "--size", "128", "--template", "tight", "--progress", "none", *common)  # fmt: skip
    base = resources.path("models/default.fader")
    evaluate_args = ["--template", "tight", "--images", "100000"]
    before = evaluate(base, test, judge, [*common, *evaluate_args])
    folder = out / "real" / f"taught-{len(others)}"
    shutil.rmtree(folder, ignore_errors=True)
    run("teach", str(base), "Eyeglasses", "--with", str(folders[0]), "--without", str(folders[1]),
        "--out", str(folder), "--classifier", str(judge), "--max-minutes", str(args.minutes),
        "--max-steps", "10000000", "--eval-every", "500", "--checkpoint-minutes", "1000",
        "--progress", "none", *common)  # fmt: skip
    sweep = out / f"real-sweep-{len(others)}.png"
    after = evaluate(folder / "last.fader", test, judge, [*common, *evaluate_args], sweep)
    events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    started = next(e for e in events if e["event"] == "start")
    n = after["images"]
    glasses = after["swap_accuracy"]["Eyeglasses"]
    summary = {
        "bench": "new_fader",
        "real": str(sample),
        "wearers_given": len(wearers),
        "non_wearers_given": len(others),
        "train_images": started["train_images"],
        "left_out": started["left_out"],
        "steps": events[-1]["step"],
        "held_out": {
            "images": n,
            "people": len({people[x] for x in held_out}),
            "wearers": sum(labels[x]["Eyeglasses"] == "1" for x in held_out),
        },  # fmt: skip
        "judge_accuracy_on_held_out": after["classifier_accuracy"],
        "eyeglasses_swap_accuracy": glasses,
        "eyeglasses_swap_95ci": wilson(glasses * n, n),
        "old_swap_accuracy_before": before["swap_accuracy"],
        "old_swap_accuracy_after": {a: after["swap_accuracy"][a] for a in before["swap_accuracy"]},
        "psnr_db": {"before": before["psnr_db"], "after": after["psnr_db"]},
        "sweep": str(sweep),
        "minutes": round((time.monotonic() - start) / 60, 1),
        "baseline": "the bundled model before teaching (old attributes, reconstruction)",
    }
    print(json.dumps(summary))
    return summary


def main(argv: list[str] | None = None) -> dict:
    args = get_args_parser().parse_args(argv)
    if args.real is not None:
        return real_faces(args, args.out.resolve())
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
    if args.only:
        plan = [(n, name) for n, name in plan if f"{name}-{n}" in args.only.split(",")]
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
