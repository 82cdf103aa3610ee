"""The settings of a training run: one source of truth, saved as ``RUN/config.json``.

:class:`TrainConfig` holds every hyper-parameter with the paper's default
(``seeds/003``, and the official code where the paper is silent or wrong). A
resumed run takes its settings from ``config.json``; only the settings in
:data:`RESUME_CHANGES` may change on resume: how long to run, how often to
save, and the step sizes a run is resumed with (a lower ``--lr`` after a divergence, another
``--lambda-e`` or ``--lambda-clf``). Any other change would make the resumed run a different one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from fader_studio.core.network_config import NetworkConfig
from fader_studio.core.template import TEMPLATES

#: The settings that are the network's architecture (the fields of :class:`NetworkConfig`).
ARCHITECTURE = tuple(f.name for f in fields(NetworkConfig) if f.init)
#: What ``--freeze`` accepts: a whole part, or its first N blocks.
FREEZE_PARTS = ("encoder", "decoder")
#: Steps of a classifier trained automatically for a Fader run (``classifier_steps`` 0): as many as
#: the run's steps within these bounds, enough for the visible attributes and quick for tiny runs.
AUTO_CLASSIFIER_STEPS = (100, 3000)
#: Layers of the PatchGAN discriminator that ``freeze_d`` may freeze (all but its output layer).
PATCH_FREEZABLE = 3
#: Settings that may differ between a run and its resumption.
RESUME_CHANGES = frozenset(
    {
        "max_steps",
        "max_minutes",
        "checkpoint_every",
        "checkpoint_minutes",
        "eval_every",
        "keep_checkpoints",
        "log_every",
    }
    | {"lr", "lambda_e", "lambda_clf", "clip_grad"}
)


#: Settings that change when ``init_from`` adds an attribute and the user does not set them
#: (measured by ``python -m bench.new_fader``): a warm-up that keeps the first steps from
#: undoing the model, λ_E at full strength within a few hundred steps (the encoder is already
#: adversarial; the paper's 500,000-step ramp would leave the new attribute in the latent),
#: discriminators aligned to the model first, and the new attribute in a third of every batch.
FINETUNE_DEFAULTS: dict[str, Any] = {
    "warmup_steps": 200,
    "lambda_e": 1e-3,
    "lambda_schedule": 500,
    "align_steps": 300,
}


#: The largest value a float setting may take (larger ones are typos or attacks, and poison a run).
FLOAT_LIMITS = {
    "lr": 1e6,
    "beta1": 1.0,
    "clip_grad": 1e6,
    "lambda_e": 1e3,
    "lambda_patch": 1e3,
    "lambda_clf": 1e3,
    "positive_share": 1.0,
    "max_minutes": 1e7,
    "checkpoint_minutes": 1e6,
    "dropout": 1.0,
}
#: The largest value an integer setting may take.
INT_LIMIT = 10**12
#: Settings that must be at least 1.
POSITIVE_COUNTS = ("batch_size", "max_steps", "eval_every", "keep_checkpoints", "log_every", "dis_steps")
#: Settings that must be above 0.
POSITIVE_AMOUNTS = ("lr", "clip_grad", "checkpoint_minutes")
#: Settings that may be 0 (off, or no limit) but not below.
NON_NEGATIVE = (
    "align_steps",
    "freeze_d",
    "max_minutes",
    "lambda_e",
    "lambda_patch",
    "lambda_clf",
    "lambda_schedule",
    "warmup_steps",
    "checkpoint_every",
    "classifier_steps",
    "seed",
)
#: The smallest value a form offers for a setting that must be above 0.
SMALLEST_AMOUNT = 1e-6

#: A run that shows results in minutes on a CPU (64 px; λ_E reaches its weight within the run,
#: as in ``bench.learnability``): the Train dialog's quick preset, over the defaults.
QUICK_SETTINGS: dict[str, Any] = {
    "image_size": 64,
    "max_steps": 3000,
    "lr": 5e-4,
    "lambda_e": 3e-3,
    "lambda_schedule": 2000,
    "eval_every": 500,
    "classifier_steps": 1000,
}


def default_settings(**changes: Any) -> dict[str, Any]:
    """Every setting at its default (the paper's), with ``changes``: what a form starts from."""
    return {f.name: f.default for f in fields(TrainConfig)} | changes


def setting_range(name: str) -> tuple[float, float]:
    """The smallest and largest value :class:`TrainConfig` accepts for the number setting ``name``
    (for one that must be above 0, the smallest a form offers, :data:`SMALLEST_AMOUNT`)."""
    kind = {f.name: str(f.type) for f in fields(TrainConfig)}[name]
    if kind not in ("int", "float"):
        raise ValueError(f"{name} is not a number setting")
    high = INT_LIMIT if kind == "int" else FLOAT_LIMITS.get(name, 1e9)
    if name == "batch_size":
        return 2, high  # batch normalisation, the default
    if name in POSITIVE_COUNTS:
        return 1, high
    if name in POSITIVE_AMOUNTS:
        return (1 if kind == "int" else SMALLEST_AMOUNT), high
    return 0, high


def check_freeze(parts: Sequence[str], n_layers: int) -> None:
    """Raise ``ValueError`` for a ``--freeze`` entry that names nothing in a model of ``n_layers``."""
    for part in parts:
        name, _, count = part.partition("-")
        if name not in FREEZE_PARTS or (count and not count.isdigit()):
            raise ValueError(f"--freeze {part!r}: use encoder, decoder, encoder-N or decoder-N")
        if count and not 1 <= int(count) <= n_layers:
            raise ValueError(f"--freeze {part!r}: the {name} has blocks 1 to {n_layers}")


def _check_value(name: str, kind: str, value: Any) -> None:
    """``ValueError`` unless ``value`` is of the setting's type (``kind``, its annotation) and finite."""
    option = "--" + name.replace("_", "-")
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{option} must be a finite number, not {value!r}")
        if abs(value) > FLOAT_LIMITS.get(name, 1e9):
            raise ValueError(f"{option} {value:g} is out of range (at most {FLOAT_LIMITS.get(name, 1e9):g})")
    elif kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{option} must be a whole number, not {str(value)[:40]!r}")
        if abs(value) > INT_LIMIT:
            raise ValueError(f"{option} is out of range (at most {INT_LIMIT:g})")
    elif kind == "bool" and not isinstance(value, bool):
        raise ValueError(f"{option} must be true or false, not {str(value)[:40]!r}")
    elif kind in ("str", "str | None") and not (isinstance(value, str) or (value is None and "None" in kind)):
        raise ValueError(f"{option} must be text, not {str(value)[:40]!r}")
    elif kind.startswith("tuple") and not all(isinstance(v, str) for v in value):
        raise ValueError(f"{option} must be a list of names")


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a Fader training run (``fader-train train --help`` explains each)."""

    attributes: tuple[str, ...] = ()
    image_size: int = NetworkConfig.image_size
    template: str = "celeba"
    # architecture (NetworkConfig, whose defaults are the paper's)
    n_layers: int = NetworkConfig.n_layers
    first_channels: int = NetworkConfig.first_channels
    max_channels: int = NetworkConfig.max_channels
    hidden: int = NetworkConfig.hidden
    dropout: float = NetworkConfig.dropout
    normalization: str = NetworkConfig.normalization
    # optimisation
    batch_size: int = 32
    lr: float = 2e-4
    beta1: float = 0.5
    clip_grad: float = 5.0
    warmup_steps: int = 0
    lambda_e: float = 1e-4
    lambda_schedule: int = 500_000
    dis_steps: int = 1
    lambda_patch: float = 0.0
    lambda_clf: float = 0.0
    flip: bool = True
    balanced: bool = False
    seed: int = 0
    # fine-tuning (seed 004's recipe for teaching a model a new attribute)
    init_from: str | None = None
    freeze: tuple[str, ...] = ()
    extended: str | None = None
    positive_share: float = 1 / 3
    align_steps: int = 0
    freeze_d: int = 0
    # classifier for swap accuracy and starting fader values
    classifier: str | None = None
    classifier_steps: int = 0
    # run control
    max_steps: int = 100_000
    max_minutes: float = 0.0
    checkpoint_every: int = 0
    checkpoint_minutes: float = 10.0
    eval_every: int = 2_000
    eval_images: int = 500
    sample_faces: int = 6
    keep_checkpoints: int = 3
    log_every: int = 10
    # speed
    amp: bool = True
    channels_last: bool = True
    compile: bool = False

    def __post_init__(self) -> None:
        for name in ("attributes", "freeze"):
            value = getattr(self, name)
            if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
                raise ValueError(f"--{name} must be a list of names")
            object.__setattr__(self, name, tuple(value))
        for f in fields(self):
            _check_value(f.name, str(f.type), getattr(self, f.name))
        if not self.attributes:
            raise ValueError("choose at least one attribute (--attrs)")
        if len(set(self.attributes)) != len(self.attributes):
            raise ValueError("an attribute is named twice in --attrs")
        for name in POSITIVE_COUNTS:
            if getattr(self, name) < 1:
                raise ValueError(f"{name.replace('_', '-')} must be at least 1")
        if self.batch_size < 2 and self.normalization == "batch":
            raise ValueError("batch normalisation needs a batch size of at least 2")
        for name in POSITIVE_AMOUNTS:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name.replace('_', '-')} must be positive")
        for name in NON_NEGATIVE:
            if getattr(self, name) < 0:
                raise ValueError(f"{name.replace('_', '-')} must not be negative")
        if self.template not in TEMPLATES:
            raise ValueError(f"template must be {' or '.join(TEMPLATES)}, not {self.template!r}")
        if not 0 <= self.beta1 < 1:
            raise ValueError("beta1 must be in [0, 1)")
        check_freeze(self.freeze, self.network().n_layers)  # and the architecture settings
        if self.extended is not None and self.extended not in self.attributes:
            raise ValueError(f"--extended {self.extended} is not one of the trained attributes (--attrs)")
        if self.extended is not None and self.balanced:
            raise ValueError("--extended and --balanced each choose the batches; use one")
        if not 0 < self.positive_share < 1:
            raise ValueError("positive-share must be between 0 and 1")
        if self.freeze_d > PATCH_FREEZABLE:
            raise ValueError(
                f"freeze-d: the patch discriminator has {PATCH_FREEZABLE} layers that can be frozen"
            )
        if self.freeze_d and self.lambda_patch == 0:
            raise ValueError(
                "--freeze-d freezes layers of the patch discriminator; turn it on with --lambda-patch"
            )

    def network(self) -> NetworkConfig:
        """The architecture these settings describe."""
        return NetworkConfig(**{name: getattr(self, name) for name in ARCHITECTURE})

    def lambda_at(self, step: int) -> float:
        """λ_E at ``step``: 0 at the start, rising linearly to ``lambda_e`` over ``lambda_schedule`` steps."""
        if self.lambda_schedule == 0:
            return self.lambda_e
        return self.lambda_e * min(step, self.lambda_schedule) / self.lambda_schedule

    def classifier_steps_to_train(self) -> int:
        """How long the run trains its own classifier: ``classifier_steps``, or (0) as long as the run
        within :data:`AUTO_CLASSIFIER_STEPS`."""
        low, high = AUTO_CLASSIFIER_STEPS
        return self.classifier_steps or min(max(self.max_steps, low), high)

    def lr_at(self, step: int) -> float:
        """The learning rate at ``step``: a linear warm-up over ``warmup_steps``, then constant."""
        if step >= self.warmup_steps:
            return self.lr
        return self.lr * (step + 1) / (self.warmup_steps + 1)

    def to_json(self) -> dict[str, Any]:
        """The settings as JSON values (for ``config.json`` and the ``start`` event)."""
        data = asdict(self)
        data["attributes"] = list(self.attributes)
        data["freeze"] = list(self.freeze)
        return data

    @classmethod
    def from_json(cls, data: Any) -> TrainConfig:
        """Settings read back from :meth:`to_json`; ``ValueError`` if malformed."""
        if not isinstance(data, dict):
            raise ValueError("the settings must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown settings {sorted(unknown)}")
        return cls(**data)

    def changed_for_resume(self, stored: TrainConfig) -> list[str]:
        """Names of settings that differ from ``stored`` and may not change on resume."""
        return [
            f.name
            for f in fields(self)
            if f.name not in RESUME_CHANGES and getattr(self, f.name) != getattr(stored, f.name)
        ]
