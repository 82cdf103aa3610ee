"""``.fader`` model files: one safetensors file, tensors plus JSON metadata.

Layout (DESIGN §4):

- tensors ``encoder.*`` and ``decoder.*`` (together or not at all) and
  ``classifier.*`` (optional; a classifier-only file is a classifier model);
- metadata strings ``format`` (``fader-studio/1``), ``config`` (the
  :class:`NetworkConfig` as JSON, with the classifier's under ``classifier``),
  ``attributes`` (list of :class:`AttributeSpec`), ``template`` (5 landmarks
  in crop coordinates) and ``training`` (free-form JSON object).

Loading never unpickles anything: the header is parsed and checked here
(format, every tensor's name, dtype, shape and byte range against the config)
before the tensors are copied out of the file, and all values must be finite.
Every problem becomes a :class:`ModelFileError` with a one-line reason.
"""

from __future__ import annotations

import json
import math
import os
import struct
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save as save_tensors_to_bytes

from .atomic import atomic_write_bytes
from .attributes import AttributeSpec
from .errors import ModelFileError, first_line
from .files import file_problem
from .network import Classifier, Decoder, Encoder, NetworkConfig
from .template import Points, default_template, template_name, validate_template

FORMAT = "fader-studio/1"
FORMAT_PREFIX = "fader-studio/"
#: A real header is a few tens of kB; anything near this is hostile or corrupt.
MAX_HEADER_BYTES = 16 * 1024 * 1024
#: The paper's 256-px model is 68 MB; a file far larger is not a model (and is
#: refused before it is read into memory).
MAX_FILE_BYTES = 2 * 1024**3
#: The most faders a model may have (CelebA has 40); thousands would freeze the editor's panel.
MAX_ATTRIBUTES = 100

_DTYPE_CODES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64"}
_CODE_DTYPES = {code: dtype for dtype, code in _DTYPE_CODES.items()}
#: Weights may be stored in half precision (a file half the size); they are float32 once loaded.
_STORED_AS = {torch.float32: ("F32", "F16")}
PARTS = ("encoder", "decoder", "classifier")


@dataclass
class FaderModel:
    """A Fader model: its networks (in eval mode on load) and its metadata."""

    config: NetworkConfig
    attributes: tuple[AttributeSpec, ...]
    encoder: Encoder | None = None
    decoder: Decoder | None = None
    classifier: Classifier | None = None
    classifier_config: NetworkConfig | None = None
    template: Points = field(default_factory=list)
    training: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.template:
            self.template = default_template(self.config.image_size)
        if (self.encoder is None) != (self.decoder is None):
            raise ValueError("a model has both an encoder and a decoder, or neither")
        if self.encoder is None and self.classifier is None:
            raise ValueError("a model needs an encoder and decoder, a classifier, or both")
        if self.classifier is not None and self.classifier_config is None:
            self.classifier_config = self.classifier.config

    @classmethod
    def create(
        cls,
        config: NetworkConfig,
        attributes: Sequence[AttributeSpec | str],
        *,
        autoencoder: bool = True,
        classifier_config: NetworkConfig | None = None,
        template: Points | None = None,
        training: dict[str, Any] | None = None,
    ) -> FaderModel:
        """A new, untrained model (freshly initialised weights) in eval mode.

        ``attributes`` may be names (given their standard label and range).
        ``classifier_config`` adds a classifier with that architecture.
        """
        specs = tuple(a if isinstance(a, AttributeSpec) else AttributeSpec.for_name(a) for a in attributes)
        n = len(specs)
        model = cls(
            config=config,
            attributes=specs,
            encoder=Encoder(config) if autoencoder else None,
            decoder=Decoder(config, n) if autoencoder else None,
            classifier=Classifier(classifier_config, n) if classifier_config else None,
            classifier_config=classifier_config,
            template=template or [],
            training=dict(training or {}),
        )
        model.eval()
        return model

    @property
    def attribute_names(self) -> tuple[str, ...]:
        """The names of the attributes, in the decoder's order."""
        return tuple(a.name for a in self.attributes)

    @property
    def image_size(self) -> int:
        """The side of the square crops the model reads and writes."""
        return self.config.image_size

    def modules(self) -> dict[str, torch.nn.Module]:
        """The networks this model has, by part name."""
        parts = {"encoder": self.encoder, "decoder": self.decoder, "classifier": self.classifier}
        return {name: module for name, module in parts.items() if module is not None}

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Every network's tensors, named ``part.name`` as in the model file."""
        return {
            f"{part}.{name}": tensor
            for part, module in self.modules().items()
            for name, tensor in module.state_dict().items()
        }

    def eval(self) -> FaderModel:
        """Put every network in inference mode (frozen normalisation statistics)."""
        for module in self.modules().values():
            module.eval()
        return self

    def to(self, device: torch.device | str) -> FaderModel:
        """Move every network to ``device`` (in place) and return the model."""
        for module in self.modules().values():
            module.to(device)
        return self

    def metadata(self) -> dict[str, Any]:
        """The metadata as plain JSON values (what ``fader-studio info`` prints)."""
        config = self.config.to_json()
        if self.classifier_config is not None:
            config["classifier"] = self.classifier_config.to_json()
        return {
            "format": FORMAT,
            "config": config,
            "attributes": [a.to_json() for a in self.attributes],
            "template": self.template,
            "training": self.training,
        }


def save_model(model: FaderModel, path: str | Path, *, half: bool = False) -> Path:
    """Write ``model`` to ``path`` atomically (a crash never leaves a partial file).

    ``half`` stores the float32 tensors as float16, for a file half the size
    (the loaded model computes in float32 all the same).

    The data goes to a temporary file beside ``path``, is flushed and fsync'd,
    then renamed over ``path``. Raises :class:`ModelFileError` if it cannot be
    written (no space, no permission); any previous file at ``path`` is kept.
    """
    path = Path(path)
    tensors = {name: tensor.detach().to("cpu").contiguous() for name, tensor in model.state_dict().items()}
    if half:
        tensors = {n: t.half() if t.dtype == torch.float32 else t for n, t in tensors.items()}
        overflow = next(
            (n for n, t in tensors.items() if t.is_floating_point() and not t.isfinite().all()), None
        )
        if overflow is not None:  # loading would refuse the file: say so now, and write nothing
            raise ModelFileError(
                path, f"tensor {overflow} holds values too large for half precision; save it whole"
            )
    metadata = {
        key: value if isinstance(value, str) else json.dumps(value, allow_nan=False)
        for key, value in model.metadata().items()
    }
    data = save_tensors_to_bytes(tensors, metadata=metadata)
    atomic_write_bytes(path, data, error=lambda reason: ModelFileError(path, reason))
    return path


def load_model(path: str | Path, device: torch.device | str = "cpu") -> FaderModel:
    """Read, validate and build the model in ``path``, in eval mode on ``device``.

    Raises :class:`ModelFileError` with a one-line reason for anything that is
    not a valid Fader Studio model; nothing in the file is ever executed.
    """
    path = Path(path)
    raw = _read_file(path)
    header, data_start = _parse_header(path, raw)
    metadata = header.pop("__metadata__", None)
    model = _model_from_metadata(path, metadata, header)
    expected = _expected_tensors(model)
    _check_tensor_table(path, header, expected, len(raw) - data_start)
    tensors = _tensors_in(raw, data_start, header, expected)
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ModelFileError(path, f"tensor {name} contains NaN or infinite values")
    for part, module in model.modules().items():
        prefix = part + "."
        state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        module.load_state_dict(state, strict=True, assign=True)
    return model.to(device).eval()


def model_info(path: str | Path) -> dict[str, Any]:
    """Validate the model in ``path`` and describe it (metadata, parts, sizes) as JSON values."""
    path = Path(path)
    model = load_model(path)
    info = model.metadata()
    info["framing"] = template_name(model.template, model.image_size)
    modules = model.modules()
    info["parts"] = list(modules)
    info["parameters"] = {
        name: sum(p.numel() for p in module.parameters()) for name, module in modules.items()
    }
    info["file_bytes"] = path.stat().st_size
    return _json_safe(info)


def _json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities (which JSON cannot hold) as ``None``."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _read_file(path: Path) -> bytearray:
    """The whole file, read into one buffer (a writable one, as ``torch.frombuffer`` wants)."""
    problem = file_problem(path)
    if problem is not None:
        raise ModelFileError(path, problem)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > MAX_FILE_BYTES:
                raise ModelFileError(path, f"too large to be a model ({size / 1024**3:.1f} GB)")
            raw = bytearray(size)
            del raw[f.readinto(raw) :]  # in place: the file may have shrunk meanwhile
    except FileNotFoundError:
        raise ModelFileError(path, "no such file") from None
    except OSError as e:
        raise ModelFileError(path, f"cannot read: {e.strerror or e}") from None
    if not raw:
        raise ModelFileError(path, "empty file (0 bytes)")
    return raw


def _parse_header(path: Path, raw: bytearray) -> tuple[dict[str, Any], int]:
    """The safetensors header as a dict, and where the tensor data starts."""
    kind = _foreign_kind(raw)
    if kind:
        raise ModelFileError(
            path, f"is {kind}, not a Fader Studio model; it is refused because such files can run code"
        )
    if len(raw) < 8:
        raise ModelFileError(path, f"truncated: only {len(raw)} bytes")
    (size,) = struct.unpack("<Q", raw[:8])
    if size > MAX_HEADER_BYTES or size < 2:
        raise ModelFileError(path, "not a Fader Studio model file (no safetensors header)")
    if 8 + size > len(raw):
        raise ModelFileError(path, f"truncated: the header needs {8 + size} bytes, the file has {len(raw)}")
    try:
        header = json.loads(raw[8 : 8 + size].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ModelFileError(path, "not a Fader Studio model file (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise ModelFileError(path, "not a Fader Studio model file (its header is not a JSON object)")
    return header, 8 + size


def _foreign_kind(raw: bytearray) -> str | None:
    """Recognise files users commonly mistake for models, by their magic bytes."""
    if raw[:1] == b"\x80" and raw[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "a Python pickle"
    if raw[:4] == b"PK\x03\x04":
        return "a zip archive (such as a PyTorch .pt/.pth checkpoint, which holds a pickle)"
    return None


def _model_from_metadata(path: Path, metadata: Any, header: dict[str, Any]) -> FaderModel:
    """Check the metadata and build the model's networks, empty (on the meta device), to load into."""
    if not isinstance(metadata, dict) or "format" not in metadata:
        raise ModelFileError(path, "not a Fader Studio model (no format in its metadata)")
    fmt = metadata["format"]
    if fmt != FORMAT:
        if isinstance(fmt, str) and fmt.startswith(FORMAT_PREFIX):
            raise ModelFileError(
                path, f"format {fmt!r} is not supported (this version reads {FORMAT!r}); update Fader Studio"
            )
        raise ModelFileError(path, f"not a Fader Studio model (format {str(fmt)[:60]!r})")
    values = {}
    for key in ("config", "attributes", "template", "training"):
        if key not in metadata:
            raise ModelFileError(path, f"metadata has no {key!r}")
        try:
            values[key] = json.loads(metadata[key])
        except (TypeError, ValueError, RecursionError):
            raise ModelFileError(path, f"metadata {key!r} is not valid JSON") from None
    try:
        if not isinstance(values["config"], dict):
            raise ValueError("config must be a JSON object")
        config_data = dict(values["config"])
        classifier_data = config_data.pop("classifier", None)
        config = NetworkConfig.from_json(config_data)
        classifier_config = None
        if classifier_data is not None:
            classifier_config = NetworkConfig.from_json(classifier_data)
            if classifier_config.image_size != config.image_size:
                raise ValueError("the classifier's image size differs from the model's")
        if not isinstance(values["attributes"], list) or not values["attributes"]:
            raise ValueError("attributes must be a non-empty list")
        if len(values["attributes"]) > MAX_ATTRIBUTES:
            raise ValueError(
                f"{len(values['attributes'])} attributes; a model may have at most {MAX_ATTRIBUTES}"
            )
        attributes = tuple(AttributeSpec.from_json(a) for a in values["attributes"])
        names = [a.name for a in attributes]
        if len(set(names)) != len(names):
            raise ValueError("attribute names repeat")
        template = validate_template(values["template"], config.image_size)
        if not isinstance(values["training"], dict):
            raise ValueError("training must be a JSON object")
    except (ValueError, OverflowError) as e:  # OverflowError: an integer too large for a float (10**400)
        raise ModelFileError(path, f"bad metadata: {first_line(e)}") from None
    parts = {name.split(".", 1)[0] for name in header}
    unknown = parts - set(PARTS)
    if unknown:
        raise ModelFileError(path, f"unexpected tensors {sorted(unknown)[0]!r}.*")
    if ("encoder" in parts) != ("decoder" in parts):
        raise ModelFileError(path, "has an encoder or a decoder but not both")
    if "classifier" in parts and classifier_config is None:
        raise ModelFileError(path, "has classifier tensors but no classifier config")
    if not parts & set(PARTS):
        raise ModelFileError(path, "holds no networks")
    with torch.device("meta"):  # no memory, no random init: load_model assigns the real tensors
        return FaderModel.create(
            config,
            attributes,
            autoencoder="encoder" in parts,
            classifier_config=classifier_config if "classifier" in parts else None,
            template=template,
            training=values["training"],
        )


def _expected_tensors(model: FaderModel) -> dict[str, tuple[torch.dtype, tuple[int, ...]]]:
    return {name: (tensor.dtype, tuple(tensor.shape)) for name, tensor in model.state_dict().items()}


def _check_tensor_table(
    path: Path,
    header: dict[str, Any],
    expected: dict[str, tuple[torch.dtype, tuple[int, ...]]],
    data_size: int,
) -> None:
    """Every tensor present with an allowed dtype, the right shape and a byte range inside the file."""
    missing = sorted(set(expected) - set(header))
    if missing:
        raise ModelFileError(path, f"tensor {missing[0]} is missing ({len(missing)} missing in all)")
    extra = sorted(set(header) - set(expected))
    if extra:
        raise ModelFileError(path, f"unexpected tensor {extra[0]}")
    ranges = []
    for name, (expected_dtype, shape) in expected.items():
        entry = header[name]
        if not isinstance(entry, dict):
            raise ModelFileError(path, f"tensor {name} has a malformed header entry")
        codes = _STORED_AS.get(expected_dtype, (_DTYPE_CODES[expected_dtype],))
        if entry.get("dtype") not in codes:
            allowed = " or ".join(repr(c) for c in codes)
            raise ModelFileError(path, f"tensor {name} has dtype {entry.get('dtype')!r}, expected {allowed}")
        dtype = _CODE_DTYPES[entry["dtype"]]
        got = entry.get("shape")
        if not isinstance(got, list) or tuple(got) != shape:
            raise ModelFileError(path, f"tensor {name} has shape {got}, expected {list(shape)}")
        offsets = entry.get("data_offsets")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
            or offsets[1] - offsets[0] != math.prod(shape) * dtype.itemsize
            or offsets[0] < 0
        ):
            raise ModelFileError(path, f"tensor {name} has bad data offsets {offsets}")
        ranges.append(tuple(offsets))
    end = _check_contiguous(path, ranges)
    if end > data_size:
        raise ModelFileError(path, f"truncated: tensor data needs {end} bytes, the file has {data_size}")
    if end < data_size:
        raise ModelFileError(path, f"{data_size - end} unexpected bytes after the tensor data")


def _tensors_in(
    raw: bytearray,
    data_start: int,
    header: dict[str, Any],
    expected: dict[str, tuple[torch.dtype, tuple[int, ...]]],
) -> dict[str, torch.Tensor]:
    """Writable tensors of the expected dtypes with their own (aligned) memory, copied out of ``raw``.

    Each is converted from the dtype it is stored in. ``raw`` was checked by
    :func:`_check_tensor_table`. Copying matters: a view into the file buffer
    is only 8-byte aligned, and CPU kernels then take other code paths whose
    results differ in the last bits.
    """
    if sys.byteorder != "little":  # safetensors data is little-endian
        raise NotImplementedError("loading models on big-endian machines is not supported")
    return {
        name: torch.frombuffer(
            raw,
            dtype=_CODE_DTYPES[header[name]["dtype"]],
            count=math.prod(shape),
            offset=data_start + header[name]["data_offsets"][0],
        )
        .reshape(shape)
        .to(dtype, copy=True)
        for name, (dtype, shape) in expected.items()
    }


def _check_contiguous(path: Path, ranges: Iterable[tuple[int, int]]) -> int:
    position = 0
    for begin, end in sorted(ranges):
        if begin != position:
            raise ModelFileError(path, "tensor data ranges overlap or leave gaps")
        position = end
    return position
