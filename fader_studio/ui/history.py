"""Edit history: each fader change or mask change of a face is one undoable command, in that face's own stack.

The fader commands change the faces' values (:class:`~fader_studio.ui.face_values.FaceValues`),
which announces what changed; a mask command hands its mask to a function
(the mask tools send it to the worker). They know nothing of the window.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from PySide6.QtCore import QObject
from PySide6.QtGui import QUndoCommand, QUndoGroup, QUndoStack

from ..core.attributes import attribute_label
from ..core.regions import MaskState
from .face_values import FaceValues

#: Changes of one fader closer together than this are one undo step.
MERGE_SECONDS = 1.0


class SetFaders(QUndoCommand):
    """Face ``face``'s faders go from ``old`` to ``new`` (the same attributes in both).

    ``shown``: the faders already show ``new`` (a fader the user moved), so
    the redo that pushing runs does nothing (the face was rendered as it
    moved); undo and later redos apply the values. Changes of one fader of
    one face less than :data:`MERGE_SECONDS` apart merge into one step (a
    wheel spin, key repeats: one gesture, one undo).
    """

    ID = 1

    def __init__(
        self,
        faces: FaceValues,
        face: int,
        old: Mapping[str, float],
        new: Mapping[str, float],
        text: str | None = None,
        *,
        shown: bool = True,
    ) -> None:
        super().__init__(text or _describe(new))
        self._faces, self.face, self.old, self.new = faces, face, dict(old), dict(new)
        self._pending_redo_shown = shown
        self._mergeable = text is None and len(self.new) == 1
        self.last_change = time.monotonic()

    def redo(self) -> None:
        if self._pending_redo_shown:
            self._pending_redo_shown = False
            return
        self._faces.set(self.face, self.new)

    def undo(self) -> None:
        self._faces.set(self.face, self.old)

    def id(self) -> int:  # Qt asks before merging: -1 never merges
        return self.ID if self._mergeable else -1

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 (Qt's name)
        if not (
            isinstance(other, SetFaders)
            and other._mergeable
            and other.face == self.face
            and other.new.keys() == self.new.keys()
            and other.last_change - self.last_change < MERGE_SECONDS
        ):
            return False
        self.new, self.last_change = dict(other.new), other.last_change
        self.setText(other.text())
        self.setObsolete(self.new == self.old)  # back where it started: no step at all
        return True


class SetMask(QUndoCommand):
    """Face ``face``'s mask goes from ``old`` to ``new`` (a region chosen, a brush stroke).

    ``apply(face, state)`` puts a mask in place. ``shown``: the face already
    has ``new`` (the stroke was painted), so the redo that pushing runs does
    nothing.
    """

    def __init__(
        self,
        apply: Callable[[int, MaskState], None],
        face: int,
        old: MaskState,
        new: MaskState,
        text: str,
        *,
        shown: bool = True,
    ) -> None:
        super().__init__(text)
        self._apply, self.face, self.old, self.new = apply, face, old, new
        self._pending_redo_shown = shown

    def redo(self) -> None:
        if self._pending_redo_shown:
            self._pending_redo_shown = False
            return
        self._apply(self.face, self.new)

    def undo(self) -> None:
        self._apply(self.face, self.old)


class FaceHistory(QUndoGroup):
    """One undo stack per face of ``faces``; the selected face's stack is the active one."""

    def __init__(self, faces: FaceValues, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._faces = faces
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
        self,
        face: int,
        old: Mapping[str, float],
        new: Mapping[str, float],
        text: str | None = None,
        *,
        shown: bool = True,
    ) -> None:
        """Add a change (named ``text`` in the Undo menu).

        ``shown``: the faders already show it and the face was rendered (a
        fader the user moved); otherwise (a preset) it is applied now.
        """
        self._stacks[face].push(SetFaders(self._faces, face, old, new, text, shown=shown))

    def record_mask(
        self, apply: Callable[[int, MaskState], None], face: int, old: MaskState, new: MaskState, text: str
    ) -> None:
        """Add a mask change that face ``face`` already shows (see :class:`SetMask`)."""
        self._stacks[face].push(SetMask(apply, face, old, new, text))

    def stack(self, face: int) -> QUndoStack:
        """Face ``face``'s undo stack."""
        return self._stacks[face]


def _describe(values: Mapping[str, float]) -> str:
    if len(values) == 1:
        name, value = next(iter(values.items()))
        return f"{attribute_label(name)} {value:.2f}"
    return "Reset faders"
