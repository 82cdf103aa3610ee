"""Fader presets in the editor: a box in the fader panel and the Edit menu's preset commands.

:class:`PresetControls` owns both. It saves the selected face's faders as a
preset (absolute, or relative to the face's own look, which is what "a bit
more smile" means on every face), lists saved presets, renames and deletes
them, and asks the window to apply one to the selected face or to every face
(:attr:`PresetControls.applyRequested`); the window makes that an undoable
change. Presets are files of :mod:`fader_studio.core.presets`, shared with
``fader-studio edit --preset`` and Export Batch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QToolButton,
    QWidget,
)

from ..core.errors import FaderStudioError
from ..core.presets import Preset, delete_preset, list_presets, preset_path, rename_preset, save_preset
from .actions import make_action

#: What :class:`PresetControls` asks the window for: the model's name, the selected face's faders and
#: its own values, or ``None`` when no face is open.
CurrentFace = Callable[[], "tuple[str, dict[str, float], dict[str, float]] | None"]


class SavePresetDialog(QDialog):
    """A preset's name, and whether it holds the faders' values or their changes from the face's own."""

    def __init__(
        self,
        values: Mapping[str, float],
        start: Mapping[str, float],
        model_name: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Save Preset")
        self._values, self._start, self._model = dict(values), dict(start), model_name
        form = QFormLayout(self)
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. A bit more smile")
        self.relative = QCheckBox("Relative: move each face from its own look")
        self.relative.setChecked(True)
        self.relative.setToolTip(
            "On: the preset holds how far each fader was moved from the face's own value, and moves "
            "every face it is applied to as far. Off: it sets every fader to this face's value."
        )
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet("color: palette(mid);")
        form.addRow("Name:", self.name)
        form.addRow("", self.relative)
        form.addRow("Holds:", self.summary)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        self.name.textChanged.connect(self._update)
        self.relative.toggled.connect(self._update)
        self._update()

    def preset(self) -> Preset:
        """The preset the dialog describes (``PresetError`` without a name)."""
        return Preset.from_face(
            self.name.text(),
            self._values,
            self._start,
            relative=self.relative.isChecked(),
            model_name=self._model,
        )

    @Slot()
    def _update(self) -> None:
        relative = self.relative.isChecked()
        look = Preset.from_face("x", self._values, self._start, relative=relative)
        self.summary.setText(look.describe())
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(bool(self.name.text().strip()))


class PresetBox(QWidget):
    """The fader panel's row: saved presets to choose from, Apply, and a menu of the rest."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Preset:"))
        self.choice = QComboBox()
        self.choice.setMinimumContentsLength(12)
        self.choice.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.apply = QPushButton("Apply")
        self.apply.setToolTip("Apply the preset to the selected face")
        self.more = QToolButton()
        self.more.setText("⋯")
        self.more.setToolTip("More preset commands")
        self.more.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        layout.addWidget(self.choice, 1)
        layout.addWidget(self.apply)
        layout.addWidget(self.more)


class PresetControls(QObject):
    """Saved presets in the panel's box and the Edit menu, and the commands that act on them."""

    #: Apply this preset (``Preset``) to the selected face (``False``) or to every face (``True``).
    applyRequested = Signal(object, bool)  # noqa: N815 (Qt naming)
    #: A preset was saved, renamed or deleted (the box and the menus show the new list).
    changed = Signal()
    #: Something failed: (what was being done, one-line message).
    failed = Signal(str, str)

    def __init__(self, current: CurrentFace, parent: QWidget) -> None:
        super().__init__(parent)
        self._current = current
        self._parent = parent
        self.box = PresetBox()
        self.save_action = make_action(
            self,
            "Save Faders as &Preset…",
            self.save_current,
            "Ctrl+Shift+P",
            "Save the selected face's faders as a preset for other faces and photos",
        )
        self.apply_all_action = make_action(self, "Apply Preset to &All Faces", self._apply_chosen_to_all)
        self.rename_action = make_action(self, "Re&name Preset…", self._rename_chosen)
        self.delete_action = make_action(self, "De&lete Preset", self._delete_chosen)
        self.apply_menu = QMenu("Apply P&reset")
        self.apply_menu.aboutToShow.connect(self._fill_apply_menu)
        more = QMenu(self.box.more)
        more.addActions([self.apply_all_action, self.save_action])
        more.addSeparator()
        more.addActions([self.rename_action, self.delete_action])
        self.box.more.setMenu(more)
        self.box.apply.clicked.connect(lambda: self._apply_chosen(False))
        self.box.choice.currentIndexChanged.connect(lambda _: self.update_state())
        self.changed.connect(self.reload)
        self.reload()

    def menu_actions(self) -> list[QAction]:
        """What the Edit menu shows: save, apply (a submenu of presets), apply to all, rename, delete."""
        return [self.save_action, self.apply_menu.menuAction(), self.apply_all_action,
                self.rename_action, self.delete_action]  # fmt: skip

    def chosen(self) -> Preset | None:
        """The preset chosen in the box."""
        return self.box.choice.currentData()

    def choose(self, name: str) -> None:
        """Choose the saved preset called ``name`` in the box."""
        for index in range(self.box.choice.count()):
            preset = self.box.choice.itemData(index)
            if preset is not None and preset.name.lower() == name.lower():
                self.box.choice.setCurrentIndex(index)

    @Slot()
    def reload(self) -> None:
        """Read the saved presets again and keep the chosen one chosen."""
        chosen = self.chosen()
        combo = self.box.choice
        combo.blockSignals(True)
        combo.clear()
        for _, preset in list_presets():
            combo.addItem(preset.name, preset)
            combo.setItemData(combo.count() - 1, preset.describe(), Qt.ItemDataRole.ToolTipRole)
        if not combo.count():
            combo.addItem("No presets yet", None)
        combo.blockSignals(False)
        if chosen is not None:
            self.choose(chosen.name)
        self.update_state()

    def update_state(self) -> None:
        """Enable what applies now (a face open, a preset chosen)."""
        face, preset = self._current() is not None, self.chosen() is not None
        self.save_action.setEnabled(face)
        self.box.apply.setEnabled(face and preset)
        self.apply_all_action.setEnabled(face and preset)
        self.apply_menu.setEnabled(face and preset)
        self.rename_action.setEnabled(preset)
        self.delete_action.setEnabled(preset)
        self.box.choice.setEnabled(preset)
        self.box.choice.setToolTip(
            preset and self.chosen().describe() or "Save a face's faders with ⋯ → Save"
        )

    @Slot()
    def save_current(self) -> Preset | None:
        """Ask for a name and save the selected face's faders as a preset; the preset, or ``None``."""
        current = self._current()
        if current is None:
            return None
        model_name, values, start = current
        dialog = SavePresetDialog(values, start, model_name, self._parent)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return self.save(dialog.preset())

    def save(self, preset: Preset) -> Preset | None:
        """Save ``preset``, asking before replacing a namesake; the preset, or ``None``."""
        replace = False
        if preset_path(preset.name) is not None:
            answer = QMessageBox.question(
                self._parent, "Replace Preset?", f"A preset named “{preset.name}” exists. Replace it?"
            )
            if answer != QMessageBox.StandardButton.Yes:
                return None
            replace = True
        try:
            save_preset(preset, replace=replace)
        except FaderStudioError as e:
            self.failed.emit("Saving the preset", str(e))
            return None
        self.changed.emit()
        self.choose(preset.name)
        return preset

    @Slot()
    def _fill_apply_menu(self) -> None:
        self.apply_menu.clear()
        for _, preset in list_presets():
            action = self.apply_menu.addAction(
                preset.name, lambda p=preset: self.applyRequested.emit(p, False)
            )
            action.setStatusTip(preset.describe())
        if self.apply_menu.isEmpty():
            self.apply_menu.addAction("No presets yet").setEnabled(False)

    def _apply_chosen(self, all_faces: bool) -> None:
        preset = self.chosen()
        if preset is not None and self._current() is not None:
            self.applyRequested.emit(preset, all_faces)

    @Slot()
    def _apply_chosen_to_all(self) -> None:
        self._apply_chosen(True)

    @Slot()
    def _rename_chosen(self) -> None:
        preset = self.chosen()
        if preset is None:
            return
        name, ok = QInputDialog.getText(self._parent, "Rename Preset", "New name:", text=preset.name)
        if not ok or not name.strip() or name.strip() == preset.name:
            return
        try:
            rename_preset(preset.name, name)
        except FaderStudioError as e:
            self.failed.emit("Renaming the preset", str(e))
            return
        self.changed.emit()
        self.choose(name.strip())

    @Slot()
    def _delete_chosen(self) -> None:
        preset = self.chosen()
        if preset is None:
            return
        answer = QMessageBox.question(self._parent, "Delete Preset?", f"Delete the preset “{preset.name}”?")
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            delete_preset(preset.name)
        except FaderStudioError as e:
            self.failed.emit("Deleting the preset", str(e))
            return
        self.changed.emit()
