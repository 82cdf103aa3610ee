"""Fader presets: a look saved by name and applied to any face, of any photo, with any model.

A preset is a small JSON file in ``presets/`` of the user data folder::

    {"format": "fader-studio-preset", "version": 1, "name": "A bit more smile",
     "relative": true, "model": {"name": "default", "attributes": ["Male", "Smiling", "Young"]},
     "values": {"Smiling": 0.3}}

An *absolute* preset sets each fader to its value. A *relative* one moves
each fader by its value from the face's own estimate (the classifier's),
which is what "a bit more smile on every face" means. Faders the preset does
not name keep the face's own value. ``model`` records where the look was
made; a model without one of the preset's attributes applies the others and
says which it skipped (:meth:`Preset.apply`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import paths
from .atomic import atomic_write_bytes
from .attributes import MAX_ABS_VALUE, AttributeSpec
from .errors import FaderStudioError
from .files import file_problem

FORMAT = "fader-studio-preset"
VERSION = 1
SUFFIX = ".json"
#: A preset file larger than this is not one (a preset holds a few dozen numbers).
MAX_BYTES = 64 * 1024
MAX_NAME = 80
#: Values are kept to this many decimals (a fader's step is 0.01).
DECIMALS = 4


class PresetError(FaderStudioError):
    """A preset that cannot be read, written or found."""


@dataclass(frozen=True)
class Applied:
    """A preset applied to one face: every fader's value, and the preset's attributes the model lacks."""

    values: dict[str, float]
    skipped: tuple[str, ...]


@dataclass(frozen=True)
class Preset:
    """A named look: fader values, absolute or relative to each face's own estimate."""

    name: str
    values: dict[str, float]
    relative: bool = False
    model_name: str = ""
    model_attributes: tuple[str, ...] = field(default=())

    @classmethod
    def from_face(
        cls,
        name: str,
        values: Mapping[str, float],
        start: Mapping[str, float],
        *,
        relative: bool,
        model_name: str = "",
    ) -> Preset:
        """The look of a face whose faders show ``values`` and whose own estimate is ``start``.

        A relative preset keeps only the faders that were moved, as their
        offsets; an absolute one keeps every fader.
        """
        if relative:
            kept = {n: round(v - start[n], DECIMALS) for n, v in values.items() if v != start.get(n, v)}
        else:
            kept = {n: round(float(v), DECIMALS) for n, v in values.items()}
        return cls(check_name(name), kept, relative, model_name, tuple(values))

    def apply(self, specs: Sequence[AttributeSpec], start: Mapping[str, float]) -> Applied:
        """Every fader of a face with own estimate ``start``, for a model with ``specs``.

        Values are clipped to each fader's range; faders the preset does not
        name keep their value in ``start``.
        """
        values = {spec.name: float(start.get(spec.name, spec.default)) for spec in specs}
        ranges = {spec.name: (spec.min, spec.max) for spec in specs}
        for name, value in self.values.items():
            if name in ranges:
                low, high = ranges[name]
                target = values[name] + value if self.relative else value
                values[name] = round(min(max(target, low), high), DECIMALS)
        skipped = tuple(name for name in self.values if name not in ranges)
        return Applied(values, skipped)

    def describe(self) -> str:
        """One line: what the preset does (``Smile +0.30, Male 0.00``)."""
        from .attributes import attribute_label

        sign = "+" if self.relative else ""
        parts = [f"{attribute_label(n)} {v:{sign}.2f}" for n, v in self.values.items()]
        kind = "relative to each face" if self.relative else "absolute"
        return f"{', '.join(parts) or 'no change'} ({kind})"

    def to_json(self) -> dict[str, Any]:
        """The preset as the JSON object its file holds."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "name": self.name,
            "relative": self.relative,
            "model": {"name": self.model_name, "attributes": list(self.model_attributes)},
            "values": dict(self.values),
        }

    @classmethod
    def from_json(cls, data: Any, where: str) -> Preset:
        """The preset in a parsed preset file; :class:`PresetError` naming ``where`` if it is not one."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise PresetError(f"{where}: not a Fader Studio preset")
        if data.get("version") != VERSION:
            raise PresetError(f"{where}: preset version {data.get('version')!r} is not supported")
        values = data.get("values")
        if not isinstance(values, dict) or not all(isinstance(k, str) for k in values):
            raise PresetError(f"{where}: 'values' must map attribute names to numbers")
        for name, value in values.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise PresetError(f"{where}: the value of {name[:40]!r} is not a finite number")
            if abs(value) > 2 * MAX_ABS_VALUE:
                raise PresetError(f"{where}: the value of {name[:40]!r} ({value:g}) is out of range")
        model = data.get("model") if isinstance(data.get("model"), dict) else {}
        attributes = model.get("attributes", [])
        model_name = model.get("name", "")
        if not isinstance(attributes, list) or not all(isinstance(a, str) for a in attributes):
            attributes = []
        relative = data.get("relative", False)
        if not isinstance(relative, bool):
            raise PresetError(f"{where}: 'relative' must be true or false")
        try:
            name = check_name(data.get("name"))
        except PresetError as e:
            raise PresetError(f"{where}: {e}") from None
        return cls(
            name,
            {k: float(v) for k, v in values.items()},
            relative,
            model_name if isinstance(model_name, str) else "",
            tuple(attributes),
        )


def check_name(name: Any) -> str:
    """``name`` stripped, if it can name a preset; :class:`PresetError` otherwise."""
    if not isinstance(name, str) or not name.strip():
        raise PresetError("a preset needs a name")
    name = name.strip()
    if len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
        raise PresetError(f"a preset name is one line of at most {MAX_NAME} characters")
    return name


def presets_dir() -> Path:
    """Where presets are kept: ``presets/`` in the user data folder."""
    return paths.data_dir() / "presets"


def read_preset(path: str | Path) -> Preset:
    """The preset in the file at ``path``; :class:`PresetError` with the file and reason otherwise."""
    path = Path(path)
    problem = file_problem(path)
    if problem is not None:
        raise PresetError(f"{path}: {'no such preset file' if problem == 'no such file' else problem}")
    try:
        if path.stat().st_size > MAX_BYTES:
            raise PresetError(f"{path}: too large to be a preset")
        data = json.loads(path.read_text(encoding="utf-8"))
    except PresetError:
        raise
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise PresetError(f"{path}: not a readable preset ({type(e).__name__})") from None
    return Preset.from_json(data, str(path))


def save_preset(preset: Preset, *, replace: bool = False) -> Path:
    """Write ``preset`` to the presets folder (atomically); ``replace`` lets it overwrite its namesake."""
    existing = preset_path(preset.name)
    if existing is not None and not replace:
        raise PresetError(f"a preset named {preset.name!r} exists; choose another name")
    folder = presets_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise PresetError(f"{folder}: cannot make the presets folder ({e.strerror or e})") from None
    target = existing or paths.free_path(folder, _file_stem(preset.name), SUFFIX)
    data = (json.dumps(preset.to_json(), indent=2) + "\n").encode()
    atomic_write_bytes(target, data, lambda reason: PresetError(f"{target}: {reason}"))
    return target


def list_presets() -> list[tuple[Path, Preset]]:
    """The saved presets by name (files that are not presets are left out)."""
    folder = presets_dir()
    found = []
    for path in sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []:
        try:
            found.append((path, read_preset(path)))
        except PresetError:
            continue
    return sorted(found, key=lambda item: item[1].name.lower())


def _saved(name: str) -> tuple[Path, Preset] | None:
    """The saved preset called ``name`` (any case) and its file, or ``None``."""
    wanted = name.strip().lower()
    return next(((path, p) for path, p in list_presets() if p.name.lower() == wanted), None)


def preset_path(name: str) -> Path | None:
    """The file of the saved preset called ``name`` (any case), or ``None``."""
    saved = _saved(name)
    return None if saved is None else saved[0]


def find_preset(name_or_file: str) -> Preset:
    """A saved preset by name, or the preset in a file; :class:`PresetError` naming the choices."""
    saved = _saved(name_or_file)
    if saved is not None:
        return saved[1]
    if Path(name_or_file).suffix.lower() == SUFFIX or Path(name_or_file).exists():
        return read_preset(name_or_file)
    names = [p.name for _, p in list_presets()]
    have = f"saved presets: {', '.join(names)}" if names else "no presets are saved yet"
    raise PresetError(f"no preset named {name_or_file!r} ({have})")


def rename_preset(old: str, new: str) -> Path:
    """Give the saved preset ``old`` the name ``new``."""
    saved = _saved(old)
    if saved is None:
        raise PresetError(f"no preset named {old!r}")
    path, preset = saved
    new = check_name(new)
    if new.lower() != preset.name.lower() and preset_path(new) is not None:
        raise PresetError(f"a preset named {new!r} exists; choose another name")
    renamed = dataclasses.replace(preset, name=new)
    if new.lower() == preset.name.lower():
        return save_preset(renamed, replace=True)
    target = save_preset(renamed)  # written before the old one goes: a failure loses nothing
    path.unlink()
    return target


def delete_preset(name: str) -> None:
    """Remove the saved preset ``name``."""
    path = preset_path(name)
    if path is None:
        raise PresetError(f"no preset named {name!r}")
    path.unlink()


def _file_stem(name: str) -> str:
    """A file name for a preset called ``name``: letters, digits, dashes and underscores."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:40] or "preset"
