"""Training batches from the cache: float pixels, flips, labels, balanced and sharded sampling."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from fader_studio.core.errors import DatasetError
from tests.trainer.conftest import WrittenCelebA, write_celeba
from trainer.cache import PreparedData, prepare
from trainer.celeba import DatasetWarning, open_celeba
from trainer.data import BalancedSampler, FaceDataset, flip_some, training_loader

ATTRS = ["Eyeglasses", "Smiling", "Male"]


@pytest.fixture
def data(celeba: WrittenCelebA) -> PreparedData:
    return prepare(open_celeba(celeba.path), 64, workers=1)


def as_float(pixels: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(pixels.astype(np.float32) / 127.5 - 1).permute(0, 3, 1, 2)


def test_a_batch_is_the_cached_pixels_as_floats_with_the_chosen_labels(
    data: PreparedData, celeba: WrittenCelebA
) -> None:
    dataset = FaceDataset(data, "train", ATTRS)
    assert len(dataset) == 15
    positions = [7, 0, 3, 3]
    images, labels = dataset.__getitems__(positions)
    assert images.shape == (4, 3, 64, 64) and images.dtype == torch.float32
    assert images.is_contiguous() and images.min() >= -1 and images.max() <= 1
    rows = dataset.indices[positions]
    torch.testing.assert_close(images, as_float(np.asarray(data.images[rows])), atol=1e-6, rtol=0)
    columns = [15, 31, 20]
    np.testing.assert_array_equal(labels.numpy(), celeba.labels[rows][:, columns].astype(np.float32))
    image, label = dataset[2]
    torch.testing.assert_close(image, as_float(np.asarray(data.images[dataset.indices[2:3]]))[0])


def test_splits_hold_their_own_images(data: PreparedData) -> None:
    seen = [set(FaceDataset(data, split, ATTRS).indices.tolist()) for split in ("train", "val", "test")]
    assert [len(s) for s in seen] == [15, 5, 4]
    assert set.union(*seen) == set(range(24)) and sum(len(s) for s in seen) == 24


def test_flip_mirrors_about_half_of_the_images_the_same_way_for_a_step(data: PreparedData) -> None:
    original, _ = FaceDataset(data, "train", ATTRS).__getitems__(list(range(15)))
    flips = 0
    for step in range(20):
        images = flip_some(original, seed=1, step=step)
        assert torch.equal(images, flip_some(original, seed=1, step=step))
        for image, plain in zip(images, original, strict=True):
            mirrored = torch.equal(image, plain.flip(2))
            assert mirrored or torch.equal(image, plain)
            flips += mirrored
    assert 100 < flips < 200  # of 300
    choices = [flip_some(original, seed=1, step=0, rank=r) for r in range(2)] + [flip_some(original, 2, 0)]
    assert not torch.equal(choices[0], choices[1]) and not torch.equal(choices[0], choices[2])


def test_unknown_attribute_and_empty_split_are_clear_errors(tmp_path: Path) -> None:
    written = write_celeba(tmp_path / "d", 3)  # partitions 0, 0, 0: no val or test images
    data = prepare(open_celeba(written.path), 64, workers=1)
    assert data.attribute_indices(["Smiling", "Eyeglasses"]) == [31, 15]
    with pytest.raises(DatasetError, match="unknown attribute 'Smile'; valid: 5_o_Clock_Shadow, .*, Young$"):
        FaceDataset(data, "train", ["Smile"])
    with pytest.raises(DatasetError, match="no usable images in the val split"):
        FaceDataset(data, "val", ATTRS)


def combination_labels(counts: list[int]) -> np.ndarray:
    """Labels of two attributes with ``counts`` images of combinations 00, 10, 01, 11."""
    rows = [[(code >> 0) & 1, (code >> 1) & 1] for code, n in enumerate(counts) for _ in range(n)]
    return np.asarray(rows, dtype=np.float32)


def test_balanced_sampler_draws_every_combination_equally() -> None:
    labels = combination_labels([90, 6, 3, 1])  # very skewed
    sampler = BalancedSampler(labels, seed=1)
    drawn = list(sampler)
    assert len(drawn) == len(sampler) == 100
    per_combination = Counter(int(labels[i] @ [1, 2]) for i in drawn)
    assert sorted(per_combination.values()) == [25, 25, 25, 25]
    rare = [i for i in drawn if labels[i].tolist() == [1, 1]]
    assert rare == [99] * 25
    common = [i for i in drawn if labels[i].tolist() == [0, 0]]
    assert len(set(common)) == 25  # without replacement inside a combination


def test_balanced_sampler_is_deterministic_per_seed_and_epoch() -> None:
    labels = combination_labels([10, 10, 10, 10])
    a, b, c = (
        BalancedSampler(labels, seed=3),
        BalancedSampler(labels, seed=3),
        BalancedSampler(labels, seed=4),
    )
    assert list(a) == list(b) != list(c)
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first and sorted(list(a)) == sorted(range(40))


def test_balanced_sampler_warns_about_missing_combinations() -> None:
    labels = combination_labels([10, 0, 5, 0])
    with pytest.warns(DatasetWarning, match="2 of the 4 attribute combinations have no images"):
        sampler = BalancedSampler(labels, 30)
    assert Counter(int(labels[i] @ [1, 2]) for i in sampler) == {0: 15, 2: 15}


def test_balanced_shards_split_one_epoch_between_ranks() -> None:
    labels = combination_labels([20, 7, 7, 7])
    whole = list(BalancedSampler(labels, 42, seed=5))
    shards = [list(BalancedSampler(labels, 42, seed=5, num_replicas=3, rank=r)) for r in range(3)]
    assert [len(s) for s in shards] == [14, 14, 14]
    assert sorted(sum(shards, [])) == sorted(whole)
    assert shards[1] == whole[1::3]


def steps(loader: DataLoader, count: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return list(itertools.islice(loader, count))


def test_loader_shards_epochs_between_processes_without_overlap(data: PreparedData) -> None:
    dataset = FaceDataset(data, "train", ATTRS)  # 15 images: 3 steps of 2 per rank, 1 left over
    shards = [steps(training_loader(dataset, 2, num_replicas=2, rank=rank, seed=9), 3) for rank in range(2)]
    labels = [torch.cat([lab for _, lab in shard]) for shard in shards]
    images = [torch.cat([img for img, _ in shard]) for shard in shards]
    rows = {tuple(image.flatten()[:64].tolist()) for shard in images for image in shard}
    assert len(rows) == 12  # 12 distinct images, none seen by both ranks
    for image, label in zip(torch.cat(images), torch.cat(labels), strict=True):
        match = next(i for i in range(15) if torch.equal(dataset[i][0], image))
        assert torch.equal(dataset.labels[match], label)


def test_loader_resumes_at_any_step_with_the_same_batches(data: PreparedData) -> None:
    dataset = FaceDataset(data, "train", ["Smiling"])
    for balanced in (False, True):
        whole = steps(training_loader(dataset, 4, seed=3, balanced=balanced), 10)  # 3 steps an epoch
        resumed = steps(training_loader(dataset, 4, seed=3, balanced=balanced, start_step=4), 6)
        for (a, la), (b, lb) in zip(whole[4:], resumed, strict=True):
            assert torch.equal(a, b) and torch.equal(la, lb)
        epochs = [torch.cat([img for img, _ in whole[i : i + 3]]) for i in (0, 3)]
        assert not torch.equal(epochs[0], epochs[1])  # a new permutation each epoch


def test_loader_workers_read_the_cache_themselves(data: PreparedData) -> None:
    dataset = FaceDataset(data, "all", ATTRS)
    inline = steps(training_loader(dataset, 5, seed=1), 6)
    parallel = steps(training_loader(dataset, 5, seed=1, num_workers=2), 6)
    for (a, la), (b, lb) in zip(inline, parallel, strict=True):
        assert torch.equal(a, b) and torch.equal(la, lb)
    everything = {tuple(image.flatten().tolist()) for image in as_float(np.asarray(data.images))}
    first_epoch = [tuple(image.flatten().tolist()) for a, _ in inline[:4] for image in a]
    assert len(set(first_epoch)) == 20 and set(first_epoch) <= everything  # 4 batches of 5, no repeats


def test_loader_is_deterministic_for_a_seed(data: PreparedData) -> None:
    dataset = FaceDataset(data, "train", ["Smiling"])
    for balanced in (False, True):
        first, again, other = (
            steps(training_loader(dataset, 4, seed=s, balanced=balanced), 5) for s in (1, 1, 2)
        )
        assert all(torch.equal(a, b) for (a, _), (b, _) in zip(first, again, strict=True))
        assert not all(torch.equal(a, b) for (a, _), (b, _) in zip(first, other, strict=True))


def test_a_dataset_smaller_than_a_batch_is_a_clear_error(data: PreparedData) -> None:
    with pytest.raises(ValueError, match="fewer than one batch of 32"):
        training_loader(FaceDataset(data, "train", ATTRS), 32)
