"""``fader-train train``: a whole Fader Networks run, resumable, on one process or under torchrun.

A run reads top to bottom (:meth:`Run.run`): join the process group, prepare
the data cache, get a classifier (given, or trained here), build or load the
model, resume from the newest good checkpoint, then loop: one step per batch,
a ``step`` event every ``log_every`` steps, an evaluation (metrics, a sample
grid, ``best-*.fader`` and ``last.fader``) every ``eval_every`` steps, a
checkpoint every ``checkpoint_every`` steps (or ``checkpoint_minutes``), and
all three at the end. SIGINT or SIGTERM ends the run after the current step
the same way. The run folder::

    RUN/config.json             the settings (a resumed run must keep them)
    RUN/events.jsonl            every event, as printed by --progress json
    RUN/classifier.fader        the classifier trained for this run, if none was given
    RUN/checkpoints/step-N/     the last few checkpoints (see trainer.checkpoints)
    RUN/samples/step-N.png      sample grids
    RUN/best-recon.fader        the model with the lowest validation reconstruction error
    RUN/best-swap.fader         the model with the highest mean swap accuracy
    RUN/last.fader              the latest evaluated model

Randomness is a function of the seed and the step (batches, flips, dropout),
so a resumed run continues exactly as an uninterrupted one would.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import math
import os
import shutil
import signal
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fader_studio.core.atomic import atomic_write_bytes
from fader_studio.core.engine import device_description
from fader_studio.core.errors import FaderStudioError, TrainingError, first_line
from fader_studio.core.imageio import save_image
from fader_studio.core.modelfile import FaderModel, load_model, save_model
from fader_studio.core.template import template_name
from trainer.cache import PreparedData, open_dataset, prepare
from trainer.checkpoints import latest_checkpoint, save_checkpoint
from trainer.classifier import train_classifier
from trainer.config import ARCHITECTURE, FINETUNE_DEFAULTS, TrainConfig
from trainer.control import RunControl, run_lock
from trainer.data import FaceDataset, check_learnable, flip_some, training_loader
from trainer.distributed import Distributed, init_distributed
from trainer.evaluation import classifier_for, evaluate, evaluation_images, sample_grid, spread
from trainer.fader import FaderTraining
from trainer.finetune import expand_model
from trainer.labels import label_provenance
from trainer.progress import ProgressReporter
from trainer.runlog import RunLog
from trainer.runs import read_events


@dataclasses.dataclass(frozen=True)
class DataOptions:
    """How the dataset is read: its location and the cache options of ``fader-train prepare``."""

    datasets: tuple[Path, ...]
    resize: str = "auto"
    workers: int | None = None
    cache_dir: Path | None = None
    loader_workers: int | None = None


class RunFolder:
    """The paths inside a run folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "config.json"
        self.events = root / "events.jsonl"
        self.classifier = root / "classifier.fader"
        self.checkpoints = root / "checkpoints"
        self.samples = root / "samples"
        self.best = {"recon": root / "best-recon.fader", "swap": root / "best-swap.fader"}
        self.last = root / "last.fader"


def resolve_settings(
    given: dict[str, Any], folder: RunFolder, resume: bool
) -> tuple[TrainConfig, TrainConfig | None]:
    """The settings of the run in ``folder``: stored ones on resume, else the defaults, plus ``given``;
    and the stored ones (``None`` for a new run).

    ``--init-from`` fixes the architecture to that of the model. Raises
    :class:`FaderStudioError` for settings that conflict or make no sense.
    """
    try:
        if folder.config.exists():
            if not resume:
                raise FaderStudioError(
                    f"{folder.root} already holds a training run; add --resume to continue it, "
                    "or choose another folder"
                )
            try:
                stored = TrainConfig.from_json(json.loads(folder.config.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError, ValueError, TypeError, RecursionError) as e:
                reason = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
                raise FaderStudioError(
                    f"{folder.config}: cannot resume from these settings: {reason}"
                ) from None
            config = dataclasses.replace(stored, **given)
            changed = config.changed_for_resume(stored)
            if changed:
                names = ", ".join("--" + n.replace("_", "-") for n in changed)
                raise FaderStudioError(
                    f"{names} differ from the run being resumed; only the run length, saving options, "
                    "--lr, --lambda-e and --clip-grad may change (start a new run, or --init-from one of its "
                    "models, to change the others)"
                )
            return config, stored
        if given.get("init_from"):
            start = load_model(given["init_from"])
            base = {**start.config.to_json(), "template": template_name(start.template, start.image_size)}
            clash = [k for k in (*ARCHITECTURE, "template") if k in given and given[k] != base[k]]
            if clash:
                raise FaderStudioError(
                    f"--{clash[0].replace('_', '-')} {given[clash[0]]} differs from the model in --init-from "
                    f"({base[clash[0]]}); fine-tuning keeps the model's architecture and framing"
                )
            given = {**given, **{k: base[k] for k in (*ARCHITECTURE, "template")}}
            given = finetune_settings(given, start.attribute_names)
        return TrainConfig(**given), None
    except (ValueError, TypeError) as e:
        raise FaderStudioError(f"bad settings: {e}") from None


def finetune_settings(given: dict[str, Any], known: Sequence[str]) -> dict[str, Any]:
    """``given`` plus :data:`FINETUNE_DEFAULTS` where it adds attributes to a model that controls ``known``.

    With one new attribute and no other sampling chosen, batches are extended for it
    (a third of each batch has it). Settings in ``given`` always win.
    """
    new = [a for a in given.get("attributes", ()) if a not in known]
    if not new:
        return given
    settings = {**FINETUNE_DEFAULTS, **given}
    if len(new) == 1 and "extended" not in given and not given.get("balanced"):
        settings["extended"] = new[0]
    return settings


def _step_seed(seed: int, step: int, rank: int) -> int:
    """The global RNG seed of one step on one process (dropout, random attributes)."""
    return int(np.random.SeedSequence([seed, step, rank, 1]).generate_state(1)[0])


class StopRequest:
    """SIGINT and SIGTERM ask the run to stop after the current step; a second SIGINT stops at once."""

    def __init__(self, log: RunLog) -> None:
        self.log = log
        self.requested = False

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        self.log.say("stopping: finishing this step and saving a checkpoint (Ctrl+C again to quit at once)")

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Handle the signals while active (only possible in the main thread)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


def training_counts(data: PreparedData, dataset: FaceDataset) -> dict[str, Any]:
    """The training images by source: how many, how many left out, and the positives of each attribute."""
    sources = data.info.get("sources") or [{"path": data.info.get("source", str(data.path))}]
    usable = data.split_indices("train")
    counts: dict[str, Any] = {}
    for index, source in enumerate(sources):
        mine = dataset.sources == index
        labels = dataset.labels[torch.from_numpy(mine)]
        counts[source["path"]] = {
            "images": int(mine.sum()),
            "left_out": int(np.count_nonzero(data.source[usable] == index) - mine.sum()),
            "positives": {a: int(labels[:, i].sum()) for i, a in enumerate(dataset.attributes)},
        }
    return counts


class Run:
    """One training run; :meth:`run` does it all."""

    def __init__(
        self,
        given: dict[str, Any],
        run_dir: Path,
        data: DataOptions,
        *,
        resume: bool,
        log: RunLog,
        dist: Distributed,
    ) -> None:
        self.folder = RunFolder(run_dir)
        self.config, self.stored_config = resolve_settings(given, self.folder, resume)
        self.data_options = data
        self.resume = resume
        self.log = log
        self.dist = dist
        self.device = dist.device
        self.best: dict[str, float | None] = {"recon": None, "swap": None}
        self.best_paths: dict[str, str] = {}
        self.train_seconds = 0.0
        self.steps_per_epoch = 1  # set by _set_up, from the loader
        self.stop = StopRequest(log)
        self.control = RunControl(run_dir)
        self.label_provenance: dict[str, Any] | None = None

    # ------------------------------------------------------------------ setup

    def _prepare_data(self) -> PreparedData:
        options = self.data_options
        datasets = [open_dataset(path) for path in options.datasets]
        self.label_provenance = label_provenance(datasets)
        kwargs = dict(
            resize=options.resize,
            template=self.config.template,
            workers=options.workers,
            root=options.cache_dir,
        )
        if self.dist.is_main:
            progress = ProgressReporter(self.log.mode, "prepare", f"prepare {self.config.image_size}px")

            def report(done: int, total: int) -> None:
                self._stop_before_training()
                progress(done, total)

            try:
                data = prepare(datasets, self.config.image_size, on_progress=report, **kwargs)
            finally:
                progress.close()
        self.dist.barrier()
        if not self.dist.is_main:
            data = prepare(datasets, self.config.image_size, **kwargs)
        return data

    def _classifier(self, data: PreparedData) -> torch.nn.Module | None:
        """The classifier that measures swap accuracy (rank 0 only): given, reused or trained now."""
        config = self.config
        if not self.dist.is_main:
            return None
        if config.classifier:
            model = load_model(config.classifier)
        elif self.folder.classifier.exists():
            model = load_model(self.folder.classifier)
        else:
            steps = config.classifier_steps_to_train()
            self.log.say(f"training an attribute classifier for {steps} steps (give one with --classifier)")
            interval = max(1, steps // 20)

            def report(step: int, total: int, loss: float) -> None:
                self._stop_before_training()
                if step % interval == 0 or step == total:
                    self.log.event("classifier", step=step, total_steps=total, loss=round(loss, 5))
                    self.log.bar_to(step, total, f"classifier loss {loss:.3f}")

            model = train_classifier(
                data,
                config.attributes,
                config.network(),
                steps=steps,
                batch_size=config.batch_size,
                seed=config.seed,
                device=self.device,
                on_step=report,
            )
            self.log.close_bar()
            save_model(model, self.folder.classifier)
            accuracy = model.training["metrics"]["accuracy"]
            self.log.event("classifier_done", path=str(self.folder.classifier), accuracy=accuracy)
            self.log.say(
                "classifier accuracy: "
                + ", ".join(f"{k} {'n/a' if v is None else f'{v:.1%}'}" for k, v in accuracy.items())
            )
        return classifier_for(model, config.attributes, config.image_size).to(self.device)

    def _guide(self) -> torch.nn.Module:
        """The classifier of ``--lambda-clf``'s loss on every process: a copy of the run's (rank 0 got it)."""
        self.dist.barrier()  # rank 0 has trained and saved the run's classifier, if it had to
        if self.dist.is_main:
            return copy.deepcopy(self.classifier)
        model = load_model(self.config.classifier or self.folder.classifier)
        return classifier_for(model, self.config.attributes, self.config.image_size)

    def _save_settings(self) -> None:
        """Write ``config.json``; on a resume that changed settings, write them and say what changed.

        A later ``--resume`` without options goes on with the changed settings
        (the dialog's Resume passes none), not with the ones the run began with.
        """
        config = self.config.to_json()
        stored = None if self.stored_config is None else self.stored_config.to_json()
        if stored == config:
            return
        atomic_write_bytes(self.folder.config, json.dumps(config, indent=1).encode(), error=FaderStudioError)
        if stored is not None:
            changed = {k: [stored.get(k), v] for k, v in config.items() if stored.get(k) != v}
            self.log.event("settings_changed", changed=changed)
            self.log.say(
                "settings changed for this and later resumes: "
                + ", ".join(f"--{k.replace('_', '-')} {old} → {new}" for k, (old, new) in changed.items())
            )

    def _check_same_data(self, data: PreparedData) -> None:
        """Warn when a resumed run goes on with other data than it started with (other images or labels)."""
        starts = [e for e in read_events(self.folder.events) if e.get("event") == "start"]
        first = next((e for e in starts if e.get("data_fingerprint")), None)
        if first is not None and first["data_fingerprint"] != data.info.get("fingerprint"):
            warnings.warn(
                f"this run started on other data ({first.get('data')}); it goes on with "
                f"{' + '.join(map(str, self.data_options.datasets))}, whose images or labels differ",
                stacklevel=1,
            )

    def _stop_before_training(self) -> None:
        """Stop now if asked to (Ctrl+C, SIGTERM, ``RUN/STOP``) while preparing or training the classifier.

        What is done is kept: the cache resumes, and nothing of the run is written yet.
        """
        if self.stop.requested or self.control.stop_requested():
            raise KeyboardInterrupt

    def _wait_while_paused(self, step: int) -> None:
        """Wait while ``RUN/PAUSE`` exists (every process waits for rank 0's answer)."""
        self.log.event("paused", step=step)
        self.log.say(f"paused at step {step}; delete {self.control.pause_file} to continue")
        while self.dist.agree([self.dist.is_main and self.control.paused()])[0]:
            time.sleep(0.2)
        self.log.event("resumed", step=step)

    def _model(self, dataset: FaceDataset, data: PreparedData) -> FaderModel:
        config = self.config
        torch.manual_seed(config.seed)
        specs = dataset.attribute_specs()
        if config.init_from:
            return expand_model(load_model(config.init_from), specs)
        return FaderModel.create(config.network(), specs, template=data.template)

    def _resume(self, training: FaderTraining) -> int:
        """Load the newest good checkpoint; the step to start from (0 without one)."""
        if not self.resume:
            return 0
        checkpoint = latest_checkpoint(self.folder.checkpoints)
        if checkpoint is None:
            self.log.say("no checkpoint to resume from; starting at step 0")
            return 0
        try:
            training.load_tensors(checkpoint.tensors)
            training.load_optimizer_state(checkpoint.state["optimizer"])
        except (KeyError, RuntimeError, ValueError) as e:
            raise FaderStudioError(f"{checkpoint.path} does not fit this run: {first_line(e)}") from None
        self.best = dict(checkpoint.state["best"])
        self.best_paths = {k: str(p) for k, p in self.folder.best.items() if p.exists()}
        self.train_seconds = float(checkpoint.state["train_seconds"])
        self.log.say(f"resuming from {checkpoint.path.name}")
        return checkpoint.step

    # ------------------------------------------------------------------ the loop

    def run(self) -> dict[str, Any]:
        """Train to ``max_steps`` (or until stopped); the fields of the ``done`` event."""
        start, loader = self._set_up()
        if start >= self.config.max_steps:
            self.log.say(f"the run is already at step {start} of {self.config.max_steps}")
            return self._finish(start, stopped=False)
        try:
            return self._train(start, loader)
        except torch.OutOfMemoryError:
            config = self.config
            raise TrainingError(
                f"the GPU ran out of memory training {config.image_size}px images in batches of "
                f"{config.batch_size}; try --batch-size {max(2, config.batch_size // 2)}"
            ) from None

    def _set_up(self) -> tuple[int, torch.utils.data.DataLoader]:
        """Everything before the first step: data, classifier, model, resumption, alignment.

        Returns the step to start from and the loader of the batches from there.
        """
        config, dist = self.config, self.dist
        if dist.is_main:  # the folder is made by make_run_folder, before the lock is taken
            self.control.clear()  # before the first event: the app asks again when it sees it
            self.log.open_file(self.folder.events)
        data = self._prepare_data()
        dataset = FaceDataset(data, "train", config.attributes)
        self.data_counts = training_counts(data, dataset)
        if dataset.left_out:
            self.log.say(
                f"{dataset.left_out} training images lack a label of {', '.join(config.attributes)}; "
                "leaving them out"
            )
        if len(dataset) // dist.world_size < config.batch_size:
            raise FaderStudioError(
                f"{len(dataset)} training images are fewer than one batch of {config.batch_size} "
                f"per process; use a smaller --batch-size"
            )
        check_learnable(dataset)
        eval_set, eval_positions = evaluation_images(data, config.attributes, config.eval_images)
        self.eval_set, self.eval_positions = eval_set, eval_positions
        self.sample_positions = spread(eval_positions, config.sample_faces)
        self.classifier = self._classifier(data)
        self.model = self._model(dataset, data)
        guide = self._guide() if config.lambda_clf else None
        self.training = FaderTraining(config, self.model, dist, guide)
        start = self._resume(self.training)
        if start:
            self._check_same_data(data)
        if dist.is_main:
            self._save_settings()
        loader = self._loader(dataset, start, config.seed)
        self.steps_per_epoch = loader.batch_sampler.steps_per_epoch
        self.log.event(
            "start",
            total_steps=config.max_steps,
            step=start,
            config=config.to_json(),
            run=str(self.folder.root),
            data=" + ".join(map(str, self.data_options.datasets)),
            data_fingerprint=data.info.get("fingerprint"),
            device=device_description(self.device),
            world_size=dist.world_size,
            train_images=len(dataset),
            left_out=dataset.left_out,
            eval_images=len(eval_positions),
            steps_per_epoch=self.steps_per_epoch,
        )
        if start == 0 and config.align_steps:
            self._align(dataset)
        self.log.bar_to(start, config.max_steps, "")
        return start, loader

    def _train(self, start: int, loader: torch.utils.data.DataLoader) -> dict[str, Any]:
        """The training loop, from step ``start`` to ``max_steps``, a stop, or the time budget."""
        config, dist, training = self.config, self.dist, self.training
        window = torch.zeros(len(training.loss_names), device=self.device)  # summed losses since the last log
        window_steps, window_start = 0, time.monotonic()
        last_checkpoint = time.monotonic()
        step, batches = start, iter(loader)
        while True:
            images, labels = next(batches)
            images = images.to(self.device, non_blocking=True)
            labels = labels.to(self.device, non_blocking=True)
            if config.flip:
                images = flip_some(images, config.seed, step, dist.rank)
            torch.manual_seed(_step_seed(config.seed, step, dist.rank))
            window += training.step(images, labels, step)
            window_steps += 1
            step += 1

            stopped, late, spent, pause = self._what_now(last_checkpoint, window_start)
            finished = step == config.max_steps or spent
            if step % config.log_every == 0 or finished or stopped:
                elapsed = time.monotonic() - window_start
                self.train_seconds += elapsed
                self._log_step(step, window / window_steps, window_steps, elapsed, self.steps_per_epoch)
                window.zero_()
                window_steps, window_start = 0, time.monotonic()
            if finished or stopped:
                return self._finish(step, stopped=stopped)

            paused = time.monotonic()
            if step % config.eval_every == 0:
                self._evaluate(step)
            if (config.checkpoint_every and step % config.checkpoint_every == 0) or late:
                self._checkpoint(step)
                last_checkpoint = time.monotonic()
            if pause:
                self._wait_while_paused(step)
            window_start += time.monotonic() - paused  # images/s counts training time only

    def _what_now(self, last_checkpoint: float, window_start: float) -> tuple[bool, bool, bool, bool]:
        """After a step, as every process agrees: (stop asked, checkpoint due by time, time budget spent,
        pause asked). Requests and clocks are rank 0's."""
        config, dist = self.config, self.dist
        now = time.monotonic()
        late = not config.checkpoint_every and now - last_checkpoint > 60 * config.checkpoint_minutes
        spent = config.max_minutes and self.train_seconds + now - window_start > 60 * config.max_minutes
        asked = self.stop.requested or (dist.is_main and self.control.stop_requested())
        pause = dist.is_main and self.control.paused()
        stopped, late, spent, pause = dist.agree(
            [asked, late and dist.is_main, spent and dist.is_main, pause]
        )
        return bool(stopped), bool(late), bool(spent), bool(pause)

    def _loader(self, dataset: FaceDataset, start: int, seed: int) -> torch.utils.data.DataLoader:
        """The endless batches of steps ``start``, … (see :func:`training_loader`)."""
        config = self.config
        cuda = self.device.type == "cuda"
        workers = self.data_options.loader_workers
        try:
            return training_loader(
                dataset,
                config.batch_size,
                start_step=start,
                balanced=config.balanced,
                extended=config.extended,
                positive_share=config.positive_share,
                seed=seed,
                num_workers=(min(4, os.cpu_count() or 1) if cuda else 0) if workers is None else workers,
                num_replicas=self.dist.world_size,
                rank=self.dist.rank,
                pin_memory=cuda,
            )
        except ValueError as e:  # an extended attribute that no training image has, or every one
            raise FaderStudioError(f"--extended {config.extended}: {e}") from None

    def _align(self, dataset: FaceDataset) -> None:
        """Discriminator alignment before step 0 (seed 004): ``align_steps`` steps of the discriminators only.

        Its batches are drawn with another seed than training's, so the run's
        own batches are the same with or without it. A stop request ends it
        like a stop during preparation (nothing is saved; resuming aligns again).
        """
        config = self.config
        batches = iter(self._loader(dataset, 0, config.seed + 1))
        interval = max(1, config.align_steps // 20)
        self.log.say(f"aligning the discriminators to the model for {config.align_steps} steps")
        for step in range(1, config.align_steps + 1):
            asked = self.stop.requested or (self.dist.is_main and self.control.stop_requested())
            if self.dist.agree([asked])[0]:  # every process stops at the same step, as in training
                raise KeyboardInterrupt
            images, labels = next(batches)
            images = images.to(self.device, non_blocking=True)
            labels = labels.to(self.device, non_blocking=True)
            torch.manual_seed(_step_seed(config.seed + 1, step, self.dist.rank))
            losses = self.training.align_step(images, labels)
            if step % interval == 0 or step == config.align_steps:
                values = self.dist.mean(losses).tolist()
                names = (
                    ("latent_dis", "patch_dis") if self.training.patch_dis is not None else ("latent_dis",)
                )
                shown = {n: round(v, 6) for n, v in zip(names, values, strict=False)}
                self.log.event("align", step=step, total_steps=config.align_steps, losses=shown)
                self.log.bar_to(
                    step, config.align_steps, "aligning " + " ".join(f"{n} {v:.4f}" for n, v in shown.items())
                )
        self.log.close_bar()

    def _finish(self, step: int, *, stopped: bool) -> dict[str, Any]:
        self._evaluate(step)
        self._checkpoint(step)
        return {
            "step": step,
            "stopped": stopped,
            "best_models": self.best_paths,
            "last": str(self.folder.last),
        }

    def _log_step(self, step: int, losses: torch.Tensor, steps: int, elapsed: float, per_epoch: int) -> None:
        values = self.dist.mean(losses).tolist()
        names = self.training.loss_names
        if not all(math.isfinite(v) for v in values):
            bad = next(n for n, v in zip(names, values, strict=True) if not math.isfinite(v))
            raise TrainingError(
                f"training diverged before step {step}: the {bad} loss is not finite; the checkpoints "
                "kept are from before; resume with a lower --lr or --lambda-e"
            )
        rate = steps / elapsed if elapsed > 0 else 0.0
        images_per_s = rate * self.config.batch_size * self.dist.world_size
        eta = (self.config.max_steps - step) / rate if rate > 0 else None
        losses_json = {n: round(v, 6) for n, v in zip(names, values, strict=True)}
        lam = self.config.lambda_at(step)
        self.log.event(
            "step",
            step=step,
            epoch=step // per_epoch,
            losses=losses_json,
            **{"lambda": lam},
            lr=self.config.lr_at(step),
            images_per_s=round(images_per_s, 1),
            eta_s=None if eta is None else round(eta, 1),
        )
        shown = " ".join(f"{n} {v:.4f}" for n, v in losses_json.items())
        self.log.bar_to(step, self.config.max_steps, f"{shown} λ {lam:.1e} {images_per_s:.0f} img/s")

    def _evaluate(self, step: int) -> None:
        """Metrics, samples and exported models (rank 0); the others wait."""
        if self.dist.is_main:
            self._check_weights(step)
            ae = self.training.autoencoder
            metrics = evaluate(
                ae.encoder, ae.decoder, self.classifier, self.eval_set, self.eval_positions, self.device
            )
            self.log.event("eval", step=step, **metrics)
            self.log.say(
                f"step {step}: recon MSE {metrics['recon_mse']:.5f} ({metrics['psnr_db']} dB), swap accuracy "
                + ", ".join(f"{k} {v:.1%}" for k, v in metrics["swap_accuracy"].items())
            )
            grid = sample_grid(
                ae.encoder,
                ae.decoder,
                self.eval_set,
                self.sample_positions,
                self.model.attributes,
                self.device,
            )
            self.folder.samples.mkdir(exist_ok=True)
            sample = self.folder.samples / f"step-{step}.png"
            save_image(grid, sample)
            self.log.event("sample", step=step, path=str(sample))
            self._export(step, metrics)
        self.dist.barrier()

    def _export(self, step: int, metrics: dict[str, Any]) -> None:
        ae = self.training.autoencoder
        training = {
            "kind": "fader",
            "data": " + ".join(map(str, self.data_options.datasets)),
            "steps": step,
            "batch_size": self.config.batch_size * self.dist.world_size,
            "metrics": metrics,
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "init_from": self.config.init_from,
        }
        if self.label_provenance is not None:
            training["labels"] = self.label_provenance
        training["training_images"] = self.data_counts
        model = FaderModel(
            config=self.model.config,
            attributes=self.model.attributes,
            encoder=ae.encoder,
            decoder=ae.decoder,
            classifier=self.classifier,
            template=self.model.template,
            training=training,
        )
        save_model(model, self.folder.last)
        scores = {"recon": -metrics["recon_mse"], "swap": metrics.get("mean_swap_accuracy")}
        for kind, score in scores.items():
            best = self.best[kind]
            if score is not None and (best is None or score > best):
                self.best[kind] = score
                save_model(model, self.folder.best[kind])
                self.best_paths[kind] = str(self.folder.best[kind])

    def _check_weights(self, step: int) -> None:
        for name, tensor in self.training.tensors().items():
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                raise TrainingError(
                    f"training diverged before step {step}: {name} is not finite; the checkpoints kept "
                    "are from before; resume with a lower --lr or --lambda-e"
                )

    def _checkpoint(self, step: int) -> None:
        if self.dist.is_main:
            self._check_weights(step)
            state = {
                "optimizer": self.training.optimizer_state(),
                "best": self.best,
                "train_seconds": self.train_seconds,
            }
            try:
                path = save_checkpoint(
                    self.folder.checkpoints,
                    step,
                    self.training.tensors(),
                    state,
                    self.config.keep_checkpoints,
                )
            except OSError as e:
                raise TrainingError(
                    f"cannot write the checkpoint of step {step} in {self.folder.checkpoints}: "
                    f"{e.strerror or e}; the older checkpoints are kept"
                ) from None
            self.log.event("checkpoint", step=step, path=str(path))
        self.dist.barrier()


def make_run_folder(root: Path) -> None:
    """Make the run folder ``root``; :class:`FaderStudioError` if it is a file or cannot be written."""
    if root.exists() and not root.is_dir():
        raise FaderStudioError(f"{root} is a file; --out names the folder of the run")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FaderStudioError(f"{root}: cannot make the run folder ({e.strerror or e})") from None
    if not os.access(root, os.W_OK):
        raise FaderStudioError(f"{root}: cannot write in the run folder (permission denied)")


def train(
    given: dict[str, Any],
    run_dir: Path,
    data: DataOptions,
    *,
    resume: bool = False,
    progress: str = "bar",
    device: str | None = None,
) -> dict[str, Any]:
    """Run ``fader-train train`` (see the module docstring); the fields of the ``done`` event.

    ``given`` holds the settings given on the command line (names of
    :class:`TrainConfig`). Errors a user can fix raise :class:`FaderStudioError`
    (after an ``error`` event); a diverged or out-of-memory run raises
    :class:`TrainingError`.
    """
    dist = init_distributed(device)
    log = RunLog(progress, active=dist.is_main)
    fresh = dist.is_main and not run_dir.exists()  # a folder this call makes, and removes if refused
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = lambda message, *args, **kwargs: _warn(log, str(message))
            run = Run(given, run_dir, data, resume=resume, log=log, dist=dist)
            if dist.is_main:
                make_run_folder(run_dir)
            with run_lock(run_dir) if dist.is_main else contextlib.nullcontext(), run.stop.installed():
                result = run.run()
        log.event("done", **result)
        log.close_bar()
        log.say(_summary(result))
        return result
    except FaderStudioError as e:
        log.event("error", message=str(e))
        e.reported = True  # the command line has shown it already
        if fresh and not (run_dir / "config.json").exists():  # refused before it began: leave nothing
            log.close()
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    except KeyboardInterrupt:
        log.event("interrupted", message="stopped before training or between checkpoints; resume goes on")
        raise
    finally:
        log.close()
        dist.close()


def _warn(log: RunLog, message: str) -> None:
    log.event("warning", message=message)
    log.say(f"fader-train: warning: {message}")


def _summary(result: dict[str, Any]) -> str:
    verb = "stopped" if result["stopped"] else "finished"
    models = ", ".join(f"{k}: {v}" for k, v in result["best_models"].items()) or "none"
    return f"{verb} at step {result['step']}; best models: {models}; last: {result['last']}"
