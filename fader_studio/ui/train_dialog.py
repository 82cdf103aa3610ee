"""Tools → Train: set up a run, start ``fader-train`` in a process of its own, watch it, open the result.

One training code path (DESIGN §1): the dialog builds ``fader-train train``
arguments and reads the events the trainer writes. Closing the dialog leaves
the run going; Tools → Train shows it again. A finished run's best model is
installed into the models folder and opens in the editor with one click.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import QElapsedTimer, QEventLoop, QSettings, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QCloseEvent, QDesktopServices
from PySide6.QtWidgets import QDialog, QMessageBox, QStackedWidget, QTabWidget, QVBoxLayout, QWidget

from trainer.runs import RunSummary, best_model, read_events, summarize

from ..core import paths
from .teach_form import TeachForm
from .train_progress import ProgressPage
from .train_setup import NewRunForm, RunsList
from .trainer_process import TrainerProcess

#: Seconds the app waits for a stopping trainer to save its checkpoint before quitting anyway.
STOP_WAIT = 120


class SetupPage(QTabWidget):
    """The first page of the Train dialog: "New Run", "Teach a New Fader" and "Runs"."""

    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.form = NewRunForm(settings)
        self.teach = TeachForm(settings, self.form.runs_folder)
        self.runs = RunsList(self.form.runs_folder)
        self.addTab(self.form, "New Run")
        self.addTab(self.teach, "Teach a New Fader")
        self.addTab(self.runs, "Runs")
        self.form.runs_folder.editingFinished.connect(self.runs.refresh)
        self.currentChanged.connect(lambda index: self.runs.refresh() if index == 2 else None)
        self.form.run_name.textChanged.connect(self.form._update_start)


class TrainDialog(QDialog):
    """The Train dialog: a setup page and a progress page.

    ``openModel(path)`` asks the editor to open a model; ``modelInstalled(path)``
    says a finished run's model was copied into the models folder.
    """

    openModel = Signal(str)
    modelInstalled = Signal(str)

    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Train a Model")
        self.setSizeGripEnabled(True)
        self.resize(1100, 780)
        self.setup = SetupPage(settings)
        self.progress = ProgressPage()
        self.pages = QStackedWidget()
        self.pages.addWidget(self.setup)
        self.pages.addWidget(self.progress)
        QVBoxLayout(self).addWidget(self.pages)
        self.process: TrainerProcess | None = None
        self.run_dir: Path | None = None
        self.installed: Path | None = None
        self.quit_box: QMessageBox | None = None
        self.stop_box: QMessageBox | None = None

        self.setup.form.startRequested.connect(self.start_run)
        self.setup.teach.startRequested.connect(self.start_teaching)
        self.open_when_done = False  # a taught model opens in the editor when its run finishes
        self.setup.runs.resumeRequested.connect(self.resume_run)
        self.setup.runs.watchRequested.connect(self.watch_run)
        self.setup.runs.openModel.connect(self.openModel)
        page = self.progress
        page.pause_button.toggled.connect(self._pause)
        page.stop_button.clicked.connect(self._ask_stop)
        page.resume_button.clicked.connect(self._resume_shown)
        page.open_button.clicked.connect(self.open_result)
        page.folder_button.clicked.connect(
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.run_dir)))
        )
        page.new_button.clicked.connect(self.show_setup)

    # starting and watching

    @Slot(list, Path)
    def start_run(self, arguments: list[str], run_dir: Path) -> None:
        """Start ``fader-train ARGUMENTS`` training a new run in ``run_dir``."""
        self._launch(run_dir, arguments)

    @Slot(list, Path)
    def start_teaching(self, arguments: list[str], run_dir: Path) -> None:
        """Start ``fader-train teach ARGUMENTS`` in ``run_dir``; its model opens when it finishes."""
        if not self.training():
            self._launch(run_dir, arguments)
            self.open_when_done = True

    def show_teaching(self, model: str | Path | None = None) -> None:
        """Show the "Teach a New Fader" tab (with ``model`` chosen), unless a run is being watched."""
        self.setup.teach.refresh_models(model)
        if not self.training():
            self.pages.setCurrentWidget(self.setup)
            self.setup.setCurrentWidget(self.setup.teach)

    @Slot(object)
    def resume_run(self, run: RunSummary) -> None:
        """Go on training ``run`` from its newest checkpoint, on the dataset it was trained on."""
        self._launch(run.path, ["train", str(run.data), "--out", str(run.path), "--resume"])

    @Slot(object)
    def watch_run(self, run: RunSummary) -> None:
        """Show ``run``, which a trainer started earlier is training now."""
        if self.training():
            return
        self._show_run(run.path)
        self.process.attach()

    def _launch(self, run_dir: Path, arguments: list[str]) -> None:
        if self.training():
            return
        self.open_when_done = False
        self._show_run(run_dir)
        self.progress.add_log("fader-train " + " ".join(arguments))
        self.process.start(arguments)

    def _show_run(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.installed = None
        summary = summarize(run_dir)
        detail = f" · {', '.join(summary.attributes)} · {summary.image_size} px" if summary else ""
        self.progress.begin(f"{run_dir.name}{detail}", read_events(run_dir / "events.jsonl"))
        if self.process is not None:
            self.process.deleteLater()
        self.process = TrainerProcess(run_dir, self)
        self.process.event.connect(self.progress.show_event)
        self.process.event.connect(self._update_open)
        self.process.logLine.connect(self.progress.add_log)
        self.process.ended.connect(self._ended)
        self._set_buttons(running=True)
        self.pages.setCurrentWidget(self.progress)

    def _set_buttons(self, *, running: bool, summary: RunSummary | None = None) -> None:
        """Enable the controls of a running run, or of an ended one whose ``summary`` is given."""
        page = self.progress
        page.pause_button.setEnabled(running)
        page.pause_button.blockSignals(True)
        page.pause_button.setChecked(running and self.process is not None and self.process.paused)
        page.pause_button.setText("Continue" if page.pause_button.isChecked() else "Pause")
        page.pause_button.blockSignals(False)
        page.stop_button.setEnabled(running)
        page.resume_button.setVisible(summary is not None and summary.resumable)
        page.open_button.setEnabled(self._result() is not None)
        page.new_button.setEnabled(not running)

    def training(self) -> bool:
        """Whether the dialog is watching a trainer that has not ended."""
        return self.process is not None and self.process.running

    # controls

    @Slot(bool)
    def _pause(self, paused: bool) -> None:
        if self.training():
            self.process.set_paused(paused)
            self.progress.pause_button.setText("Continue" if paused else "Pause")
            self.progress.phase.setText("Pausing after this step…" if paused else "Continuing…")

    @Slot()
    def _ask_stop(self) -> None:
        self.stop_box = QMessageBox(
            QMessageBox.Icon.Question,
            "Stop Training",
            "Stop training now? The trainer saves a checkpoint and the models first; you can resume "
            "the run later from Tools → Train → Runs.",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        stop = self.stop_box.addButton("Stop Training", QMessageBox.ButtonRole.AcceptRole)
        self.stop_box.setDefaultButton(stop)
        self.stop_box.buttonClicked.connect(lambda button: self.stop_training() if button is stop else None)
        self.stop_box.open()

    def stop_training(self) -> None:
        """Ask the trainer to save a checkpoint and stop; the page shows when it has."""
        if self.training():
            self.process.stop()
            self.progress.phase.setText("Stopping: saving a checkpoint and the models…")
            self.progress.stop_button.setEnabled(False)
            self.progress.pause_button.setEnabled(False)

    @Slot()
    def _resume_shown(self) -> None:
        summary = summarize(self.run_dir)
        if summary is not None and summary.resumable:
            self.resume_run(summary)

    @Slot()
    def show_setup(self) -> None:
        """Go back to the setup page (runs listed afresh)."""
        self.setup.form.refresh_models()
        self.setup.runs.refresh()
        if self.run_dir is not None:
            self.setup.runs.select(self.run_dir)
        self.pages.setCurrentWidget(self.setup)

    # the end

    @Slot(str, str)
    def _ended(self, state: str, message: str) -> None:
        summary = summarize(self.run_dir)
        if state == "stopped" and summary is None:
            message = "Stopped before training began: start the run again (the prepared images are kept)."
        if state == "finished":
            result = self._result()
            if result is not None:
                message = self._install(result)
        self.progress.show_end(state, message)
        self._set_buttons(running=False, summary=summary)

    def _install(self, result: Path) -> str:
        """Copy the run's best model into the models folder (and open it); what to tell the user."""
        try:
            target = paths.free_model_path(self.run_dir.name)
            shutil.copyfile(result, target)
        except OSError as e:
            self.installed = None
            return f"The model could not be installed ({e.strerror or e}); it is kept in the run as {result}."
        self.installed = target
        self.modelInstalled.emit(str(target))
        message = f"The best model is installed as “{target.stem}” in the Model menu."
        if self.open_when_done:
            self.openModel.emit(str(target))
            message += " It is open in the editor."
        return message

    @Slot(dict)
    def _update_open(self, event: dict) -> None:
        # an evaluation writes the models after its events: look again at the next step
        button = self.progress.open_button
        if not button.isEnabled() and event.get("event") in ("step", "checkpoint"):
            button.setEnabled(self._result() is not None)

    def _result(self) -> Path | None:
        if self.installed is not None:
            return self.installed
        return None if self.run_dir is None else best_model(self.run_dir)

    @Slot()
    def open_result(self) -> None:
        """Open the run's model in the editor (the installed copy once it is finished)."""
        result = self._result()
        if result is not None:
            self.openModel.emit(str(result))

    # closing

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        """Hide; a run goes on, and Tools → Train shows it again."""
        event.accept()
        self.hide()

    def may_quit(self) -> bool:
        """Before the app quits: ask whether to stop a run or leave it training; False to stay open."""
        if not self.training():
            return True
        self.quit_box = QMessageBox(
            QMessageBox.Icon.Question,
            "Training Is Running",
            f"“{self.run_dir.name}” is still training. Stop it (it saves a checkpoint, so you can "
            "resume it later), or keep it training in the background? Tools → Train shows it again "
            "next time.",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        stop = self.quit_box.addButton("Stop Training", QMessageBox.ButtonRole.DestructiveRole)
        keep = self.quit_box.addButton("Keep Training in Background", QMessageBox.ButtonRole.AcceptRole)
        self.quit_box.setDefaultButton(keep)
        self.quit_box.exec()
        chosen = self.quit_box.clickedButton()
        self.quit_box = None
        if chosen is keep:
            return True
        if chosen is not stop:
            return False
        self.stop_training()
        self.wait_ended(STOP_WAIT)
        return True

    def wait_ended(self, seconds: float) -> bool:
        """Run the event loop until the trainer has ended, at most ``seconds``; whether it has."""
        clock = QElapsedTimer()
        clock.start()
        loop = QEventLoop()
        while self.training() and clock.elapsed() < seconds * 1000:
            QTimer.singleShot(50, loop.quit)
            loop.exec()
        return not self.training()
