"""The Qt-free packages never import Qt (DESIGN §1): checked in a process where Qt cannot load."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BLOCK_QT = """
import importlib.abc, sys
class BlockQt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("PySide6", "shiboken6", "superqt", "PyQt5", "PyQt6"):
            raise ImportError(f"Qt is blocked in this test: {name}")
        return None
sys.meta_path.insert(0, BlockQt())
"""


def run_without_qt(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", BLOCK_QT + code], capture_output=True, text=True, cwd=ROOT, timeout=180
    )


def test_core_and_trainer_import_without_qt() -> None:
    result = run_without_qt(
        """
import importlib, pkgutil
import fader_studio.core, trainer
names = []
for package in (fader_studio.core, trainer):
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(info.name)
        names.append(info.name)
assert not any(m.split(".")[0] in ("PySide6", "shiboken6", "superqt") for m in sys.modules)
try:
    import PySide6
except ImportError:
    pass
else:
    raise SystemExit("the Qt block did not work")
print(" ".join(sorted(names)))
"""
    )
    assert result.returncode == 0, result.stderr
    imported = result.stdout.split()
    for module in (
        "engine",
        "modelfile",
        "network",
        "renderer",
        "errors",
        "attributes",
        "template",
        "atomic",
    ):
        assert f"fader_studio.core.{module}" in imported
    assert "trainer.cli" in imported


def test_info_command_works_without_qt(model_file: Path) -> None:
    result = run_without_qt(
        f"""
from fader_studio.cli import main
raise SystemExit(main(["info", {str(model_file)!r}]))
"""
    )
    assert result.returncode == 0, result.stderr
    assert '"format": "fader-studio/1"' in result.stdout
