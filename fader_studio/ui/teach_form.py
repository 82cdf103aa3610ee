"""Tools → Teach a New Fader: an installed model, a name, and two folders of the user's photos.

The form becomes ``fader-train teach`` arguments (:meth:`TeachForm.arguments`);
the Train dialog runs them like any other run (progress, pause, stop,
resume) and opens the taught model at the end. Each folder's faces are
counted on a thread as soon as it is chosen, with the trainer's own rules, so
the user learns before starting that a folder has too few.
"""

from __future__ import annotations

import shlex
from datetime import date
from pathlib import Path

from PySide6.QtCore import QSettings, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from superqt.utils import create_worker

from trainer.examples import FEW_EXAMPLES, MIN_EXAMPLES, FaceCount, check_attribute_name, counting_faces

from ..core import paths
from ..core.errors import FaderStudioError, first_line
from .train_setup import DEVICES, model_attributes, run_problem

#: The folders the form asks for: key, label, what the photos show.
FOLDERS = (
    ("with", "Photos with it", "that show the attribute"),
    ("without", "Photos without it", "that do not"),
)


class ExampleFolder(QWidget):
    """One example folder: its path, a Browse button, and the count of faces found in it."""

    counted = Signal()

    def __init__(self, title: str, settings: QSettings, key: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.settings = settings
        self.key = key
        self.count: FaceCount | None = None
        self._worker = None
        self.edit = QLineEdit()
        self.edit.setPlaceholderText("a folder of photos (subfolders too)")
        self.edit.editingFinished.connect(lambda: self.set_folder(self.edit.text()))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._choose)
        self.status = QLabel()
        self.status.setWordWrap(True)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(browse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.status)

    @Slot()
    def _choose(self) -> None:
        start = self.edit.text() or self.settings.value(f"teach/{self.key}", str(Path.home()))
        path = QFileDialog.getExistingDirectory(self, self.title, start)
        if path:
            self.set_folder(path)

    def folder(self) -> Path | None:
        """The chosen folder, if its faces have been counted."""
        return Path(self.edit.text()).expanduser() if self.count is not None else None

    def set_folder(self, path: str | Path) -> None:
        """Count the faces in the folder at ``path`` in the background; ``counted`` follows."""
        text = str(path).strip()
        self.edit.setText(text)
        self.count = None
        self._worker = None
        self.status.setStyleSheet("")
        self.status.setText("")
        self.counted.emit()
        if not text:
            return
        self.status.setText("Looking for faces…")
        worker = create_worker(counting_faces, Path(text).expanduser(), _start_thread=False)
        worker.yielded.connect(lambda step, w=worker: self._progress(w, *step))
        worker.returned.connect(lambda count, w=worker: self._done(w, count))
        worker.errored.connect(lambda error, w=worker: self._failed(w, error))
        self._worker = worker
        worker.start()

    def _progress(self, worker: object, done: int, total: int) -> None:
        if worker is self._worker:
            self.status.setText(f"Looking for faces… {done:,} of {total:,} photos")

    def _done(self, worker: object, count: FaceCount) -> None:
        if worker is not self._worker:
            return
        self.count = count
        self.settings.setValue(f"teach/{self.key}", self.edit.text())
        skipped = f"; {len(count.unusable):,} without one clear face are left out" if count.unusable else ""
        text = f"{count.faces:,} faces in {count.photos:,} photos{skipped}"
        if count.faces < MIN_EXAMPLES:
            self.status.setStyleSheet("color: #b00020")
            self.status.setText(f"✗ {text}: at least {MIN_EXAMPLES} are needed")
        elif count.faces < FEW_EXAMPLES:
            self.status.setStyleSheet("color: #8a5a00")
            self.status.setText(f"⚠ {text}: {FEW_EXAMPLES} or more teach a fader more reliably")
        else:
            self.status.setText(f"✓ {text}")
        self.counted.emit()

    def _failed(self, worker: object, error: BaseException) -> None:
        if worker is not self._worker:
            return
        message = str(error) if isinstance(error, FaderStudioError) else first_line(error)
        self.status.setStyleSheet("color: #b00020")
        self.status.setText(f"✗ {message}")
        self.counted.emit()

    def problem(self) -> str:
        """Why this folder cannot be used yet ('' when it can)."""
        if not self.edit.text():
            return f"Choose the {self.title.lower()}."
        if self.count is None:
            return f"{self.title}: wait for the faces to be counted."
        if self.count.faces < MIN_EXAMPLES:
            return f"{self.title}: at least {MIN_EXAMPLES} faces are needed."
        return ""


class TeachForm(QWidget):
    """The settings of a teach run; ``startRequested(arguments, run_dir)`` when Start is pressed."""

    startRequested = Signal(list, Path)

    def __init__(self, settings: QSettings, runs_folder: QLineEdit, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.runs_folder = runs_folder  # shared with the New Run form
        self.model = QComboBox()
        self.model.currentIndexChanged.connect(self._update_start)
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. Eyeglasses, Beard, Red_Hat")
        self.name.textChanged.connect(self._update_start)
        self.folders = {key: ExampleFolder(title, settings, key) for key, title, _ in FOLDERS}
        for folder in self.folders.values():
            folder.counted.connect(self._update_start)
        self.minutes = QDoubleSpinBox()
        self.minutes.setRange(1, 10_000)
        self.minutes.setDecimals(0)
        self.minutes.setSuffix(" minutes")
        self.minutes.setValue(float(settings.value("teach/minutes", 30)))
        self.minutes.setToolTip("Stop after this much training (resume the run later to train it longer)")
        self.device = QComboBox()
        self.device.addItems(DEVICES)
        self.run_name = QLineEdit()
        self.run_name.setPlaceholderText("named after the model and the new fader")
        self.run_name.textChanged.connect(self._update_start)
        self.extra = QLineEdit()
        self.extra.setPlaceholderText(
            "any other fader-train teach options, e.g. --lambda-patch 0.01 --freeze-d 2"
        )
        self.extra.textChanged.connect(self._update_start)
        intro = QLabel(
            "Teach an installed model one more fader from your own photos: a folder of faces that show "
            "the attribute, and a folder of faces that do not (a few hundred each; more is better). "
            "Faces are found and aligned as in the editor; the model's own faders are labelled by its "
            "classifier. Training follows seed 004's fine-tuning recipe; the taught model is installed "
            "and opens when it is done."
        )
        intro.setWordWrap(True)
        self.start_button = QPushButton("Start Teaching")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #b00020")

        form = QFormLayout()
        form.addRow("Model", self.model)
        form.addRow("New fader", self.name)
        for key, title, what in FOLDERS:
            form.addRow(title, self.folders[key])
            self.folders[key].setToolTip(f"Photos {what}")
        form.addRow("Train for", self.minutes)
        form.addRow("Device", self.device)
        form.addRow("Run name", self.run_name)
        form.addRow("Other options", self.extra)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addStretch(1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.problem, 1)
        bottom.addWidget(self.start_button)
        layout.addLayout(bottom)
        self.refresh_models()
        for key, folder in self.folders.items():
            last = settings.value(f"teach/{key}", "")
            if last and Path(last).is_dir():
                folder.set_folder(last)

    def refresh_models(self, choose: str | Path | None = None) -> None:
        """List the installed models; select ``choose`` (a path) when given, else keep the selection."""
        current = str(choose) if choose is not None else self.model.currentData()
        self.model.blockSignals(True)
        self.model.clear()
        for path in paths.installed_models():
            names = model_attributes(path)
            self.model.addItem(f"{path.stem} ({', '.join(names)})" if names else path.stem, str(path))
        if current is not None and self.model.findData(current) < 0 and Path(current).is_file():
            self.model.addItem(Path(current).stem, current)  # a model opened from elsewhere
        self.model.setCurrentIndex(max(0, self.model.findData(current)))
        self.model.blockSignals(False)
        self._update_start()

    def run_dir(self) -> Path:
        """The folder the run will use."""
        folder = Path(self.runs_folder.text()).expanduser()
        name = self.run_name.text().strip()
        if name:
            return folder / name
        model = Path(self.model.currentData() or "model").stem
        return paths.free_path(
            folder, f"{model}-{self.name.text().strip().lower()}-{date.today().isoformat()}"
        )

    def arguments(self) -> list[str]:
        """The ``fader-train teach`` arguments of these settings (without ``--progress``)."""
        return [
            "teach", self.model.currentData(), self.name.text().strip(),
            "--with", str(self.folders["with"].folder()), "--without", str(self.folders["without"].folder()),
            "--out", str(self.run_dir()), "--max-minutes", f"{self.minutes.value():g}",
            "--max-steps", "10000000", "--eval-every", "500", "--device", DEVICES[self.device.currentText()],
            *shlex.split(self.extra.text()),
        ]  # fmt: skip

    def problem_text(self) -> str:
        """Why Start cannot be pressed now ('' when it can)."""
        model = self.model.currentData()
        if model is None:
            return "Install or train a model to teach first."
        if not self.name.text().strip():
            return "Name the new fader."
        try:
            check_attribute_name(self.name.text().strip(), model_attributes(Path(model)))
        except FaderStudioError as e:
            return str(e)
        for folder in self.folders.values():
            if folder.problem():
                return folder.problem()
        if self.folders["with"].folder() == self.folders["without"].folder():
            return "Choose two different folders."
        return run_problem(self.run_dir(), self.extra.text())

    @Slot()
    def _update_start(self) -> None:
        problem = self.problem_text()
        self.problem.setText(problem if self.name.text() else "")
        self.start_button.setEnabled(not problem)

    @Slot()
    def start(self) -> None:
        """Emit ``startRequested`` with these settings."""
        problem = self.problem_text()
        if problem:
            self.problem.setText(problem)
            return
        self.settings.setValue("teach/minutes", self.minutes.value())
        self.startRequested.emit(self.arguments(), self.run_dir())
