"""Tools → Train: real runs of ``fader-train`` started, watched, stopped and resumed from the dialog."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QElapsedTimer, Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from fader_studio.core import paths
from fader_studio.ui.main_window import open_settings
from fader_studio.ui.train_dialog import TrainDialog
from fader_studio.ui.train_setup import PRESETS, model_attributes
from fader_studio.ui.trainer_process import TRAINER_NICENESS
from tests.trainer.test_photos import write_photo_folder
from tests.ui.conftest import opened, settle
from trainer.control import is_running
from trainer.runs import read_events, summarize

#: A tiny network, so that a run takes seconds on two cores.
TINY = "--first-channels 4 --max-channels 16 --hidden 16 --eval-images 8 --sample-faces 2 --lr 0.001"


def fill(dialog: TrainDialog, qtbot, data: Path, *, steps: int, batch: int = 8, extra: str = "") -> None:  # noqa: ANN001
    """Choose ``data`` (and wait for its check), Smiling and Male, and tiny settings."""
    form = dialog.setup.form
    with qtbot.waitSignal(form.datasetChecked, timeout=30_000) as checked:
        form.set_dataset(data)
    assert checked.args == [True]
    form.set_attributes(["Smiling", "Male"])
    form.size.setCurrentText("64 px")
    form.batch.setValue(batch)
    form.steps.setValue(steps)
    form.eval_every.setValue(steps)
    form.classifier_steps.setValue(5)
    form.device.setCurrentText("CPU")
    form.extra.setText(f"{TINY} {extra}")


def wait_until(qtbot, condition: Callable[[], bool], timeout: int = 120_000) -> None:  # noqa: ANN001
    qtbot.waitUntil(condition, timeout=timeout)


def ended(qtbot, dialog: TrainDialog, timeout: int = 180_000) -> None:  # noqa: ANN001
    wait_until(qtbot, lambda: not dialog.training(), timeout)


def click_when_shown(box_of: Callable[[], QMessageBox | None], text: str) -> None:
    """Click the button labelled ``text`` of the message box ``box_of()`` once it is shown."""

    def attempt() -> None:
        box = box_of()
        if box is None or not box.isVisible():
            QTimer.singleShot(20, attempt)
            return
        next(b for b in box.buttons() if b.text() == text).click()

    QTimer.singleShot(0, attempt)


def last_step(run: Path) -> int:
    return max(e["step"] for e in read_events(run / "events.jsonl") if e["event"] == "step")


def test_a_dataset_is_checked_as_soon_as_it_is_chosen(qtbot, synth_celeba: Path, tmp_path: Path) -> None:  # noqa: ANN001
    dialog = TrainDialog(open_settings())
    qtbot.addWidget(dialog)
    form = dialog.setup.form
    assert not form.start_button.isEnabled()
    with qtbot.waitSignal(form.datasetChecked, timeout=30_000) as checked:
        form.set_dataset(synth_celeba)
    assert checked.args == [True]
    assert form.data_status.text().startswith("✓ 120 images (96 train, 12 val, 12 test), 40 attributes")
    items = [form.attributes.item(i) for i in range(form.attributes.count())]
    enabled = [i.data(Qt.ItemDataRole.UserRole) for i in items if i.flags() & Qt.ItemFlag.ItemIsEnabled]
    assert len(items) == 40 and sorted(enabled) == ["Blond_Hair", "Eyeglasses", "Male", "Smiling", "Young"]
    assert enabled == [i.data(Qt.ItemDataRole.UserRole) for i in items[:5]]  # learnable ones first
    smiling = next(i for i in items if i.data(Qt.ItemDataRole.UserRole) == "Smiling")
    assert ": " in smiling.text() and "images" in smiling.text()
    form.set_attributes([])
    assert not form.start_button.isEnabled() and "attribute" in form.problem.text()
    form.set_attributes(["Smiling"])
    assert form.start_button.isEnabled() and form.problem.text() == ""
    assert form.arguments()[:4] == ["train", str(synth_celeba), "--attrs", "Smiling"]

    no_labels = tmp_path / "photos"
    no_labels.mkdir()
    (no_labels / "a.jpg").write_bytes(b"not really")
    broken_zip = tmp_path / "img_align_celeba.zip"
    broken_zip.write_bytes(b"PK\x03\x04 truncated")
    statuses = {}
    for bad in (no_labels, broken_zip, tmp_path / "missing"):
        with qtbot.waitSignal(form.datasetChecked, timeout=30_000) as checked:
            form.set_dataset(bad)
        assert checked.args == [False], bad
        statuses[bad] = status = form.data_status.text()
        assert status.startswith("✗ ") and "\n" not in status, status
        assert form.attributes.count() == 0 and not form.start_button.isEnabled()
    assert "list_attr_celeba.txt" in statuses[no_labels]


def test_a_photo_folder_is_a_dataset_and_the_framing_is_the_run_s(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    folder = write_photo_folder(tmp_path / "photos", 4)
    dialog = TrainDialog(open_settings())
    qtbot.addWidget(dialog)
    form = dialog.setup.form
    with qtbot.waitSignal(form.datasetChecked, timeout=30_000) as checked:
        form.set_dataset(folder)
    assert checked.args == [True]
    assert "6 images" in form.data_status.text() and "each face found and aligned" in form.data_status.text()
    form.set_attributes(["Male"])
    assert form.arguments()[:4] == ["train", str(folder), "--attrs", "Male"]
    arguments = form.arguments()
    assert arguments[arguments.index("--template") + 1] == "celeba"
    form.framing.setCurrentIndex(form.framing.findData("tight"))
    arguments = form.arguments()
    assert arguments[arguments.index("--template") + 1] == "tight"


def test_presets_and_limits_are_the_trainers_own_and_the_run_gets_them(qtbot, synth_celeba: Path) -> None:  # noqa: ANN001
    from trainer.cli import get_args_parser
    from trainer.config import FLOAT_LIMITS, TrainConfig

    dialog = TrainDialog(open_settings())
    qtbot.addWidget(dialog)
    form = dialog.setup.form
    with qtbot.waitSignal(form.datasetChecked, timeout=30_000):
        form.set_dataset(synth_celeba)
    form.set_attributes(["Smiling"])
    form.preset.setCurrentText(next(name for name in PRESETS if name.startswith("Paper")))
    args = get_args_parser().parse_args(form.arguments())
    given = {k: v for k, v in vars(args).items() if v is not None and k in TrainConfig.__dataclass_fields__}
    paper = TrainConfig(attributes=("Smiling",))
    for name in ("image_size", "batch_size", "max_steps", "lr", "lambda_e", "lambda_schedule", "eval_every"):
        assert given[name] == getattr(paper, name), name
    assert given["classifier_steps"] == 0 and form.classifier_steps.text().startswith("Automatic")
    assert form.batch.minimum() == 2 and form.lr.minimum() > 0 and form.lr.maximum() == FLOAT_LIMITS["lr"]
    assert form.lambda_e.maximum() == FLOAT_LIMITS["lambda_e"] and form.seed.minimum() == 0


def test_synthetic_faces_are_drawn_from_the_dialog_and_chosen(qtbot) -> None:  # noqa: ANN001
    dialog = TrainDialog(open_settings())
    qtbot.addWidget(dialog)
    form = dialog.setup.form
    with qtbot.waitSignal(form.datasetChecked, timeout=120_000) as checked:
        form.draw_synthetic(count=50)
        assert not form.synth_button.isEnabled()
    assert checked.args == [True] and form.synth_button.isEnabled()
    assert form.dataset.path == paths.data_dir() / "synthetic-faces"
    assert form.data_status.text().startswith("✓ 50 images (40 train, 5 val, 5 test)")
    assert len(list((form.dataset.path / "img_align_celeba").glob("*.jpg"))) == 50
    with qtbot.waitSignal(form.datasetChecked, timeout=120_000):
        form.draw_synthetic(count=10)
    assert form.dataset.path == paths.data_dir() / "synthetic-faces-2"


def test_a_short_run_shows_progress_installs_the_model_and_opens_it_while_the_editor_works(
    qtbot,  # noqa: ANN001
    make_window,  # noqa: ANN001
    synth_celeba: Path,
    synth_model: Path,
    portrait: Path,
) -> None:
    window = opened(qtbot, make_window(), portrait, synth_model)
    dialog = window.show_train_dialog()
    assert dialog.isVisible() and dialog.pages.currentWidget() is dialog.setup
    fill(dialog, qtbot, synth_celeba, steps=60, extra="--log-every 5")
    dialog.setup.form.run_name.setText("smile")
    dialog.setup.form.start_button.click()
    run = paths.runs_dir() / "smile"
    assert dialog.pages.currentWidget() is dialog.progress and dialog.training()

    # the editor works while the trainer runs in its own process, at a lower priority than the editor
    wait_until(qtbot, lambda: is_running(run))
    if sys.platform != "win32":
        nice = os.getpriority(os.PRIO_PROCESS, dialog.process.popen.pid)
        assert nice == min(19, os.getpriority(os.PRIO_PROCESS, 0) + TRAINER_NICENESS)
    clock, longest, ticks = QElapsedTimer(), [0], QTimer(interval=10)
    clock.start()

    def tick() -> None:
        longest[0] = max(longest[0], clock.restart())

    ticks.timeout.connect(tick)
    ticks.start()
    with qtbot.waitSignal(window.session.rendered, timeout=30_000):
        window.panel.slider("Smiling").setValue(window.panel.slider("Smiling").maximum())
    assert dialog.training(), "the run ended before the editor was tried"
    ended(qtbot, dialog)
    ticks.stop()
    assert longest[0] < 1000, f"the editor's event loop stalled {longest[0]} ms during training"

    page = dialog.progress
    assert page.phase.text() == "Finished" and page.bar.value() == page.bar.maximum() == 60
    assert page.stats.text().startswith("Step 60 of 60 · epoch ") and " left" not in page.stats.text()
    steps, losses = page.plots.data["loss/recon"]
    assert steps == [5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60] and all(v > 0 for v in losses)
    assert page.plots.data["lambda"][0][-1] == 60
    assert set(page.plots.data) >= {"loss/latent_dis", "loss/adversarial", "swap/Smiling", "swap/Male"}
    assert page.sample_step == 60 and not page.sample.pixmap().isNull()
    assert "dB)" in page.plots.metrics.titleLabel.text
    assert page.sample.original.width() > page.sample.original.height() > 0
    log = page.log.toPlainText()
    assert "Classifier accuracy" in log and "Step 60: reconstruction" in log and "Checkpoint saved" in log

    installed = paths.models_dir() / "smile.fader"
    assert installed.read_bytes() == (run / "best-swap.fader").read_bytes()
    assert "installed as “smile”" in page.outcome.text()
    assert page.open_button.isEnabled() and not page.pause_button.isEnabled()
    page.open_button.click()
    settle(qtbot, window)
    assert window.model is not None and window.model.path == installed
    assert [a.name for a in window.model.attributes] == ["Male", "Smiling"]


def test_pause_then_stop_then_resume_from_the_dialog_reaches_the_final_step(
    qtbot,  # noqa: ANN001
    synth_celeba: Path,
) -> None:
    dialog = TrainDialog(open_settings())
    qtbot.addWidget(dialog)
    dialog.show()
    fill(dialog, qtbot, synth_celeba, steps=400, extra="--log-every 1")
    dialog.setup.form.run_name.setText("long")
    dialog.setup.form.start()
    run = paths.runs_dir() / "long"
    page = dialog.progress
    wait_until(qtbot, lambda: page.plots.data.get("loss/recon", ([0],))[0][-1] >= 10)

    page.pause_button.click()
    assert page.pause_button.text() == "Continue"
    wait_until(qtbot, lambda: page.phase.text().startswith("Paused at step"))
    held = last_step(run)
    qtbot.wait(600)
    assert last_step(run) == held and dialog.training()
    page.pause_button.click()
    wait_until(qtbot, lambda: last_step(run) > held)

    click_when_shown(lambda: dialog.stop_box, "Stop Training")
    page.stop_button.click()
    ended(qtbot, dialog)
    stopped = summarize(run)
    assert stopped.state == "stopped" and held < stopped.step < 400
    assert page.phase.text().startswith("Stopped") and page.resume_button.isVisible()
    assert not (paths.models_dir() / "long.fader").exists()  # only a finished run is installed
    assert page.open_button.isEnabled()  # its best model so far can be opened

    page.resume_button.click()
    assert dialog.training()
    ended(qtbot, dialog)
    starts = [e["step"] for e in read_events(run / "events.jsonl") if e["event"] == "start"]
    assert starts == [0, stopped.step]
    assert summarize(run).state == "finished" and last_step(run) == 400
    assert page.phase.text() == "Finished" and not page.resume_button.isVisible()
    assert page.plots.data["loss/recon"][0][-1] == 400  # the history of both launches is drawn
    assert page.plots.data["loss/recon"][0][:3] == [1, 2, 3]
    assert (paths.models_dir() / "long.fader").is_file()

    page.new_button.click()
    runs = dialog.setup.runs
    assert dialog.pages.currentWidget() is dialog.setup
    assert runs.selected().name == "long" and not runs.resume_button.isEnabled()


def test_a_trainer_that_fails_shows_its_message(qtbot, synth_celeba: Path) -> None:  # noqa: ANN001
    dialog = TrainDialog(open_settings())
    qtbot.addWidget(dialog)
    fill(dialog, qtbot, synth_celeba, steps=10, batch=500)
    dialog.setup.form.start()
    ended(qtbot, dialog)
    page = dialog.progress
    assert page.phase.text() == "Training failed"
    assert page.outcome.text() == (
        "96 training images are fewer than one batch of 500 per process; use a smaller --batch-size"
    )
    assert page.new_button.isEnabled() and not page.stop_button.isEnabled()


def test_quitting_can_leave_a_run_training_and_the_next_window_watches_and_stops_it(
    qtbot,  # noqa: ANN001
    make_window,  # noqa: ANN001
    synth_celeba: Path,
) -> None:
    window = make_window()
    dialog = window.show_train_dialog()
    fill(dialog, qtbot, synth_celeba, steps=1_000_000, extra="--log-every 1")
    dialog.setup.form.run_name.setText("background")
    dialog.setup.form.start()
    run = paths.runs_dir() / "background"
    wait_until(qtbot, lambda: dialog.progress.plots.data.get("loss/recon") is not None)
    try:
        click_when_shown(lambda: dialog.quit_box, "Cancel")
        assert not window.close() and window.isVisible()
        click_when_shown(lambda: dialog.quit_box, "Keep Training in Background")
        assert window.close()
        step = last_step(run)
        wait_until(qtbot, lambda: last_step(run) > step + 2)  # still training with the window closed
        assert is_running(run), "the run stopped with the window"
        step = last_step(run)

        later = make_window()
        watching = later.show_train_dialog()
        assert watching.training() and watching.run_dir == run
        wait_until(qtbot, lambda: watching.progress.plots.data["loss/recon"][0][-1] > step)
        click_when_shown(lambda: watching.quit_box, "Stop Training")
        assert later.close()
        assert not is_running(run)
        assert summarize(run).state == "stopped"
    finally:
        if is_running(run):
            (run / "STOP").touch()
            deadline = time.monotonic() + 60
            while is_running(run) and time.monotonic() < deadline:
                QApplication.processEvents()
                time.sleep(0.1)


def test_fine_tuning_an_installed_model_from_the_dialog_keeps_a_frozen_encoder(
    qtbot,  # noqa: ANN001
    synth_celeba: Path,
    synth_model: Path,
) -> None:
    import shutil

    from safetensors.torch import load_file

    base = Path(shutil.copy(synth_model, paths.free_model_path("base")))
    dialog = TrainDialog(open_settings())
    qtbot.addWidget(dialog)
    fill(dialog, qtbot, synth_celeba, steps=10)
    form = dialog.setup.form
    form.extra.setText("--eval-images 8 --sample-faces 2")  # the architecture is the model's
    form.init_from.setCurrentIndex(form.init_from.findData(str(base)))
    assert form.freeze_encoder.isEnabled() and not form.size.isEnabled()
    assert form.chosen_attributes() == ["Eyeglasses", "Male", "Smiling"]  # the model's, checked for you
    form.set_attributes(["Smiling", "Male"])
    assert not form.start_button.isEnabled() and "controls Eyeglasses" in form.problem.text()
    form.set_attributes(["Eyeglasses", "Smiling", "Male", "Young"])  # and one it learns anew
    assert form.start_button.isEnabled()
    form.freeze_encoder.setChecked(True)
    form.run_name.setText("tuned")
    arguments = form.arguments()
    assert arguments[arguments.index("--init-from") + 1] == str(base) and "--size" not in arguments
    assert arguments[arguments.index("--freeze") + 1] == "encoder"
    form.start()
    ended(qtbot, dialog)
    assert dialog.progress.phase.text() == "Finished", dialog.progress.outcome.text()
    tuned, original = load_file(paths.models_dir() / "tuned.fader"), load_file(base)
    encoder = [k for k in original if k.startswith("encoder.") and "num_batches" not in k]
    assert encoder and all(tuned[k].equal(original[k]) for k in encoder if "running" not in k)
    assert any(not tuned[k].equal(original[k]) for k in original if k.startswith("decoder."))
    assert model_attributes(paths.models_dir() / "tuned.fader") == ["Eyeglasses", "Male", "Smiling", "Young"]


def test_teaching_a_new_fader_from_two_folders_installs_it_and_opens_it_in_the_editor(
    qtbot,  # noqa: ANN001
    make_window,  # noqa: ANN001
    base_model: Path,
    example_folders: tuple[Path, Path],
    portrait: Path,
) -> None:
    import shutil

    base = Path(shutil.copy(base_model, paths.free_model_path("base")))
    window = opened(qtbot, make_window(), portrait, base)
    dialog = window.show_teach_dialog()
    teach = dialog.setup.teach
    assert dialog.setup.currentWidget() is teach and teach.model.currentData() == str(base)
    teach.name.setText("Male")
    assert not teach.start_button.isEnabled() and "already has a Male fader" in teach.problem.text()
    teach.name.setText("Eyeglasses")
    assert "Choose the photos with it" in teach.problem.text()

    # each folder's faces are counted as soon as it is chosen, with the trainer's rules
    with_dir, without_dir = example_folders
    teach.folders["with"].set_folder(with_dir)
    teach.folders["without"].set_folder(with_dir)
    wait_until(qtbot, lambda: all(f.count is not None for f in teach.folders.values()), 60_000)
    status = teach.folders["with"].status.text()
    assert "faces in 41 photos" in status and "without one clear face are left out" in status
    assert "100 or more" in status  # a warning: few, but enough to start
    assert not teach.start_button.isEnabled() and teach.problem.text() == "Choose two different folders."
    teach.folders["without"].set_folder(without_dir)
    wait_until(qtbot, lambda: teach.folders["without"].count is not None, 60_000)
    teach.device.setCurrentText("CPU")
    teach.extra.setText(
        "--max-steps 30 --align-steps 5 --warmup-steps 5 --confidence 0.5 --classifier-steps 10 "
        "--eval-images 8 --sample-faces 2 --batch-size 8"
    )
    teach.run_name.setText("glasses")
    assert teach.start_button.isEnabled(), teach.problem.text()
    teach.start_button.click()
    assert dialog.pages.currentWidget() is dialog.progress and dialog.training()
    ended(qtbot, dialog)

    page = dialog.progress
    assert page.phase.text() == "Finished", page.outcome.text()
    log = page.log.toPlainText()
    assert "example photos have one clear face" in log and "fader-train teach" in log
    installed = paths.models_dir() / "glasses.fader"
    assert installed.read_bytes() == (paths.runs_dir() / "glasses" / "best-swap.fader").read_bytes()
    assert "It is open in the editor" in page.outcome.text()
    wait_until(qtbot, lambda: window.model is not None and window.model.path == installed)
    assert [a.name for a in window.model.attributes] == ["Male", "Eyeglasses"]
    assert window.panel.slider("Eyeglasses") is not None


def test_a_model_that_cannot_be_installed_says_so_and_the_dialog_stays_usable(
    qtbot, synth_celeba: Path
) -> None:  # noqa: ANN001
    paths.data_dir().mkdir(parents=True, exist_ok=True)
    paths.models_dir().write_text("a file where the models folder should be")  # every install fails
    dialog = TrainDialog(open_settings())
    qtbot.addWidget(dialog)
    fill(dialog, qtbot, synth_celeba, steps=4)
    dialog.setup.form.run_name.setText("blocked")
    dialog.setup.form.start_button.click()
    ended(qtbot, dialog)
    page = dialog.progress
    assert page.phase.text() == "Finished"
    assert page.outcome.text().startswith("The model could not be installed (")
    assert str(paths.runs_dir() / "blocked" / "best-swap.fader") in page.outcome.text()
    assert dialog.installed is None and not page.pause_button.isEnabled() and not dialog.training()
