"""Make the bundled default model from a finished training run.

    python packaging/make_default_model.py RUN [--model best-swap.fader] \
        [--classifier CLASSIFIER.fader] [--judge JUDGE.fader --judge-data DATA...]

Takes the run's chosen model (by default its best swap accuracy, as the
paper selects), measures it on the test people (held out from training and
from the selection), records where its data and labels came from, its licence
and how it was trained, and writes ``resources/models/default.fader``
with float16 weights when that changes no decoded pixel by more than
``HALF_MAX_PIXEL_ERROR`` (float32 otherwise). ``--classifier`` replaces the
run's classifier (the app's starting values) with one trained by
``fader-train classifier`` on the run's data, recorded under ``classifier``
in the metadata. With ``--judge``, it is also
measured by that independent classifier on the test images of
``--judge-data`` (real labels only), per source. Prints what it wrote as JSON.
The run must come from ``fader-train train`` on datasets made by
``fader-train label`` or with real labels (see
``resources/models/LICENSE-model.txt``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fader_studio.core.engine import HALF_MAX_PIXEL_ERROR, to_uint8  # noqa: E402
from fader_studio.core.modelfile import FaderModel, load_model, save_model  # noqa: E402
from fader_studio.core.paths import BUNDLED_MODEL  # noqa: E402
from trainer.cache import open_dataset, prepare  # noqa: E402
from trainer.data import FaceDataset  # noqa: E402
from trainer.evaluation import classifier_for, evaluate_model  # noqa: E402
from trainer.labels import read_provenance  # noqa: E402
from trainer.runs import read_events  # noqa: E402

TARGET = ROOT / "resources" / BUNDLED_MODEL
LICENSE = (
    "Trained on images of the CelebA dataset (Liu et al., ICCV 2015) and of UTKFace (Zhang, Song and Qi, "
    "CVPR 2017), which are available for non-commercial research purposes only; so are these weights. "
    "See LICENSE-model.txt."
)
DATA = (
    "shared/celeba-sample (6,000 CelebA images of 200 people, labels completed by fader-train label) "
    "and shared/utkface (18,312 UTKFace photos: Male and Young from their real gender and age, Smiling "
    "predicted by the judge where confident), aligned to the face-tight template"
)


#: The run's settings recorded in the model.
RUN_SETTINGS = (
    "lambda_schedule", "batch_size", "max_steps", "balanced", "template",
    "lambda_clf", "lambda_patch", "align_steps",
)  # fmt: skip


def rounding_error(model: FaderModel, images: torch.Tensor) -> int:
    """Largest decoded pixel difference (of 255) that storing ``model`` in float16 makes."""
    with tempfile.TemporaryDirectory() as folder:
        rounded = load_model(save_model(model, Path(folder) / "half.fader", half=True))
    worst = 0
    with torch.inference_mode():
        for value in (0.0, 1.0):
            codes = torch.full((len(images), len(model.attributes)), value)
            exact = to_uint8(model.decoder(model.encoder(images), codes)).astype(np.int16)
            near = to_uint8(rounded.decoder(rounded.encoder(images), codes)).astype(np.int16)
            worst = max(worst, int(np.abs(exact - near).max()))
    return worst


def training_record(run: Path, model: FaderModel) -> dict:
    """The model's training metadata with the run's device and wall-clock time, labels and licence."""
    config = json.loads((run / "config.json").read_text())
    events = read_events(run / "events.jsonl")
    times = {e["event"]: e["time"] for e in events}  # the last of each kind
    first_classifier = next((e["time"] for e in events if e["event"] == "classifier"), None)
    start = next(e for e in reversed(events) if e["event"] == "start")
    segments, began = [], None  # (start, end) times of each stretch of training, resumptions included
    for event in events:
        if event["event"] == "start":
            began = event["time"]
        elif event["event"] == "done" and began is not None:
            segments.append((began, event["time"]))
            began = None
    if began is not None:
        segments.append((began, times["eval"]))
    record = dict(model.training)
    record["run"] = {
        "device": start.get("device"),
        "segments": [
            {"from_step": e["step"], **{k: e["config"].get(k) for k in ("lambda_e", "lambda_clf", "lr")}}
            for e in events
            if e["event"] == "start"
        ],
        "classifier_minutes": round((times["classifier_done"] - first_classifier) / 60, 1)
        if first_classifier and "classifier_done" in times
        else None,
        "train_minutes": round(sum(end - begin for begin, end in segments) / 60, 1),
        **{k: config.get(k) for k in RUN_SETTINGS},
    }
    if config.get("init_from"):  # fine-tuned: how the model it started from was trained
        base = load_model(config["init_from"]).training or {}
        record["run"]["init_from"] = {
            "steps": base.get("steps"),
            "run": base.get("run"),
            "judged_metrics": base.get("judged_metrics"),
        }
    if "labels" not in record:
        record["labels"] = read_provenance(Path(model.training["data"]))
    record["data_folders"] = record["data"]
    record["data"] = DATA
    record["license"] = LICENSE
    return record


def use_classifier(model: FaderModel, classifier: FaderModel) -> None:
    """Give ``model`` the classifier of the classifier-only ``classifier`` (its attributes, size, framing)."""
    same_size = classifier.image_size == model.image_size
    if not (same_size and np.allclose(classifier.template, model.template)):
        raise SystemExit("the classifier reads other crops than the model")
    model.classifier = classifier_for(classifier, model.attribute_names, model.image_size)
    model.classifier_config = model.classifier.config
    model.training = {**model.training, "classifier": classifier.training}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="the training run folder")
    parser.add_argument("--model", default="best-swap.fader", help="which model of the run (%(default)s)")
    parser.add_argument(
        "--out", type=Path, default=TARGET, help="where to write (default: the bundled model)"
    )
    parser.add_argument("--cache-dir", type=Path, default=None, help="the dataset cache the run used")
    parser.add_argument(
        "--classifier", type=Path, default=None, help="a classifier (.fader) to use instead of the run's"
    )
    parser.add_argument("--judge", type=Path, default=None, help="an independent classifier (.fader)")
    parser.add_argument(
        "--judge-data", type=Path, nargs="+", default=(), help="datasets with real labels for the judge"
    )
    args = parser.parse_args()
    model = load_model(args.run / args.model)
    if args.classifier is not None:
        use_classifier(model, load_model(args.classifier))
    template = json.loads((args.run / "config.json").read_text()).get("template", "celeba")
    sources = [open_dataset(path) for path in model.training["data"].split(" + ")]
    data = prepare(sources, model.image_size, template=template, root=args.cache_dir)
    val = FaceDataset(data, "val", model.attribute_names)
    images, _ = val.__getitems__(np.arange(min(64, len(val))))
    error = rounding_error(model, images)
    test = evaluate_model(model, data, split="test", device=torch.device("cpu"))
    model.training = training_record(args.run, model)
    model.training["test_metrics"] = test  # held-out people the selection never looked at
    if args.judge is not None:
        judge = load_model(args.judge)
        real = prepare(
            [open_dataset(path) for path in args.judge_data], model.image_size, template=template,
            root=args.cache_dir,
        )  # fmt: skip
        judged = evaluate_model(model, real, classifier=judge, split="test", device=torch.device("cpu"))
        judged["judge"] = {
            "trained_on": judge.training.get("data"),
            "held_out": {k: judge.training["metrics"].get(k) for k in ("accuracy", "balanced_accuracy")},
        }
        model.training["judged_metrics"] = judged
    half = error <= HALF_MAX_PIXEL_ERROR
    save_model(model, args.out, half=half)
    print(
        json.dumps(
            {
                "path": str(args.out),
                "bytes": args.out.stat().st_size,
                "half": half,
                "float16_max_pixel_error": error,
                "steps": model.training["steps"],
                "metrics": model.training["metrics"],
                "test_metrics": test,
                "judged_metrics": model.training.get("judged_metrics"),
                "run": model.training["run"],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
