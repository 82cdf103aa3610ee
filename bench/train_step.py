"""Training throughput: our Fader step against a plain fp32 loop like the official code's.

Both train the paper's 256-px configuration (7-layer encoder, 512-channel
latent, latent discriminator) on the same batches of the same images, with
the same optimisers and gradient clipping, doing the same work per step: one
latent-discriminator update and one encoder-decoder update.

- baseline (the official ``train.py``): float32, contiguous layout, batches
  copied to the device synchronously;
- ours (``trainer.fader.FaderTraining.step``): autocast (bfloat16 where
  supported, on CUDA and on CPUs with native bfloat16) and channels-last on
  CUDA, pinned batches copied asynchronously, optionally ``torch.compile``.

``--variants`` also times ours without autocast (float32) and with
channels-last forced on, to show what each choice is worth on this device.

    python -m bench.train_step [--device cpu|cuda] [--size 128] [--steps 20] [--variants] [--compile]

Ends with one JSON line: images_per_s, baseline_images_per_s, device (and variants).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time

import torch
import torch.nn.functional as F
from torch import nn

from fader_studio.core.engine import choose_device, device_description
from fader_studio.core.modelfile import FaderModel
from fader_studio.core.network import LatentDiscriminator
from trainer.config import TrainConfig
from trainer.distributed import Distributed
from trainer.fader import FaderTraining, autocast_dtype

ATTRIBUTES = ("Eyeglasses", "Smiling", "Male")


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.train_step", description=__doc__.split("\n")[0])
    parser.add_argument("--device", default=None, help="cpu or cuda (default: the app's choice)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per loop (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (default 3)")
    parser.add_argument("--batch-size", type=int, default=32, help="(default 32, the paper's)")
    parser.add_argument("--size", type=int, default=256, help="image size (default 256, the paper's)")
    parser.add_argument("--compile", action="store_true", help="also torch.compile our networks")
    parser.add_argument(
        "--variants", action="store_true", help="also time ours in float32 and with channels-last forced on"
    )
    return parser


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_batches(count: int, batch_size: int, size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Smooth random images in [-1, 1] with random labels, on the CPU (as a loader yields them)."""
    generator = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(count):
        coarse = torch.rand(batch_size, 3, 8, 8, generator=generator) * 2 - 1
        images = F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
        labels = torch.randint(0, 2, (batch_size, len(ATTRIBUTES)), generator=generator).float()
        batches.append((images.contiguous(), labels))
    return batches


class OfficialLoop:
    """The official ``lat_dis_step`` and ``autoencoder_step``: fp32, eager, contiguous."""

    def __init__(self, config: TrainConfig, device: torch.device) -> None:
        model = FaderModel.create(config.network(), config.attributes)
        self.encoder, self.decoder = model.encoder.to(device), model.decoder.to(device)
        self.dis = LatentDiscriminator(config.network(), len(config.attributes)).to(device)
        betas = (config.beta1, 0.999)
        ae_params = [*self.encoder.parameters(), *self.decoder.parameters()]
        self.ae_params = ae_params
        self.ae_opt = torch.optim.Adam(ae_params, lr=config.lr, betas=betas)
        self.dis_opt = torch.optim.Adam(self.dis.parameters(), lr=config.lr, betas=betas)
        self.config = config
        self.device = device

    def step(self, images: torch.Tensor, labels: torch.Tensor, step: int) -> None:
        images, labels = images.to(self.device), labels.to(self.device)
        self.encoder.eval()
        self.dis.train()
        with torch.no_grad():
            latent = self.encoder(images)
        loss = F.binary_cross_entropy_with_logits(self.dis(latent), labels)
        self.dis_opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.dis.parameters(), self.config.clip_grad)
        self.dis_opt.step()

        self.encoder.train()
        self.decoder.train()
        self.dis.eval()
        latent = self.encoder(images)
        loss = F.mse_loss(self.decoder(latent, labels), images)
        adversarial = F.binary_cross_entropy_with_logits(self.dis(latent), 1 - labels)
        loss = loss + self.config.lambda_at(step) * adversarial
        self.ae_opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.ae_params, self.config.clip_grad)
        self.ae_opt.step()


class OurLoop:
    """What ``fader-train train`` runs per step (without its data loader)."""

    def __init__(self, config: TrainConfig, device: torch.device, *, channels_last: bool = False) -> None:
        self.training = FaderTraining(
            config, FaderModel.create(config.network(), config.attributes), Distributed(device=device)
        )
        if channels_last:  # what the trainer does on CUDA, forced on any device
            self.training.memory_format = torch.channels_last
            for module in self.training.networks().values():
                module.to(memory_format=torch.channels_last)
        self.device = device
        self.pin = device.type == "cuda"

    def step(self, images: torch.Tensor, labels: torch.Tensor, step: int) -> None:
        if self.pin:
            images, labels = images.pin_memory(), labels.pin_memory()
        images = images.to(self.device, non_blocking=True)
        labels = labels.to(self.device, non_blocking=True)
        self.training.step(images, labels, step)


def images_per_second(loop: OfficialLoop | OurLoop, batches: list, warmup: int, steps: int, device) -> float:
    for i in range(warmup):
        loop.step(*batches[i % len(batches)], step=i)
    synchronize(device)
    start = time.perf_counter()
    for i in range(steps):
        loop.step(*batches[i % len(batches)], step=warmup + i)
    synchronize(device)
    return steps * batches[0][0].shape[0] / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> dict:
    args = get_args_parser().parse_args(argv)
    device = choose_device(args.device)
    torch.manual_seed(0)
    config = TrainConfig(
        attributes=ATTRIBUTES, image_size=args.size, batch_size=args.batch_size, compile=args.compile
    )
    batches = make_batches(4, args.batch_size, args.size)
    print(f"device: {device_description(device)}; {platform.processor() or platform.machine()}")
    print(
        f"{args.size}px, batch {args.batch_size}, {args.steps} timed steps after {args.warmup} warm-up steps"
    )
    baseline = images_per_second(OfficialLoop(config, device), batches, args.warmup, args.steps, device)
    print(f"baseline (official-style fp32 loop): {baseline:8.1f} images/s")
    ours = images_per_second(OurLoop(config, device), batches, args.warmup, args.steps, device)
    autocast = autocast_dtype(device)
    amp = f"autocast {str(autocast).removeprefix('torch.')}" if autocast is not None else "float32"
    amp += " + channels_last" if device.type == "cuda" else ""
    print(f"ours ({amp}{', compiled' if args.compile else ''}): {ours:8.1f} images/s")
    variants = {}
    if args.variants:
        for name, settings, channels_last in (
            ("float32", {"amp": False}, False),
            ("channels_last", {}, True),
        ):
            variant = dataclasses.replace(config, **settings)
            loop = OurLoop(variant, device, channels_last=channels_last)
            variants[name] = round(images_per_second(loop, batches, args.warmup, args.steps, device), 2)
            print(f"ours, {name}: {variants[name]:8.1f} images/s")
    print(f"speed-up: {ours / baseline:.2f}×")
    result = {
        "bench": "train_step",
        "images_per_s": round(ours, 2),
        "baseline_images_per_s": round(baseline, 2),
        "speedup": round(ours / baseline, 3),
        "device": device_description(device),
        "image_size": args.size,
        "batch_size": args.batch_size,
        "compile": args.compile,
        "autocast": None if autocast is None else str(autocast).removeprefix("torch."),
        **({"variants": variants} if variants else {}),
        "baseline": "official-style fp32 eager loop, same model and batches",
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
