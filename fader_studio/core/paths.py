"""Where Fader Studio keeps its files (DESIGN §6), each overridable by an environment variable.

Models live in the user data folder, settings in the user config folder,
files the app can make again (ONNX exports of models) in the user cache folder. The
variables exist for tests, portable installs and scripted setups.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "fader-studio"
CONFIG_ENV = "FADER_STUDIO_CONFIG_DIR"
DATA_ENV = "FADER_STUDIO_DATA_DIR"
CACHE_ENV = "FADER_STUDIO_CACHE_DIR"
#: The model the app opens when the user has chosen none (shipped with the app; see its LICENSE-model.txt).
BUNDLED_MODEL = "models/default.fader"


def config_dir() -> Path:
    """The settings folder: ``$FADER_STUDIO_CONFIG_DIR`` or the user config folder."""
    return Path(os.environ.get(CONFIG_ENV) or platformdirs.user_config_dir(APP, appauthor=False))


def data_dir() -> Path:
    """The user's files: ``$FADER_STUDIO_DATA_DIR`` or the user data folder."""
    return Path(os.environ.get(DATA_ENV) or platformdirs.user_data_dir(APP, appauthor=False)).expanduser()


def models_dir() -> Path:
    """The installed models' folder: ``models/`` in :func:`data_dir`."""
    return data_dir() / "models"


def runs_dir() -> Path:
    """Where the Train dialog puts training runs unless told otherwise: ``runs/`` in :func:`data_dir`."""
    return data_dir() / "runs"


def cache_dir() -> Path:
    """Files that can be made again (ONNX exports): ``$FADER_STUDIO_CACHE_DIR`` or the user cache folder."""
    return Path(os.environ.get(CACHE_ENV) or platformdirs.user_cache_dir(APP, appauthor=False)).expanduser()


def bundled_model() -> Path | None:
    """The default model shipped with the app, or None if this copy has none."""
    from fader_studio import resources

    bundled = resources.path(BUNDLED_MODEL)
    return bundled if bundled.is_file() else None


def installed_models() -> list[Path]:
    """Installed ``.fader`` files by name, then the bundled default model if the app has one."""
    folder = models_dir()
    found = sorted(folder.glob("*.fader"), key=lambda p: p.name.lower()) if folder.is_dir() else []
    bundled = bundled_model()
    return found + ([bundled] if bundled else [])


def free_path(folder: Path, stem: str, suffix: str = "", *, mine: Path | None = None) -> Path:
    """``folder/stem+suffix``, or ``stem-2+suffix``, ``stem-3+suffix``…: the first name nothing has
    but ``mine`` (which may keep its own name)."""
    target, number = folder / f"{stem}{suffix}", 2
    while target.exists() and not (mine is not None and target.samefile(mine)):
        target, number = folder / f"{stem}-{number}{suffix}", number + 1
    return target


def free_model_path(stem: str, source: Path | None = None) -> Path:
    """``stem.fader`` in the models folder (made if needed), numbered if another file has that name.

    ``source`` may have it: installing a model from the models folder keeps its name.
    """
    models_dir().mkdir(parents=True, exist_ok=True)
    return free_path(models_dir(), stem, ".fader", mine=source)
