"""The ``fader-train`` command: the Fader Networks trainer.

Bad input exits with status 2 and one line on stderr, never a traceback;
an interrupted command exits with 130 and keeps what it finished.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from fader_studio import __version__
from fader_studio.core.errors import FaderStudioError
from trainer import PROGRAM, events
from trainer.config import AUTO_CLASSIFIER_STEPS, FINETUNE_DEFAULTS, PATCH_FREEZABLE, TrainConfig
from trainer.progress import MODES, ProgressReporter

PROG = PROGRAM
#: The image size of the paper (and of a new run unless told otherwise).
DEFAULT_SIZE = 256


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _finite(text: str) -> float:
    """A float option: a finite number (``nan`` and ``inf`` are refused before anything runs)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def _positive(text: str) -> float:
    value = _finite(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return value


def _probability(text: str) -> float:
    value = _finite(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text!r}")
    return value


def get_args_parser() -> argparse.ArgumentParser:
    """The parser of ``fader-train``; each command adds its own sub-parser."""
    parser = argparse.ArgumentParser(prog=PROG, description="Train Fader Networks on CelebA-format data.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands", required=True)

    prepare = commands.add_parser(
        "prepare",
        help="crop and resize a dataset once into the cache that training reads",
        description="Crop every image of a CelebA-format dataset (rows 20:198), resize it and store it "
        "as uint8 in the user cache folder. Runs on all cores, resumes if interrupted, and is reused "
        "by later runs; memory use stays small whatever the dataset size.",
    )
    _add_datasets_argument(prepare)
    _add_data_arguments(prepare)
    _add_progress_argument(prepare)
    prepare.set_defaults(run=run_prepare)
    synth = commands.add_parser(
        "synth",
        help="write a CelebA-format dataset of drawn faces with known attributes",
        description="Draw COUNT faces in CelebA's aligned 178×218 format (landmarks at CelebA's mean "
        "positions, with pose, light and noise) and write img_align_celeba/ and the three text files "
        "into the new folder DIR. Eyeglasses, Smiling, Male, Blond_Hair and Young are drawn from their "
        "labels; the rest are -1. Use it to try the trainer before you have CelebA.",
    )
    synth.add_argument("folder", metavar="DIR", type=Path, help="a new folder")
    synth.add_argument(
        "--count", type=_positive_int, default=6000, help="faces to draw (default: %(default)s)"
    )
    synth.add_argument("--seed", type=int, default=0, help="the same seed draws the same faces (default: 0)")
    synth.add_argument(
        "--workers", type=_positive_int, default=None, help="processes to use (default: every core)"
    )
    _add_progress_argument(synth)
    synth.set_defaults(run=run_synth)
    add_train_parser(commands)
    add_teach_parser(commands)
    add_classifier_parser(commands)
    add_evaluate_parser(commands)
    add_label_parser(commands)
    return parser


DATASETS_HELP = (
    "CelebA-format folders (or img_align_celeba.zip) and photo folders (a labels.csv and its photos); "
    "several are combined into one dataset"
)


def _add_datasets_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("celeba", metavar="DATA", type=Path, nargs="+", help=DATASETS_HELP)


def _add_template_argument(parser: argparse.ArgumentParser, default: str | None) -> None:
    from fader_studio.core.template import TEMPLATES

    parser.add_argument(
        "--template",
        choices=TEMPLATES,
        default=default if default is not None else argparse.SUPPRESS,
        help="how faces are framed: celeba (face, hair and background, as the paper) or tight "
        "(forehead to chin, as UTKFace; every face is found and aligned) (default: celeba)",
    )


def _add_progress_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progress",
        choices=MODES,
        default="bar",
        help="bar: a progress bar on stderr; json: one JSON event per line on stdout (default: bar)",
    )


def _add_data_arguments(parser: argparse.ArgumentParser, *, size: bool = True) -> None:
    """The options of every command that reads a dataset through the cache."""
    from fader_studio.core.imageio import RESIZE_CHOICES
    from fader_studio.core.template import IMAGE_SIZES

    group = parser.add_argument_group("dataset cache")
    if size:
        group.add_argument(
            "--size",
            type=int,
            choices=IMAGE_SIZES,
            default=DEFAULT_SIZE,
            help=f"image size S of the S×S crops (default: {DEFAULT_SIZE}, as the paper)",
        )
        _add_template_argument(group, "celeba")
    group.add_argument(
        "--resize",
        choices=RESIZE_CHOICES,
        default="auto",
        help="resampling filter; auto shrinks with area and enlarges with lanczos, as the official "
        "code (default: %(default)s)",
    )
    group.add_argument(
        "--workers", type=_positive_int, default=None, help="processes to use (default: every core)"
    )
    group.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="where caches live (default: datasets/ in $FADER_STUDIO_CACHE_DIR or the user cache folder)",
    )


def _data_options(args: argparse.Namespace, datasets: Sequence[Path]):  # noqa: ANN202 (keeps torch out)
    from trainer.train import DataOptions

    return DataOptions(
        datasets=tuple(datasets),
        resize=args.resize,
        workers=args.workers,
        cache_dir=args.cache_dir,
        loader_workers=getattr(args, "loader_workers", None),
    )


def run_synth(args: argparse.Namespace) -> int:
    """``fader-train synth``."""
    from trainer.synth import synthesize

    progress = ProgressReporter(args.progress, "synth", "draw faces")
    try:
        folder = synthesize(
            args.folder, args.count, seed=args.seed, workers=args.workers, on_progress=progress
        )
    finally:
        progress.close()
    if args.progress == "json":
        events.emit(sys.stdout, "done", path=str(folder), count=args.count)
    else:
        print(f"{args.count} faces written to {folder}")
    return 0


def run_prepare(args: argparse.Namespace) -> int:
    """``fader-train prepare``: build or finish the cache and print where it is."""
    progress = ProgressReporter(args.progress, "prepare", f"prepare {args.size}px")
    with _warnings_to(progress, json=args.progress == "json"):
        try:
            data = _prepared(args, args.size, progress)
        except KeyboardInterrupt:
            print(
                f"{PROG}: interrupted after {progress.done} of {progress.total} images; "
                "run the same command again to go on from there",
                file=sys.stderr,
            )
            return 130
    info = data.info
    counts = info["split_counts"]
    summary = (
        f"{info['usable']} images ({counts['train']} train, {counts['val']} val, {counts['test']} test) "
        f"at {data.size}px, {info['unusable']} unusable"
    )
    if args.progress == "json":
        events.emit(
            sys.stdout, "prepared", cache=str(data.path), **{k: info[k] for k in ("usable", "unusable")}
        )
    else:
        print(f"cache: {data.path}{'' if progress.total else ' (already prepared)'}\n{summary}")
    return 0


# --------------------------------------------------------------------------- train, classifier, evaluate


def _names(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError("give at least one name")
    return names


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value}")
    return value


def _add_architecture_arguments(parser: argparse.ArgumentParser, defaults) -> None:  # noqa: ANN001
    group = parser.add_argument_group("architecture (the paper's unless told)")
    group.add_argument("--n-layers", type=int, help="encoder blocks (default: down to a 2×2 latent)")
    group.add_argument(
        "--first-channels", type=int, help=f"channels of the first block (default: {defaults.first_channels})"
    )
    group.add_argument("--max-channels", type=int, help=f"channel cap (default: {defaults.max_channels})")
    group.add_argument(
        "--hidden",
        type=int,
        help=f"hidden units of the discriminator and classifier (default: {defaults.hidden})",
    )
    group.add_argument("--dropout", type=_finite, help=f"discriminator dropout (default: {defaults.dropout})")
    group.add_argument(
        "--normalization", choices=("batch", "instance"), help=f"(default: {defaults.normalization})"
    )


def _on(value: bool) -> str:
    return "on" if value else "off"


def _tuned(name: str) -> str:
    """The help text's note on a setting's default when ``--init-from`` adds an attribute."""

    return f"{FINETUNE_DEFAULTS[name]:g} when --init-from adds an attribute"


def _add_run_settings(parser: argparse.ArgumentParser, d, *, init_from: bool = True) -> None:  # noqa: ANN001
    """The settings of :class:`TrainConfig` (``d``) that are not the data or the architecture, as flags.

    ``init_from`` False leaves out ``--init-from`` (``teach`` names the model itself).
    """

    opt = parser.add_argument_group("optimisation (the paper's defaults)")
    opt.add_argument("--batch-size", type=_positive_int, help=f"per process (default: {d.batch_size})")
    opt.add_argument(
        "--lr",
        type=_finite,
        help=f"Adam learning rate (default: {d.lr}, the official code's; the paper's text says 0.002)",
    )
    opt.add_argument("--beta1", type=_finite, help=f"Adam β1 (default: {d.beta1})")
    opt.add_argument("--clip-grad", type=_finite, help=f"gradient norm clip (default: {d.clip_grad})")
    opt.add_argument(
        "--warmup-steps",
        type=_non_negative_int,
        help=f"linear learning-rate warm-up (default: {d.warmup_steps}; {_tuned('warmup_steps')})",
    )
    opt.add_argument(
        "--lambda-e",
        type=_finite,
        help=f"weight λ_E of the adversarial loss (default: {d.lambda_e}; {_tuned('lambda_e')})",
    )
    opt.add_argument(
        "--lambda-schedule",
        type=_non_negative_int,
        help=f"steps over which λ_E rises from 0 (default: {d.lambda_schedule}; {_tuned('lambda_schedule')})",
    )
    opt.add_argument(
        "--dis-steps",
        type=_positive_int,
        help=f"latent discriminator updates per step (default: {d.dis_steps})",
    )
    opt.add_argument(
        "--lambda-patch",
        type=_finite,
        help=f"weight of a PatchGAN discriminator in pixel space (default: {d.lambda_patch:g}, off)",
    )
    opt.add_argument(
        "--lambda-clf",
        type=_finite,
        help="weight λ_C of the run's classifier judging edits with every attribute flipped, which makes the "
        f"faders change what they say (the official code's lambda_clf_dis; default: {d.lambda_clf:g}, off)",
    )
    opt.add_argument(
        "--flip",
        action=argparse.BooleanOptionalAction,
        help=f"mirror half the images (default: {_on(d.flip)})",
    )
    opt.add_argument(
        "--balanced",
        action=argparse.BooleanOptionalAction,
        help=f"draw attribute combinations equally (default: {_on(d.balanced)})",
    )
    opt.add_argument("--seed", type=int, help=f"random seed; a CPU run is repeatable (default: {d.seed})")

    tune = parser.add_argument_group("fine-tuning")
    if init_from:
        tune.add_argument(
            "--init-from", metavar="MODEL", help="start from this .fader model (may add attributes)"
        )
    tune.add_argument(
        "--freeze",
        metavar="PARTS",
        type=_names,
        help="parts not to train, comma-separated: encoder, decoder, encoder-N, decoder-N (first N blocks)",
    )
    tune.add_argument(
        "--extended",
        metavar="ATTR",
        type=lambda text: None if text.lower() == "none" else text,
        help="fill --positive-share of every batch with images that have ATTR, the rest with any other "
        "(seed 004's extended subset, for a rare attribute; default: the new attribute when --init-from "
        "adds one, else none)",
    )
    tune.add_argument(
        "--positive-share",
        metavar="SHARE",
        type=_finite,
        help=f"share of each batch with the --extended attribute (default: {d.positive_share:.3g})",
    )
    tune.add_argument(
        "--align-steps",
        metavar="N",
        type=_non_negative_int,
        help="steps that train only the discriminators against the unchanged model before training "
        f"(default: {d.align_steps}; {_tuned('align_steps')})",
    )
    tune.add_argument(
        "--freeze-d",
        metavar="N",
        type=_non_negative_int,
        help=f"FreezeD: keep the first N of the patch discriminator's layers as aligned "
        f"(0-{PATCH_FREEZABLE}; needs --lambda-patch; default: {d.freeze_d})",
    )

    clf = parser.add_argument_group("classifier (swap accuracy; the app's starting fader values)")
    clf.add_argument("--classifier", metavar="FILE", help="a .fader classifier (default: train one first)")
    clf.add_argument(
        "--classifier-steps",
        type=_non_negative_int,
        help="steps of the classifier trained when none is given (default: {}, as many as --max-steps "
        "within {}-{})".format(d.classifier_steps, *AUTO_CLASSIFIER_STEPS),
    )

    run = parser.add_argument_group("run length, evaluation and checkpoints")
    run.add_argument(
        "--max-steps", type=_positive_int, help=f"steps to train in all (default: {d.max_steps})"
    )
    run.add_argument(
        "--max-minutes",
        type=_finite,
        help=f"also stop after this many minutes of training (default: {d.max_minutes:g}, no limit)",
    )
    run.add_argument(
        "--eval-every", type=_positive_int, help=f"steps between evaluations (default: {d.eval_every})"
    )
    run.add_argument(
        "--eval-images", type=_positive_int, help=f"validation images evaluated (default: {d.eval_images})"
    )
    run.add_argument(
        "--sample-faces", type=_positive_int, help=f"faces in sample grids (default: {d.sample_faces})"
    )
    run.add_argument(
        "--checkpoint-every",
        type=_positive_int,
        help=f"steps between checkpoints (default: every {d.checkpoint_minutes:g} minutes)",
    )
    run.add_argument(
        "--checkpoint-minutes",
        type=_finite,
        help=f"minutes between checkpoints without --checkpoint-every (default: {d.checkpoint_minutes:g})",
    )
    run.add_argument(
        "--keep-checkpoints", type=_positive_int, help=f"checkpoints kept (default: {d.keep_checkpoints})"
    )
    run.add_argument(
        "--log-every", type=_positive_int, help=f"steps between step events (default: {d.log_every})"
    )

    speed = parser.add_argument_group("speed (CUDA)")
    speed.add_argument(
        "--amp",
        action=argparse.BooleanOptionalAction,
        help=f"mixed precision, bfloat16 where supported (default: {_on(d.amp)})",
    )
    speed.add_argument(
        "--channels-last",
        action=argparse.BooleanOptionalAction,
        help=f"channels-last layout (default: {_on(d.channels_last)})",
    )
    speed.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        help=f"torch.compile the networks (default: {_on(d.compile)})",
    )


def _add_run_folder_arguments(parser: argparse.ArgumentParser) -> None:
    """The run folder, resuming, the device, progress and the data options of ``train`` and ``teach``."""
    parser.add_argument(
        "--out", dest="run_dir", metavar="RUN", type=Path, required=True, help="the run folder"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        default=False,
        help="continue the run in --out from its newest checkpoint",
    )
    parser.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    _add_progress_argument(parser)
    _add_data_arguments(parser, size=False)
    parser.add_argument(
        "--loader-workers",
        type=_non_negative_int,
        default=None,
        help="processes reading batches ahead (default: 4 on a GPU, none on the CPU)",
    )


def add_train_parser(commands: argparse._SubParsersAction) -> None:
    """``fader-train train``: every setting of :class:`trainer.config.TrainConfig` as a flag."""
    from fader_studio.core.template import IMAGE_SIZES

    d = TrainConfig(attributes=("Smiling",))
    train = commands.add_parser(
        "train",
        help="train a Fader model (resumable; multi-GPU under torchrun)",
        description="Train a Fader Network on a CelebA-format dataset. The run folder gets checkpoints, "
        "sample grids, events.jsonl and best-recon.fader / best-swap.fader / last.fader models at every "
        "evaluation. Ctrl+C (or SIGTERM) saves a checkpoint and stops; --resume continues exactly. "
        "Multi-GPU: torchrun --nproc-per-node N -m trainer train ...",
        argument_default=argparse.SUPPRESS,
    )
    _add_datasets_argument(train)
    train.add_argument(
        "--attrs",
        dest="attributes",
        type=_names,
        help="attributes to control, comma-separated (e.g. Smiling,Male)",
    )
    _add_run_folder_arguments(train)
    _add_template_argument(train, None)
    train.add_argument(
        "--size",
        dest="image_size",
        type=int,
        choices=IMAGE_SIZES,
        help=f"image size (default: {DEFAULT_SIZE}, as the paper)",
    )
    _add_architecture_arguments(train, d)

    _add_run_settings(train, d)
    train.set_defaults(run=run_train)


def _settings_given(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`TrainConfig` settings among the parsed options (options left out are not there)."""
    from dataclasses import fields

    names = {f.name for f in fields(TrainConfig)}
    return {k: v for k, v in vars(args).items() if k in names}


def run_train(args: argparse.Namespace) -> int:
    """``fader-train train``."""
    from trainer.train import train

    given = _settings_given(args)
    if "attributes" not in given and not args.resume:
        raise FaderStudioError("choose the attributes to train with --attrs (e.g. --attrs Smiling,Male)")
    if "attributes" not in given and not (args.run_dir / "config.json").is_file():
        raise FaderStudioError(
            f"{args.run_dir} holds no training run to resume (no config.json); to start one, give --attrs"
        )
    train(
        given,
        args.run_dir,
        _data_options(args, args.celeba),
        resume=args.resume,
        progress=args.progress,
        device=args.device,
    )
    return 0


def add_teach_parser(commands: argparse._SubParsersAction) -> None:
    """``fader-train teach``: a new fader for a model, from a folder with it and a folder without it."""
    from trainer.examples import FEW_EXAMPLES

    d = TrainConfig(attributes=("Smiling",))
    teach = commands.add_parser(
        "teach",
        help="teach a model a new fader from photos with the attribute and photos without it",
        description="Add the attribute NAME to MODEL from two folders of photos: one that shows it (--with), "
        "one that does not (--without); a few hundred faces each are enough to start "
        f"(fewer than {FEW_EXAMPLES} draws a warning). Each photo's face is found and aligned as the app "
        "does; the model's own attributes are labelled by its classifier where it is sure. Then "
        "MODEL is fine-tuned with seed 004's recipe (the new attribute in a third of every batch, "
        "discriminators aligned first, a warm-up; see the fine-tuning options). The run folder is "
        "that of `fader-train train`; --resume continues it.",
        argument_default=argparse.SUPPRESS,
    )
    teach.add_argument("model", metavar="MODEL", type=Path, help="the .fader model to add a fader to")
    teach.add_argument("name", metavar="NAME", help="the new attribute (letters, digits, _; e.g. Eyeglasses)")
    teach.add_argument(
        "--with", dest="with_dir", metavar="DIR", type=Path, required=True, help="photos that show NAME"
    )
    teach.add_argument(
        "--without", dest="without_dir", metavar="DIR", type=Path, required=True, help="photos that do not"
    )
    _add_run_folder_arguments(teach)
    teach.add_argument(
        "--confidence",
        type=_probability,
        default=0.9,
        help="label the model's own attributes where its classifier is at least this sure; the other "
        "photos are left out (default: %(default)s)",
    )
    _add_run_settings(teach, d, init_from=False)
    teach.set_defaults(run=run_teach)


#: Options of ``teach`` that are neither ``train``'s nor :class:`TrainConfig` settings.
def run_teach(args: argparse.Namespace) -> int:
    """``fader-train teach``: build the examples dataset (once), then fine-tune with the new attribute."""
    from fader_studio.core.engine import choose_device
    from trainer.examples import examples_dataset
    from trainer.train import train

    if not 0.5 <= args.confidence < 1:
        raise FaderStudioError(f"--confidence must be in [0.5, 1), got {args.confidence}")
    given = _settings_given(args)
    examples = args.run_dir / "examples"
    progress = ProgressReporter(args.progress, "prepare", "find and align faces")
    with _warnings_to(progress, json=args.progress == "json"):
        try:
            record = examples_dataset(
                args.name,
                args.with_dir,
                args.without_dir,
                args.model,
                examples,
                threshold=args.confidence,
                device=choose_device(args.device),
                cache_dir=args.cache_dir,
                workers=args.workers,
                on_progress=progress,
            )
        finally:
            progress.close()
    if args.progress == "json":
        events.emit(sys.stdout, "examples", **record)
    elif args.progress != "none":
        _print_photo_labels(record, "example photos have one face")
    given["init_from"] = str(args.model.resolve())
    given["attributes"] = (*record["attributes"], args.name)
    train(
        given,
        args.run_dir,
        _data_options(args, [examples / "labelled"]),
        resume=args.resume,
        progress=args.progress,
        device=args.device,
    )
    return 0


def add_classifier_parser(commands: argparse._SubParsersAction) -> None:
    """``fader-train classifier``."""

    d = TrainConfig(attributes=("Smiling",))
    parser = commands.add_parser(
        "classifier",
        help="train the attribute classifier (for swap accuracy and the app's starting values)",
        description="Train a classifier of the chosen attributes on the same crops and save it as a "
        "classifier-only .fader file; prints its accuracy on test images.",
    )
    _add_datasets_argument(parser)
    parser.add_argument(
        "--attrs", dest="attributes", metavar="A,B", type=_names, required=True, help="comma-separated"
    )
    parser.add_argument("--out", type=Path, required=True, help="the .fader file to write")
    parser.add_argument(
        "--steps", type=_positive_int, default=3000, help="training steps (default: %(default)s)"
    )
    parser.add_argument("--batch-size", type=_positive_int, default=32, help="(default: %(default)s)")
    parser.add_argument(
        "--lr", type=_positive, default=2e-4, help="Adam learning rate (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=0, help="(default: %(default)s)")
    parser.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    _add_progress_argument(parser)
    _add_data_arguments(parser)
    _add_architecture_arguments(parser, d)
    parser.set_defaults(run=run_classifier)


def _is_full_model(path: Path) -> bool:
    """Whether ``path`` is a readable ``.fader`` file with an autoencoder (not only a classifier)."""
    from fader_studio.core.modelfile import load_model

    try:
        return "encoder" in load_model(path).modules()
    except FaderStudioError:
        return False


def run_classifier(args: argparse.Namespace) -> int:
    """``fader-train classifier``: train, save, print the test accuracy."""
    from fader_studio.core.engine import choose_device
    from fader_studio.core.modelfile import save_model
    from fader_studio.core.network import NetworkConfig
    from trainer.classifier import train_classifier
    from trainer.config import ARCHITECTURE

    given = {k: getattr(args, k) for k in ARCHITECTURE if getattr(args, k, None) is not None}
    try:
        network = NetworkConfig(**{**given, "image_size": args.size})
    except ValueError as e:
        raise FaderStudioError(f"bad settings: {e}") from None
    if args.out.exists() and args.out.is_dir():
        raise FaderStudioError(f"{args.out} is a folder; give a file name such as classifier.fader")
    if args.out.is_file() and _is_full_model(args.out):
        raise FaderStudioError(
            f"{args.out} is a Fader model; a classifier would replace it, so choose another name"
        )
    device = choose_device(args.device)
    progress = ProgressReporter(args.progress, "prepare", f"prepare {args.size}px")
    with _warnings_to(progress, json=args.progress == "json"):
        data = _prepared(args, args.size, progress)
        steps = ProgressReporter(args.progress, "classifier", "classifier")
        try:
            model = train_classifier(
                data,
                args.attributes,
                network,
                steps=args.steps,
                batch_size=args.batch_size,
                lr=args.lr,
                seed=args.seed,
                device=device,
                on_step=lambda step, total, loss: steps(step, total),
            )
        finally:
            steps.close()
    save_model(model, args.out)
    metrics = model.training["metrics"]
    if args.progress == "json":
        events.emit(sys.stdout, "done", path=str(args.out), **metrics)
    else:
        print(f"saved {args.out}; accuracy (balanced) on the known labels of {metrics['split']} images:")
        for name, value in metrics["accuracy"].items():
            balanced = metrics["balanced_accuracy"][name]
            print(f"  {name}: " + ("no known labels" if value is None else f"{value:.1%} ({balanced:.1%})"))
    return 0


def add_evaluate_parser(commands: argparse._SubParsersAction) -> None:
    """``fader-train evaluate``."""
    parser = commands.add_parser(
        "evaluate",
        help="measure a model: reconstruction error and swap accuracy",
        description="Evaluate a .fader model on a CelebA-format dataset: reconstruction MSE and PSNR, and, "
        "with a classifier (the model's own or --classifier), swap accuracy per attribute. Prints JSON.",
    )
    parser.add_argument("model", metavar="MODEL", type=Path, help="the .fader model")
    parser.add_argument(
        "--data", dest="celeba", type=Path, nargs="+", required=True, metavar="DATA", help=DATASETS_HELP
    )
    _add_template_argument(parser, None)
    parser.add_argument(
        "--classifier", type=Path, default=None, help="a .fader classifier (default: the model's)"
    )
    parser.add_argument(
        "--split", choices=("val", "test", "train"), default="test", help="(default: %(default)s)"
    )
    parser.add_argument(
        "--images", type=_positive_int, default=2000, help="images evaluated (default: %(default)s)"
    )
    parser.add_argument(
        "--json", dest="json_out", type=Path, default=None, help="also write the metrics here"
    )
    parser.add_argument("--samples", type=Path, default=None, help="write a PNG grid of sample faces here")
    parser.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    _add_data_arguments(parser, size=False)
    parser.set_defaults(run=run_evaluate, progress="none")


def run_evaluate(args: argparse.Namespace) -> int:
    """``fader-train evaluate``: print the metrics as JSON (and write them, and samples, if asked)."""
    from fader_studio.core.atomic import atomic_write_bytes
    from fader_studio.core.engine import choose_device
    from fader_studio.core.modelfile import load_model
    from fader_studio.core.template import template_name
    from trainer.evaluation import evaluate_model

    device = choose_device(args.device)
    model = load_model(args.model, device)
    classifier = None if args.classifier is None else load_model(args.classifier)
    progress = ProgressReporter("bar", "prepare", f"prepare {model.image_size}px")
    with _warnings_to(progress, json=False):
        if getattr(args, "template", None) is None:
            args.template = template_name(model.template, model.image_size)
        data = _prepared(args, model.image_size, progress)
        metrics = evaluate_model(
            model,
            data,
            classifier=classifier,
            split=args.split,
            images=args.images,
            samples=args.samples,
            device=device,
        )
    metrics = {"model": str(args.model), **metrics}
    text = json.dumps(metrics, indent=1)
    if args.json_out is not None:
        atomic_write_bytes(
            args.json_out, text.encode() + b"\n", error=lambda r: FaderStudioError(f"{args.json_out}: {r}")
        )
    print(text)
    return 0


def add_label_parser(commands: argparse._SubParsersAction) -> None:
    """``fader-train label``."""
    from fader_studio.core.template import IMAGE_SIZES
    from trainer.labels import LabelSettings

    d = LabelSettings()
    parser = commands.add_parser(
        "label",
        help="complete the labels of a partly labelled sample (identities + some official labels)",
        description="Write a new CelebA-format folder OUT for a sample whose list_attr_celeba.txt labels "
        "only some images and whose identity_CelebA.txt names the person in each. Person attributes "
        "(Male, Young) are propagated to all of a person's images where their labels agree; the rest are "
        "predicted by a classifier trained on the official labels of the training people, where it is "
        "confident. People are split between train, val and test. label_provenance.json records every "
        "label's source and the classifier's held-out accuracy; models trained on OUT carry it. "
        "For a photo folder (a labels.csv), give --classifier: its confident predictions fill the blank "
        "labels, for attributes whose held-out balanced accuracy is high enough.",
    )
    parser.add_argument(
        "celeba", metavar="DATA", type=Path, help="the partly labelled CelebA folder, or a photo folder"
    )
    parser.add_argument("out", metavar="OUT", type=Path, help="a new folder for the completed dataset")
    parser.add_argument(
        "--attrs",
        dest="attributes",
        type=_names,
        default=None,
        help=f"attributes to label, comma-separated (default: {','.join(d.attributes)}; for a photo "
        "folder, every attribute of the classifier)",
    )
    parser.add_argument(
        "--identities", type=Path, default=None, help="identity file (default: identity_CelebA.txt beside)"
    )
    parser.add_argument(
        "--threshold",
        type=_probability,
        default=d.threshold,
        help="keep predictions at least this probable (default: %(default)s)",
    )
    parser.add_argument(
        "--steps", type=_positive_int, default=d.steps, help="classifier steps (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=d.seed, help="split and training seed (default: 0)")
    parser.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    parser.add_argument(
        "--size",
        type=int,
        choices=IMAGE_SIZES,
        default=d.image_size,
        help="the classifier's image size; give the same --classifier to train (default: %(default)s)",
    )
    parser.add_argument(
        "--classifier",
        type=Path,
        default=None,
        help="for a photo folder: the .fader classifier whose predictions fill its blank labels",
    )
    parser.add_argument(
        "--min-accuracy",
        type=_probability,
        default=d.min_accuracy,
        help="use predictions only for attributes whose held-out balanced accuracy is at least this "
        "(default: %(default)s)",
    )
    _add_progress_argument(parser)
    _add_data_arguments(parser, size=False)
    parser.set_defaults(run=run_label)


def _run_labeller(
    args: argparse.Namespace, progress: ProgressReporter, labeller: Callable[..., dict], **options: Any
) -> dict | None:
    """Run ``labeller`` with the data options, ``progress`` and warnings shown; its result to print.

    With ``--progress json`` the result goes out as the ``done`` event instead (and ``None`` comes back).
    """
    from fader_studio.core.engine import choose_device

    with _warnings_to(progress, json=args.progress == "json"):
        try:
            result = labeller(
                device=choose_device(args.device),
                cache_dir=args.cache_dir,
                workers=args.workers,
                on_progress=progress,
                **options,
            )
        finally:
            progress.close()
    if args.progress == "json":
        events.emit(sys.stdout, "done", path=str(args.out), **result)
        return None
    return result


def run_label_photos(args: argparse.Namespace) -> int:
    """``fader-train label`` of a photo folder: fill its blanks with the classifier's predictions."""
    from trainer.photo_labels import label_photos

    if args.classifier is None:
        raise FaderStudioError(
            f"{args.celeba} is a photo folder: give the classifier to label it with --classifier"
        )
    progress = ProgressReporter(args.progress, "prepare", "find and align faces")
    result = _run_labeller(
        args,
        progress,
        functools.partial(label_photos, args.celeba, args.out, args.classifier, attributes=args.attributes),
        threshold=args.threshold,
        min_accuracy=args.min_accuracy,
    )
    if result is not None:
        _print_photo_labels(result, f"photos have a face; labels in {args.out}")
    return 0


def _print_photo_labels(record: dict, what: str) -> None:
    """How many photos of a labelled folder have a face (``what``), and each attribute's label counts."""
    print(f"{record['photos']['with_a_face']} of {record['photos']['listed']} {what}")
    for name, entry in record["attributes"].items():
        counts = ", ".join(f"{v} {k}" for k, v in entry["images"].items() if v)
        print(f"  {name}: {counts}" + ("" if entry["predictions_used"] else " (predictions not trusted)"))


def run_label(args: argparse.Namespace) -> int:
    """``fader-train label``: write the completed dataset and print where each label came from."""
    from trainer.labels import LabelSettings, label_sample
    from trainer.photos import is_photo_folder

    if not 0.5 <= args.threshold < 1:
        raise FaderStudioError(f"--threshold must be in [0.5, 1), got {args.threshold}")
    if is_photo_folder(args.celeba):
        return run_label_photos(args)
    settings = LabelSettings(
        attributes=args.attributes or LabelSettings().attributes,
        image_size=args.size,
        steps=args.steps,
        threshold=args.threshold,
        seed=args.seed,
        min_accuracy=args.min_accuracy,
    )
    progress = ProgressReporter(args.progress, "classifier", "label classifier")
    result = _run_labeller(
        args,
        progress,
        functools.partial(label_sample, args.celeba, args.out, settings),
        identities=args.identities,
    )
    if result is None:
        return 0
    images = result["images"]
    print(f"{images['listed']} images labelled in {args.out} ({images['left_out']} left out)")
    for name, entry in result["attributes"].items():
        counts = ", ".join(f"{v} {k}" for k, v in entry["images"].items() if v)
        held = entry["classifier_held_out"]
        print(
            f"  {name}: {counts}; classifier on held-out people {held['accuracy']:.1%} "
            f"(balanced {held['balanced_accuracy']:.1%}), confident {held['confident_share']:.0%} of them"
            + (f" at {held['confident_accuracy']:.1%}" if held["confident_accuracy"] is not None else "")
        )
    return 0


def _prepared(args: argparse.Namespace, size: int, progress: ProgressReporter):  # noqa: ANN202
    """The cache of the datasets ``args.celeba`` at ``size`` (built now if needed, with ``progress``)."""
    from trainer.cache import open_dataset, prepare

    try:
        return prepare(
            [open_dataset(path) for path in args.celeba],
            size,
            resize=args.resize,
            template=args.template,
            workers=args.workers,
            root=args.cache_dir,
            on_progress=progress,
        )
    finally:
        progress.close()


@contextlib.contextmanager
def _warnings_to(progress: ProgressReporter, *, json: bool) -> Iterator[None]:
    """Show warnings as ``fader-train: warning: …`` lines (and JSON events) while active."""

    def show(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
        if json:
            events.emit(sys.stdout, "warning", message=str(message))
        progress.write(f"{PROG}: warning: {message}")

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = show
        yield


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fader-train`` with ``argv`` (default: the process arguments); return the exit status."""
    args = get_args_parser().parse_args(argv)
    try:
        return args.run(args)
    except FaderStudioError as e:
        if getattr(args, "progress", None) == "json" and not getattr(e, "reported", False):
            events.emit(sys.stdout, "error", message=str(e))
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
