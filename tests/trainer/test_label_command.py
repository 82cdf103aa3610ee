"""``fader-train label``: completing a partly labelled sample from identities and a classifier."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from fader_studio.core.errors import DatasetError
from fader_studio.core.modelfile import load_model
from trainer.celeba import DatasetWarning, open_celeba, parse_attributes
from trainer.cli import main
from trainer.labels import (
    CLASSIFIER_FILE,
    IDENTITY_FILE,
    PROVENANCE_FILE,
    LabelSettings,
    label_sample,
    parse_identities,
    read_provenance,
    split_people,
)

ATTRIBUTES = ("Male", "Young", "Smiling")
SETTINGS = LabelSettings(attributes=ATTRIBUTES, image_size=64, steps=30, threshold=0.6)
PERSON_ONLY = LabelSettings(attributes=ATTRIBUTES[:2], image_size=64, steps=30, threshold=0.6)


def partly_labelled(synth_celeba: Path, root: Path) -> tuple[Path, dict[str, int], dict[str, np.ndarray]]:
    """The drawn faces as a sample of people (4 images each, sharing Male and Young), with the official
    labels of only the first two images of two people in three. Returns the folder, each image's person
    and each image's true labels."""
    names, labels = _true_labels(synth_celeba)
    shutil.copytree(synth_celeba / "img_align_celeba", root / "img_align_celeba")
    person_of: dict[str, int] = {}
    for group in sorted({tuple(v[:2]) for v in labels.values()}):
        members = [n for n in names if tuple(labels[n][:2]) == group]
        for i, name in enumerate(members):
            person_of[name] = len(set(person_of.values())) if i % 4 == 0 else person_of[members[i - 1]]
    labelled = [
        n
        for n in names
        if person_of[n] % 3 != 2 and [m for m in names if person_of[m] == person_of[n]].index(n) < 2
    ]
    rows = [f"{n} " + " ".join("1" if v else "-1" for v in labels[n]) for n in labelled]
    (root / "list_attr_celeba.txt").write_text(
        f"{len(rows)}\n{' '.join(ATTRIBUTES)}\n" + "\n".join(rows) + "\n"
    )
    (root / IDENTITY_FILE).write_text("".join(f"{n} {p}\n" for n, p in person_of.items()))
    return root, person_of, labels


def _true_labels(celeba: Path) -> tuple[list[str], dict[str, np.ndarray]]:
    names_all, file_names, table = parse_attributes(celeba / "list_attr_celeba.txt")
    columns = [names_all.index(a) for a in ATTRIBUTES]
    return file_names, {n: table[i, columns] for i, n in enumerate(file_names)}


@pytest.fixture
def sample(synth_celeba: Path, tmp_path: Path) -> tuple[Path, dict[str, int], dict[str, np.ndarray]]:
    return partly_labelled(synth_celeba, tmp_path / "sample")


def test_label_keeps_official_labels_propagates_person_attributes_and_splits_by_person(sample, tmp_path):
    source, person_of, truth = sample
    out = tmp_path / "labelled"
    result = label_sample(source, out, PERSON_ONLY, device="cpu")

    dataset = open_celeba(out)  # a dataset the trainer reads, images and all
    assert dataset.attribute_names == list(PERSON_ONLY.attributes)
    listed = dict(zip(dataset.names, dataset.labels, strict=True))
    assert result["images"]["listed"] == len(listed) > 0
    _, official_names, official = parse_attributes(source / "list_attr_celeba.txt")
    for name, values in zip(official_names, official, strict=True):
        if name in listed:
            assert (listed[name] == values[:2]).all(), name
    # every labelled person agrees (the drawn Male and Young are shared), so their other images get them
    labelled_people = {person_of[n] for n in official_names}
    propagated = [n for n in listed if n not in official_names and person_of[n] in labelled_people]
    assert propagated
    for name in propagated:
        assert (listed[name][:2] == truth[name][:2]).all(), name
    # no person is in two splits, and the held-out people are held out
    split_of_person: dict[int, set[int]] = {}
    for name, code in zip(dataset.names, dataset.partition, strict=True):
        split_of_person.setdefault(person_of[name], set()).add(int(code))
    assert all(len(codes) == 1 for codes in split_of_person.values())
    assert {c for codes in split_of_person.values() for c in codes} == {0, 1, 2}

    provenance = json.loads((out / PROVENANCE_FILE).read_text())
    assert provenance == result
    for attribute in PERSON_ONLY.attributes:
        counts = provenance["attributes"][attribute]["images"]
        assert sum(counts.values()) == len(person_of)
        assert counts["official"] == len(official_names)
        assert 0 <= provenance["attributes"][attribute]["classifier_held_out"]["accuracy"] <= 1
    assert provenance["attributes"]["Male"]["images"]["propagated"] == sum(
        1 for n in person_of if n not in official_names and person_of[n] in labelled_people
    )
    assert provenance["attributes"]["Male"]["labelled_people_agreeing"] == (
        f"{len(labelled_people)} of {len(labelled_people)}"
    )
    classifier = load_model(out / CLASSIFIER_FILE)
    assert classifier.attribute_names == PERSON_ONLY.attributes and classifier.image_size == 64
    assert not (out / ".work").exists()
    assert (out / IDENTITY_FILE).read_text() == (source / IDENTITY_FILE).read_text()


def test_predictions_are_used_only_from_a_classifier_that_passed_on_held_out_people(sample, tmp_path):
    source, person_of, _ = sample
    result = label_sample(source, tmp_path / "out", SETTINGS, device="cpu")
    for attribute, entry in result["attributes"].items():
        trusted = entry["classifier_held_out"]["balanced_accuracy"] >= 0.8
        assert entry["predictions_used"] == trusted
        if not trusted:
            assert entry["images"]["predicted"] == 0, attribute
    assert result["attributes"]["Smiling"]["images"]["propagated"] == 0  # a per-image attribute
    assert result["attributes"]["Smiling"]["level"] == "image"


def test_people_disagreeing_about_young_get_no_propagated_label(sample, tmp_path):
    source, person_of, _ = sample
    path = source / "list_attr_celeba.txt"
    lines = path.read_text().splitlines()
    first = lines[2].split()
    partner = next(line.split()[0] for line in lines[3:] if person_of[line.split()[0]] == person_of[first[0]])
    lines = [
        " ".join([f[0], f[1], "1" if f[2] == "-1" else "-1", f[3]]) if f[0] == partner else line
        for line in lines
        for f in [line.split()]
    ]
    path.write_text("\n".join(lines) + "\n")
    result = label_sample(source, tmp_path / "out", SETTINGS, device="cpu")
    people = result["attributes"]["Young"]["labelled_people_agreeing"].split(" of ")
    assert int(people[0]) == int(people[1]) - 1
    listed = open_celeba(tmp_path / "out")
    others = [n for n in person_of if person_of[n] == person_of[first[0]] and n not in (first[0], partner)]
    predicted_ok = result["attributes"]["Young"]["predictions_used"]
    assert predicted_ok or not set(others) & set(listed.names)


def test_split_people_is_repeatable_and_splits_eighty_ten_ten():
    people = list(range(50)) * 3
    split = split_people(people, seed=3)
    assert split == split_people(people, seed=3)
    assert sorted(np.bincount(list(split.values()))) == [5, 5, 40]


def test_the_command_prints_each_label_source(sample, tmp_path, capsys):
    source, _, _ = sample
    code = main([
        "label", str(source), str(tmp_path / "out"), "--attrs", "Male,Smiling", "--size", "64",
        "--steps", "20", "--device", "cpu", "--progress", "none",
    ])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "images labelled in" in out
    assert "Male:" in out and "propagated" in out and "Smiling:" in out


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda s: (s / IDENTITY_FILE).unlink(), "no identity file"),
        (
            lambda s: (s / IDENTITY_FILE).write_text("000001.jpg one\n"),
            "identity_CelebA.txt:1: expected 'IMAGE PERSON'",
        ),
        (lambda s: (s / IDENTITY_FILE).write_bytes(b"\xff\xfe\x00garbage"), "not a text file"),
        (
            lambda s: (s / IDENTITY_FILE).write_text("000001.jpg \u00b2\n"),
            "identity_CelebA.txt:1: expected 'IMAGE PERSON' (a number), got '000001.jpg \u00b2'",
        ),
        (
            lambda s: (s / IDENTITY_FILE).write_text("000001.jpg " + "9" * 5000 + "\n"),
            "identity_CelebA.txt:1: expected 'IMAGE PERSON' (a number)",
        ),
        (lambda s: (s / IDENTITY_FILE).write_text("000001.jpg 1\n000001.jpg 2\n"), "listed twice"),
        (
            lambda s: (s / IDENTITY_FILE).write_text(
                "".join(line for line in (s / IDENTITY_FILE).read_text().splitlines(True)[1:])
            ),
            "has labels but no identity",
        ),
    ],
)
def test_a_broken_identity_file_is_one_line_and_writes_nothing(sample, tmp_path, capsys, damage, message):
    source, _, _ = sample
    damage(source)
    out = tmp_path / "out"
    code = main(["label", str(source), str(out), "--size", "64", "--steps", "5", "--progress", "none"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and message in err and err.startswith("fader-train: error:")
    assert not out.exists()


def test_a_folder_that_is_not_empty_is_refused(sample, tmp_path, capsys):
    source, _, _ = sample
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["label", str(source), str(out), "--size", "64", "--progress", "none"]) == 2
    assert "is not empty" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_parse_identities_reads_the_official_format(tmp_path):
    path = tmp_path / IDENTITY_FILE
    path.write_text("000001.jpg 2880\n\n000002.jpg 2937\n")
    assert parse_identities(path) == {"000001.jpg": 2880, "000002.jpg": 2937}
    path.write_bytes(b"\xef\xbb\xbf000001.jpg 2880\n")  # a byte-order mark from a Windows editor
    assert parse_identities(path) == {"000001.jpg": 2880}
    path.write_text("")
    with pytest.raises(DatasetError, match="no images listed"):
        parse_identities(path)


def test_a_model_trained_on_the_labelled_folder_says_where_its_labels_came_from(sample, tmp_path):
    source, _, _ = sample
    out = tmp_path / "labelled"
    provenance = label_sample(source, out, PERSON_ONLY, device="cpu")
    run = tmp_path / "run"
    code = main([
        "train", str(out), "--attrs", "Male,Young", "--out", str(run), "--size", "64",
        "--first-channels", "4", "--max-channels", "16", "--hidden", "16", "--batch-size", "8",
        "--eval-images", "8", "--sample-faces", "2", "--classifier", str(out / CLASSIFIER_FILE),
        "--device", "cpu", "--max-steps", "4", "--eval-every", "4", "--progress", "none",
    ])  # fmt: skip
    assert code == 0
    assert load_model(run / "last.fader").training["labels"] == provenance


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", ""])
def test_a_damaged_label_record_is_ignored_with_a_warning(tmp_path, text):
    (tmp_path / PROVENANCE_FILE).write_text(text)
    with pytest.warns(DatasetWarning, match="not a label record"):
        assert read_provenance(tmp_path) is None
    assert read_provenance(tmp_path / "elsewhere") is None


def test_an_interrupted_run_leaves_no_folder_behind(sample, tmp_path):
    source, _, _ = sample
    out = tmp_path / "out"

    def ctrl_c(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        label_sample(source, out, SETTINGS, device="cpu", on_progress=ctrl_c)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "sample"]  # no out, no .out.partial
    assert label_sample(source, out, PERSON_ONLY, device="cpu")["images"]["listed"] > 0  # and it goes again


def test_images_the_identity_file_does_not_list_are_left_out_with_a_warning(sample, tmp_path, capsys):
    source, _, _ = sample
    labelled = (source / "list_attr_celeba.txt").read_text()
    lines = (source / IDENTITY_FILE).read_text().splitlines(True)
    dropped = [line for line in lines if line.split()[0] not in labelled][:3]  # images without labels
    (source / IDENTITY_FILE).write_text("".join(line for line in lines if line not in dropped))
    out = tmp_path / "out"
    code = main(["label", str(source), str(out), "--size", "64", "--steps", "5", "--progress", "none"])
    err = capsys.readouterr().err
    assert code == 0, err
    first = min(line.split()[0] for line in dropped)
    assert (
        f"3 images of {source / 'img_align_celeba'} are not listed (e.g. {first}); they are left out" in err
    )
