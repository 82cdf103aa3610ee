"""One training step of Fader Networks (Lample et al., 2017, section 3), on any device.

Each step, on one batch ``(x, y)``:

1. the latent discriminator learns to predict ``y`` from ``E(x)``
   (``dis_steps`` times; the encoder in inference mode, as the official code);
2. optionally, a PatchGAN discriminator learns to tell ``x`` from
   ``D(E(x), ỹ)`` with random attributes ``ỹ`` (off unless ``lambda_patch`` > 0);
3. the encoder and decoder minimise ``‖D(E(x), y) − x‖²`` plus
   ``λ_E · BCE(dis(E(x)), 1 − y)``: the latent must fool the discriminator
   into predicting the *wrong* attributes (plus ``λ_P`` times the patch term,
   and, given a guide, ``λ_C · BCE(C(D(E(x), 1 − y)), 1 − y)``: the run's
   fixed attribute classifier ``C`` must see every attribute flipped in the
   edited image, the official code's ``lambda_clf_dis``).

Every network has its own Adam (β1 0.5) and its gradients are clipped.
The forward passes run under autocast (:func:`autocast_dtype`: bfloat16
where supported, else float16 with a gradient scaler on CUDA), in
channels-last layout on CUDA; under torchrun
the networks are wrapped in ``DistributedDataParallel``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from fader_studio.core.modelfile import FaderModel
from fader_studio.core.network import Decoder, Encoder, LatentDiscriminator, NetworkConfig
from trainer.config import TrainConfig
from trainer.distributed import Distributed
from trainer.finetune import freeze, frozen_blocks, trainable

#: The losses a step can report, in order (:attr:`FaderTraining.loss_names` says which it does).
LOSS_NAMES = ("recon", "latent_dis", "adversarial", "patch_dis", "patch_adv", "classifier")
#: The losses of the optional patch discriminator.
PATCH_LOSSES = ("patch_dis", "patch_adv")
#: Label smoothing of the patch discriminator's targets (the official code's 0.2).
PATCH_SMOOTHING = 0.2


@contextlib.contextmanager
def _constant(module: nn.Module | None) -> Iterator[None]:
    """Compute no gradients for ``module``'s parameters while active (gradients still flow through)."""
    if module is None:
        yield
        return
    params = trainable(module)
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The mixed-precision type of training on ``device``, or ``None`` for float32.

    CUDA: bfloat16 where supported, else float16 (with a gradient scaler). CPU:
    bfloat16 where the CPU computes it natively (AVX-512 BF16 or AMX; 25 % more
    images/s at 128 px on the development machine, ``bench.train_step``), else
    float32, which an emulated bfloat16 would only slow down.
    """
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and torch.backends.mkldnn.is_available():
        supported = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
        if supported is not None and supported():
            return torch.bfloat16
    return None


class AutoEncoder(nn.Module):
    """The encoder and decoder as one module (one ``DistributedDataParallel`` wrapper)."""

    def __init__(self, encoder: Encoder, decoder: Decoder) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(
        self, images: torch.Tensor, labels: torch.Tensor, swapped: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Latent, reconstruction, and (given ``swapped`` attributes) the edited images."""
        latent = self.encoder(images)
        edited = None if swapped is None else self.decoder(latent, swapped)
        return latent, self.decoder(latent, labels), edited


class PatchDiscriminator(nn.Module):
    """A PatchGAN (pix2pix): one real/fake logit per overlapping patch of an image."""

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for out in (64, 128, 256):
            layers += [nn.Conv2d(channels, out, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
            channels = out
        layers.append(nn.Conv2d(channels, 1, 4, 1, 1))
        self.layers = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.layers(images)

    def first(self, count: int) -> nn.Module:
        """The first ``count`` convolutions (with their activations): FreezeD's low layers."""
        return self.layers[: 2 * count]


class FaderTraining:
    """The networks, optimisers and gradient scalers of a run, and its training step.

    ``model`` supplies the encoder and decoder (fresh or from ``--init-from``);
    they are trained in place. The blocks named by ``config.freeze`` are not.
    ``guide``, the attribute classifier of ``config.lambda_clf``'s loss, is
    never trained (needed when ``lambda_clf`` > 0).
    """

    def __init__(
        self, config: TrainConfig, model: FaderModel, dist: Distributed, guide: nn.Module | None = None
    ) -> None:
        if model.encoder is None or model.decoder is None:
            raise ValueError("the model to train needs an encoder and a decoder")
        if config.lambda_clf > 0 and guide is None:
            raise ValueError("--lambda-clf needs the run's classifier")
        self.config = config
        self.model = model
        self.dist = dist
        device = dist.device
        cuda = device.type == "cuda"
        self.memory_format = torch.channels_last if cuda and config.channels_last else torch.contiguous_format
        n = len(model.attributes)
        self.autoencoder = AutoEncoder(model.encoder, model.decoder)
        self.latent_dis = LatentDiscriminator(model.config, n)
        self.patch_dis = PatchDiscriminator(model.config) if config.lambda_patch > 0 else None
        #: FreezeD (seed 004): the patch discriminator's first ``freeze_d`` layers, held during training.
        self.held = [] if self.patch_dis is None else trainable(self.patch_dis.first(config.freeze_d))
        self.guide = None if config.lambda_clf == 0 else guide.to(device, memory_format=self.memory_format)
        if self.guide is not None:
            self.guide.eval().requires_grad_(False)
        #: The losses :meth:`step` reports, in its result's order.
        self.loss_names = tuple(
            name
            for name in LOSS_NAMES
            if (name not in PATCH_LOSSES or self.patch_dis is not None)
            and (name != "classifier" or self.guide is not None)
        )
        for module in self.networks().values():
            module.to(device, memory_format=self.memory_format)
        self.frozen = frozen_blocks(model, config.freeze)
        freeze(self.frozen)
        if not trainable(self.autoencoder):
            raise ValueError("--freeze leaves nothing of the encoder and decoder to train")

        def adam(module: nn.Module) -> torch.optim.Adam:
            return torch.optim.Adam(trainable(module), lr=config.lr, betas=(config.beta1, 0.999))

        self.optimizers = {name: adam(module) for name, module in self.networks().items()}
        self.autocast_dtype = autocast_dtype(device) if config.amp else None
        scaled = self.autocast_dtype == torch.float16
        self.scalers = {name: torch.amp.GradScaler("cuda", enabled=scaled) for name in self.optimizers}
        self.wrapped = {name: self._wrap(module) for name, module in self.networks().items()}

    def networks(self) -> dict[str, nn.Module]:
        """The trained networks by name (the names their tensors carry in checkpoints)."""
        nets = {"autoencoder": self.autoencoder, "latent_dis": self.latent_dis}
        if self.patch_dis is not None:
            nets["patch_dis"] = self.patch_dis
        return nets

    def _wrap(self, module: nn.Module) -> nn.Module:
        if self.dist.enabled:
            ids = [self.dist.device] if self.dist.device.type == "cuda" else None
            module = DistributedDataParallel(module, device_ids=ids)
        if self.config.compile:
            module = torch.compile(module)
        return module

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.dist.device.type, dtype=self.autocast_dtype)

    def _update(self, name: str, loss: torch.Tensor, hold: Sequence[nn.Parameter] = ()) -> None:
        """Backward, unscale, clip, step: the fixed AMP order of torchvision's reference trainer.

        The parameters in ``hold`` get no gradient, so Adam leaves them as they are.
        """
        optimizer, scaler = self.optimizers[name], self.scalers[name]
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        for p in hold:
            p.grad = None
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(optimizer.param_groups[0]["params"], self.config.clip_grad)
        scaler.step(optimizer)
        scaler.update()

    def _set_lr(self, lr: float) -> None:
        for optimizer in self.optimizers.values():
            for group in optimizer.param_groups:
                group["lr"] = lr

    def _train_discriminators(
        self, images: torch.Tensor, labels: torch.Tensor, swapped: torch.Tensor | None, *, hold: bool
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Steps 1 and 2: the latent, and the latent and patch discriminators' losses.

        ``hold`` keeps FreezeD's layers (:attr:`held`) as they are.
        """
        # 1. the latent discriminator, on latents of the encoder in inference mode
        self.autoencoder.eval()
        self.latent_dis.train()
        with torch.no_grad(), self._autocast():
            latent = self.autoencoder.encoder(images)
        for _ in range(self.config.dis_steps):
            with self._autocast():
                dis_loss = F.binary_cross_entropy_with_logits(
                    self.wrapped["latent_dis"](latent).float(), labels
                )
            self._update("latent_dis", dis_loss)

        # 2. the optional patch discriminator: real images against edited ones
        patch_dis_loss = images.new_zeros(())
        if self.patch_dis is not None:
            with torch.no_grad(), self._autocast():
                edited = self.autoencoder.decoder(latent, swapped)
            self.patch_dis.train()
            with self._autocast():
                logits = self.wrapped["patch_dis"](torch.cat((images, edited))).float()
            real = torch.full_like(logits[: len(images)], 1 - PATCH_SMOOTHING)
            patch_dis_loss = F.binary_cross_entropy_with_logits(logits, torch.cat((real, 1 - real)))
            self._update("patch_dis", patch_dis_loss, self.held if hold else ())
        return latent, dis_loss, patch_dis_loss

    def align_step(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """One step of discriminator alignment (seed 004): only the discriminators learn.

        The fresh latent (and patch) discriminator learns to read the attributes
        from (and to spot the edits of) the initialised autoencoder, which stays
        exactly as it is, so that fine-tuning starts against an adversary that
        knows it. Every discriminator layer learns here, FreezeD's too. The
        latent and patch discriminator losses, detached.
        """
        self._set_lr(self.config.lr)
        images = images.contiguous(memory_format=self.memory_format)
        swapped = torch.rand_like(labels).round() if self.patch_dis is not None else None
        _, dis_loss, patch_dis_loss = self._train_discriminators(images, labels, swapped, hold=False)
        return torch.stack([dis_loss.detach().float(), patch_dis_loss.detach().float()])

    def _swapped(self, labels: torch.Tensor) -> torch.Tensor | None:
        """The attributes of a step's edited images: every one flipped for the guide (as the official
        code), else random ones for the patch discriminator; ``None`` when nothing needs them."""
        if self.guide is not None:
            return 1 - labels
        return torch.rand_like(labels).round() if self.patch_dis is not None else None

    def step(self, images: torch.Tensor, labels: torch.Tensor, step: int) -> torch.Tensor:
        """Train on one batch at ``step``; the losses (:attr:`loss_names`) as a detached tensor.

        FreezeD's layers of the patch discriminator (:attr:`held`) do not move.

        The result stays on the device (no synchronisation); a non-finite
        value means training diverged.
        """
        config = self.config
        self._set_lr(config.lr_at(step))
        images = images.contiguous(memory_format=self.memory_format)
        zero = images.new_zeros(())
        swapped = self._swapped(labels)
        latent, dis_loss, patch_dis_loss = self._train_discriminators(images, labels, swapped, hold=True)

        # 3. the encoder and decoder: reconstruct, and fool the discriminators
        self.autoencoder.train()
        for block in self.frozen:
            block.eval()
        self.latent_dis.eval()
        with self._autocast(), _constant(self.latent_dis), _constant(self.patch_dis):
            latent, reconstruction, edited = self.wrapped["autoencoder"](images, labels, swapped)
            recon_loss = F.mse_loss(reconstruction.float(), images.float())
            adversarial = F.binary_cross_entropy_with_logits(self.latent_dis(latent).float(), 1 - labels)
            loss = recon_loss + config.lambda_at(step) * adversarial
            patch_adv = zero
            if self.patch_dis is not None:
                self.patch_dis.eval()
                logits = self.patch_dis(edited).float()
                patch_adv = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
                loss = loss + config.lambda_patch * patch_adv
            guided = zero
            if self.guide is not None:
                guided = F.binary_cross_entropy_with_logits(self.guide(edited).float(), swapped)
                loss = loss + config.lambda_clf * guided
        self._update("autoencoder", loss)
        values = (recon_loss, dis_loss, adversarial, patch_dis_loss, patch_adv, guided)
        losses = dict(zip(LOSS_NAMES, values, strict=True))
        return torch.stack([losses[name].detach().float() for name in self.loss_names])

    def tensors(self) -> dict[str, torch.Tensor]:
        """Every network's weights and statistics, named ``network.name`` (for checkpoints)."""
        return {
            f"{name}.{key}": value
            for name, module in self.networks().items()
            for key, value in module.state_dict().items()
        }

    def load_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        """Restore :meth:`tensors` (``KeyError``/``RuntimeError`` if they do not fit)."""
        for name, module in self.networks().items():
            prefix = name + "."
            module.load_state_dict({k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)})

    def optimizer_state(self) -> dict:
        """The optimisers' and gradient scalers' state (for checkpoints)."""
        return {
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
            "scalers": {name: scaler.state_dict() for name, scaler in self.scalers.items()},
        }

    def load_optimizer_state(self, state: dict) -> None:
        """Restore :meth:`optimizer_state`."""
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])
        for name, scaler in self.scalers.items():
            if state["scalers"].get(name):
                scaler.load_state_dict(state["scalers"][name])
