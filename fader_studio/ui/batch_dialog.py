"""File → Export Batch: one look applied to many photos, on the editor's worker, with progress and Cancel.

The dialog collects photos and folders (buttons or drag and drop), a look (the
selected face's faders, as changes or as values, or a saved preset), which
faces, an output folder, a name pattern and a format, and asks the
:class:`~fader_studio.ui.session.EditorSession` to run
:func:`fader_studio.core.batch.run_batch` with the open model. While it runs,
a progress bar, the photo being done and the time left are shown; Cancel stops
after the current photo and every file written stays complete. At the end,
photos that were not edited (no face, unreadable, a name already taken) are
listed, and the list can be copied.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QUrl, Slot
from PySide6.QtGui import QCloseEvent, QDesktopServices, QDragEnterEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..core.batch import DEFAULT_PATTERN, BatchSettings, Progress, Report, check_pattern, output_suffix
from ..core.errors import FaderStudioError
from ..core.imageio import JPEG_QUALITY
from ..core.presets import Preset, list_presets
from ..core.regions import DEFAULT_REGION, REGIONS
from .dialogs import OPEN_PHOTO_FILTER
from .presets import CurrentFace
from .session import EditorSession

#: The formats offered: label and suffix (``None``: each photo's own).
FORMATS = (
    ("Same as each photo", None),
    ("JPEG", ".jpg"),
    ("PNG", ".png"),
    ("WebP", ".webp"),
    ("TIFF", ".tif"),
)
#: The look's first choice: the selected face's faders.
CURRENT = "current"


def _time_left(seconds: float) -> str:
    if seconds < 60:
        return f"about {max(1, round(seconds))} s left"
    return f"about {int(seconds) // 60}:{int(seconds) % 60:02d} left"


class BatchDialog(QDialog):
    """Export Batch: what to edit, how, and where; then progress, and what could not be edited."""

    def __init__(
        self,
        session: EditorSession,
        settings: QSettings,
        current: CurrentFace,
        start_folder: Path | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export Batch")
        self.setAcceptDrops(True)
        self.session, self.settings, self._current = session, settings, current
        self.running = False
        self.report: Report | None = None
        self._start_folder = start_folder or Path.home()
        layout = QVBoxLayout(self)
        form = QFormLayout()
        layout.addLayout(form)

        self.photos = QListWidget()
        self.photos.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.photos.setMinimumHeight(110)
        self.photos.setToolTip("Photos and folders to edit (drop them here too)")
        add_photos = QPushButton("Add Photos…")
        add_photos.clicked.connect(self._choose_photos)
        add_folder = QPushButton("Add Folder…")
        add_folder.clicked.connect(self._choose_folder)
        remove = QPushButton("Remove")
        remove.clicked.connect(self._remove_selected)
        self.recursive = QCheckBox("Include subfolders")
        self.recursive.setChecked(settings.value("batch/recursive", False, type=bool))
        buttons = QHBoxLayout()
        for widget in (add_photos, add_folder, remove):
            buttons.addWidget(widget)
        buttons.addStretch(1)
        buttons.addWidget(self.recursive)
        photos = QVBoxLayout()
        photos.addWidget(self.photos)
        photos.addLayout(buttons)
        form.addRow("Photos:", photos)

        self.look = QComboBox()
        self.relative = QCheckBox("As changes from each face's own look")
        self.relative.setToolTip(
            "On: each face's faders move as far from its own values as the selected face's did. "
            "Off: every face gets the selected face's values."
        )
        self.relative.setChecked(settings.value("batch/relative", True, type=bool))
        self.look_summary = QLabel()
        self.look_summary.setStyleSheet("color: palette(mid);")
        self.look.currentIndexChanged.connect(self._look_chosen)
        self.relative.toggled.connect(self._look_chosen)
        form.addRow("Look:", self.look)
        form.addRow("", self.relative)
        form.addRow("", self.look_summary)
        self.faces = QComboBox()
        self.faces.addItem("All faces", "all")
        self.faces.addItem("The largest face of each photo", "largest")
        self.faces.setCurrentIndex(max(0, self.faces.findData(settings.value("batch/faces", "all"))))
        form.addRow("Faces:", self.faces)
        self.region = QComboBox()
        for key, label in REGIONS.items():
            self.region.addItem(label, key)
        self.region.setCurrentIndex(
            max(0, self.region.findData(settings.value("batch/region", DEFAULT_REGION)))
        )
        self.region.setToolTip("Where on each face the look applies (found on each face by itself)")
        form.addRow("Region:", self.region)

        self.out_dir = QLineEdit(settings.value("batch/out_dir", str(self._start_folder / "edited")))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._choose_out_dir)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out_dir, 1)
        out_row.addWidget(browse)
        form.addRow("Save to:", out_row)
        self.pattern = QLineEdit(settings.value("batch/pattern", DEFAULT_PATTERN))
        self.pattern.setToolTip(
            "{name}: the photo's name; {folder}: its folder's; {n}: its number in the batch"
        )
        self.pattern_example = QLabel()
        self.pattern_example.setStyleSheet("color: palette(mid);")
        form.addRow("Names:", self.pattern)
        form.addRow("", self.pattern_example)
        self.format = QComboBox()
        for label, suffix in FORMATS:
            self.format.addItem(label, suffix)
        self.format.setCurrentIndex(max(0, self.format.findData(settings.value("batch/format", None))))
        self.quality = QSpinBox()
        self.quality.setRange(1, 100)
        self.quality.setSuffix(" %")
        self.quality.setValue(int(settings.value("export/quality", JPEG_QUALITY)))
        self.quality.setToolTip("JPEG and WebP quality (PNG and TIFF are lossless)")
        format_row = QHBoxLayout()
        format_row.addWidget(self.format, 1)
        format_row.addWidget(QLabel("Quality:"))
        format_row.addWidget(self.quality)
        form.addRow("Format:", format_row)

        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.problems = QPlainTextEdit()
        self.problems.setReadOnly(True)
        self.problems.setVisible(False)
        self.problems.setMinimumHeight(90)
        self.copy_button = QPushButton("Copy List")
        self.copy_button.clicked.connect(self._copy_problems)
        self.show_folder = QPushButton("Show Folder")
        self.show_folder.clicked.connect(self._show_folder)
        results = QHBoxLayout()
        results.addWidget(self.copy_button)
        results.addWidget(self.show_folder)
        results.addStretch(1)
        self.copy_button.setVisible(False)
        self.show_folder.setVisible(False)
        for widget in (self.progress, self.status, self.problems):
            layout.addWidget(widget)
        layout.addLayout(results)

        self.buttons = QDialogButtonBox()
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.export_button.clicked.connect(self.start)
        self.close_button.clicked.connect(self.reject)
        layout.addWidget(self.buttons)

        for signal in (self.pattern.textChanged, self.format.currentIndexChanged):
            signal.connect(self._update)
        self.photos.model().rowsInserted.connect(self._update)
        self.photos.model().rowsRemoved.connect(self._update)
        session.batchProgress.connect(self._progressed)
        session.batchDone.connect(self._finished)
        session.failed.connect(self._failed)
        self._form = [self.photos, add_photos, add_folder, remove, self.recursive, self.look, self.relative,
                      self.faces, self.region, self.out_dir, browse, self.pattern, self.format,
                      self.quality]  # fmt: skip
        self._fill_looks()
        self.resize(640, 560)

    # what to edit

    def add_inputs(self, paths: list[str | Path]) -> None:
        """Add photos and folders to the batch (each once)."""
        present = {self.photos.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.photos.count())}
        for path in map(Path, paths):
            if str(path) in present:
                continue
            present.add(str(path))
            label = f"{path}{'/  (folder)' if path.is_dir() else ''}"
            self.photos.addItem(label)
            self.photos.item(self.photos.count() - 1).setData(Qt.ItemDataRole.UserRole, str(path))

    def inputs(self) -> list[Path]:
        """The photos and folders of the batch."""
        return [Path(self.photos.item(i).data(Qt.ItemDataRole.UserRole)) for i in range(self.photos.count())]

    def choose_look(self, name: str) -> None:
        """Choose the saved preset ``name`` (or :data:`CURRENT`) as the look."""
        for index in range(self.look.count()):
            data = self.look.itemData(index)
            if data == name or (isinstance(data, Preset) and data.name == name):
                self.look.setCurrentIndex(index)

    def chosen_look(self) -> Preset | None:
        """The look to apply (the selected face's faders as a preset), or ``None`` if there is none."""
        data = self.look.currentData()
        if isinstance(data, Preset):
            return data
        current = self._current()
        if data != CURRENT or current is None:
            return None
        model, values, start = current
        return Preset.from_face("the selected face", values, start, relative=self.relative.isChecked(),
                                model_name=model)  # fmt: skip

    def batch_settings(self) -> BatchSettings:
        """What the batch will do; :class:`FaderStudioError` with the reason if it cannot start."""
        look = self.chosen_look()
        if look is None:
            raise FaderStudioError("choose a look: open a photo and set its faders, or save a preset")
        if not self.inputs():
            raise FaderStudioError("add photos or a folder of photos")
        if not self.out_dir.text().strip():
            raise FaderStudioError("choose a folder to save to")
        return BatchSettings(
            look,
            Path(self.out_dir.text().strip()).expanduser(),
            check_pattern(self.pattern.text()),
            self.format.currentData(),
            self.quality.value(),
            self.faces.currentData(),
            self.session.blend,
            region=self.region.currentData(),
        )

    # running

    @Slot()
    def start(self) -> bool:
        """Start the batch on the editor's worker; ``False`` (with the reason shown) if it cannot start."""
        if self.running:
            return False
        try:
            settings = self.batch_settings()
        except FaderStudioError as e:
            self.status.setText(f"<b>Cannot start:</b> {e}")
            return False
        self._remember(settings)
        self.running, self.report = True, None
        self._set_form_enabled(False)
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self.problems.setVisible(False)
        self.copy_button.setVisible(False)
        self.show_folder.setVisible(False)
        self.status.setText("Finding the photos…")
        self.close_button.setText("Cancel")
        self.session.export_batch(self.inputs(), settings, recursive=self.recursive.isChecked())
        return True

    @Slot(object)
    def _progressed(self, progress: Progress) -> None:
        if not self.running:
            return
        self.progress.setRange(0, max(progress.total, 1))
        self.progress.setValue(progress.done)
        if progress.current is None:
            return
        left = progress.remaining
        eta = "" if left is None else f" — {_time_left(left)}"
        self.status.setText(f"Photo {progress.done + 1} of {progress.total}: {progress.current.name}{eta}")

    @Slot(object)
    def _finished(self, report: Report) -> None:
        if not self.running:
            return
        self.running, self.report = False, report
        self._set_form_enabled(True)
        self.close_button.setText("Close")
        self.progress.setRange(0, max(report.total, 1))
        self.progress.setValue(len(report.written) + len(report.problems) if not report.cancelled else 0)
        self.progress.setVisible(not report.cancelled)
        text = report.summary().capitalize() + "."
        if report.cancelled:
            text += " Every file written is complete."
        if report.skipped_attributes:
            text += (
                f" This model has no {', '.join(report.skipped_attributes)}; the look was applied without it."
            )
        if report.problems:
            text += " Not edited:"
            self.problems.setPlainText("\n".join(p.reason for p in report.problems))
        self.status.setText(text)
        self.problems.setVisible(bool(report.problems))
        self.copy_button.setVisible(bool(report.problems))
        self.show_folder.setVisible(bool(report.written))

    @Slot(str, str)
    def _failed(self, doing: str, message: str) -> None:
        if self.running and doing == "Exporting the batch":
            self.running = False
            self._set_form_enabled(True)
            self.close_button.setText("Close")
            self.progress.setVisible(False)
            self.status.setText(f"<b>The batch failed:</b> {message}")

    def reject(self) -> None:
        """Close, or while a batch runs, cancel it (the dialog stays until the current photo is written)."""
        if self.running:
            self.session.cancel_batch()
            self.status.setText("Cancelling after this photo…")
            self.close_button.setEnabled(False)
            return
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        if self.running:
            self.reject()
            event.ignore()
            return
        super().closeEvent(event)

    # drag and drop

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt's name)
        if not self.running and any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        self.add_inputs([url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()])
        event.acceptProposedAction()

    # plumbing

    def _fill_looks(self) -> None:
        self.look.clear()
        if self._current() is not None:
            self.look.addItem("The selected face's faders", CURRENT)
        for _, preset in list_presets():
            self.look.addItem(f"Preset: {preset.name}", preset)
            self.look.setItemData(self.look.count() - 1, preset.describe(), Qt.ItemDataRole.ToolTipRole)
        self._look_chosen()

    @Slot()
    def _look_chosen(self) -> None:
        self.relative.setEnabled(self.look.currentData() == CURRENT and not self.running)
        look = self.chosen_look()
        self.look_summary.setText(
            look.describe() if look is not None else "Save a preset or open a photo first"
        )
        self._update()

    @Slot()
    def _update(self) -> None:
        suffix = self.format.currentData()
        try:
            example = check_pattern(self.pattern.text()).format(name="IMG_0042", folder="shoot", n="07")
            example = f"IMG_0042.jpg → {example}{output_suffix(Path('IMG_0042.jpg'), suffix)}"
        except FaderStudioError as e:
            example = str(e)
        self.pattern_example.setText(example)
        self.quality.setEnabled(not self.running and suffix in (None, ".jpg", ".webp"))
        self.export_button.setEnabled(not self.running and self.look.count() > 0 and self.photos.count() > 0)

    def _set_form_enabled(self, enabled: bool) -> None:
        for widget in self._form:
            widget.setEnabled(enabled)
        self.close_button.setEnabled(True)
        self._look_chosen()

    def _remember(self, settings: BatchSettings) -> None:
        self.settings.setValue("batch/out_dir", str(settings.out_dir))
        self.settings.setValue("batch/pattern", settings.pattern)
        self.settings.setValue("batch/format", settings.suffix)
        self.settings.setValue("batch/faces", settings.faces)
        self.settings.setValue("batch/region", settings.region)
        self.settings.setValue("batch/recursive", self.recursive.isChecked())
        self.settings.setValue("batch/relative", self.relative.isChecked())
        self.settings.setValue("export/quality", settings.quality)

    @Slot()
    def _choose_photos(self) -> None:
        chosen, _ = QFileDialog.getOpenFileNames(
            self, "Add Photos", str(self._start_folder), OPEN_PHOTO_FILTER
        )
        self.add_inputs(chosen)

    @Slot()
    def _choose_folder(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Add a Folder of Photos", str(self._start_folder))
        if chosen:
            self.add_inputs([chosen])

    @Slot()
    def _remove_selected(self) -> None:
        for item in self.photos.selectedItems():
            self.photos.takeItem(self.photos.row(item))

    @Slot()
    def _choose_out_dir(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Save the Edited Photos To", self.out_dir.text())
        if chosen:
            self.out_dir.setText(chosen)

    @Slot()
    def _copy_problems(self) -> None:
        QGuiApplication.clipboard().setText(self.problems.toPlainText())

    @Slot()
    def _show_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(self.out_dir.text()))
