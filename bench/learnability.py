"""Does our Fader training learn to change attributes? Synthetic faces, CPU, minutes.

1. ``fader-train synth``: 6,000 drawn faces whose attributes are known exactly.
2. ``fader-train classifier`` on ``Eyeglasses,Smiling,Male`` (64 px): its test accuracy.
3. ``fader-train train`` at 64 px for ``--minutes`` each, three times on the same data:
   - ours: λ_E 3e-3 rising over 2,000 steps, learning rate 5e-4 (see below);
   - the ablation: the same with λ_E = 0 (no adversary): the decoder can read
     every attribute from the latent, so it learns to ignore the attribute code;
   - the paper's defaults (λ_E 1e-4 over 500,000 steps, learning rate 2e-4).
4. ``fader-train evaluate`` on the test images: swap accuracy per attribute
   (flip it, decode, ask the classifier) and reconstruction PSNR, plus a sweep grid.

Why not the paper's defaults: in a run of minutes (a few thousand steps) λ_E
rises to a few hundredths of a percent of its target over 500,000 steps,
so that run is the ablation in practice. The paper trains for millions of steps.

    python -m bench.learnability [--minutes 20] [--count 6000] [--out bench/out/learnability]

Goal: swap accuracy ≥ 90 % per attribute with PSNR ≥ 26 dB, the classifier ≥ 98 %,
and clearly lower swap accuracy without the adversary. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import time
from pathlib import Path

from trainer.cli import main as fader_train

ATTRIBUTES = "Eyeglasses,Smiling,Male"
RUNS = {
    "ours": ["--lambda-schedule", "2000", "--lr", "0.0005"],  # and --lambda-e from the command line
    "ablation": ["--lambda-e", "0", "--lr", "0.0005"],
    "paper_defaults": [],
}


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.learnability", description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=20, help="training minutes per run (default 20)")
    parser.add_argument("--count", type=int, default=6000, help="synthetic faces (default 6000)")
    parser.add_argument("--classifier-steps", type=int, default=1000, help="(default 1000)")
    parser.add_argument("--out", type=Path, default=Path("bench/out/learnability"), help="work folder")
    parser.add_argument("--lambda-e", default="0.003", help="λ_E of our run (default 0.003)")
    parser.add_argument(
        "--runs", default=",".join(RUNS), help=f"which runs, comma-separated (default: {','.join(RUNS)})"
    )
    return parser


def run(*args: str) -> str:
    """Run ``fader-train`` in this process; its stdout (an error stops the benchmark)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = fader_train(list(args))
    if code != 0:
        raise SystemExit(f"fader-train {args[0]} failed with status {code}")
    return out.getvalue()


def main(argv: list[str] | None = None) -> dict:
    args = get_args_parser().parse_args(argv)
    start = time.monotonic()
    out = args.out.resolve()
    data = out / f"synth-{args.count}"
    if not data.exists():
        t = time.monotonic()
        run("synth", str(data), "--count", str(args.count), "--progress", "none")
        print(f"synth: {args.count} faces in {time.monotonic() - t:.1f} s")
    common = ["--cache-dir", str(out / "cache"), "--device", "cpu"]  # evaluate takes the model's size
    classifier = out / "classifier.fader"
    if not classifier.exists():
        run("classifier", str(data), "--attrs", ATTRIBUTES, "--out", str(classifier),
            "--steps", str(args.classifier_steps), "--progress", "none", "--size", "64", *common)  # fmt: skip
    results = {}
    names = [n for n in RUNS if n in args.runs.split(",")]
    for name in names:
        extra = ["--lambda-e", args.lambda_e] if name == "ours" else []
        folder = out / name
        shutil.rmtree(folder, ignore_errors=True)
        run("train", str(data), "--attrs", ATTRIBUTES, "--out", str(folder), "--classifier", str(classifier),
            "--max-minutes", str(args.minutes), "--max-steps", "10000000", "--eval-every", "1000",
            "--checkpoint-minutes", "1000", "--progress", "none", "--size", "64",
            *common, *RUNS[name], *extra)  # fmt: skip
        done = json.loads((folder / "events.jsonl").read_text().splitlines()[-1])
        if done.get("stopped"):  # Ctrl+C or SIGTERM reached the trainer: end the bench, not only this run
            raise SystemExit(f"the {name} run was stopped at step {done['step']}; the bench ends here")
        steps = done["step"]
        metrics = json.loads(
            run(
                "evaluate",
                str(folder / "last.fader"),
                "--data",
                str(data),
                "--classifier",
                str(classifier),
                "--samples",
                str(out / f"{name}-sweep.png"),
                *common,
            )  # fmt: skip
        )
        results[name] = {**metrics, "steps": steps}
        print(
            f"{name}: {steps} steps, PSNR {metrics['psnr_db']} dB, swap accuracy {metrics['swap_accuracy']}"
        )
    from fader_studio.core.modelfile import load_model

    accuracy = load_model(classifier).training["metrics"]["accuracy"]
    print(f"classifier accuracy on test images: {accuracy}")
    summary = {
        "bench": "learnability",
        "swap_accuracy": results.get("ours", {}).get("swap_accuracy"),
        "psnr_db": results.get("ours", {}).get("psnr_db"),
        "classifier_accuracy": accuracy,
        "ablation_swap_accuracy": results.get("ablation", {}).get("swap_accuracy"),
        "ablation_psnr_db": results.get("ablation", {}).get("psnr_db"),
        "paper_defaults_swap_accuracy": results.get("paper_defaults", {}).get("swap_accuracy"),
        "lambda_e": float(args.lambda_e),
        "steps": {name: r["steps"] for name, r in results.items()},
        "minutes": round((time.monotonic() - start) / 60, 1),
        "minutes_per_run": args.minutes,
        "sweep": str(out / "ours-sweep.png"),
        "baseline": "the same run with λ_E = 0 (no adversary), and with the paper's default schedule",
    }
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
