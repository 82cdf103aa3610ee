"""Fader presets: saved, listed, renamed, deleted and applied, absolute and relative, across models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fader_studio.core.attributes import AttributeSpec
from fader_studio.core.presets import (
    Preset,
    PresetError,
    delete_preset,
    find_preset,
    list_presets,
    presets_dir,
    read_preset,
    rename_preset,
    save_preset,
)

SPECS = tuple(AttributeSpec.for_name(n) for n in ("Eyeglasses", "Smiling", "Male"))


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FADER_STUDIO_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_an_absolute_preset_round_trips_and_sets_every_face_alike() -> None:
    face = {"Eyeglasses": 0.1, "Smiling": 1.2, "Male": 0.0}
    preset = Preset.from_face("Big smile", face, {"Eyeglasses": 0.1, "Smiling": 0.2, "Male": 0.0},
                              relative=False, model_name="tiny")  # fmt: skip
    path = save_preset(preset)
    assert path.parent == presets_dir() and path.suffix == ".json"
    assert read_preset(path) == preset == find_preset("big SMILE")
    assert read_preset(path).model_attributes == ("Eyeglasses", "Smiling", "Male")
    other = {"Eyeglasses": 0.9, "Smiling": 0.0, "Male": 1.0}
    assert preset.apply(SPECS, other).values == face
    assert preset.apply(SPECS, other).skipped == ()
    assert [p.name for _, p in list_presets()] == ["Big smile"]


def test_a_relative_preset_keeps_the_moved_faders_as_changes_from_each_face() -> None:
    start = {"Eyeglasses": 0.1, "Smiling": 0.2, "Male": 0.7}
    preset = Preset.from_face("More smile", {**start, "Smiling": 0.5}, start, relative=True)
    assert preset.values == {"Smiling": 0.3}
    read = read_preset(save_preset(preset))
    assert read.relative and read.values == {"Smiling": 0.3}
    assert read.apply(SPECS, {"Eyeglasses": 0.0, "Smiling": 0.6, "Male": 0.2}).values == {
        "Eyeglasses": 0.0,
        "Smiling": 0.9,
        "Male": 0.2,
    }
    assert read.apply(SPECS, {"Smiling": 1.4}).values["Smiling"] == 1.5  # clipped to the fader's range
    assert read.describe() == "Smile +0.30 (relative to each face)"


def test_a_preset_of_another_model_applies_what_this_one_has_and_names_the_rest() -> None:
    preset = Preset("Bald and smiling", {"Bald": 1.0, "Smiling": 1.0}, model_name="other",
                    model_attributes=("Bald", "Smiling"))  # fmt: skip
    applied = preset.apply(SPECS, {"Eyeglasses": 0.2, "Smiling": 0.1, "Male": 0.4})
    assert applied.values == {"Eyeglasses": 0.2, "Smiling": 1.0, "Male": 0.4}
    assert applied.skipped == ("Bald",)


def test_presets_are_renamed_and_deleted_by_name_and_names_stay_unique() -> None:
    save_preset(Preset("Warm", {"Smiling": 1.0}))
    save_preset(Preset("Cool", {"Smiling": 0.0}))
    with pytest.raises(PresetError, match="a preset named 'warm' exists"):
        save_preset(Preset("warm", {}))
    with pytest.raises(PresetError, match="'Cool' exists"):
        rename_preset("Warm", "Cool")
    rename_preset("Warm", "Friendly")
    assert [p.name for _, p in list_presets()] == ["Cool", "Friendly"]
    assert find_preset("Friendly").values == {"Smiling": 1.0}
    rename_preset("Friendly", "FRIENDLY")  # a change of case keeps the file
    delete_preset("cool")
    assert [p.name for _, p in list_presets()] == ["FRIENDLY"]
    assert len(list(presets_dir().iterdir())) == 1
    with pytest.raises(PresetError, match="no preset named 'Cool' \\(saved presets: FRIENDLY\\)"):
        find_preset("Cool")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{", "not a readable preset (JSONDecodeError)"),
        ('{"format": "something else"}', "not a Fader Studio preset"),
        ('{"format": "fader-studio-preset", "version": 9}', "preset version 9 is not supported"),
        ('{"format": "fader-studio-preset", "version": 1, "name": "x", "values": {"Smiling": NaN}}',
         "the value of 'Smiling' is not a finite number"),
        ('{"format": "fader-studio-preset", "version": 1, "name": "x", "values": {"Smiling": 1e300}}',
         "is out of range"),
        ('{"format": "fader-studio-preset", "version": 1, "name": "", "values": {}}',
         "a preset needs a name"),
        ("[" * 100_000 + "]" * 100_000, "too large to be a preset"),
        (b"\xff\xfe", "not a readable preset (UnicodeDecodeError)"),
    ],
)  # fmt: skip
def test_a_broken_preset_file_is_one_line_and_left_out_of_the_list(
    tmp_path: Path, content: str | bytes, reason: str
) -> None:
    path = presets_dir() / "broken.json"
    path.parent.mkdir(parents=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(PresetError) as error:
        read_preset(path)
    assert str(error.value) == f"{path}: {reason}" or reason in str(error.value)
    assert "\n" not in str(error.value)
    assert list_presets() == []


def test_a_preset_file_given_by_path_is_read_wherever_it_is(tmp_path: Path) -> None:
    path = tmp_path / "shared-look.json"
    path.write_text(json.dumps(Preset("Shared", {"Male": 1.0}, relative=False).to_json()))
    assert find_preset(str(path)).values == {"Male": 1.0}
    with pytest.raises(PresetError, match="no preset named 'nothing' \\(no presets are saved yet\\)"):
        find_preset("nothing")
