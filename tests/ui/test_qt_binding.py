"""Guards against Qt binding releases that break the editor."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QObject, Signal


class Emitter(QObject):
    moved = Signal(float)


@pytest.mark.skipif(
    sys.version_info >= (3, 12), reason="True is immortal from Python 3.12: its count never changes there"
)
def test_emitting_a_signal_keeps_its_reference_to_true() -> None:
    # PySide6 6.12.0 returned True from Signal.emit() without a reference: on Python < 3.12 the
    # editor crashed ("deallocating True") after about a thousand fader moves. pyproject excludes it.
    emitter = Emitter()
    emitter.moved.connect(lambda value: None)
    before = sys.getrefcount(True)
    for i in range(200):
        emitter.moved.emit(i / 200)
    assert sys.getrefcount(True) > before - 100
