"""Where an edit applies, in the editor: each face's region, the mask brush and the mask overlay.

:class:`MaskTools` owns a row under the faders (the selected face's region,
Paint and Erase, the brush's softness, Show Mask) and the Edit menu's mask
commands (``B`` paint, ``E`` erase, ``[`` and ``]`` brush size, ``Shift+[``
and ``Shift+]`` softness, ``M`` show the mask). It keeps what each face's mask
is on the UI's side, sends regions, brush dabs and undos to the session's
worker, shows the mask over the face while a brush is on (or ``M`` is), and
makes each region choice and each brush stroke one step of the face's undo
history. The masks themselves are :mod:`fader_studio.core.regions`'.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSlider, QToolButton, QVBoxLayout, QWidget

from ..core.regions import REGIONS, MaskState
from .actions import make_action
from .face_values import FaceValues
from .history import FaceHistory
from .photo_view import PhotoView
from .session import MASK_CHANGE, EditorSession, MaskUpdate

#: A new photo's brush: this share of the largest face's width, in photo pixels.
BRUSH_SHARE = 0.12
#: ``[`` and ``]`` change the brush's size by this factor.
BRUSH_STEP = 1.25
MIN_BRUSH, MAX_BRUSH = 1.0, 5000.0
#: The softness a brush starts with (0: hard edge, 100: soft all the way), and Shift+[ / ]'s step.
DEFAULT_SOFTNESS, SOFTNESS_STEP = 50, 10


class MaskTools(QObject):
    """The region box, the mask brush and the mask overlay of the selected face."""

    def __init__(
        self,
        session: EditorSession,
        view: PhotoView,
        history: FaceHistory,
        faces: FaceValues,
        tell: Callable[[str], None],
        parent: QWidget,
    ) -> None:
        """``faces`` are the open photo's fader values; ``tell`` shows a short message to the user."""
        super().__init__(parent)
        self._session, self._view, self._history = session, view, history
        self._faces, self._tell = faces, tell
        self.masks: list[MaskState] = []
        self.radius = 20.0
        self._face = 0
        self._stroke: tuple[int, MaskState] | None = None  # the face and its mask before the stroke
        self._pending: list[tuple[float, float]] = []  # dabs not sent yet
        self._in_flight = 0  # mask changes sent and not back yet
        self._record: tuple[int, MaskState, str] | None = None  # a change to record when it is back

        self.paint_action = self._checkable(
            "&Paint Mask", "B", "Paint where the selected face's edit applies"
        )
        self.erase_action = self._checkable("&Erase Mask", "E", "Hold the selected face's edit back")
        self.tools = QActionGroup(self)
        self.tools.setExclusionPolicy(QActionGroup.ExclusionPolicy.ExclusiveOptional)
        for action in (self.paint_action, self.erase_action):
            self.tools.addAction(action)
            action.toggled.connect(self._tool_changed)
        self.smaller_action = make_action(
            parent, "S&maller Brush", lambda: self.resize_brush(1 / BRUSH_STEP), "["
        )
        self.larger_action = make_action(parent, "&Larger Brush", lambda: self.resize_brush(BRUSH_STEP), "]")
        # Shift+[ types "{" on many layouts, which Qt then sees with or without the Shift: all are bound
        softer_keys = [QKeySequence(k) for k in ("Shift+[", "{", "Shift+{")]
        harder_keys = [QKeySequence(k) for k in ("Shift+]", "}", "Shift+}")]
        self.softer_action = make_action(
            parent, "So&fter Brush", lambda: self._soften(SOFTNESS_STEP), softer_keys
        )
        self.harder_action = make_action(
            parent, "&Harder Brush", lambda: self._soften(-SOFTNESS_STEP), harder_keys
        )
        self.show_action = self._checkable("Show &Mask", "M", "Show where the selected face's edit applies")
        self.show_action.toggled.connect(lambda _: self._update_overlay())

        self.box = QWidget()
        layout = QVBoxLayout(self.box)
        layout.setContentsMargins(0, 6, 0, 0)
        top = QHBoxLayout()
        top.addWidget(QLabel("Region:"))
        self.region = QComboBox()
        for key, label in REGIONS.items():
            self.region.addItem(label, key)
        self.region.setToolTip("Where on the selected face the faders change the photo")
        self.region.activated.connect(self._region_chosen)
        top.addWidget(self.region, 1)
        self.painted = QLabel("painted")
        self.painted.setStyleSheet("color: palette(mid);")
        self.painted.setToolTip("The brush changed this face's region; choose a region again to start over")
        top.addWidget(self.painted)
        layout.addLayout(top)
        row = QHBoxLayout()
        for action in (self.paint_action, self.erase_action, self.show_action):
            button = QToolButton()
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            row.addWidget(button)
        row.addWidget(QLabel("Soft:"))
        self.softness = QSlider(Qt.Orientation.Horizontal)
        self.softness.setRange(0, 100)
        self.softness.setValue(DEFAULT_SOFTNESS)
        self.softness.setToolTip("How softly the brush's edge fades (Shift+[ softer, Shift+] harder)")
        row.addWidget(self.softness, 1)
        layout.addLayout(row)

        session.maskChanged.connect(self._mask_changed)
        session.failed.connect(self._failed)
        view.strokeStarted.connect(self._stroke_started)
        view.brushed.connect(self._brushed)
        view.strokeFinished.connect(self._stroke_finished)
        self.update_state()

    def _checkable(self, text: str, key: str, tip: str) -> QAction:
        action = make_action(self.parent(), text, lambda: None, key, tip)
        action.setCheckable(True)
        return action

    def menu_actions(self) -> list[QAction]:
        """The Edit menu's mask commands."""
        return [
            self.paint_action,
            self.erase_action,
            self.smaller_action,
            self.larger_action,
            self.softer_action,
            self.harder_action,
            self.show_action,
        ]

    # the open photo

    def reset(self, masks: list[MaskState], largest_width: float) -> None:
        """A photo opened: its faces' masks; the brush is sized for its largest face."""
        self.masks = list(masks)
        self._stroke, self._record, self._pending, self._in_flight = None, None, [], 0
        self.radius = max(MIN_BRUSH, BRUSH_SHARE * largest_width)
        self._face = 0
        self.update_state()
        self.select(0)

    def select(self, face: int) -> None:
        """Face ``face`` is the selected one: show its region, and its mask if it is shown."""
        self._face = face
        if not 0 <= face < len(self.masks):
            return
        state = self.masks[face]
        self.region.setCurrentIndex(self.region.findData(state.region))
        self.painted.setVisible(state.painted)
        self._update_overlay()

    def update_state(self) -> None:
        """Enable the tools when a face is open; a brush with none is put away."""
        enabled = bool(self.masks)
        self.box.setEnabled(enabled)
        for action in self.menu_actions():
            action.setEnabled(enabled)
        if not enabled:
            for action in (self.paint_action, self.erase_action):
                action.setChecked(False)
            self._view.set_mask_overlay(None)
        self.painted.setVisible(enabled and self.masks[self._face].painted if self.masks else False)

    def brush(self) -> tuple[float, float, bool]:
        """The brush: radius in photo pixels, hardness in [0, 1], whether it erases."""
        return self.radius, 1 - self.softness.value() / 100, self.erase_action.isChecked()

    # changes asked for

    @Slot(int)
    def _region_chosen(self, index: int) -> None:
        if not self.masks:
            return
        face = self._face
        region = self.region.itemData(index)
        old = self.masks[face]
        if region == old.region and not old.painted:
            return
        self._record = (face, old, f"Region {self.region.itemText(index)}")
        self._in_flight += 1
        self._session.set_region(face, region, self._faces.values(face))

    def apply(self, face: int, state: MaskState) -> None:
        """Give face ``face`` the mask ``state`` (an undo or a redo)."""
        self.masks[face] = state
        self._in_flight += 1
        self._session.set_mask(face, state, self._faces.values(face))
        if face == self._face:
            self.select(face)

    def resize_brush(self, factor: float) -> None:
        """Make the brush ``factor`` times as large."""
        self.radius = min(max(self.radius * factor, MIN_BRUSH), MAX_BRUSH)
        if self._painting():
            self._view.set_brush(self.radius)
        self._tell(f"Brush {self.radius:.0f} px")

    def _soften(self, step: int) -> None:
        self.softness.setValue(self.softness.value() + step)
        self._tell(f"Brush softness {self.softness.value()} %")

    def _painting(self) -> bool:
        return self.paint_action.isChecked() or self.erase_action.isChecked()

    @Slot()
    def _tool_changed(self) -> None:
        self._view.set_brush(self.radius if self._painting() else None)
        self._update_overlay()

    def _update_overlay(self) -> None:
        if self.masks and (self._painting() or self.show_action.isChecked()):
            self._session.show_mask(self._face)
        else:
            self._view.set_mask_overlay(None)

    # strokes

    @Slot()
    def _stroke_started(self) -> None:
        if self.masks:
            self._stroke = (self._face, self.masks[self._face])

    @Slot(list)
    def _brushed(self, dabs: list[tuple[float, float]]) -> None:
        if self._stroke is None:
            return
        self._pending.extend(dabs)
        if not self._in_flight:  # one change at a time: dabs that come meanwhile go in the next
            self._flush()

    @Slot()
    def _stroke_finished(self) -> None:
        if self._stroke is None:
            return
        face, old = self._stroke
        self._stroke = None
        self._record = (face, old, "Erase mask" if self.erase_action.isChecked() else "Paint mask")
        if not self._in_flight:
            self._flush()

    def _flush(self) -> None:
        face = self._stroke[0] if self._stroke is not None else self._record[0] if self._record else None
        if face is None or not self._pending:
            return
        dabs, self._pending = self._pending, []
        self._in_flight += 1
        self._session.paint(face, dabs, self.brush(), self._faces.values(face))

    @Slot(str, str)
    def _failed(self, doing: str, message: str) -> None:
        if doing == MASK_CHANGE:  # nothing more will come back for what was sent
            self._in_flight, self._pending, self._record = 0, [], None

    @Slot(object)
    def _mask_changed(self, update: MaskUpdate) -> None:
        if not 0 <= update.face < len(self.masks):
            return
        if update.render is not None:  # a change, not only an overlay asked for
            self._in_flight = max(0, self._in_flight - 1)
            self.masks[update.face] = update.state
        if update.face == self._face:
            self.painted.setVisible(update.state.painted)
            self.region.setCurrentIndex(self.region.findData(update.state.region))
            if self._painting() or self.show_action.isChecked():
                self._view.set_mask_overlay(update.rect, update.overlay)
        if self._pending:
            self._flush()
        elif not self._in_flight and self._record is not None and self._stroke is None:
            face, old, text = self._record
            self._record = None
            self._history.record_mask(self.apply, face, old, self.masks[face], text)
