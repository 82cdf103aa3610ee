"""Training batches from a prepared cache: float images in [-1, 1], attribute labels, samplers.

The cache stays on disk; each batch is read from the memory map in index
order and converted to float on the fly. :class:`BalancedSampler` draws every
combination of the chosen attributes equally often (replication 000 found
this helps with skewed attributes). :func:`training_loader` streams the
batches of steps ``start_step, start_step + 1, …``: the batch of a step, and
its flips (:func:`flip_some`), depend only on the seed and the step, so a
resumed run sees exactly the batches an uninterrupted one would. Both shard
their draws across the processes of a multi-GPU run.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from fader_studio.core.attributes import AttributeSpec
from fader_studio.core.errors import DatasetError, FaderStudioError
from trainer.cache import PreparedData
from trainer.celeba import DatasetWarning

Batch = tuple[torch.Tensor, torch.Tensor]
#: How :class:`FaceDataset` treats images with unknown labels.
UNKNOWN_LABELS = ("drop", "keep", "all")
#: The fewest training images with, and without, an attribute that a fader or classifier learns it from.
MIN_PER_CLASS = 5


def check_learnable(dataset: FaceDataset) -> None:
    """:class:`FaderStudioError` naming the first attribute with too few known positives or negatives.

    Training an attribute that (almost) no image has, or that (almost) every
    one has, "succeeds" with a perfect classifier and a fader that does nothing.
    """
    labels = dataset.labels.float()
    for index, name in enumerate(dataset.attributes):
        column = labels[:, index]
        known = column[~column.isnan()]
        have = int((known > 0.5).sum())
        lack = known.numel() - have
        if min(have, lack) < MIN_PER_CLASS:
            raise FaderStudioError(
                f"{name}: {have} training images have it and {lack} do not; learning it needs at least "
                f"{MIN_PER_CLASS} of each (choose other attributes, or add photos)"
            )


def to_float(images: torch.Tensor) -> torch.Tensor:
    """``(N, S, S, 3)`` uint8 → ``(N, 3, S, S)`` float32 in [-1, 1]."""
    return images.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0).contiguous()


class FaceDataset(Dataset[Batch]):
    """The usable images of one split of a prepared cache, with the chosen attributes' labels.

    Items are ``(image (3, S, S) float in [-1, 1], labels (n,) float 0/1)``;
    a ``DataLoader`` fetches whole batches at once through ``__getitems__``.
    A label may be unknown (a photo folder's blank, or an attribute another
    source has): with ``unknown="drop"`` (what a Fader model trains on) the
    images lacking any of ``attributes`` are left out and counted in
    :attr:`left_out`; with ``"keep"`` (a classifier, which masks its loss) an
    unknown label is NaN and only images knowing none of them are left out;
    with ``"all"`` (predicting labels) no image is left out.
    """

    def __init__(
        self, data: PreparedData, split: str, attributes: Sequence[str], *, unknown: str = "drop"
    ) -> None:
        if unknown not in UNKNOWN_LABELS:
            raise ValueError(f"unknown must be one of {', '.join(UNKNOWN_LABELS)}, not {unknown!r}")
        columns = data.attribute_indices(attributes)
        usable = data.split_indices(split)
        known = data.known[usable][:, columns]
        enough = {"drop": known.all(axis=1), "keep": known.any(axis=1), "all": np.ones(len(usable), bool)}[
            unknown
        ]
        self.indices = usable[enough]
        self.left_out = int(len(usable) - len(self.indices))
        if len(self.indices) == 0:
            missing = f" with every one of {', '.join(attributes)} known" if len(usable) else ""
            raise DatasetError(data.path, f"no usable images in the {split} split{missing}")
        self.path = data.path
        self.split = split
        self.attributes = list(attributes)
        labels = data.labels[self.indices][:, columns].astype(np.float32)
        labels[~known[enough]] = np.nan
        self.labels = torch.from_numpy(labels)
        self.sources = data.source[self.indices]
        self.image_size = data.size
        self._images_path = data.path / "images.npy"
        self._images: np.ndarray | None = None

    def attribute_specs(self) -> tuple[AttributeSpec, ...]:
        """The faders of a model trained on these images: each starts at its attribute's frequency here.

        (The frequency is the best guess of a face's value without looking at
        it; the app uses it when a model has no classifier.)
        """
        frequency = self.labels.nanmean(0).tolist()
        return tuple(
            AttributeSpec.for_name(name, default=round(f, 3))
            for name, f in zip(self.attributes, frequency, strict=True)
        )

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
        return to_float(torch.from_numpy(pixels)), self.labels[positions]


class _EpochSampler(Sampler[int]):
    """What the samplers share: a seed, this process's rank among ``num_replicas``, and the epoch."""

    def __init__(self, seed: int, num_replicas: int, rank: int) -> None:
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is not in [0, {num_replicas})")
        self.seed = seed
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use the draws of ``epoch`` (the same on every rank)."""
        self.epoch = epoch

    @staticmethod
    def _draw(group: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
        """``count`` members of ``group``: shuffled whole rounds of it, then part of one."""
        rounds = -(-count // len(group))
        return np.concatenate([rng.permutation(group) for _ in range(rounds)])[:count]


class BalancedSampler(_EpochSampler):
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
        super().__init__(seed, num_replicas, rank)
        labels = np.asarray(labels) > 0.5
        if labels.ndim != 2 or len(labels) == 0:
            raise ValueError("labels must be a non-empty (N, n) array")
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

    def __len__(self) -> int:
        return self.total // self.num_replicas

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng([self.seed, self.epoch])
        counts = np.full(len(self.groups), self.total // len(self.groups))
        counts[rng.permutation(len(self.groups))[: self.total % len(self.groups)]] += 1
        draws = [self._draw(group, count, rng) for group, count in zip(self.groups, counts, strict=True)]
        epoch = rng.permutation(np.concatenate(draws))
        return iter(epoch[self.rank :: self.num_replicas].tolist())


class ExtendedSampler(_EpochSampler):
    """Seed 004's "extended" subset for a rare attribute: a fixed share of every batch has it.

    Every batch of ``batch_size`` holds ``round(share · batch_size)`` images
    with the attribute (``positive`` True; at least one, and at least one
    without) and the rest drawn from every other image. Inside each group,
    images are drawn without replacement until all have been seen, so a few
    hundred positives are seen again and again while the negatives go round
    more slowly. An epoch has as many draws as there are images, in whole
    batches per rank; with ``num_replicas`` > 1 each rank's slice
    (``epoch[rank::num_replicas]``) is made of whole batches of its own.
    Call :meth:`set_epoch` at the start of each epoch.
    """

    def __init__(
        self,
        positive: torch.Tensor | np.ndarray,
        batch_size: int,
        share: float,
        *,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        super().__init__(seed, num_replicas, rank)
        positive = np.asarray(positive) > 0.5
        if batch_size < 2:
            raise ValueError("an extended batch needs at least 2 images")
        self.groups = (np.flatnonzero(positive), np.flatnonzero(~positive))
        if not all(len(g) for g in self.groups):
            raise ValueError("the extended attribute needs images with it and images without it")
        self.per_batch = min(batch_size - 1, max(1, round(share * batch_size)))
        self.batch_size = batch_size
        self.batches = max(1, len(positive) // (batch_size * num_replicas))  # per rank and epoch

    def __len__(self) -> int:
        return self.batches * self.batch_size

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng([self.seed, self.epoch])
        total = self.batches * self.num_replicas
        positives = self._draw(self.groups[0], total * self.per_batch, rng)
        negatives = self._draw(self.groups[1], total * (self.batch_size - self.per_batch), rng)
        batches = np.concatenate(
            (positives.reshape(total, -1), negatives.reshape(total, -1)), axis=1
        )  # (batches of all ranks, batch_size)
        batches = rng.permuted(batches, axis=1)
        # rank r's b-th batch is batches[b * R + r]; interleave so that epoch[r::R] is its batches in order
        layout = batches.reshape(self.batches, self.num_replicas, self.batch_size).transpose(0, 2, 1)
        return iter(layout.reshape(-1)[self.rank :: self.num_replicas].tolist())


class StepBatches(Sampler[list[int]]):
    """The positions of this process's batch for each step from ``start_step`` on, forever.

    Step ``s`` is batch ``s mod E`` of epoch ``s div E`` of ``epoch_sampler``
    (``E`` whole batches per epoch; a last partial batch is dropped), whatever
    step the iteration started from.
    """

    def __init__(
        self,
        epoch_sampler: BalancedSampler | ExtendedSampler | DistributedSampler,
        batch_size: int,
        start_step: int = 0,
    ):
        self.sampler = epoch_sampler
        self.batch_size = batch_size
        self.start_step = start_step
        self.steps_per_epoch = len(epoch_sampler) // batch_size
        if self.steps_per_epoch < 1:
            raise ValueError(
                f"{len(epoch_sampler)} images per process are fewer than one batch of {batch_size}"
            )

    def __iter__(self) -> Iterator[list[int]]:
        epoch, position = divmod(self.start_step, self.steps_per_epoch)
        while True:
            self.sampler.set_epoch(epoch)
            draws = list(self.sampler)
            for i in range(position, self.steps_per_epoch):
                yield draws[i * self.batch_size : (i + 1) * self.batch_size]
            epoch, position = epoch + 1, 0


def _as_is(batch: Batch) -> Batch:
    """The collate function: ``FaceDataset.__getitems__`` already makes the batch."""
    return batch


def training_loader(
    dataset: FaceDataset,
    batch_size: int,
    *,
    start_step: int = 0,
    balanced: bool = False,
    extended: str | None = None,
    positive_share: float = 1 / 3,
    seed: int = 0,
    num_workers: int = 0,
    num_replicas: int = 1,
    rank: int = 0,
    pin_memory: bool = False,
) -> DataLoader:
    """An endless ``DataLoader`` of ``(images, labels)``: the batches of steps ``start_step``, … .

    ``balanced`` draws attribute combinations equally (:class:`BalancedSampler`);
    ``extended`` (an attribute) fills ``positive_share`` of every batch with
    images that have it (:class:`ExtendedSampler`); otherwise each epoch is a
    random permutation. With ``num_replicas`` > 1
    (multi-GPU), each ``rank`` gets its own shard of every epoch.
    Deterministic for a ``seed``; ``num_workers`` processes read ahead.
    """
    epochs: BalancedSampler | ExtendedSampler | DistributedSampler
    if extended is not None:
        positive = dataset.labels[:, dataset.attributes.index(extended)]
        epochs = ExtendedSampler(
            positive, batch_size, positive_share, seed=seed, num_replicas=num_replicas, rank=rank
        )
    elif balanced:
        epochs = BalancedSampler(dataset.labels, seed=seed, num_replicas=num_replicas, rank=rank)
    else:
        epochs = DistributedSampler(dataset, num_replicas=num_replicas, rank=rank, seed=seed, drop_last=True)
    return DataLoader(
        dataset,
        batch_sampler=StepBatches(epochs, batch_size, start_step),
        num_workers=num_workers,
        collate_fn=_as_is,
        pin_memory=pin_memory,
        persistent_workers=num_workers > 0,
    )


def flip_some(images: torch.Tensor, seed: int, step: int, rank: int = 0) -> torch.Tensor:
    """Mirror each image left-right with probability ½ (the paper's augmentation).

    The choice depends only on ``seed``, ``step`` and ``rank``, so a resumed
    run flips the same images as an uninterrupted one.
    """
    state = np.random.SeedSequence([seed, step, rank]).generate_state(2)
    generator = torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))
    mirrored = (torch.rand(len(images), generator=generator) < 0.5).to(images.device)
    return torch.where(mirrored[:, None, None, None], images.flip(3), images)
