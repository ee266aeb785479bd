"""Two gloo processes against one process with the same global batch, for any loss.

``compare_processes(case, inputs, tmp)`` splits each input (N, d) by rank, runs ``case`` on
each process's rows and on all rows in one process, and returns both: the mean of the
processes' losses and their gradients divided by the world size (what DDP averages) must
equal the one-process loss and gradients. ``case(*rows) -> (loss, {name: tensor})``; the named
tensors (e.g. a running center) must also agree."""

from __future__ import annotations

import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker(rank: int, world: int, port: int, case, inputs: tuple, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    b = len(inputs[0]) // world
    mine = [x[rank * b : (rank + 1) * b].clone().requires_grad_(True) for x in inputs]
    loss, extra = case(*mine)
    loss.backward()
    grads = [None if x.grad is None else x.grad / world for x in mine]  # a teacher's inputs get none
    torch.save({"loss": loss.detach(), "grads": grads, "extra": extra}, f"{out}/{rank}.pt")
    dist.destroy_process_group()


def compare_processes(case, inputs: tuple, tmp_path, world: int = 2) -> None:
    """Assert that ``world`` processes equal one process on ``inputs`` (loss, gradients, extras) to 1e-6."""
    mp.spawn(worker, args=(world, free_port(), case, inputs, str(tmp_path)), nprocs=world)
    ranks = [torch.load(tmp_path / f"{r}.pt") for r in range(world)]
    whole = [x.clone().requires_grad_(True) for x in inputs]
    loss, extra = case(*whole)
    loss.backward()
    torch.testing.assert_close(torch.stack([r["loss"] for r in ranks]).mean(), loss.detach(), rtol=0, atol=1e-6)
    for i, x in enumerate(whole):  # gradients averaged over processes, as DDP does
        if x.grad is None:
            assert all(r["grads"][i] is None for r in ranks)
            continue
        torch.testing.assert_close(torch.cat([r["grads"][i] for r in ranks]), x.grad, rtol=0, atol=1e-6)
    for name, value in extra.items():
        for r in ranks:
            torch.testing.assert_close(r["extra"][name], value.detach(), rtol=0, atol=1e-6)
