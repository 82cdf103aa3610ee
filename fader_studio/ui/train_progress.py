"""The Train dialog's progress page: what the trainer's events say, as bars, curves, samples and a log."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from .train_plots import TrainingPlots

#: Lines kept in the log pane.
LOG_LINES = 5000


def duration(seconds: float) -> str:
    """``seconds`` for a person: "40 s", "12 min", "3 h 05 min"."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


class ScaledImage(QLabel):
    """An image shown as large as the label allows, keeping its aspect ratio."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.original = QPixmap()
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(160, 120)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)

    def set_image(self, path: str | Path) -> bool:
        """Show the image file at ``path``; False if it cannot be read."""
        pixmap = QPixmap(str(path))
        if pixmap.isNull():
            return False
        self.original = pixmap
        self._rescale()
        return True

    def _rescale(self) -> None:
        if not self.original.isNull():
            mode = Qt.TransformationMode.SmoothTransformation
            self.setPixmap(self.original.scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio, mode))

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._rescale()


class ProgressPage(QWidget):
    """Shows one run; the buttons are wired by the dialog."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel()
        self.title.setStyleSheet("font-size: 15px; font-weight: 600")
        self.phase = QLabel()
        self.bar = QProgressBar()
        self.bar.setFormat("%p%")
        self.stats = QLabel()
        self.stats.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.outcome = QLabel()
        self.outcome.setWordWrap(True)
        self.outcome.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.outcome.setVisible(False)
        self.plots = TrainingPlots()
        self.sample = ScaledImage()
        self.sample_caption = QLabel("Sample faces appear at the first evaluation.")
        self.sample_caption.setWordWrap(True)
        self.sample_step: int | None = None
        samples = QWidget()
        column = QVBoxLayout(samples)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.sample, 1)
        column.addWidget(self.sample_caption)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(LOG_LINES)
        self.log.setPlaceholderText("The trainer's messages appear here.")

        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(samples)
        bottom.addWidget(self.log)
        bottom.setSizes([650, 350])
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(self.plots)
        body.addWidget(bottom)
        body.setSizes([420, 260])

        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.stop_button = QPushButton("Stop…")
        self.resume_button = QPushButton("Resume")
        self.open_button = QPushButton("Open in Editor")
        self.folder_button = QPushButton("Show Run Folder")
        self.new_button = QPushButton("Back to Setup")
        buttons = QHBoxLayout()
        for b in (self.pause_button, self.stop_button, self.resume_button, self.open_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.folder_button)
        buttons.addWidget(self.new_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.phase)
        layout.addWidget(self.bar)
        layout.addWidget(self.stats)
        layout.addWidget(self.outcome)
        layout.addWidget(body, 1)
        layout.addLayout(buttons)

    def begin(self, title: str, history: list[dict]) -> None:
        """Show a run called ``title`` whose earlier events were ``history`` (drawn, not logged)."""
        self.title.setText(title)
        self.phase.setText("Starting the trainer…")
        self.bar.setRange(0, 0)
        self.stats.clear()
        self.outcome.setVisible(False)
        self.log.clear()
        self.plots.clear_all()
        self.sample.original = QPixmap()
        self.sample.clear()
        self.sample_step = None
        self.sample_caption.setText("Sample faces appear at the first evaluation.")
        for event in history:
            self.plots.add_event(event)
            if event.get("event") == "sample":
                self._show_sample(event)
            elif event.get("event") in ("start", "step"):
                self._show_position(event)

    def _show_position(self, event: dict) -> None:
        total = event.get("total_steps", self.bar.maximum())
        if isinstance(total, int) and total > 0:
            self.bar.setRange(0, total)
        self.bar.setValue(event.get("step", 0))

    def _show_sample(self, event: dict) -> None:
        if self.sample.set_image(event.get("path", "")):
            self.sample_step = event.get("step")
            self.sample_caption.setText(
                f"Step {self.sample_step:,}: each validation face, its reconstruction, then each "
                "attribute swept across its fader's range."
            )

    def add_log(self, line: str) -> None:
        """Append ``line`` to the log pane."""
        self.log.appendPlainText(line.rstrip())

    def show_event(self, event: dict) -> None:
        """Update the page for one progress event of the trainer."""
        kind = event.get("event")
        self.plots.add_event(event)
        if kind in ("prepare", "classifier"):
            done = event.get("done", event.get("step", 0))
            total = event.get("total", event.get("total_steps", 0))
            self.bar.setRange(0, max(1, total))
            self.bar.setValue(done)
            if kind == "prepare":
                self.phase.setText("Preparing the dataset: cropping and resizing every image once")
                rate, eta = event.get("images_per_s"), event.get("eta_s")
                self.stats.setText(
                    f"{done:,} of {total:,} images"
                    + (f" · {rate:,.0f} images/s" if rate else "")
                    + (f" · {duration(eta)} left" if eta is not None else "")
                )
            else:
                self.phase.setText("Training the attribute classifier (it measures the edits)")
                self.stats.setText(f"Step {done:,} of {total:,} · loss {event.get('loss', 0):.3f}")
        elif kind == "examples":
            photos = event.get("photos", {})
            self.add_log(
                f"{photos.get('with_a_face', 0):,} of {photos.get('listed', 0):,} example photos have one "
                "clear face; the model's classifier labelled its own attributes where it was sure"
            )
        elif kind == "align":
            done, total = event.get("step", 0), event.get("total_steps", 0)
            self.bar.setRange(0, max(1, total))
            self.bar.setValue(done)
            self.phase.setText("Aligning the discriminators to the model before it learns")
            self.stats.setText(f"Step {done:,} of {total:,}")
        elif kind == "classifier_done":
            accuracy = ", ".join(f"{k} {v:.1%}" for k, v in event.get("accuracy", {}).items())
            self.add_log(f"Classifier accuracy on held-out images: {accuracy}")
        elif kind == "start":
            self.phase.setText(f"Training on {event.get('device', 'the device')}")
            self._show_position(event)
            self.add_log(
                f"Training from step {event.get('step', 0):,} of {event.get('total_steps', 0):,} on "
                f"{event.get('device', '?')}, {event.get('train_images', 0):,} training images"
            )
        elif kind == "step":
            self._show_position(event)
            rate, eta = event.get("images_per_s", 0), event.get("eta_s")
            self.stats.setText(
                f"Step {event['step']:,} of {self.bar.maximum():,} · epoch {event.get('epoch', 0)} · "
                f"{rate:,.0f} images/s" + (f" · {duration(eta)} left" if eta is not None else "")
            )
        elif kind == "eval":
            swaps = ", ".join(f"{k} {v:.0%}" for k, v in (event.get("swap_accuracy") or {}).items())
            self.add_log(
                f"Step {event['step']:,}: reconstruction {event.get('psnr_db')} dB PSNR"
                + (f", swap accuracy {swaps}" if swaps else "")
            )
        elif kind == "sample":
            self._show_sample(event)
        elif kind == "checkpoint":
            self.add_log(f"Checkpoint saved at step {event.get('step', 0):,}")
        elif kind == "paused":
            self.phase.setText(f"Paused at step {event.get('step', 0):,}")
        elif kind == "resumed":
            self.phase.setText("Training")
        elif kind in ("warning", "error", "interrupted"):
            self.add_log(f"{kind.capitalize()}: {event.get('message', '')}")
        elif kind == "settings_changed":
            changes = ", ".join(
                f"{name} {old} → {new}" for name, (old, new) in event.get("changed", {}).items()
            )
            self.add_log(f"Settings changed from here on: {changes}")

    def show_end(self, state: str, message: str) -> None:
        """Show how the run ended."""
        self.bar.setRange(0, max(1, self.bar.maximum()))
        texts = {
            "finished": ("Finished", "#1b5e20"),
            "stopped": ("Stopped: resume it to go on from its last checkpoint", "#5d4037"),
            "failed": ("Training failed", "#b00020"),
        }
        heading, colour = texts[state]
        self.stats.setText(" · ".join(p for p in self.stats.text().split(" · ") if not p.endswith(" left")))
        self.phase.setText(heading)
        self.outcome.setStyleSheet(f"color: {colour}")
        self.outcome.setText(message)
        self.outcome.setVisible(bool(message))
