"""Export dialogs: the edited photo (format from the name, quality) and a sweep of one attribute."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from ..core import paths
from ..core.attributes import AttributeSpec
from ..core.imageio import JPEG_QUALITY

#: Photos to open (the editor's File → Open, Export Batch's Add Photos).
OPEN_PHOTO_FILTER = "Photos (*.jpg *.jpeg *.png *.webp *.tif *.tiff *.bmp);;All files (*)"
PHOTO_FILTER = "JPEG (*.jpg *.jpeg);;PNG (*.png);;WebP (*.webp);;TIFF (*.tif *.tiff)"
SWEEP_FILTER = "Animated GIF (*.gif);;Strip as PNG (*.png);;Strip as JPEG (*.jpg)"
LOSSY = {".jpg", ".jpeg", ".webp"}


def edited_name(source: Path) -> Path:
    """Where to suggest exporting ``source``: ``name-edited.ext`` beside it, numbered if taken."""
    suffix = source.suffix.lower() if source.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"} else ".png"
    return paths.free_path(source.parent, f"{source.stem}-edited", suffix)


class _PathRow(QWidget):
    """A file name field with a Browse button."""

    def __init__(self, path: Path, title: str, filters: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._title, self._filters = title, filters
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.edit = QLineEdit(str(path))
        self.edit.setMinimumWidth(360)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        layout.addWidget(self.edit, 1)
        layout.addWidget(browse)

    @Slot()
    def _browse(self) -> None:
        chosen, _ = QFileDialog.getSaveFileName(
            self,
            self._title,
            self.edit.text(),
            self._filters,
            options=QFileDialog.Option.DontConfirmOverwrite,
        )
        if chosen:
            self.edit.setText(chosen)


class _SaveDialog(QDialog):
    """The file to write, a form of ``rows``, then Save and Cancel."""

    def __init__(
        self, title: str, path: Path, filters: str, rows: list[tuple[str, QWidget]], parent: QWidget | None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        form = QFormLayout(self)
        self.file = _PathRow(path, title, filters)
        for label, widget in [("File:", self.file), *rows]:
            form.addRow(label, widget)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def path(self) -> Path:
        """The chosen file."""
        return Path(self.file.edit.text()).expanduser()


class ExportDialog(_SaveDialog):
    """Where to write the edited photo and, for JPEG and WebP, its quality."""

    def __init__(self, path: Path, quality: int = JPEG_QUALITY, parent: QWidget | None = None) -> None:
        self.quality = QSpinBox()
        self.quality.setRange(1, 100)
        self.quality.setValue(quality)
        self.quality.setSuffix(" %")
        self.quality.setToolTip("JPEG and WebP quality (PNG and TIFF are lossless)")
        super().__init__("Export Photo", path, PHOTO_FILTER, [("Quality:", self.quality)], parent)
        self.file.edit.textChanged.connect(self._update)
        self._update()

    @Slot()
    def _update(self) -> None:
        self.quality.setEnabled(self.path().suffix.lower() in LOSSY)


class SweepDialog(_SaveDialog):
    """Which attribute to sweep, in how many steps, and where to write the strip or GIF."""

    def __init__(
        self, path: Path, attributes: Sequence[AttributeSpec], parent: QWidget | None = None
    ) -> None:
        self.attribute = QComboBox()
        for spec in attributes:
            self.attribute.addItem(f"{spec.label} ({spec.min:g} to {spec.max:g})", spec.name)
        self.steps = QSpinBox()
        self.steps.setRange(2, 25)
        self.steps.setValue(7)
        rows = [("Attribute:", self.attribute), ("Steps:", self.steps)]
        super().__init__("Export Sweep", path, SWEEP_FILTER, rows, parent)
