"""Per-move latency of a fader: decode only (ours) vs encode + decode (official).

The official ``interpolate.py`` re-encodes the image for every new attribute
value; Fader Studio encodes each face once and only decodes while a fader
moves. This measures both on the paper's 256-px, 7-layer model (loaded
through a real ``.fader`` file), on torch and, on the CPU, on ONNX Runtime,
checks that both ways give the same pixels, and ends with one JSON line
(``decode_p95_ms`` is the faster backend's; ``backends`` has each one's).

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


def time_backend(engine: Engine, crop: np.ndarray, moves: list[list[float]], warmup: int) -> dict:
    """Decode-only and encode + decode per move on ``engine``, interleaved; their timings and pixels."""
    latent = engine.encode(crop)
    timings: dict[str, list[float]] = {"decode": [], "encode_decode": []}
    same_pixels = True
    last = None
    for i, values in enumerate(moves):  # interleaved, so both see the same machine state
        results = {}
        for name, fn in (
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
        last = results["decode"]
    return {
        "decode_p50_ms": round(statistics.median(timings["decode"]), 3),
        "decode_p95_ms": round(percentile(timings["decode"], 95), 3),
        "encode_decode_p50_ms": round(statistics.median(timings["encode_decode"]), 3),
        "encode_decode_p95_ms": round(percentile(timings["encode_decode"], 95), 3),
        "same_pixels": same_pixels,
        "last_pixels": last,
    }


def main(args: argparse.Namespace) -> dict:
    names = (
        ATTRIBUTES[: args.attributes]
        if args.attributes <= len(ATTRIBUTES)
        else CELEBA_ATTRIBUTES[: args.attributes]
    )
    config = NetworkConfig(image_size=args.size)
    crop = face_crop(args.size)
    # A fader dragged back and forth across its range, one value per move.
    sweep = np.concatenate([np.linspace(-0.5, 1.5, 50), np.linspace(1.5, -0.5, 50)])
    moves = [
        [float(sweep[i % len(sweep)])] + [0.5] * (len(names) - 1) for i in range(args.warmup + args.moves)
    ]
    results = {}
    engines = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = save_model(FaderModel.create(config, names), Path(tmp) / "paper.fader")
        for backend in ("torch", "onnx"):
            try:
                engine = Engine(load_model(path), args.device, backend=backend, cache=Path(tmp) / "onnx")
            except FaderStudioError as e:  # ONNX Runtime runs on the CPU only
                print(f"{backend}: not measured ({e})")
                continue
            engines[backend] = engine
            results[backend] = time_backend(engine, crop, moves, args.warmup)
    torch_r = results["torch"]
    best = min(results, key=lambda b: results[b]["decode_p95_ms"])
    report = {
        "bench": "render",
        "baseline": "official interpolate.py way: encode + decode per move, on torch",
        "device": engines["torch"].device_name,
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "image_size": args.size,
        "n_layers": config.n_layers,
        "attributes": len(names),
        "half": engines["torch"].half,
        "half_max_pixel_error": engines["torch"].half_error,
        "channels_last": engines["torch"].channels_last,
        "moves": args.moves,
        "backend": best,
        "decode_p95_ms": results[best]["decode_p95_ms"],
        "encode_decode_p95_ms": torch_r["encode_decode_p95_ms"],
        "same_pixels": all(r["same_pixels"] for r in results.values()),
        "backends": {b: {k: v for k, v in r.items() if k != "last_pixels"} for b, r in results.items()},
    }
    report["speedup"] = round(report["encode_decode_p95_ms"] / report["decode_p95_ms"], 2)
    report["torch_speedup"] = round(torch_r["encode_decode_p95_ms"] / torch_r["decode_p95_ms"], 2)
    if "onnx" in results:
        onnx_r = results["onnx"]
        report["onnx_vs_torch_decode"] = round(torch_r["decode_p95_ms"] / onnx_r["decode_p95_ms"], 2)
        difference = onnx_r["last_pixels"].astype(int) - torch_r["last_pixels"].astype(int)
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
