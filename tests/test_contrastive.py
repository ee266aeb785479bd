"""NT-Xent against a brute-force reference, and across two processes equal to one process."""

from __future__ import annotations

import math
import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from ssl_tasks.contrastive import nt_xent


def brute_force_nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> float:
    """SimCLR eq. 1 written out: for every view, -log of its partner's share among all others."""
    views = [F.normalize(v, dim=0) for v in torch.cat([z1, z2])]
    n, total = len(views), 0.0
    for i in range(n):
        partner = (i + n // 2) % n
        sims = [float(views[i] @ views[k]) / temperature for k in range(n)]
        denominator = sum(math.exp(s) for k, s in enumerate(sims) if k != i)
        total += -math.log(math.exp(sims[partner]) / denominator)
    return total / n


def test_nt_xent_equals_the_brute_force_reference():
    gen = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(5, 7, generator=gen), torch.randn(5, 7, generator=gen)
    for temperature in (0.1, 0.5, 1.0):
        assert math.isclose(float(nt_xent(z1, z2, temperature)), brute_force_nt_xent(z1, z2, temperature), rel_tol=1e-5)


def test_matching_views_give_a_lower_loss_than_unrelated_ones():
    z = torch.randn(8, 16, generator=torch.Generator().manual_seed(1))
    assert nt_xent(z, z + 0.01, 0.5) < nt_xent(z, torch.randn(8, 16), 0.5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def distributed_worker(rank: int, world: int, port: int, z1: torch.Tensor, z2: torch.Tensor, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    b = len(z1) // world
    mine1 = z1[rank * b : (rank + 1) * b].clone().requires_grad_(True)
    mine2 = z2[rank * b : (rank + 1) * b].clone().requires_grad_(True)
    loss = nt_xent(mine1, mine2, 0.5)
    loss.backward()
    torch.save({"loss": loss.detach(), "g1": mine1.grad / world, "g2": mine2.grad / world}, f"{out}/{rank}.pt")
    dist.destroy_process_group()


def test_two_processes_equal_one_process_of_the_same_global_batch(tmp_path):
    gen = torch.Generator().manual_seed(2)
    z1, z2 = torch.randn(6, 5, generator=gen), torch.randn(6, 5, generator=gen)
    mp.spawn(distributed_worker, args=(2, free_port(), z1, z2, str(tmp_path)), nprocs=2)
    ranks = [torch.load(tmp_path / f"{r}.pt") for r in range(2)]
    one1, one2 = z1.clone().requires_grad_(True), z2.clone().requires_grad_(True)
    single = nt_xent(one1, one2, 0.5)
    single.backward()
    assert torch.allclose(torch.stack([r["loss"] for r in ranks]).mean(), single.detach(), atol=1e-6)
    # gradients averaged over processes (as DDP does) equal the one-process gradients
    assert torch.allclose(torch.cat([r["g1"] for r in ranks]), one1.grad, atol=1e-6)
    assert torch.allclose(torch.cat([r["g2"] for r in ranks]), one2.grad, atol=1e-6)
