"""The Train dialog's first page: a new run's settings, or an earlier run to resume or watch.

The settings become ``fader-train train`` arguments (:meth:`NewRunForm.arguments`);
nothing here trains. The dataset is checked on a thread as soon as it is
chosen (image count, splits, attributes with their positives, or the reader's
one-line error), so a bad folder is refused before anything starts.
"""

from __future__ import annotations

import json
import shlex
import warnings
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from PySide6.QtCore import QProcess, QSettings, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)
from safetensors import safe_open
from superqt import QCollapsible
from superqt.utils import create_worker

from trainer.config import AUTO_CLASSIFIER_STEPS, QUICK_SETTINGS, default_settings, setting_range
from trainer.runs import RunSummary, best_model, list_runs, parse_event

from ..core import paths
from ..core.attributes import attribute_label
from ..core.errors import FaderStudioError, first_line
from ..core.template import IMAGE_SIZES
from .trainer_process import trainer_command

#: Settings of each preset, from the trainer's own (trainer.config): a quick run that shows results
#: in minutes on a CPU, and the paper's defaults.
PRESETS = {
    "Quick preview (64 px, minutes on a CPU)": default_settings(**QUICK_SETTINGS),
    "Paper defaults (256 px, days on a GPU)": default_settings(),
}
#: The largest value a spin box holds (Qt's are 32-bit).
SPIN_LIMIT = 2**31 - 1
#: Faces drawn by "Draw Synthetic Faces" (about a minute on two cores).
SYNTH_COUNT = 6000
#: The framing (template) of a new model, as the dialog names them.
FRAMINGS = {
    "CelebA: face, hair and background": "celeba",
    "Face-tight: forehead to chin (UTKFace)": "tight",
}
DEVICES = {"Automatic (a GPU if there is one)": "auto", "CPU": "cpu", "CUDA GPU": "cuda", "Apple GPU": "mps"}


@dataclass
class DatasetSummary:
    """What the Train dialog shows of a dataset it has checked."""

    path: Path
    images: int
    splits: dict[str, int]
    positives: dict[str, int]  # attribute → images with it
    alignment: str  # how its faces are framed, in words
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """One line for the dialog."""
        splits = ", ".join(f"{n:,} {k}" for k, n in self.splits.items())
        return f"{self.images:,} images ({splits}), {len(self.positives)} attributes, {self.alignment}"


def check_dataset(path: Path) -> DatasetSummary:
    """Read the dataset at ``path`` as the trainer will; :class:`FaderStudioError` if it cannot be used."""
    from trainer.cache import open_dataset
    from trainer.celeba import CelebA

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = open_dataset(path)
    counts = dataset.labels.sum(axis=0)  # a dataset without images is refused
    if not isinstance(dataset, CelebA):
        alignment = "photos (each face found and aligned)"
    elif dataset.landmarks is not None:
        alignment = "landmarks"
    else:
        alignment = "no landmarks (CelebA's mean template)"
    return DatasetSummary(
        path=Path(path),
        images=len(dataset),
        splits=dataset.split_counts(),
        positives={name: int(n) for name, n in zip(dataset.attribute_names, counts, strict=True)},
        alignment=alignment,
        warnings=[str(w.message) for w in caught],
    )


def model_attributes(path: Path) -> list[str]:
    """The attribute names of the ``.fader`` model at ``path`` (read from its header; [] if unreadable)."""
    try:
        with safe_open(str(path), "np") as f:
            return [a["name"] for a in json.loads(f.metadata()["attributes"])]
    except Exception:  # noqa: BLE001 (any damage: the trainer reports it when it starts)
        return []


def run_problem(run_dir: Path, extra: str) -> str:
    """Why a run with the "Other options" ``extra`` cannot start in ``run_dir`` ('' when it can)."""
    try:
        shlex.split(extra)
    except ValueError as e:
        return f"Other options: {e}"
    if (run_dir / "config.json").exists():
        return f"{run_dir} holds a run already: resume it from Runs, or choose another name."
    return ""


def _setting_spin(name: str, step: int = 1) -> QSpinBox:
    """A spin box for the whole-number training setting ``name``, in the range the trainer accepts."""
    low, high = setting_range(name)
    return _spin(int(low), int(min(high, SPIN_LIMIT)), int(low), step)


def _setting_float_spin(name: str, decimals: int) -> QDoubleSpinBox:
    """A spin box for the training setting ``name``, a number, in the range the trainer accepts."""
    low, high = setting_range(name)
    return _float_spin(max(low, 10**-decimals), high, low, decimals)


def _spin(low: int, high: int, value: int, step: int = 1, suffix: str = "") -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setSingleStep(step)
    spin.setGroupSeparatorShown(True)
    spin.setSuffix(suffix)
    spin.setValue(value)
    return spin


def _float_spin(low: float, high: float, value: float, decimals: int) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setDecimals(decimals)
    spin.setRange(low, high)
    spin.setSingleStep(10 ** (-decimals + 1))
    spin.setValue(value)
    return spin


def _add_rows(form: QFormLayout, rows: list[tuple[str, QWidget | QHBoxLayout]]) -> None:
    for label, widget in rows:
        form.addRow(label, widget)


class NewRunForm(QWidget):
    """The settings of a new run; ``startRequested(arguments, run_dir)`` when Start is pressed."""

    startRequested = Signal(list, Path)
    datasetChecked = Signal(bool)

    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.dataset: DatasetSummary | None = None
        self.tuned_attributes: list[str] = []  # those of the model to fine-tune
        self._worker = None

        self.data_edit = QLineEdit()
        self.data_edit.setPlaceholderText(
            "a CelebA folder, img_align_celeba.zip, or photos with a labels.csv"
        )
        self.data_edit.editingFinished.connect(lambda: self.set_dataset(self.data_edit.text()))
        folder_button = QPushButton("Folder…")
        folder_button.clicked.connect(self._choose_folder)
        zip_button = QPushButton("Zip…")
        zip_button.clicked.connect(self._choose_zip)
        self.synth_button = QPushButton("Draw Synthetic Faces")
        self.synth_button.setToolTip(
            f"No CelebA? Draw {SYNTH_COUNT:,} simple faces with known attributes to try training on"
        )
        self.synth_button.clicked.connect(self.draw_synthetic)
        self._synth: QProcess | None = None
        data_row = QHBoxLayout()
        data_row.addWidget(self.data_edit, 1)
        data_row.addWidget(folder_button)
        data_row.addWidget(zip_button)
        data_row.addWidget(self.synth_button)
        self.data_status = QLabel("Choose your copy of CelebA, or a set made by fader-train synth.")
        self.data_status.setWordWrap(True)
        self.data_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.attributes = QListWidget()
        self.attributes.setMinimumHeight(140)
        self.attributes.itemChanged.connect(self._update_start)

        self.preset = QComboBox()
        self.preset.addItems(PRESETS)
        self.size = QComboBox()
        self.size.addItems([f"{s} px" for s in IMAGE_SIZES])
        self.framing = QComboBox()
        for text, name in FRAMINGS.items():
            self.framing.addItem(text, name)
        self.batch = _setting_spin("batch_size")
        self.steps = _setting_spin("max_steps", 500)
        self.device = QComboBox()
        self.device.addItems(DEVICES)

        self.init_from = QComboBox()
        self.freeze_encoder = QCheckBox("Freeze the encoder")
        self.freeze_decoder = _spin(0, 8, 0, suffix=" first decoder blocks")
        self.freeze_decoder.setPrefix("Freeze the ")
        self.freeze_decoder.setSpecialValueText("Train every decoder block")
        tune_row = QHBoxLayout()
        tune_row.addWidget(self.freeze_encoder)
        tune_row.addWidget(self.freeze_decoder)
        self.init_from.currentIndexChanged.connect(self._fine_tuning_changed)

        self.runs_folder = QLineEdit(settings.value("train/runs", str(paths.runs_dir())))
        runs_button = QPushButton("Browse…")
        runs_button.clicked.connect(self._choose_runs_folder)
        runs_row = QHBoxLayout()
        runs_row.addWidget(self.runs_folder, 1)
        runs_row.addWidget(runs_button)
        self.run_name = QLineEdit()
        self.run_name.setPlaceholderText("named after the attributes and the date")

        self.lr = _setting_float_spin("lr", 6)
        self.lambda_e = _setting_float_spin("lambda_e", 6)
        self.schedule = _setting_spin("lambda_schedule", 1000)
        self.eval_every = _setting_spin("eval_every", 100)
        self.checkpoint_minutes = _setting_float_spin("checkpoint_minutes", 1)
        self.classifier_steps = _setting_spin("classifier_steps", 100)
        fewest, most = AUTO_CLASSIFIER_STEPS
        self.classifier_steps.setSpecialValueText(f"Automatic (the run's steps, {fewest:,} to {most:,})")
        self.seed = _setting_spin("seed")
        self.balanced = QCheckBox("Draw attribute combinations equally often")
        self.flip = QCheckBox("Mirror half the images")
        self.flip.setChecked(True)
        self.extra = QLineEdit()
        self.extra.setPlaceholderText("any other fader-train train options, e.g. --max-channels 256")
        advanced = QWidget()
        adv = QFormLayout(advanced)
        _add_rows(adv, [
            ("Learning rate", self.lr), ("λ_E (adversarial weight)", self.lambda_e),
            ("λ_E rises over", self.schedule), ("Evaluate every", self.eval_every),
            ("Checkpoint every (minutes)", self.checkpoint_minutes),
            ("Classifier steps", self.classifier_steps), ("Seed", self.seed), ("", self.balanced),
            ("", self.flip), ("Other options", self.extra),
        ])  # fmt: skip
        self.advanced = QCollapsible("Advanced settings")
        self.advanced.addWidget(advanced)

        self.start_button = QPushButton("Start Training")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #b00020")

        form = QFormLayout()
        _add_rows(form, [
            ("Dataset", data_row), ("", self.data_status), ("Attributes", self.attributes),
            ("Preset", self.preset), ("Image size", self.size), ("Framing", self.framing),
            ("Batch size", self.batch),
            ("Training steps", self.steps), ("Device", self.device), ("Fine-tune from", self.init_from),
            ("", tune_row), ("Save runs in", runs_row), ("Run name", self.run_name),
        ])  # fmt: skip
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.advanced)
        layout.addStretch(1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.problem, 1)
        bottom.addWidget(self.start_button)
        layout.addLayout(bottom)

        self.preset.currentTextChanged.connect(self.apply_preset)
        self.apply_preset(self.preset.currentText())
        self.refresh_models()
        self._update_start()
        last = settings.value("train/dataset", "")
        if last and Path(last).exists():
            self.set_dataset(last)

    # the dataset

    @Slot()
    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self, "CelebA Folder", self.data_edit.text() or str(Path.home())
        )
        if path:
            self.set_dataset(path)

    @Slot()
    def _choose_zip(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "img_align_celeba.zip", self.data_edit.text() or str(Path.home()), "Zip files (*.zip)"
        )
        if path:
            self.set_dataset(path)

    def set_dataset(self, path: str | Path) -> None:
        """Check the dataset at ``path`` in the background; ``datasetChecked(ok)`` follows."""
        text = str(path).strip()
        self.data_edit.setText(text)
        self.dataset = None
        self.attributes.clear()
        self._update_start()
        if not text:
            return
        self.data_status.setStyleSheet("")
        self.data_status.setText(f"Reading {text}…")
        self._worker = create_worker(check_dataset, Path(text).expanduser(), _ignore_errors=True)
        self._worker.returned.connect(lambda summary, w=self._worker: self._checked(w, summary))
        self._worker.errored.connect(lambda error, w=self._worker: self._not_usable(w, error))
        self._worker.start()

    @Slot()
    def draw_synthetic(self, count: int = SYNTH_COUNT) -> None:
        """Run ``fader-train synth`` into a new folder of the user data folder, then choose it."""
        folder = paths.free_path(paths.data_dir(), "synthetic-faces")
        program, *first = trainer_command()
        self._synth = process = QProcess(self)
        process.setProgram(program)
        process.setArguments([*first, "synth", str(folder), "--count", str(count), "--progress", "json"])
        process.readyReadStandardOutput.connect(self._synth_progress)
        process.finished.connect(lambda code, _status: self._synth_finished(code, folder))
        self.synth_button.setEnabled(False)
        self.data_status.setStyleSheet("")
        self.data_status.setText(f"Drawing {count:,} synthetic faces into {folder}…")
        process.start()

    @Slot()
    def _synth_progress(self) -> None:
        while self._synth.canReadLine():
            event = parse_event(bytes(self._synth.readLine()).decode())
            if event is not None and event["event"] == "synth":
                self.data_status.setText(f"Drawing synthetic faces: {event['done']:,} of {event['total']:,}")

    def _synth_finished(self, code: int, folder: Path) -> None:
        self.synth_button.setEnabled(True)
        if code == 0:
            self.set_dataset(folder)
            return
        lines = bytes(self._synth.readAllStandardError()).decode(errors="replace").strip().splitlines()
        self.data_status.setStyleSheet("color: #b00020")
        self.data_status.setText(f"✗ {lines[-1] if lines else 'fader-train synth failed'}")
        self.datasetChecked.emit(False)

    def _checked(self, worker: object, summary: DatasetSummary) -> None:
        if worker is not self._worker:
            return  # an older choice
        self.dataset = summary
        note = "".join(f"\n⚠ {first_line(w)}" for w in summary.warnings)
        self.data_status.setStyleSheet("")
        self.data_status.setText(f"✓ {summary.describe()}{note}")
        self.settings.setValue("train/dataset", str(summary.path))
        chosen = set(self.settings.value("train/attributes", ["Smiling"], type=list)) | set(
            self.tuned_attributes
        )
        self.attributes.blockSignals(True)
        learnable = sorted(summary.positives.items(), key=lambda item: not 0 < item[1] < summary.images)
        for name, count in learnable:
            share = count / summary.images
            item = QListWidgetItem(f"{attribute_label(name)} ({name}): {count:,} images, {share:.0%}")
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            usable = 0 < count < summary.images
            if not usable:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
                item.setToolTip("every image has the same value: nothing to learn")
            checked = usable and name in chosen
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            self.attributes.addItem(item)
        self.attributes.blockSignals(False)
        self._update_start()
        self.datasetChecked.emit(True)

    def _not_usable(self, worker: object, error: BaseException) -> None:
        if worker is not self._worker:
            return
        message = str(error) if isinstance(error, FaderStudioError) else first_line(error)
        self.data_status.setStyleSheet("color: #b00020")
        self.data_status.setText(f"✗ {message}")
        self.datasetChecked.emit(False)

    # settings

    @Slot(str)
    def apply_preset(self, name: str) -> None:
        """Set the size, batch, steps and advanced settings of preset ``name``."""
        p = PRESETS[name]
        self.size.setCurrentText(f"{p['image_size']} px")
        self.batch.setValue(p["batch_size"])
        self.steps.setValue(p["max_steps"])
        self.lr.setValue(p["lr"])
        self.lambda_e.setValue(p["lambda_e"])
        self.schedule.setValue(p["lambda_schedule"])
        self.eval_every.setValue(p["eval_every"])
        self.checkpoint_minutes.setValue(p["checkpoint_minutes"])
        self.classifier_steps.setValue(p["classifier_steps"])
        self.seed.setValue(p["seed"])

    def refresh_models(self) -> None:
        """List the installed models to fine-tune from."""
        current = self.init_from.currentData()
        self.init_from.blockSignals(True)
        self.init_from.clear()
        self.init_from.addItem("Nothing: train a new model", None)
        for path in paths.installed_models():
            self.init_from.addItem(path.stem, str(path))
        self.init_from.setCurrentIndex(max(0, self.init_from.findData(current)))
        self.init_from.blockSignals(False)
        self._fine_tuning_changed()

    @Slot()
    def _fine_tuning_changed(self) -> None:
        tuning = self.init_from.currentData() is not None
        self.freeze_encoder.setEnabled(tuning)
        self.freeze_decoder.setEnabled(tuning)
        self.size.setEnabled(not tuning)
        self.size.setToolTip("fine-tuning keeps the model's image size" if tuning else "")
        self.tuned_attributes = model_attributes(Path(self.init_from.currentData())) if tuning else []
        self.set_attributes(self.chosen_attributes() + self.tuned_attributes)
        self._update_start()

    @Slot()
    def _choose_runs_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Save Runs In", self.runs_folder.text())
        if path:
            self.runs_folder.setText(path)

    def chosen_attributes(self) -> list[str]:
        """The checked attributes, in the dataset's order."""
        items = (self.attributes.item(i) for i in range(self.attributes.count()))
        return [i.data(Qt.ItemDataRole.UserRole) for i in items if i.checkState() == Qt.CheckState.Checked]

    def set_attributes(self, names: list[str]) -> None:
        """Check exactly the attributes in ``names``."""
        for i in range(self.attributes.count()):
            item = self.attributes.item(i)
            on = item.data(Qt.ItemDataRole.UserRole) in names
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def run_dir(self) -> Path:
        """The folder the new run will use."""
        folder = Path(self.runs_folder.text()).expanduser()
        name = self.run_name.text().strip()
        if name:
            return folder / name
        attrs = "-".join(a.lower().replace("_", "") for a in self.chosen_attributes()[:3]) or "run"
        return paths.free_path(folder, f"{attrs}-{date.today().isoformat()}")

    def arguments(self) -> list[str]:
        """The ``fader-train`` arguments of these settings (without ``--progress``)."""
        assert self.dataset is not None
        args = [
            "train", str(self.dataset.path), "--attrs", ",".join(self.chosen_attributes()),
            "--out", str(self.run_dir()), "--batch-size", str(self.batch.value()),
            "--max-steps", str(self.steps.value()), "--lr", f"{self.lr.value():g}",
            "--lambda-e", f"{self.lambda_e.value():g}", "--lambda-schedule", str(self.schedule.value()),
            "--eval-every", str(self.eval_every.value()),
            "--checkpoint-minutes", f"{self.checkpoint_minutes.value():g}",
            "--classifier-steps", str(self.classifier_steps.value()), "--seed", str(self.seed.value()),
            "--device", DEVICES[self.device.currentText()],
            "--balanced" if self.balanced.isChecked() else "--no-balanced",
            "--flip" if self.flip.isChecked() else "--no-flip",
        ]  # fmt: skip
        model = self.init_from.currentData()
        if model is None:
            args += ["--size", self.size.currentText().split()[0], "--template", self.framing.currentData()]
        else:
            freeze = ["encoder"] if self.freeze_encoder.isChecked() else []
            freeze += [f"decoder-{self.freeze_decoder.value()}"] if self.freeze_decoder.value() else []
            args += ["--init-from", model] + (["--freeze", ",".join(freeze)] if freeze else [])
        return args + shlex.split(self.extra.text())

    def problem_text(self) -> str:
        """Why Start cannot be pressed now ('' when it can)."""
        if self.dataset is None:
            return "Choose a dataset."
        if not self.chosen_attributes():
            return "Check at least one attribute to learn."
        dropped = [a for a in self.tuned_attributes if a not in self.chosen_attributes()]
        if dropped:
            return f"The model to fine-tune controls {', '.join(dropped)}: keep them (you may add others)."
        return run_problem(self.run_dir(), self.extra.text())

    @Slot()
    def _update_start(self) -> None:
        problem = self.problem_text()
        self.problem.setText(problem if self.dataset is not None or not self.data_edit.text() else "")
        self.start_button.setEnabled(not problem)

    @Slot()
    def start(self) -> None:
        """Emit ``startRequested`` with these settings (remembered for next time)."""
        problem = self.problem_text()
        if problem:
            self.problem.setText(problem)
            return
        self.settings.setValue("train/attributes", self.chosen_attributes())
        self.settings.setValue("train/runs", self.runs_folder.text())
        self.startRequested.emit(self.arguments(), self.run_dir())


class RunsList(QWidget):
    """Earlier runs in the runs folder: resume a stopped one, watch a running one, open its model."""

    resumeRequested = Signal(object)  # RunSummary
    watchRequested = Signal(object)
    openModel = Signal(str)

    STATES = {
        "running": "training now",
        "finished": "finished",
        "stopped": "stopped (resumable)",
        "failed": "failed",
        "interrupted": "interrupted (resumable)",
        "new": "not started",
    }

    def __init__(self, folder: QLineEdit, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folder = folder
        self.runs: list[RunSummary] = []
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Run", "Attributes", "Progress", "State"])
        self.tree.setRootIsDecorated(False)
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        self.tree.itemDoubleClicked.connect(self._activate)
        self.resume_button = QPushButton("Resume")
        self.resume_button.clicked.connect(lambda: self.resumeRequested.emit(self.selected()))
        self.watch_button = QPushButton("Watch")
        self.watch_button.clicked.connect(lambda: self.watchRequested.emit(self.selected()))
        self.open_button = QPushButton("Open Model in Editor")
        self.open_button.clicked.connect(self._open_model)
        self.folder_button = QPushButton("Show Folder")
        self.folder_button.clicked.connect(
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.selected().path)))
        )
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        buttons = QHBoxLayout()
        for b in (self.resume_button, self.watch_button, self.open_button, self.folder_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(refresh)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.detail)
        layout.addLayout(buttons)
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        """Read the runs folder again."""
        self.runs = list_runs(Path(self.folder.text()).expanduser())
        self.tree.clear()
        for run in self.runs:
            progress = f"{run.step:,} / {run.total_steps:,}"
            item = QTreeWidgetItem([run.name, ", ".join(run.attributes), progress, self.STATES[run.state]])
            item.setToolTip(0, str(run.path))
            self.tree.addTopLevelItem(item)
        for column in range(4):
            self.tree.resizeColumnToContents(column)
        if self.runs:
            self.tree.setCurrentItem(self.tree.topLevelItem(0))
        self._update_buttons()

    def selected(self) -> RunSummary | None:
        """The run chosen in the list."""
        row = self.tree.indexOfTopLevelItem(self.tree.currentItem()) if self.tree.currentItem() else -1
        return self.runs[row] if 0 <= row < len(self.runs) else None

    def select(self, run_dir: Path) -> None:
        """Choose the run in ``run_dir`` in the list."""
        for row, run in enumerate(self.runs):
            if run.path == run_dir:
                self.tree.setCurrentItem(self.tree.topLevelItem(row))

    @Slot()
    def _update_buttons(self) -> None:
        run = self.selected()
        self.resume_button.setEnabled(run is not None and run.resumable)
        self.watch_button.setEnabled(run is not None and run.state == "running")
        self.open_button.setEnabled(run is not None and best_model(run.path) is not None)
        self.folder_button.setEnabled(run is not None)
        if run is None:
            self.detail.setText("No runs yet." if not self.runs else "")
            return
        text = f"{run.image_size} px, dataset {run.data or 'unknown'}"
        self.detail.setText(text + (f"\n{run.message}" if run.message else ""))

    def _activate(self) -> None:
        run = self.selected()
        if run is not None and run.state == "running":
            self.watchRequested.emit(run)
        elif run is not None and run.resumable:
            self.resumeRequested.emit(run)

    @Slot()
    def _open_model(self) -> None:
        model = best_model(self.selected().path)
        if model is not None:
            self.openModel.emit(str(model))
