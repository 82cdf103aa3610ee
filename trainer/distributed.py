"""Multi-GPU and multi-node training through ``torchrun`` (DistributedDataParallel).

Launch the same command under torchrun and it trains on every process::

    torchrun --nproc-per-node 4 -m trainer train CELEBA --attrs Smiling --out RUN
    torchrun --nnodes 2 --node-rank 0 --master-addr HOST --master-port 29500 \\
        --nproc-per-node 8 -m trainer train ...      (then --node-rank 1 on the other node)

A run is distributed when torchrun's ``RANK`` and ``WORLD_SIZE`` are set;
otherwise :class:`Distributed` describes a single process and every method
still works, so the training code never branches on it. CUDA processes use
NCCL, one GPU each (``LOCAL_RANK``); CPU processes use gloo. Only rank 0
writes files and events; ``RUN`` must be on a file system every node sees.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist

from fader_studio.core.engine import choose_device


@dataclass(frozen=True)
class Distributed:
    """This process's place in the run: its rank, the number of processes and its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def enabled(self) -> bool:
        """Whether several processes take part (a process group exists)."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Whether this process writes files and events (rank 0)."""
        return self.rank == 0

    def agree(self, flags: Sequence[bool]) -> list[bool]:
        """Each flag, true on every process if it is true on any (a collective call)."""
        if not self.enabled:
            return list(flags)
        values = torch.tensor([float(f) for f in flags], device=self.device)
        dist.all_reduce(values, op=dist.ReduceOp.MAX)
        return [bool(v) for v in values.tolist()]

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """The mean of ``values`` over every process (a collective call)."""
        if not self.enabled:
            return values
        values = values.clone()
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
        return values / self.world_size

    def barrier(self) -> None:
        """Wait until every process gets here."""
        if self.enabled:
            dist.barrier()

    def close(self) -> None:
        """Leave the process group (always call it, also after an error)."""
        if self.enabled and dist.is_initialized():
            dist.destroy_process_group()


def init_distributed(device: str | None = None) -> Distributed:
    """Join the torchrun process group if there is one; pick this process's device.

    ``device`` (``auto``, ``cpu``, ``cuda``…) is chosen as in the app; under
    torchrun a CUDA process uses ``cuda:LOCAL_RANK``.
    """
    chosen = choose_device(device)
    if "RANK" not in os.environ or int(os.environ.get("WORLD_SIZE", "1")) < 2:
        return Distributed(device=chosen)
    rank = int(os.environ["RANK"])
    world_size = int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if chosen.type == "cuda":
        chosen = torch.device("cuda", local_rank)
        torch.cuda.set_device(chosen)
    backend = "nccl" if chosen.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend, timeout=datetime.timedelta(minutes=30))
    return Distributed(rank=rank, world_size=world_size, local_rank=local_rank, device=chosen)
