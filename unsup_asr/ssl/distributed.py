"""Data-parallel pre-training under ``torchrun``: this process's rank and the process group.

Without ``torchrun`` (no ``RANK``/``WORLD_SIZE`` in the environment) everything runs as rank 0 of 1
and every collective is a no-op, so the single-process path is unchanged.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from unsup_asr.device import resolve_device


@dataclass(frozen=True)
class Ranks:
    """This process's place among ``torchrun``'s processes (rank 0 of 1 without torchrun)."""

    rank: int = 0
    """Global rank; rank 0 writes every file."""
    world_size: int = 1
    """Number of processes."""

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        """Wait for every rank (no-op without a process group)."""
        if dist.is_initialized():
            dist.barrier()

    def reduce(self, value: float, device: torch.device, op: str = "max") -> float:
        """``value`` reduced over the ranks (``max`` or ``mean``); itself without a process group."""
        if not dist.is_initialized():
            return value
        t = torch.tensor([value], dtype=torch.float64, device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX if op == "max" else dist.ReduceOp.SUM)
        return float(t.item()) / (1 if op == "max" else self.world_size)

    def gather(self, obj: Any) -> list[Any]:
        """``obj`` of every rank, in rank order."""
        if not dist.is_initialized():
            return [obj]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out


@contextlib.contextmanager
def process_group(device_name: str) -> Iterator[tuple[Ranks, torch.device]]:
    """Under ``torchrun`` (``RANK``/``WORLD_SIZE`` set): join its process group (nccl on CUDA with one GPU per
    local rank, gloo on CPU) for the duration; otherwise a single process on ``device_name``."""
    device = resolve_device(device_name)
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        yield Ranks(), device
        return
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    joined = not dist.is_initialized()
    if joined:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=rank, world_size=world_size)
    try:
        yield Ranks(rank=rank, world_size=world_size), device
    finally:
        if joined:
            dist.destroy_process_group()
