"""Data parallelism with torchrun: N processes, one model copy each, one global batch.

`torchrun --nproc_per_node=N -m attento.cli train ...` starts N copies of the same
command and tells each its RANK and WORLD_SIZE through the environment. Every process
holds the full model and takes its share of each global batch; after the backward pass
DistributedDataParallel averages the gradients across processes, so every copy takes the
same optimiser step and the weights stay identical. Process 0 alone logs and writes
checkpoints. Backend: NCCL between GPUs, Gloo on CPUs.

Without torchrun's variables this is a world of one process and nothing is set up.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from attento.errors import UserError


@dataclass
class World:
    rank: int
    size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    """A device name (auto, cpu, cuda, cuda:N, mps) as a torch device; cuda: this process's GPU.

    A name torch cannot parse, or a GPU this machine lacks, is a one-line error here, before
    any process group is joined, rather than torch's RuntimeError or "Torch not compiled
    with CUDA enabled" traceback later."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"unknown device {name!r}: use cpu, cuda, cuda:N or auto") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {name!r}: torch sees no CUDA GPU here; use cpu or auto")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UserError(f"device {name!r}: torch sees no Apple GPU here; use cpu or auto")
    return torch.device("cuda", local_rank) if name == "cuda" else device


def setup(device: str = "auto") -> World:
    """Join the process group torchrun describes, or return a world of one."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World(0, 1, pick_device(device))
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    dev = pick_device(device, local_rank)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group(
            "nccl" if dev.type == "cuda" else "gloo", rank=rank, world_size=size
        )
    return World(rank, size, dev)


def teardown(world: World, finished: bool = False) -> None:
    """Leave the process group. After a finished run, wait for every process first, so no
    process tears gloo down while a peer still works (a CI run once saw a worker die at exit
    with "terminate called without an active exception"). After an error nobody waits: the
    peer may be gone."""
    if world.distributed and dist.is_initialized():
        if finished:
            dist.barrier()
        dist.destroy_process_group()


def mean(world: World, value: torch.Tensor) -> torch.Tensor:
    """The average of `value` over all processes."""
    if world.distributed:
        value = value.clone()
        dist.all_reduce(value)
        value /= world.size
    return value


def total(world: World, value: torch.Tensor) -> torch.Tensor:
    """The sum of `value` over all processes."""
    if world.distributed:
        value = value.clone()
        dist.all_reduce(value)
    return value


def gather(world: World, value: torch.Tensor) -> torch.Tensor:
    """Every process's `value`, stacked in rank order: shape (world.size, *value.shape)."""
    if not world.distributed:
        return value[None]
    local = value.to(world.device)  # NCCL moves only GPU tensors
    parts = [torch.empty_like(local) for _ in range(world.size)]
    dist.all_gather(parts, local)
    return torch.stack(parts).to(value.device)


def from_main(world: World, value: float) -> float:
    """Process 0's `value` everywhere (e.g. its clock, so all processes stop together)."""
    if not world.distributed:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=world.device)
    dist.broadcast(t, 0)
    return float(t.item())


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()
