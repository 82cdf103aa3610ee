"""CelebA attribute names and the specification of each fader.

A model controls a list of binary CelebA attributes. In the app each one is a
fader whose value α codes the attribute as the pair (1 - α, α): 0 is "absent",
1 is "present", and values outside [0, 1] exaggerate (the decoder accepts any
finite α; the official code allowed about [-1, 2]).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

#: The 40 CelebA attributes, in the column order of ``list_attr_celeba.txt``.
CELEBA_ATTRIBUTES: tuple[str, ...] = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald",
    "Bangs", "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair",
    "Bushy_Eyebrows", "Chubby", "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair",
    "Heavy_Makeup", "High_Cheekbones", "Male", "Mouth_Slightly_Open", "Mustache",
    "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose",
    "Receding_Hairline", "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair",
    "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat", "Wearing_Lipstick",
    "Wearing_Necklace", "Wearing_Necktie", "Young",
)  # fmt: skip

_LABELS = {
    "5_o_Clock_Shadow": "5 o'clock shadow",
    "Male": "Male",
    "Young": "Young",
    "Smiling": "Smile",
    "No_Beard": "No beard",
}

#: The slider range a new model gets unless its trainer says otherwise: room to
#: exaggerate a little either way without the artefacts of the far extremes.
DEFAULT_RANGE = (-0.5, 1.5)

#: The widest range a model file may ask for; beyond it decoders produce noise.
MAX_ABS_VALUE = 10.0


def attribute_label(name: str) -> str:
    """A human-readable label for a CelebA attribute name (``Blond_Hair`` → ``Blond hair``)."""
    if name in _LABELS:
        return _LABELS[name]
    words = name.split("_")
    return " ".join([words[0]] + [w.lower() for w in words[1:]])


@dataclass(frozen=True)
class AttributeSpec:
    """One fader: the attribute it controls and the range of its slider.

    ``default`` is the starting value when no classifier can estimate the
    face's own value (trainers set it to the attribute's frequency in the
    training data, the best guess without looking at the face).
    """

    name: str
    label: str
    min: float = DEFAULT_RANGE[0]
    max: float = DEFAULT_RANGE[1]
    default: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"attribute name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.label, str):
            raise ValueError(f"attribute {self.name}: label must be a string")
        for field in ("min", "max", "default"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"attribute {self.name}: {field} must be a number, got {value!r}")
            if not math.isfinite(value) or abs(value) > MAX_ABS_VALUE:
                raise ValueError(
                    f"attribute {self.name}: {field} must be finite and within "
                    f"±{MAX_ABS_VALUE:g}, got {value!r}"
                )
        if not self.min < self.max:
            raise ValueError(f"attribute {self.name}: min {self.min} is not below max {self.max}")
        if not self.min <= self.default <= self.max:
            raise ValueError(
                f"attribute {self.name}: default {self.default} is outside [{self.min}, {self.max}]"
            )

    @classmethod
    def for_name(cls, name: str, **overrides: float) -> AttributeSpec:
        """The spec of a named attribute with its standard label and default range."""
        return cls(name=name, label=attribute_label(name), **overrides)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the form stored in ``.fader`` files)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> AttributeSpec:
        """Parse one entry of a model's ``attributes`` list; ``ValueError`` if malformed."""
        if not isinstance(data, dict):
            raise ValueError(f"attribute entry must be an object, got {type(data).__name__}")
        unknown = set(data) - {"name", "label", "min", "max", "default"}
        if unknown:
            raise ValueError(f"attribute entry has unknown keys {sorted(unknown)}")
        if "name" not in data:
            raise ValueError("attribute entry has no name")
        name = data["name"]
        return cls(
            name=name,
            label=data.get("label", attribute_label(name) if isinstance(name, str) else ""),
            min=data.get("min", DEFAULT_RANGE[0]),
            max=data.get("max", DEFAULT_RANGE[1]),
            default=data.get("default", 0.0),
        )
