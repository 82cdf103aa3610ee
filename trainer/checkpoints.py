"""Training checkpoints: written whole or not at all, checked before use, the last K kept.

A checkpoint is a folder ``RUN/checkpoints/step-N/`` with

- ``weights.safetensors``: every network's tensors (no pickle);
- ``state.pt``: optimiser and gradient-scaler state and the step, read back
  with ``torch.load(weights_only=True)``, which refuses anything but plain data;
- ``manifest.json``: the size and SHA-256 of both files.

It is written into a hidden ``.step-N.partial`` folder, every file fsync'd,
then renamed into place, so a kill at any moment leaves either the complete
new checkpoint or none. On resume the newest checkpoint whose files match
their manifest and load is used; a damaged one is reported and skipped.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save

from fader_studio.core.atomic import fsync_directory
from fader_studio.core.errors import first_line

FILES = ("weights.safetensors", "state.pt")
_NAME = re.compile(r"^step-(\d+)$")


class CheckpointWarning(UserWarning):
    """A checkpoint could not be used (damaged or unreadable); an older one was taken."""


@dataclass
class Checkpoint:
    """A loaded checkpoint."""

    path: Path
    step: int
    tensors: dict[str, torch.Tensor]
    state: dict[str, Any]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def save_checkpoint(
    folder: Path, step: int, tensors: dict[str, torch.Tensor], state: dict[str, Any], keep: int
) -> Path:
    """Write checkpoint ``step`` into ``folder`` and delete all but the ``keep`` newest; its path.

    Raises ``OSError`` if it cannot be written (a full disk); the checkpoints
    already there are then untouched.
    """
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"step-{step}"
    partial = folder / f".step-{step}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    try:
        cpu = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
        (partial / FILES[0]).write_bytes(save(cpu))  # in memory first: file errors are then OSErrors
        buffer = io.BytesIO()
        torch.save({**state, "step": step}, buffer)
        (partial / FILES[1]).write_bytes(buffer.getvalue())
        manifest = {"step": step}
        for name in FILES:
            _fsync_file(partial / name)
            manifest[name] = {"bytes": (partial / name).stat().st_size, "sha256": _sha256(partial / name)}
        (partial / "manifest.json").write_text(json.dumps(manifest, indent=1))
        _fsync_file(partial / "manifest.json")
        fsync_directory(partial)
        if final.exists():  # the same step saved again (e.g. stopped right after a checkpoint)
            shutil.rmtree(final)
        os.replace(partial, final)
        fsync_directory(folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    for old in checkpoint_paths(folder)[keep:]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def checkpoint_paths(folder: Path) -> list[Path]:
    """The checkpoint folders in ``folder``, newest (highest step) first."""
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name)) and p.is_dir()]
    return [p for _, p in sorted(found, reverse=True)]


def read_checkpoint(path: Path) -> Checkpoint:
    """Load and check one checkpoint folder; ``ValueError`` with the reason if it is damaged."""
    try:
        manifest = json.loads((path / "manifest.json").read_text())
        for name in FILES:
            expected = manifest[name]
            file = path / name
            if file.stat().st_size != expected["bytes"]:
                raise ValueError(f"{name} has {file.stat().st_size} bytes, {expected['bytes']} were written")
            if _sha256(file) != expected["sha256"]:
                raise ValueError(f"{name} does not match its checksum")
        tensors = load_file(path / FILES[0])
        state = torch.load(path / FILES[1], map_location="cpu", weights_only=True)
    except (OSError, KeyError, TypeError, json.JSONDecodeError, RuntimeError) as e:
        raise ValueError(first_line(e, named=True)) from None
    if state.get("step") != manifest.get("step"):
        raise ValueError("its state and manifest disagree about the step")
    return Checkpoint(path=path, step=int(state["step"]), tensors=tensors, state=state)


def latest_checkpoint(folder: Path) -> Checkpoint | None:
    """The newest usable checkpoint in ``folder`` (warning about each damaged one), or None."""
    for path in checkpoint_paths(folder):
        try:
            return read_checkpoint(path)
        except ValueError as e:
            warnings.warn(
                f"checkpoint {path.name} is damaged ({e}); trying an older one", CheckpointWarning, 2
            )
    return None
