"""Training batches from a prepared cache: float images in [-1, 1], attribute labels, samplers.

The cache stays on disk; each batch is read from the memory map in index
order, converted to float on the fly and (optionally) flipped left-right.
:class:`BalancedSampler` draws every combination of the chosen attributes
equally often (replication 000 found this helps with skewed attributes), and
shards its draws across processes for multi-GPU training;
:func:`make_loader` picks the sampler and builds the ``DataLoader``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import (
    DataLoader,
    Dataset,
    DistributedSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
)

from fader_studio.core.errors import DatasetError
from trainer.cache import PreparedData
from trainer.celeba import DatasetWarning

Batch = tuple[torch.Tensor, torch.Tensor]


def to_float(images: torch.Tensor) -> torch.Tensor:
    """``(N, S, S, 3)`` uint8 → ``(N, 3, S, S)`` float32 in [-1, 1]."""
    return images.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0).contiguous()


class FaceDataset(Dataset[Batch]):
    """The usable images of one split of a prepared cache, with the chosen attributes' labels.

    Items are ``(image (3, S, S) float in [-1, 1], labels (n,) float 0/1)``;
    a ``DataLoader`` fetches whole batches at once through ``__getitems__``.
    With ``flip``, each image is mirrored left-right with probability ½ (the
    paper's augmentation; replication 000 found it hurt them, so it can be off).
    """

    def __init__(
        self, data: PreparedData, split: str, attributes: Sequence[str], *, flip: bool = True
    ) -> None:
        columns = data.attribute_indices(attributes)
        self.indices = data.split_indices(split)
        if len(self.indices) == 0:
            raise DatasetError(data.path, f"no usable images in the {split} split")
        self.attributes = list(attributes)
        self.labels = torch.from_numpy(data.labels[self.indices][:, columns].astype(np.float32))
        self.flip = flip
        self.image_size = data.size
        self._images_path = data.path / "images.npy"
        self._images: np.ndarray | None = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_images"] = None  # each DataLoader worker maps the file itself
        return state

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Batch:
        images, labels = self.__getitems__([index])
        return images[0], labels[0]

    def __getitems__(self, positions: Sequence[int]) -> Batch:
        """A batch: images ``(N, 3, S, S)`` and labels ``(N, n)``, in the order asked."""
        if self._images is None:
            self._images = np.load(self._images_path, mmap_mode="r", allow_pickle=False)
        positions = np.asarray(positions, dtype=np.int64)
        rows = self.indices[positions]
        order = np.argsort(rows, kind="stable")  # read the file forwards
        pixels = np.empty((len(rows), *self._images.shape[1:]), dtype=np.uint8)
        pixels[order] = self._images[rows[order]]
        images = torch.from_numpy(pixels)
        if self.flip:
            mirrored = torch.rand(len(rows)) < 0.5
            images[mirrored] = images[mirrored].flip(2)
        return to_float(images), self.labels[positions]


class BalancedSampler(Sampler[int]):
    """Draws every combination of the attributes present in ``labels`` equally often.

    Each epoch has ``num_samples`` draws (default: the dataset size), split
    exactly evenly between the combinations (a remainder goes to random
    ones); inside a combination, images are drawn without replacement until all
    have been seen. With ``num_replicas`` > 1, each rank takes every
    ``num_replicas``-th draw of the same shuffled epoch, so ranks never overlap.
    Call :meth:`set_epoch` at the start of each epoch.
    """

    def __init__(
        self,
        labels: torch.Tensor | np.ndarray,
        num_samples: int | None = None,
        *,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        labels = np.asarray(labels) > 0.5
        if labels.ndim != 2 or len(labels) == 0:
            raise ValueError("labels must be a non-empty (N, n) array")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is not in [0, {num_replicas})")
        codes = labels.astype(np.int64) @ (1 << np.arange(labels.shape[1]))
        present = np.unique(codes)
        self.groups = [np.flatnonzero(codes == code) for code in present]
        missing = (1 << labels.shape[1]) - len(present)
        if missing:
            warnings.warn(
                f"{missing} of the {1 << labels.shape[1]} attribute combinations have no images; "
                "balancing the other ones",
                DatasetWarning,
                stacklevel=2,
            )
        total = len(labels) if num_samples is None else num_samples
        self.total = -(-total // num_replicas) * num_replicas  # every rank draws as many
        self.seed = seed
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use the draws of ``epoch`` (the same on every rank)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.total // self.num_replicas

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng([self.seed, self.epoch])
        counts = np.full(len(self.groups), self.total // len(self.groups))
        counts[rng.permutation(len(self.groups))[: self.total % len(self.groups)]] += 1
        draws = []
        for group, count in zip(self.groups, counts, strict=True):
            rounds = -(-count // len(group))
            draws.append(np.concatenate([rng.permutation(group) for _ in range(rounds)])[:count])
        epoch = rng.permutation(np.concatenate(draws))
        return iter(epoch[self.rank :: self.num_replicas].tolist())


def _as_is(batch: Batch) -> Batch:
    """The collate function: ``FaceDataset.__getitems__`` already makes the batch."""
    return batch


def make_loader(
    dataset: FaceDataset,
    batch_size: int,
    *,
    shuffle: bool = True,
    balanced: bool = False,
    seed: int = 0,
    num_workers: int = 0,
    num_replicas: int = 1,
    rank: int = 0,
    drop_last: bool = True,
    pin_memory: bool = False,
) -> DataLoader:
    """A ``DataLoader`` of ``(images, labels)`` batches over ``dataset``.

    ``balanced`` draws attribute combinations equally (:class:`BalancedSampler`);
    otherwise ``shuffle`` draws a random permutation per epoch. With
    ``num_replicas`` > 1 (multi-GPU), each ``rank`` gets its own shard through
    ``DistributedSampler`` or the balanced sampler's sharding; call
    ``loader.sampler.set_epoch(epoch)`` each epoch. Deterministic for a ``seed``.
    """
    sampler: Sampler[int]
    if balanced:
        sampler = BalancedSampler(dataset.labels, seed=seed, num_replicas=num_replicas, rank=rank)
    elif num_replicas > 1:
        sampler = DistributedSampler(
            dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=drop_last
        )
    elif shuffle:
        sampler = RandomSampler(dataset, generator=torch.Generator().manual_seed(seed))
    else:
        sampler = SequentialSampler(dataset)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        collate_fn=_as_is,
        drop_last=drop_last,
        pin_memory=pin_memory,
        persistent_workers=num_workers > 0,
        generator=torch.Generator().manual_seed(seed),
    )
