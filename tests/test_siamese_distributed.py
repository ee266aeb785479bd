"""The batch-statistics losses across two gloo processes equal one process with twice the batch:
VICReg's variance and covariance, Barlow Twins' cross-correlation, DINO's center, LeJEPA's SIGReg."""

from __future__ import annotations

import pytest
import torch
from distributed import compare_processes

from ssl_tasks.barlow_twins import barlow_twins_loss, cross_correlation
from ssl_tasks.dino import dino_loss, updated_center
from ssl_tasks.lejepa import directions, lejepa_loss, lejepa_terms
from ssl_tasks.vicreg import VicregConfig, vicreg_loss, vicreg_terms


def vicreg_case(z1, z2):
    terms = vicreg_terms(z1, z2)
    return vicreg_loss(terms, VicregConfig(name="vicreg")), {k: v.detach() for k, v in terms.items()}


def barlow_twins_case(z1, z2):
    c = cross_correlation(z1, z2)
    return barlow_twins_loss(c, 0.3), {"cross_correlation": c.detach()}


def lejepa_case(z1, z2):
    """SIGReg over the global batch, on the directions of one step (the same on every process)."""
    terms = lejepa_terms([z1, z2], directions(z1.shape[1], 8, step=3, device="cpu"))
    return lejepa_loss(terms, 0.05), {k: v.detach() for k, v in terms.items()}


def dino_case(s1, s2, t1, t2):
    """Student logits of two global crops, teacher logits of the same two (no gradient)."""
    center = torch.linspace(-0.1, 0.1, s1.shape[1])[None]
    loss = dino_loss([s1, s2], [t1.detach(), t2.detach()], center, 0.1, 0.04)
    return loss, {"center": updated_center(center, torch.cat([t1, t2]).detach(), 0.9)}


@pytest.mark.parametrize("case, inputs", [(vicreg_case, 2), (barlow_twins_case, 2), (dino_case, 4), (lejepa_case, 2)])
def test_two_processes_equal_one_process_of_the_same_global_batch(case, inputs, tmp_path):
    gen = torch.Generator().manual_seed(3)
    tensors = tuple(torch.randn(8, 5, generator=gen) for _ in range(inputs))
    compare_processes(case, tensors, tmp_path)
