"""Statistics over the global batch, as small functions: what keeps N processes training as one
process with N times the batch (tests/test_siamese_distributed.py checks it with two gloo processes).

    gather_with_grad(z)   every process's rows, in rank order, with gradients flowing back
    global_mean(x)        the mean over every process's rows, without gradients (DINO's center)
    off_diagonal(m)       the off-diagonal entries of a square matrix (VICReg, Barlow Twins)
    full_precision(x)     autocast off: batch statistics and sharp softmaxes are computed in fp32

A loss computed on gathered rows is the same on every process; the gather's backward sums the
processes' gradients and DDP averages them, which gives the one-process gradient.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch.distributed.nn.functional import all_gather


def distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def gather_with_grad(z: torch.Tensor) -> tuple[torch.Tensor, int]:
    """(every process's z (B, d) concatenated in rank order (B W, d), this process's rank). The
    gather keeps gradients (torch.distributed.nn), so the loss of one process trains the others' rows."""
    if not distributed():
        return z, 0
    return torch.cat(all_gather(z)), dist.get_rank()


@torch.no_grad()
def global_mean(x: torch.Tensor) -> torch.Tensor:
    """x (B, K) -> (1, K): the mean over the rows of every process (an all-reduce of sums and counts)."""
    total = x.float().sum(0, keepdim=True)
    count = torch.tensor([float(len(x))], device=x.device)
    if distributed():
        dist.all_reduce(total)
        dist.all_reduce(count)
    return total / count


def off_diagonal(m: torch.Tensor) -> torch.Tensor:
    """m (d, d) -> its d (d - 1) off-diagonal entries, flattened."""
    d = m.shape[0]
    return m.flatten()[:-1].view(d - 1, d + 1)[:, 1:].flatten()


def full_precision(x: torch.Tensor):
    """A context with autocast off on ``x``'s device: under autocast a matrix product of fp32
    inputs still runs in bf16/fp16, too coarse for a covariance over the batch (and in fp16 it
    can overflow) or for logits divided by a teacher temperature of 0.04."""
    return torch.autocast(x.device.type, enabled=False)
