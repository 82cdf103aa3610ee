"""Edit history: each fader change of a face is one undoable command, in that face's own stack."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from PySide6.QtCore import QObject
from PySide6.QtGui import QUndoCommand, QUndoGroup, QUndoStack

from ..core.attributes import attribute_label

Apply = Callable[[int, dict[str, float]], None]


class SetFaders(QUndoCommand):
    """Face ``face``'s faders go from ``old`` to ``new`` (the same attributes in both)."""

    def __init__(
        self,
        apply: Apply,
        face: int,
        old: Mapping[str, float],
        new: Mapping[str, float],
        text: str | None = None,
    ) -> None:
        super().__init__(text or _describe(new))
        self._apply, self.face, self.old, self.new = apply, face, dict(old), dict(new)

    def redo(self) -> None:
        self._apply(self.face, self.new)

    def undo(self) -> None:
        self._apply(self.face, self.old)


class FaceHistory(QUndoGroup):
    """One undo stack per face of the open photo; the selected face's stack is the active one."""

    def __init__(self, apply: Apply, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._apply = apply
        self._stacks: list[QUndoStack] = []

    def reset(self, faces: int) -> None:
        """Forget all history and make one empty stack per face."""
        for stack in self._stacks:
            self.removeStack(stack)
            stack.deleteLater()
        self._stacks = [QUndoStack(self) for _ in range(faces)]
        for stack in self._stacks:
            self.addStack(stack)
        if self._stacks:
            self.setActiveStack(self._stacks[0])

    def select(self, face: int) -> None:
        """Make face ``face``'s history the one Undo and Redo act on."""
        self.setActiveStack(self._stacks[face])

    def record(
        self, face: int, old: Mapping[str, float], new: Mapping[str, float], text: str | None = None
    ) -> None:
        """Add a change (named ``text`` in the Undo menu) and apply it; one the faders show is re-applied."""
        self._stacks[face].push(SetFaders(self._apply, face, old, new, text))

    def stack(self, face: int) -> QUndoStack:
        """Face ``face``'s undo stack."""
        return self._stacks[face]


def _describe(values: Mapping[str, float]) -> str:
    if len(values) == 1:
        name, value = next(iter(values.items()))
        return f"{attribute_label(name)} {value:.2f}"
    return "Reset faders"
