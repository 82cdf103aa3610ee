"""ONNX Runtime for the encoder and decoder on the CPU: export once, check against torch, reuse.

On a CPU, ONNX Runtime runs the decoder about twice as fast as torch eager
(``python -m bench.render``). :func:`onnx_networks` exports a model's encoder
and decoder to ONNX (torch's ``torch.export``-based exporter) the first time
they are needed, into the user cache folder under a key that hashes their
architecture and weights, so a model file that is copied, renamed or reinstalled
reuses its export and a retrained one never meets a stale one. Every time an
export is loaded, it is run beside torch on a random input and used only if
both agree within :data:`TOLERANCE`: a corrupt, truncated or stale cache entry
is detected, deleted and made again. Torch stays the reference; when ONNX
Runtime is missing or export fails, :class:`~fader_studio.core.engine.Engine`
keeps using torch.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .atomic import atomic_write_bytes
from .errors import BackendError, first_line

log = logging.getLogger(__name__)

#: Part of every cache key: bump it when what is exported changes.
EXPORT_VERSION = 1
#: Largest difference allowed between ONNX Runtime and torch (images in [-1, 1]; latents relative).
TOLERANCE = 1e-4
#: Faces a session accepts in one call (the exported batch dimension's upper bound).
MAX_BATCH = 256


def onnxruntime_missing() -> str | None:
    """Why ONNX Runtime cannot be used here, or ``None`` if it can."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError as e:
        return f"ONNX Runtime is not installed ({e})"
    return None


def network_key(encoder: torch.nn.Module, decoder: torch.nn.Module) -> str:
    """A hex digest of both networks' architecture and weights: the name of their cache entry."""
    digest = hashlib.sha256(f"fader-onnx-{EXPORT_VERSION}".encode())
    for prefix, module in (("encoder", encoder), ("decoder", decoder)):
        config = module.config.to_json() if hasattr(module, "config") else {}
        digest.update(json.dumps([prefix, type(module).__name__, config], sort_keys=True).encode())
        for name, tensor in module.state_dict().items():
            array = tensor.detach().to("cpu", torch.float32).contiguous().numpy()
            digest.update(f"{name}{array.shape}".encode())
            digest.update(array.tobytes())
    return digest.hexdigest()[:32]


class OnnxNetworks:
    """An encoder and a decoder as ONNX Runtime sessions on the CPU, with torch's calling conventions."""

    def __init__(self, encoder_path: Path, decoder_path: Path) -> None:
        """Open both files, with as many intra-op threads as torch uses."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        # Idle threads sleep instead of spinning: spinning saves about 1 ms a decode but takes a core
        # from the UI thread and from OpenCV's compositing between fader moves.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # errors only
        providers = ["CPUExecutionProvider"]
        self.encoder = ort.InferenceSession(str(encoder_path), options, providers=providers)
        self.decoder = ort.InferenceSession(str(decoder_path), options, providers=providers)

    def encode(self, images: np.ndarray) -> np.ndarray:
        """Latents ``(N, C, L, L)`` for float32 images ``(N, 3, S, S)`` in [-1, 1]."""
        return self.encoder.run(None, {"images": np.ascontiguousarray(images, np.float32)})[0]

    def decode(self, latent: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Float32 images ``(N, 3, S, S)`` in [-1, 1] for latents and fader values ``(N, n)``."""
        inputs = {
            "latent": np.ascontiguousarray(latent, np.float32),
            "values": np.ascontiguousarray(values, np.float32),
        }
        return self.decoder.run(None, inputs)[0]


def onnx_networks(
    encoder: torch.nn.Module,
    decoder: torch.nn.Module,
    folder: Path,
    *,
    export: bool = True,
) -> OnnxNetworks | None:
    """The networks as checked ONNX Runtime sessions, from the cache in ``folder`` or exported into it.

    With ``export=False`` only an existing, valid cache entry is used
    (``None`` if there is none). A cache entry that does not load or does not
    match torch is deleted (and exported again with ``export``). Raises
    :class:`BackendError` if ONNX Runtime is missing or a fresh export does
    not match. Works on copies of the modules, so the caller may keep running
    them on another thread meanwhile.
    """
    missing = onnxruntime_missing()
    if missing:
        raise BackendError(missing)
    _quiet_exporter_warnings()  # copying a module warns too, once torch.export has run in this process
    encoder, decoder = _cpu_copy(encoder), _cpu_copy(decoder)
    key = network_key(encoder, decoder)
    paths = folder / f"{key}-encoder.onnx", folder / f"{key}-decoder.onnx"
    if all(p.is_file() for p in paths):
        try:
            return _checked(OnnxNetworks(*paths), encoder, decoder)
        except Exception as e:  # noqa: BLE001 (onnxruntime raises its own exception types)
            log.warning(
                "ONNX cache entry %s is unusable, making it again: %s", key, first_line(e, named=True)
            )
            for p in paths:
                p.unlink(missing_ok=True)
    if not export:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BackendError(f"cannot create the ONNX cache folder {folder}: {e.strerror or e}") from e
    images, latent, values = _example_inputs(encoder, decoder)
    _export(encoder, (images,), ("images",), "latent", paths[0])
    _export(decoder, (latent, values), ("latent", "values"), "image", paths[1])
    try:
        return _checked(OnnxNetworks(*paths), encoder, decoder)
    except BackendError:
        raise
    except Exception as e:  # noqa: BLE001
        raise BackendError(f"ONNX Runtime cannot run the exported model: {first_line(e, named=True)}") from e


def _cpu_copy(module: torch.nn.Module) -> torch.nn.Module:
    return copy.deepcopy(module).to("cpu", torch.float32, memory_format=torch.contiguous_format).eval()


def _example_inputs(
    encoder: torch.nn.Module, decoder: torch.nn.Module
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random images, latents and values of two faces (seeded: the check is repeatable)."""
    generator = torch.Generator().manual_seed(0)
    size = encoder.config.image_size
    images = torch.rand((2, 3, size, size), generator=generator) * 2 - 1
    with torch.inference_mode():
        latent = encoder(images)
    values = torch.rand((2, decoder.n_attributes), generator=generator) * 2 - 0.5
    return images, latent.clone(), values


def _export(
    module: torch.nn.Module, inputs: tuple[torch.Tensor, ...], names: tuple[str, ...], output: str, path: Path
) -> None:
    """Export ``module`` with a dynamic batch dimension to ``path`` (atomically)."""
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    exporter_log = logging.getLogger("torch.onnx")
    level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)  # it warns about optional torchvision operators
    try:
        program: Any = torch.onnx.export(
            module,
            inputs,
            dynamo=True,
            input_names=list(names),
            output_names=[output],
            dynamic_shapes=tuple({0: batch} for _ in inputs),
            verbose=False,
        )
        data = program.model_proto.SerializeToString()
    except Exception as e:  # noqa: BLE001 (the exporter and onnxscript raise many types)
        raise BackendError(f"cannot export the model to ONNX: {first_line(e, named=True)}") from e
    finally:
        exporter_log.setLevel(level)
    atomic_write_bytes(path, data, lambda reason: BackendError(f"{path}: {reason}"))


def _quiet_exporter_warnings() -> None:
    """Silence the exporter's own deprecation chatter (not ours to fix; users cannot act on it).

    Filters are added, never saved and restored: the export may run on a
    background thread, where ``warnings.catch_warnings`` would race the main thread.
    Adding the same filter again replaces it, so calling this per export is harmless.
    """
    warnings.filterwarnings("ignore", message=r".*treespec.*LeafSpec", category=FutureWarning)
    warnings.filterwarnings("ignore", message=r"# The axis name: .* will not be used", category=UserWarning)


def _checked(networks: OnnxNetworks, encoder: torch.nn.Module, decoder: torch.nn.Module) -> OnnxNetworks:
    """``networks`` if they compute what torch computes on random input; :class:`BackendError` if not."""
    images, latent, values = _example_inputs(encoder, decoder)
    with torch.inference_mode():
        decoded = decoder(latent, values).numpy()
    for what, ours, reference in (
        ("encoder", networks.encode(images.numpy()), latent.numpy()),
        ("decoder", networks.decode(latent.numpy(), values.numpy()), decoded),
    ):
        if ours.shape != reference.shape:
            raise BackendError(f"the ONNX {what} gives shape {ours.shape}, torch {reference.shape}")
        error = float(np.abs(ours - reference).max()) / max(1.0, float(np.abs(reference).max()))
        if not error <= TOLERANCE:
            raise BackendError(f"the ONNX {what} differs from torch by {error:.2g} (> {TOLERANCE:g})")
    return networks
