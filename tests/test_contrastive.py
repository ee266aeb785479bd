"""NT-Xent against a brute-force reference, and across two processes equal to one process."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from distributed import compare_processes

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


def nt_xent_case(z1: torch.Tensor, z2: torch.Tensor):
    return nt_xent(z1, z2, 0.5), {}


def test_two_processes_equal_one_process_of_the_same_global_batch(tmp_path):
    gen = torch.Generator().manual_seed(2)
    compare_processes(nt_xent_case, (torch.randn(6, 5, generator=gen), torch.randn(6, 5, generator=gen)), tmp_path)
