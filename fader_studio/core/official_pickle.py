"""Read a whole-module ``torch.save`` pickle without running anything in it.

The official FaderNetworks models are pickles of whole ``nn.Module`` objects,
written by torch 0.3/0.4 in the legacy serialization (a magic number, a
protocol version, system information, the pickled object, the list of storage
keys, then each storage's data) or, by newer torch, as a zip archive
(``*/data.pkl`` and ``*/data/<key>``). Unpickling them the usual way imports
and calls whatever the file names.

:func:`read_module_pickle` understands both layouts with a restricted
unpickler: the only callables it lets the pickle reach are its own tensor and
storage rebuilders and ``OrderedDict``; every other class (the ``src.model``
classes, torch's module classes, torch 0.3 ``_backend`` objects, anything else)
becomes a :class:`Recorded` placeholder that keeps the class name and the
state it was given, and is never called. Names of modules that can run code
(``os``, ``subprocess``, ``builtins`` and the like) are refused outright.
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import ModelFileError, first_line
from .files import file_problem, read_member

#: The magic number and protocol version at the start of a legacy ``torch.save`` file.
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
#: Files larger than this are refused before reading (the official models are about 150 MB).
MAX_FILE_BYTES = 4 << 30
#: The largest pickle (the model's structure, without its tensors) a model file may hold.
MAX_PICKLE_BYTES = 64 << 20

#: Modules whose names a model pickle never needs and that can run code, or reach what can.
REFUSED_MODULES = {
    "os", "posix", "nt", "subprocess", "builtins", "__builtin__", "sys", "importlib", "runpy", "shutil",
    "socket", "pty", "code", "codeop", "types", "ctypes", "multiprocessing", "pickle", "marshal",
    "webbrowser", "platform", "signal", "threading", "asyncio", "functools", "operator", "io", "tempfile",
    "pathlib", "glob", "inspect", "pdb", "timeit", "commands", "popen2", "numpy", "torch.hub",
}  # fmt: skip
#: Builtins that only build plain values (module state holds sets, e.g. of non-persistent buffers).
SAFE_BUILTINS = {
    t.__name__: t
    for t in (
        set,
        frozenset,
        dict,
        list,
        tuple,
        int,
        float,
        bool,
        str,
        bytes,
        bytearray,
        complex,
        slice,
        object,
    )
}
#: Storage classes, by the name pickles give them, and the dtype of their elements.
STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


@dataclass
class Recorded:
    """An object the pickle asked for, kept as data: its class name, arguments and state."""

    qualname: str  # "module.Class"
    args: tuple[Any, ...] = ()
    state: Any = None

    def __setstate__(self, state: Any) -> None:  # the pickle's BUILD: keep the state as data
        self.state = state

    @property
    def attrs(self) -> dict[str, Any]:
        """The object's ``__dict__`` as pickled (empty if it had none)."""
        return self.state if isinstance(self.state, dict) else {}

    def children(self) -> list[Recorded]:
        """A recorded ``nn.Module``'s submodules, in order."""
        modules = self.attrs.get("_modules") or {}
        return [m for m in modules.values() if isinstance(m, Recorded)]

    def tensors(self) -> dict[str, torch.Tensor]:
        """A recorded ``nn.Module``'s own parameters and buffers, by name."""
        found = {}
        for group in ("_parameters", "_buffers"):
            for name, value in (self.attrs.get(group) or {}).items():
                if isinstance(value, torch.Tensor):
                    found[name] = value
        return found

    @property
    def class_name(self) -> str:
        """The class's own name, without its module."""
        return self.qualname.rsplit(".", 1)[-1]


def _placeholder_class(module: str, name: str) -> type:
    """A class standing for ``module.name``: creating or calling it only records."""
    qualname = f"{module}.{name}"

    class Placeholder:
        def __new__(cls, *args: Any) -> Recorded:  # NEWOBJ: cls.__new__(cls, *args)
            return Recorded(qualname, args)

    Placeholder.__qualname__ = Placeholder.__name__ = qualname
    return Placeholder


@dataclass
class _Storage:
    """A storage the pickle refers to; its data is read after the pickle (legacy) or from the zip."""

    key: str
    dtype: type
    numel: int
    data: np.ndarray | None = None


@dataclass
class _Reader:
    """State shared by the unpickler's callbacks for one file."""

    storages: dict[str, _Storage] = field(default_factory=dict)
    tensors: list[tuple[torch.Tensor, _Storage, int, tuple[int, ...], tuple[int, ...]]] = field(
        default_factory=list
    )


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BufferedIOBase, reader: _Reader, path: Path) -> None:
        super().__init__(file, encoding="latin1")  # torch 0.3 pickles were written by Python 2 as well
        self._reader = reader
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if module == "torch._utils" and name in _REBUILDERS:
            return _REBUILDERS[name](self._reader)
        if module == "torch.nn.parameter" and name == "Parameter":
            return _parameter  # torch 0.3 pickled Parameter(data, requires_grad)
        if module == "torch" and name in STORAGE_DTYPES:
            return _storage_type(name)
        if module in ("torch", "torch.storage") and name == "UntypedStorage":
            return _storage_type("ByteStorage")
        if module == "copyreg" and name == "_reconstructor":
            return _reconstructor
        if module in ("builtins", "__builtin__") and name in SAFE_BUILTINS:
            return SAFE_BUILTINS[name]
        if module == "torch" and name == "Size":
            return tuple
        root = module.split(".")[0]
        if module in REFUSED_MODULES or root in REFUSED_MODULES - {"numpy"}:
            raise ModelFileError(
                self._path, f"refused: the file asks for {module}.{name}, which a model never needs"
            )
        return _placeholder_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        if isinstance(pid, tuple) and len(pid) >= 2 and pid[0] == "module":
            return pid[1]  # legacy files name a module's class with its source code: keep the class only
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage" or len(pid) < 5:
            raise ModelFileError(self._path, f"unknown persistent reference {str(pid)[:60]!r}")
        storage_type, key, _location, numel = pid[1:5]
        dtype = getattr(storage_type, "dtype", None)
        if dtype is None or not isinstance(numel, int) or numel < 0:
            raise ModelFileError(self._path, f"unknown storage {str(pid)[:60]!r}")
        key = str(key)
        storage = self._reader.storages.setdefault(key, _Storage(key, dtype, numel))
        view = pid[5] if len(pid) > 5 else None
        if view is not None:  # torch 0.3 storage views: (view key, offset, size)
            raise ModelFileError(self._path, "storage views (torch 0.3 shared storages) are not supported")
        return storage


def _storage_type(name: str) -> type:
    class StorageType:
        dtype = STORAGE_DTYPES[name]

    StorageType.__name__ = name
    return StorageType


def _parameter(data: Any, *_: Any) -> Any:
    """A parameter, pickled as ``Parameter(data, requires_grad)`` or ``_rebuild_parameter``: its tensor."""
    return data


def _reconstructor(cls: Any, base: Any, state: Any = None) -> Any:
    """``copyreg._reconstructor`` for placeholders only (protocol 0/1 pickles)."""
    if isinstance(cls, type) and cls.__new__ is not object.__new__:
        return cls.__new__(cls) if base is object else cls.__new__(cls, state)
    raise pickle.UnpicklingError(f"refused: copyreg._reconstructor of {cls!r}")


def _tensor_rebuilder(reader: _Reader) -> Any:
    def rebuild(storage: Any, offset: Any, size: Any, stride: Any, *_: Any) -> torch.Tensor:
        if not isinstance(storage, _Storage):
            raise pickle.UnpicklingError("a tensor without a storage")
        size = tuple(int(s) for s in size)
        stride = tuple(int(s) for s in stride) if stride is not None else _contiguous(size)
        tensor = torch.empty(size, dtype=torch.from_numpy(np.zeros(0, storage.dtype)).dtype)
        reader.tensors.append((tensor, storage, int(offset), size, stride))
        return tensor  # filled in once the storages are read

    return rebuild


_REBUILDERS = {
    "_rebuild_tensor": _tensor_rebuilder,
    "_rebuild_tensor_v2": _tensor_rebuilder,
    "_rebuild_parameter": lambda _reader: _parameter,
    "_rebuild_parameter_with_state": lambda _reader: _parameter,
}


def _contiguous(size: tuple[int, ...]) -> tuple[int, ...]:
    stride, step = [], 1
    for s in reversed(size):
        stride.insert(0, step)
        step *= max(s, 1)
    return tuple(stride)


#: What a damaged or foreign file makes the reading raise.
UNREADABLE = (
    pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
    struct.error, zipfile.BadZipFile, RuntimeError, UnicodeDecodeError,
)  # fmt: skip


def read_module_pickle(path: str | Path) -> Any:
    """The object pickled in ``path`` by ``torch.save``, with modules as :class:`Recorded` trees.

    Raises :class:`ModelFileError` with one line if the file is not such a
    pickle, is truncated or corrupt, or asks for anything that could run code.
    """
    path = Path(path)
    problem = file_problem(path)
    if problem is not None:
        raise ModelFileError(path, problem)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ModelFileError(path, f"{size / 2**30:.1f} GB is too large for a model")
        raw = path.read_bytes()
    except OSError as e:
        raise ModelFileError(path, f"cannot read: {e.strerror or e}") from e
    reader = _Reader()
    try:
        read = _read_zip if raw[:4] == b"PK\x03\x04" else _read_legacy
        result = read(raw, reader, path)
        _fill_tensors(reader, path)
    except ModelFileError:
        raise
    except UNREADABLE as e:
        raise ModelFileError(path, f"not a readable torch.save file ({first_line(e, named=True)})") from e
    return result


def _read_legacy(raw: bytes, reader: _Reader, path: Path) -> Any:
    stream = io.BytesIO(raw)
    header = _RestrictedUnpickler(stream, reader, path)
    if header.load() != LEGACY_MAGIC:
        raise ModelFileError(path, "not a torch.save file (no magic number)")
    if header.load() != LEGACY_PROTOCOL:
        raise ModelFileError(path, "unknown torch.save protocol version")
    header.load()  # system information: byte order and sizes
    result = _RestrictedUnpickler(stream, reader, path).load()
    keys = _RestrictedUnpickler(stream, reader, path).load()
    if not isinstance(keys, list):
        raise ModelFileError(path, "no list of storages after the pickle")
    for key in keys:
        storage = reader.storages.get(str(key))
        if storage is None:
            raise ModelFileError(path, f"storage {key} is listed but never used")
        (numel,) = struct.unpack("<q", stream.read(8))
        itemsize = np.dtype(storage.dtype).itemsize
        data = stream.read(numel * itemsize)
        if numel < 0 or len(data) != numel * itemsize:
            raise ModelFileError(path, "the file is truncated (a storage's data is missing)")
        storage.data = np.frombuffer(data, dtype=storage.dtype)
    return result


def _read_zip(raw: bytes, reader: _Reader, path: Path) -> Any:
    archive = zipfile.ZipFile(io.BytesIO(raw))
    pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
    if len(pickles) != 1:
        raise ModelFileError(path, "a zip file without exactly one data.pkl (not a torch.save file)")
    prefix = pickles[0][: -len("data.pkl")]
    try:
        pickle = read_member(archive, pickles[0], MAX_PICKLE_BYTES)
        result = _RestrictedUnpickler(io.BytesIO(pickle), reader, path).load()
        for key, storage in reader.storages.items():
            # all a storage can hold; torch.save stores members uncompressed, so never more than the file
            size = min(storage.numel * np.dtype(storage.dtype).itemsize, len(raw))
            data = read_member(archive, f"{prefix}data/{key}", size)
            storage.data = np.frombuffer(data, dtype=storage.dtype)
    except ValueError as e:
        raise ModelFileError(path, str(e)) from None
    return result


def _fill_tensors(reader: _Reader, path: Path) -> None:
    for tensor, storage, offset, size, stride in reader.tensors:
        if storage.data is None:
            raise ModelFileError(path, f"the data of storage {storage.key} is missing")
        needed = offset + sum((s - 1) * st for s, st in zip(size, stride, strict=True)) + 1
        if min(size, default=1) > 0 and (offset < 0 or needed > storage.data.size):
            raise ModelFileError(path, "a tensor reaches past the end of its storage")
        values = np.lib.stride_tricks.as_strided(
            storage.data[offset:],
            shape=size,
            strides=tuple(st * storage.data.itemsize for st in stride),
            writeable=False,
        )
        tensor.copy_(torch.from_numpy(np.array(values)))
