"""Per-move latency of a fader: decode only (ours) vs encode + decode (official).

The official ``interpolate.py`` re-encodes the image for every new attribute
value; Fader Studio encodes each face once and only decodes while a fader
moves. This measures both on the paper's 256-px, 7-layer model (loaded
through a real ``.fader`` file), on torch and, on the CPU, on ONNX Runtime,
checks that both ways give the same pixels, and ends with one JSON line
(``decode_p95_ms`` is the faster backend's; ``backends`` has each one's).
Each backend runs in processes of its own, in rounds that alternate them.

    python -m bench.render [--device cpu|cuda|mps] [--moves 200] [--attributes 3]

Baseline: the official way, encode + decode per move, on torch. Budgets (DESIGN
§8): decode-only at least 1.5× faster with torch and 3× with ONNX Runtime; ONNX
Runtime's decode at least 2× torch eager's on the CPU.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from fader_studio.core.attributes import CELEBA_ATTRIBUTES
from fader_studio.core.engine import Engine
from fader_studio.core.errors import FaderStudioError
from fader_studio.core.modelfile import FaderModel, load_model, save_model
from fader_studio.core.network import NetworkConfig

ATTRIBUTES = ("Eyeglasses", "Smiling", "Male", "Young", "Blond_Hair")


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.render", description=__doc__.split("\n")[0])
    parser.add_argument("--device", default=None, help="cpu, cuda or mps (default: the app's choice)")
    parser.add_argument("--moves", type=int, default=200, help="fader moves timed per method (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed moves first (default 20)")
    parser.add_argument("--attributes", type=int, default=3, help="attributes in the model (default 3)")
    parser.add_argument("--size", type=int, default=256, help="image size (default 256, the paper's)")
    parser.add_argument("--worker", choices=("torch", "onnx"), help=argparse.SUPPRESS)  # one round
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    return parser


def face_crop(size: int) -> np.ndarray:
    """A deterministic smooth face-sized RGB crop (the timing does not depend on content)."""
    y, x = np.mgrid[0:size, 0:size] / size
    skin = 200 - 80 * ((x - 0.5) ** 2 + (y - 0.55) ** 2)
    image = np.stack([skin, skin * 0.8 + 20 * x, skin * 0.7 + 30 * y], axis=-1)
    return np.clip(image, 0, 255).astype(np.uint8)


def percentile(samples: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples), q))


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


#: Each backend is timed in processes of its own (two thread pools in one process fight for the
#: cores, which the app never makes them do), in this many rounds that alternate the backends, so
#: that both sample the same drift of a shared machine.
ROUNDS = 3


def time_moves(engine: Engine, crop: np.ndarray, moves: list[list[float]], warmup: int) -> dict:
    """Decode-only and encode + decode per move on ``engine``, interleaved; timings and last pixels."""
    latent = engine.encode(crop)
    timings: dict[str, list[float]] = {"decode": [], "encode_decode": []}
    same_pixels = True
    results: dict[str, np.ndarray] = {}
    for i, values in enumerate(moves):
        for name, fn in (  # interleaved, so both see the same machine state
            ("decode", lambda v: engine.decode(latent, v)),
            ("encode_decode", lambda v: engine.decode(engine.encode(crop), v)),
        ):
            synchronize(engine.device)
            start = time.perf_counter()
            results[name] = fn(values)  # returns host pixels, so the GPU work is finished
            elapsed = (time.perf_counter() - start) * 1000
            if i >= warmup:
                timings[name].append(elapsed)
        same_pixels &= bool(np.array_equal(results["decode"], results["encode_decode"]))
    return {**timings, "same_pixels": same_pixels, "pixels": results["decode"].tolist()}


def worker(args: argparse.Namespace) -> None:
    """One round on one backend (``--worker``): the timings as one JSON line on stdout."""
    engine = Engine(load_model(args.model), args.device, backend=args.worker, cache=Path(args.cache))
    names = engine.attribute_names
    sweep = np.concatenate([np.linspace(-0.5, 1.5, 50), np.linspace(1.5, -0.5, 50)])
    moves = [
        [float(sweep[i % len(sweep)])] + [0.5] * (len(names) - 1) for i in range(args.warmup + args.moves)
    ]
    result = time_moves(engine, face_crop(engine.size), moves, args.warmup)
    result.update(
        device=engine.device_name, half=engine.half, half_error=engine.half_error, cl=engine.channels_last
    )
    print(json.dumps(result))


def run_round(args: argparse.Namespace, backend: str, model: Path, cache: Path) -> dict | None:
    command = [sys.executable, "-m", "bench.render", "--worker", backend, "--model", str(model)]
    command += ["--cache", str(cache), "--moves", str(args.moves // ROUNDS), "--warmup", str(args.warmup)]
    if args.device:
        command += ["--device", args.device]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        print(f"{backend}: not measured ({done.stderr.strip().splitlines()[-1]})")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(args: argparse.Namespace) -> dict:
    if args.worker:
        worker(args)
        return {}
    names = (
        ATTRIBUTES[: args.attributes]
        if args.attributes <= len(ATTRIBUTES)
        else CELEBA_ATTRIBUTES[: args.attributes]
    )
    config = NetworkConfig(image_size=args.size)
    backends = ["torch"]
    rounds: dict[str, list[dict]] = {"torch": [], "onnx": []}
    with tempfile.TemporaryDirectory() as tmp:
        model = save_model(FaderModel.create(config, names), Path(tmp) / "paper.fader")
        try:  # export once, here; the rounds load the checked export from the cache
            Engine(load_model(model), args.device, backend="onnx", cache=Path(tmp) / "onnx")
            backends.append("onnx")
        except FaderStudioError as e:  # ONNX Runtime runs on the CPU only
            print(f"onnx: not measured ({e})")
        for _ in range(ROUNDS):
            for backend in backends:
                result = run_round(args, backend, model, Path(tmp) / "onnx")
                if result is not None:
                    rounds[backend].append(result)
    results = {}
    for backend, done in rounds.items():
        if not done:
            continue
        decode = [t for r in done for t in r["decode"]]
        both = [t for r in done for t in r["encode_decode"]]
        results[backend] = {
            "decode_p50_ms": round(statistics.median(decode), 3),
            "decode_p95_ms": round(percentile(decode, 95), 3),
            "encode_decode_p50_ms": round(statistics.median(both), 3),
            "encode_decode_p95_ms": round(percentile(both, 95), 3),
            "same_pixels": all(r["same_pixels"] for r in done),
            "pixels": np.array(done[-1]["pixels"], dtype=np.uint8),
        }
    torch_r, info = results["torch"], rounds["torch"][0]
    best = min(results, key=lambda b: results[b]["decode_p95_ms"])
    report = {
        "bench": "render",
        "baseline": "official interpolate.py way: encode + decode per move, on torch",
        "device": info["device"],
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "image_size": args.size,
        "n_layers": config.n_layers,
        "attributes": len(names),
        "half": info["half"],
        "half_max_pixel_error": info["half_error"],
        "channels_last": info["cl"],
        "moves": args.moves // ROUNDS * ROUNDS,
        "backend": best,
        "decode_p95_ms": results[best]["decode_p95_ms"],
        "encode_decode_p95_ms": torch_r["encode_decode_p95_ms"],
        "same_pixels": all(r["same_pixels"] for r in results.values()),
        "backends": {b: {k: v for k, v in r.items() if k != "pixels"} for b, r in results.items()},
    }
    report["speedup"] = round(report["encode_decode_p95_ms"] / report["decode_p95_ms"], 2)
    report["torch_speedup"] = round(torch_r["encode_decode_p95_ms"] / torch_r["decode_p95_ms"], 2)
    if "onnx" in results:
        onnx_r = results["onnx"]
        report["onnx_vs_torch_decode"] = round(torch_r["decode_p95_ms"] / onnx_r["decode_p95_ms"], 2)
        difference = onnx_r["pixels"].astype(int) - torch_r["pixels"].astype(int)
        report["onnx_max_pixel_difference"] = int(np.abs(difference).max())
    r = report
    print(f"device: {r['device']}, torch {r['torch']}, half={r['half']}, channels_last={r['channels_last']}")
    for backend, t in r["backends"].items():
        print(
            f"{backend:5}  decode only  p50 {t['decode_p50_ms']:8.2f} ms   p95 {t['decode_p95_ms']:8.2f} ms"
        )
        print(
            f"{backend:5}  enc + decode p50 {t['encode_decode_p50_ms']:8.2f} ms   "
            f"p95 {t['encode_decode_p95_ms']:8.2f} ms"
        )
    torch_ok = "met" if r["torch_speedup"] >= 1.5 else "NOT met"
    print(f"torch decode-only vs encode+decode (baseline): {r['torch_speedup']}x, budget >= 1.5x: {torch_ok}")
    if "onnx_vs_torch_decode" in r:
        fast = "met" if r["speedup"] >= 3 else "NOT met"
        onnx_ok = "met" if r["onnx_vs_torch_decode"] >= 2 else "NOT met"
        print(f"ONNX decode vs torch encode+decode (baseline): {r['speedup']}x, budget >= 3x: {fast}")
        print(f"ONNX decode vs torch decode: {r['onnx_vs_torch_decode']}x, budget >= 2x: {onnx_ok}")
        print(f"largest pixel difference, ONNX vs torch: {r['onnx_max_pixel_difference']} (of 255)")
    print(f"same pixels (decode only vs encode + decode, per backend): {r['same_pixels']}")
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main(get_args_parser().parse_args())
