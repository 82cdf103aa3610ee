"""Menu commands made one way across the editor: text, what it does, shortcuts and a status tip."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence

Shortcut = str | QKeySequence | QKeySequence.StandardKey | list[QKeySequence] | None


def make_action(
    parent: QObject, text: str, slot: Callable[..., object], shortcut: Shortcut = None, tip: str = ""
) -> QAction:
    """A ``QAction`` owned by ``parent`` that calls ``slot`` when triggered.

    ``shortcut`` is one key sequence (text, a ``QKeySequence`` or a standard
    key) or a list of them.
    """
    action = QAction(text, parent)
    if shortcut is not None:
        action.setShortcuts(shortcut if isinstance(shortcut, list) else [QKeySequence(shortcut)])
    action.setStatusTip(tip)
    action.triggered.connect(slot)
    return action
