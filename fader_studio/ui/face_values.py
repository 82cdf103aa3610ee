"""The open photo's faces as the faders see them: each face's values and its own starting values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import QObject, Signal


class FaceValues(QObject):
    """The one place each face's fader values and starting values live while a photo is open.

    The window reads it; a fader being dragged, the undo commands and presets
    change it through :meth:`set`. A change that the faders do not show yet
    (an undo, a redo, a preset) is announced by :attr:`changed`, so the window
    shows and renders that face.
    """

    #: Face ``face``'s values changed and the faders may not show it yet.
    changed = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._values: list[dict[str, float]] = []
        self._starts: list[dict[str, float]] = []

    def reset(self, starts: Sequence[Mapping[str, float]]) -> None:
        """One face per entry of ``starts`` (its own values, from the classifier), each at its start."""
        self._starts = [dict(start) for start in starts]
        self._values = [dict(start) for start in starts]

    def __len__(self) -> int:
        return len(self._values)

    def values(self, face: int) -> dict[str, float]:
        """What face ``face``'s faders say (a copy)."""
        return dict(self._values[face])

    def start(self, face: int) -> dict[str, float]:
        """Face ``face``'s own values (a copy)."""
        return dict(self._starts[face])

    def all_values(self) -> list[dict[str, float]]:
        """Every face's values, in face order (copies)."""
        return [dict(values) for values in self._values]

    def set(self, face: int, values: Mapping[str, float], *, shown: bool = False) -> None:
        """Set some of face ``face``'s values; ``shown``: the faders show them already (not announced)."""
        self._values[face].update(values)
        if not shown:
            self.changed.emit(face)

    def is_edited(self, face: int) -> bool:
        """Whether face ``face`` is away from its own values."""
        return self._values[face] != self._starts[face]

    def edited_faces(self) -> list[int]:
        """The faces away from their own values."""
        return [face for face in range(len(self)) if self.is_edited(face)]
