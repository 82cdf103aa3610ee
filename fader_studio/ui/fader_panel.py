"""The fader panel: one labelled slider per attribute of the loaded model.

Each row has the attribute's name, a superqt ``QLabeledDoubleSlider`` (with an
editable value box), a tick under the slider at the face's starting value, and
a reset button; double-clicking the slider resets it too. The panel only
reports what the user does: ``previewed`` while a fader moves, ``committed``
once per change (a drag's release, a typed value, a key press, a reset), which
the window turns into one undo step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import QEvent, QObject, QPointF, Qt, Signal, Slot
from PySide6.QtGui import QColor, QPainter, QPolygonF
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QStyle,
    QStyleOptionSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from superqt import QLabeledDoubleSlider
from superqt.utils import signals_blocked

from ..core.attributes import AttributeSpec

#: Decimals shown in a fader's value box.
DECIMALS = 2


class StartTick(QWidget):
    """A small triangle under a slider's groove, at the face's starting value."""

    def __init__(self, slider: QSlider, low: float, high: float) -> None:
        super().__init__(slider)
        self._slider = slider
        self._low, self._high = low, high
        self._value: float | None = None
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        slider.installEventFilter(self)
        self.resize(slider.size())

    def set_value(self, value: float | None) -> None:
        """Put the tick at ``value`` (``None`` hides it)."""
        self._value = value
        self.update()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.Resize:
            self.resize(self._slider.size())
        return False

    def paintEvent(self, event: QEvent) -> None:  # noqa: N802
        if self._value is None:
            return
        slider = self._slider
        option = QStyleOptionSlider()
        slider.initStyleOption(option)
        style = slider.style()
        groove = style.subControlRect(
            QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderGroove, slider
        )
        handle = style.subControlRect(
            QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderHandle, slider
        )
        fraction = min(max((self._value - self._low) / (self._high - self._low), 0.0), 1.0)
        x = groove.x() + handle.width() / 2 + fraction * (groove.width() - handle.width())
        y = self.height() - 1
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(230, 140, 30))
        painter.drawPolygon(QPolygonF([QPointF(x, y - 5), QPointF(x - 4, y), QPointF(x + 4, y)]))


class FaderRow:
    """The widgets of one attribute's fader."""

    def __init__(self, spec: AttributeSpec, parent: QWidget) -> None:
        self.spec = spec
        self.name = QLabel(spec.label, parent)
        self.name.setToolTip(f"{spec.name}: {spec.min:g} to {spec.max:g} (the face's own value is marked ▲)")
        self.slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal, parent)
        self.slider.setObjectName(f"fader-{spec.name}")
        self.slider.setDecimals(DECIMALS)
        self.slider.setRange(spec.min, spec.max)
        self.slider.setSingleStep(0.05)
        self.slider.setPageStep(0.25)
        self.slider.setValue(spec.default)
        self.inner = self.slider.findChild(QSlider)
        self.tick = StartTick(self.inner, spec.min, spec.max)
        self.reset = QToolButton(parent)
        self.reset.setText("↺")
        self.reset.setAutoRaise(True)
        self.reset.setToolTip(f"Reset {spec.label} to the face's own value (or double-click the fader)")
        self.committed_value = spec.default


class FaderPanel(QWidget):
    """Faders for the attributes of a model, for one face at a time."""

    #: ``(attribute, value)`` while a fader moves.
    previewed = Signal(str, float)
    #: ``({attribute: old}, {attribute: new})`` for one user change of one or more faders.
    committed = Signal(dict, dict)
    #: The user picked another face (index).
    faceChosen = Signal(int)  # noqa: N815 (Qt naming)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumWidth(300)
        self._rows: dict[str, FaderRow] = {}
        self._start: dict[str, float] = {}
        layout = QVBoxLayout(self)
        header = QHBoxLayout()
        self.title = QLabel("<b>Face</b>")
        self.faces = QComboBox()
        self.faces.setToolTip("The face the faders change (or click a face in the photo)")
        self.faces.currentIndexChanged.connect(self._face_chosen)
        header.addWidget(self.title)
        header.addStretch(1)
        header.addWidget(self.faces)
        layout.addLayout(header)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: palette(mid);")
        layout.addWidget(self.message)
        self.whole_image = QPushButton("Edit Whole Image")
        self.whole_image.setToolTip("Treat the photo as one aligned face, as CelebA's images are")
        self.whole_image.setVisible(False)
        layout.addWidget(self.whole_image, alignment=Qt.AlignmentFlag.AlignLeft)
        self._grid = QGridLayout()
        self._grid.setColumnStretch(1, 1)
        layout.addLayout(self._grid)
        self.reset_all = QPushButton("Reset all")
        self.reset_all.setToolTip("Put every fader of this face back to the face's own values")
        self.reset_all.clicked.connect(self._reset_all)
        layout.addWidget(self.reset_all, alignment=Qt.AlignmentFlag.AlignRight)
        layout.addStretch(1)
        self.set_attributes([])

    def set_attributes(
        self, specs: Sequence[AttributeSpec], message: str = "Open a model to edit faces."
    ) -> None:
        """One fader per attribute of ``specs`` (none: show ``message`` instead)."""
        for row in self._rows.values():
            for widget in (row.name, row.slider, row.reset):
                widget.deleteLater()
        self._rows = {}
        for i, spec in enumerate(specs):
            row = FaderRow(spec, self)
            self._grid.addWidget(row.name, i, 0)
            self._grid.addWidget(row.slider, i, 1)
            self._grid.addWidget(row.reset, i, 2)
            row.slider.valueChanged.connect(lambda value, n=spec.name: self._moved(n, value))
            row.slider.sliderReleased.connect(lambda n=spec.name: self._commit(n))
            row.slider.editingFinished.connect(lambda n=spec.name: self._commit(n))
            row.reset.clicked.connect(lambda _=False, n=spec.name: self.reset(n))
            row.inner.installEventFilter(self)
            self._rows[spec.name] = row
        self.set_message("" if specs else message)
        self.set_faces(0)

    def add_tools(self, widget: QWidget) -> None:
        """Show ``widget`` (e.g. the preset box) under the faders."""
        layout = self.layout()
        layout.insertWidget(layout.count() - 1, widget)

    def set_message(self, text: str, *, whole_button: bool = False) -> None:
        """Show ``text`` above the faders ("" hides it), with the "Edit Whole Image" button if asked."""
        self.message.setText(text)
        self.message.setVisible(bool(text))
        self.whole_image.setVisible(whole_button)

    def set_faces(self, count: int, current: int = 0) -> None:
        """Offer ``count`` faces to choose from, with ``current`` chosen; 0 disables the faders."""
        with signals_blocked(self.faces):
            self.faces.clear()
            self.faces.addItems([f"Face {i + 1} of {count}" for i in range(count)])
            self.faces.setCurrentIndex(current if count else -1)
        self.faces.setVisible(count > 1)
        enabled = count > 0 and bool(self._rows)
        for row in self._rows.values():
            for widget in (row.slider, row.reset):
                widget.setEnabled(enabled)
        self.reset_all.setEnabled(enabled)
        self.reset_all.setVisible(bool(self._rows))

    def show_values(self, values: Mapping[str, float], start: Mapping[str, float] | None = None) -> None:
        """Set faders (and the start ticks) from code: nothing is previewed or committed."""
        if start is not None:
            self._start = dict(start)
            for name, row in self._rows.items():
                row.tick.set_value(self._start.get(name))
        for name, value in values.items():
            row = self._rows[name]
            with signals_blocked(row.slider):
                row.slider.setValue(value)
            row.committed_value = row.slider.value()

    def values(self) -> dict[str, float]:
        """The faders' current values."""
        return {name: float(row.slider.value()) for name, row in self._rows.items()}

    def slider(self, name: str) -> QLabeledDoubleSlider:
        """The fader of attribute ``name`` (for tests and tools)."""
        return self._rows[name].slider

    def reset(self, name: str) -> None:
        """Put one fader back to the face's starting value, as one change."""
        self._set_and_commit({name: self._start.get(name, self._rows[name].spec.default)})

    @Slot()
    def _reset_all(self) -> None:
        self._set_and_commit({n: self._start.get(n, r.spec.default) for n, r in self._rows.items()})

    def _set_and_commit(self, values: Mapping[str, float]) -> None:
        old = {n: self._rows[n].committed_value for n in values}
        self.show_values(values)
        new = {n: self._rows[n].committed_value for n in values}
        changed = [n for n in values if old[n] != new[n]]
        for name in changed:  # rendered like a moved fader, so the change is shown before it is committed
            self.previewed.emit(name, new[name])
        if changed:
            self.committed.emit({n: old[n] for n in changed}, {n: new[n] for n in changed})

    def _moved(self, name: str, value: float) -> None:
        self.previewed.emit(name, float(value))
        if not self._rows[name].slider.isSliderDown():
            self._commit(name)  # keys, wheel, clicks on the groove: each is a change

    def _commit(self, name: str) -> None:
        row = self._rows[name]
        value = float(row.slider.value())
        if value != row.committed_value:
            old, row.committed_value = row.committed_value, value
            self.committed.emit({name: old}, {name: value})

    def _face_chosen(self, index: int) -> None:
        if index >= 0:
            self.faceChosen.emit(index)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.MouseButtonDblClick:
            for name, row in self._rows.items():
                if watched is row.inner:
                    self.reset(name)
                    return True
        return False
