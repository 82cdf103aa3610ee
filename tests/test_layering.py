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


def test_the_train_dialog_takes_its_settings_from_the_trainer_without_importing_torch() -> None:
    code = "import sys, fader_studio.ui.train_setup; assert not [m for m in sys.modules if m[:5] == 'torch']"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_info_command_works_without_qt(model_file: Path) -> None:
    result = run_without_qt(
        f"""
from fader_studio.cli import main
raise SystemExit(main(["info", {str(model_file)!r}]))
"""
    )
    assert result.returncode == 0, result.stderr
    assert '"format": "fader-studio/1"' in result.stdout


def imports_of(module: str, path: Path, modules: set[str]) -> set[str]:
    """The project modules that ``module`` imports anywhere in its file (in functions too)."""
    import ast

    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


def test_no_module_imports_another_that_imports_it_back() -> None:
    files = {}
    for package in ("fader_studio", "trainer"):
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            files[name] = path
    graph = {name: imports_of(name, path, set(files)) for name, path in files.items()}

    def reaches(start: str, goal: str) -> list[str] | None:
        """A chain of imports from ``start`` to ``goal``, or None."""
        paths, seen = [[start]], {start}
        while paths:
            chain = paths.pop()
            for nxt in sorted(graph[chain[-1]]):
                if nxt == goal:
                    return chain + [nxt]
                if nxt not in seen:
                    seen.add(nxt)
                    paths.append(chain + [nxt])
        return None

    cycles = [chain for name in sorted(graph) if (chain := reaches(name, name))]
    assert not cycles, "import cycle: " + " → ".join(cycles[0])
