"""Inference: encode a face once, decode it as often as the faders move.

:class:`Engine` wraps a loaded :class:`FaderModel` on a device (CUDA > MPS >
CPU unless told otherwise). ``encode`` turns S×S RGB crops into latents, which
the caller keeps per face; ``decode`` turns a latent and fader values into a
crop. Moving a fader therefore costs one decoder pass, not an encoder and a
decoder pass as in the official ``interpolate.py``.

On the CPU the encoder and decoder can run on ONNX Runtime instead of torch
(:mod:`fader_studio.core.onnx_backend`), about twice as fast; the backend is
``torch``, ``onnx`` or ``auto`` (ONNX Runtime on the CPU when an export of the
model is ready, see :meth:`Engine.prepare_onnx`). The classifier, used once
per photo, always runs on torch.

An engine is not thread-safe: the app runs all inference in one worker
thread, through :class:`fader_studio.core.renderer.LatestWinsRenderer`.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from .errors import BackendError, DeviceError, FaderStudioError
from .modelfile import FaderModel
from .onnx_backend import OnnxNetworks, onnx_networks
from .paths import cache_dir

#: Environment variables that override the automatic device and backend choices.
DEVICE_ENV = "FADER_STUDIO_DEVICE"
BACKEND_ENV = "FADER_STUDIO_BACKEND"
BACKENDS = ("auto", "torch", "onnx")
#: Half precision is used only if it changes no pixel by more than this (of 255).
HALF_MAX_PIXEL_ERROR = 2

Values = Mapping[str, float] | Sequence[float] | Sequence[Sequence[float]] | np.ndarray


def choose_device(preferred: str | None = None) -> torch.device:
    """The device to run on: ``preferred``, else ``$FADER_STUDIO_DEVICE``, else cuda > mps > cpu.

    ``preferred`` may be ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or
    ``"mps"``. Raises :class:`DeviceError` if it names a device this machine lacks.
    """
    choice = (preferred or os.environ.get(DEVICE_ENV) or "auto").strip().lower()
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(choice)
    except RuntimeError:
        raise DeviceError(f"unknown device {choice!r} (use auto, cpu, cuda, cuda:N or mps)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError("CUDA was requested but no CUDA GPU is available")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(f"{choice} requested but only {torch.cuda.device_count()} GPU(s) found")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError("MPS was requested but is not available on this machine")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise DeviceError(f"unsupported device {choice!r} (use auto, cpu, cuda, cuda:N or mps)")
    return device


def choose_backend(preferred: str | None = None) -> str:
    """The backend asked for: ``preferred``, else ``$FADER_STUDIO_BACKEND``, else ``auto``."""
    choice = (preferred or os.environ.get(BACKEND_ENV) or "auto").strip().lower()
    if choice not in BACKENDS:
        raise BackendError(f"unknown backend {choice!r} (use {', '.join(BACKENDS)})")
    return choice


def device_description(device: torch.device) -> str:
    """A short human-readable name: the GPU's name, ``Apple GPU (MPS)`` or ``CPU (N threads)``."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return f"CPU ({torch.get_num_threads()} threads)"


def to_tensor(crops: np.ndarray, size: int, device: torch.device | None = None) -> torch.Tensor:
    """RGB uint8 crops ``(S, S, 3)`` or ``(N, S, S, 3)`` → float ``(N, 3, S, S)`` in [-1, 1].

    The pixels travel to ``device`` as uint8 and are converted there.
    """
    pixels = torch.from_numpy(_checked_crops(crops, size)).to(device)
    return pixels.permute(0, 3, 1, 2).float() / 127.5 - 1.0


def to_float_array(crops: np.ndarray, size: int) -> np.ndarray:
    """:func:`to_tensor` in numpy (the same float32 arithmetic, so the same values), for ONNX Runtime."""
    return _checked_crops(crops, size).transpose(0, 3, 1, 2).astype(np.float32) / np.float32(127.5) - 1


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Float images ``(N, 3, S, S)`` in [-1, 1] → RGB uint8 ``(N, S, S, 3)`` (rounded, clipped)."""
    pixels = ((images.float() + 1.0) * 127.5).round_().clamp_(0, 255).to(torch.uint8)
    return pixels.permute(0, 2, 3, 1).contiguous().cpu().numpy()


def to_levels_array(images: np.ndarray) -> np.ndarray:
    """Float images ``(N, 3, S, S)`` in [-1, 1] → float32 RGB ``(N, S, S, 3)`` in levels, clipped to [0, 255].

    The ONNX path must not call torch: each torch call wakes torch's thread
    pool, whose spinning threads then fight ONNX Runtime's for the cores
    (measured: decode p95 from 7 ms to 54 ms on 2 cores).
    """
    levels = np.ascontiguousarray(images.transpose(0, 2, 3, 1), dtype=np.float32)  # the one copy
    levels += np.float32(1)
    levels *= np.float32(127.5)
    return np.clip(levels, 0, 255, out=levels)


def to_uint8_array(images: np.ndarray) -> np.ndarray:
    """:func:`to_uint8` in numpy, for ONNX Runtime's outputs: :func:`to_levels_array`, rounded."""
    return np.rint(to_levels_array(images)).astype(np.uint8)


def _checked_crops(crops: np.ndarray, size: int) -> np.ndarray:
    array = np.asarray(crops)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[1:] != (size, size, 3) or array.dtype != np.uint8:
        raise ValueError(
            f"expected uint8 RGB crops of shape ({size}, {size}, 3) or (N, {size}, {size}, 3), "
            f"got {array.dtype} {array.shape}"
        )
    return np.ascontiguousarray(array)


def half_precision_error(decoder: torch.nn.Module, latent: torch.Tensor, values: torch.Tensor) -> int:
    """Largest pixel difference (of 255) between ``decoder`` in float32 and in float16."""
    half = copy.deepcopy(decoder).half()
    with torch.inference_mode():
        full = to_uint8(decoder(latent.float(), values.float())).astype(np.int16)
        reduced = to_uint8(half(latent.half(), values.half())).astype(np.int16)
    return int(np.abs(full - reduced).max())


class Engine:
    """A model ready for inference on one device.

    The engine takes the model over: it moves its networks to the device (and
    memory format, and the decoder to float16 when ``half``).

    ``half``: decode in float16. ``None`` (default) decides on CUDA by
    measuring: half is used only if it changes no pixel by more than
    :data:`HALF_MAX_PIXEL_ERROR` on a probe face. ``channels_last``: ``None``
    uses it on CUDA, where it speeds up convolutions, and not on the CPU,
    where it measured slower.

    ``backend``: ``torch``; ``onnx`` (CPU only: export the model if needed,
    :class:`BackendError` if ONNX Runtime cannot run it); ``auto`` (default,
    or ``$FADER_STUDIO_BACKEND``): on the CPU, ONNX Runtime if an export of
    this model is already cached, else torch until :meth:`prepare_onnx` and
    :meth:`use_onnx` switch over. ``cache``: the folder of ONNX exports
    (default: ``onnx`` in the user cache folder).
    """

    def __init__(
        self,
        model: FaderModel,
        device: str | torch.device | None = None,
        *,
        backend: str | None = None,
        half: bool | None = None,
        channels_last: bool | None = None,
        cache: Path | None = None,
    ) -> None:
        if model.encoder is None or model.decoder is None:
            raise FaderStudioError(
                "this model has no encoder and decoder (it is a classifier only), so it cannot edit faces"
            )
        self.model = model
        self.device = device if isinstance(device, torch.device) else choose_device(device)
        self.size = model.image_size
        self.attribute_names = model.attribute_names
        self.channels_last = self.device.type == "cuda" if channels_last is None else channels_last
        self._format = torch.channels_last if self.channels_last else torch.contiguous_format
        for module in model.modules().values():  # one copy each: device and layout together
            module.to(self.device, memory_format=self._format).eval()
        self.encoder = model.encoder
        self.decoder = model.decoder
        self.classifier = model.classifier
        self.half_error: int | None = None
        if half is None and self.device.type == "cuda":
            probe = self._probe_latent()
            values = torch.full((1, len(self.attribute_names)), 0.5, device=self.device)
            self.half_error = half_precision_error(self.decoder, probe, values)
            half = self.half_error <= HALF_MAX_PIXEL_ERROR
        self.half = bool(half)
        self.dtype = torch.float16 if self.half else torch.float32
        if self.half:
            self.decoder.half()
        self.requested_backend = choose_backend(backend)
        self.cache = cache if cache is not None else cache_dir() / "onnx"
        self.onnx: OnnxNetworks | None = None
        #: Why the engine runs on torch although ONNX Runtime was asked for (or could be used).
        self.onnx_problem: str | None = None
        if self.requested_backend != "torch" and self.device.type != "cpu":
            if self.requested_backend == "onnx":
                raise BackendError(f"the ONNX backend runs on the CPU only, not on {self.device_name}")
        elif self.requested_backend != "torch":
            try:
                self.use_onnx(self.prepare_onnx(export=self.requested_backend == "onnx"))
            except BackendError as e:
                if self.requested_backend == "onnx":
                    raise
                self.onnx_problem = str(e)

    @property
    def backend(self) -> str:
        """``onnx`` when the encoder and decoder run on ONNX Runtime, else ``torch``."""
        return "onnx" if self.onnx is not None else "torch"

    @property
    def wants_onnx(self) -> bool:
        """Whether ONNX Runtime could be used but is not yet (an export is worth preparing)."""
        return (
            self.onnx is None
            and self.onnx_problem is None
            and self.requested_backend != "torch"
            and self.device.type == "cpu"
        )

    def prepare_onnx(self, *, export: bool = True) -> OnnxNetworks | None:
        """The model's networks on ONNX Runtime, from the cache or exported (``export``) and checked.

        Safe to call on another thread while this engine runs inference: it
        works on copies of the networks. Raises :class:`BackendError` if ONNX
        Runtime is missing or the export fails or does not match torch.
        """
        return onnx_networks(self.encoder, self.decoder, self.cache, export=export)

    def use_onnx(self, networks: OnnxNetworks | None) -> None:
        """Run the encoder and decoder on ``networks`` from now on (``None``: stay as is)."""
        if networks is not None:
            self.onnx = networks
            self.onnx_problem = None

    @property
    def device_name(self) -> str:
        """Human-readable name of the device in use (for the status bar)."""
        return device_description(self.device)

    @property
    def description(self) -> str:
        """The device and, on the CPU, the backend: ``CPU (2 threads), ONNX Runtime``."""
        if self.device.type != "cpu":
            return self.device_name
        return f"{self.device_name}, {'ONNX Runtime' if self.onnx is not None else 'PyTorch'}"

    def encode(self, crops: np.ndarray) -> torch.Tensor:
        """Latents ``(N, C, L, L)`` on the device, for uint8 RGB crops ``(S, S, 3)`` or ``(N, S, S, 3)``."""
        if self.onnx is not None:
            return torch.from_numpy(self.onnx.encode(to_float_array(crops, self.size)))
        images = self._images(crops)
        with torch.inference_mode():
            return self.encoder(images).to(self.dtype)

    def decode(self, latent: torch.Tensor, values: Values) -> np.ndarray:
        """Crops ``(N, S, S, 3)`` uint8 for latents from :meth:`encode` and fader values.

        ``values`` is a mapping from every attribute name to α, a sequence of
        α in the model's attribute order (applied to every latent), or an
        ``(N, n)`` array with one row per latent.
        """
        alphas = self.values_tensor(values, latent.shape[0])
        if self.onnx is not None:
            return to_uint8_array(self.onnx.decode(latent.numpy(), alphas.numpy()))
        with torch.inference_mode():
            return to_uint8(self.decoder(latent, alphas.to(self.dtype)))

    def decode_levels(self, latent: torch.Tensor, values: Values) -> np.ndarray:
        """:meth:`decode` before rounding: float32 ``(N, S, S, 3)`` in levels of 255, clipped to [0, 255].

        Differences of two decodes keep their fractions of a level this way.
        """
        alphas = self.values_tensor(values, latent.shape[0])
        if self.onnx is not None:
            return to_levels_array(self.onnx.decode(latent.numpy(), alphas.numpy()))
        with torch.inference_mode():
            return to_levels_array(self.decoder(latent, alphas.to(self.dtype)).float().cpu().numpy())

    def classify(self, crops: np.ndarray) -> np.ndarray:
        """Probability ``(N, n)`` that each attribute is present, from the model's classifier."""
        if self.classifier is None:
            raise FaderStudioError("this model has no classifier to estimate attribute values")
        images = self._images(crops)
        with torch.inference_mode():
            return torch.sigmoid(self.classifier(images)).float().cpu().numpy()

    def values_tensor(self, values: Values, batch: int) -> torch.Tensor:
        """Fader values as an ``(batch, n)`` float tensor on the device; ``ValueError`` if malformed."""
        names = self.attribute_names
        if isinstance(values, Mapping):
            unknown = set(values) - set(names)
            missing = [n for n in names if n not in values]
            if unknown or missing:
                raise ValueError(
                    f"values must give exactly the attributes {list(names)}"
                    + (f"; unknown {sorted(unknown)}" if unknown else "")
                    + (f"; missing {missing}" if missing else "")
                )
            values = [float(values[n]) for n in names]
        array = np.array(values, dtype=np.float32)
        if array.ndim == 1:
            array = np.tile(array, (batch, 1))
        if array.shape != (batch, len(names)):
            raise ValueError(
                f"expected {len(names)} values per face for {batch} face(s), got shape {array.shape}"
            )
        if not np.isfinite(array).all():
            raise ValueError("fader values must be finite")
        return torch.from_numpy(array).to(self.device)

    def _images(self, crops: np.ndarray) -> torch.Tensor:
        return to_tensor(crops, self.size, self.device).contiguous(memory_format=self._format)

    def _probe_latent(self) -> torch.Tensor:
        """The latent of a smooth synthetic face-sized image, for the half-precision check."""
        ramp = np.linspace(40, 215, self.size, dtype=np.float32)
        image = np.stack(np.broadcast_arrays(ramp[None, :], ramp[:, None], ramp[::-1][None, :]), axis=-1)
        with torch.inference_mode():
            return self.encoder(self._images(image.astype(np.uint8)))
