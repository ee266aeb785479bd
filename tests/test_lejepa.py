"""LeJEPA's SIGReg: the Epps-Pulley statistic against a brute-force computation, its values on
collapsed and on Gaussian embeddings, its directions, bounded gradients, and V views."""

from __future__ import annotations

import cmath
import math

import pytest
import torch

from pretrain.core.augment import augment
from pretrain.core.config import load_config
from pretrain.core.encoders import build_encoder
from pretrain.core.tasks import TASKS, Batch, TaskContext, build_task
from pretrain.core.typed_yaml import ConfigError
from ssl_tasks.lejepa import directions, epps_pulley, lejepa_loss, lejepa_terms, quadrature, sigreg
from ssl_tasks.siamese import several_views, simclr_views


def brute_force(x: torch.Tensor, t: torch.Tensor, weights: torch.Tensor) -> list[float]:
    """The statistic per column, one complex number at a time: N Σ_k w_k |mean_n e^{i t_k x_n} - e^{-t_k²/2}|²."""
    n, m = x.shape
    out = []
    for j in range(m):
        total = 0.0
        for k, tk in enumerate(t.tolist()):
            ecf = sum(cmath.exp(1j * tk * x[i, j].item()) for i in range(n)) / n
            total += weights[k].item() * abs(ecf - math.exp(-(tk**2) / 2)) ** 2
        out.append(n * total)
    return out


def test_the_statistic_equals_its_brute_force_computation_on_a_fixed_batch():
    x = torch.randn(12, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    t, weights = (v.double() for v in quadrature())
    assert torch.allclose(epps_pulley(x, t, weights), torch.tensor(brute_force(x, t, weights), dtype=torch.float64))


def test_collapsed_embeddings_score_in_proportion_to_the_batch_and_gaussian_ones_near_their_mean():
    t, weights = quadrature()
    phi = torch.exp(-t.square() / 2)
    collapse = float((weights * (1 - phi).square()).sum())  # φ̂ ≡ 1 for a constant: 0.402 per image
    a = directions(16, 32, step=0, device="cpu")
    for n in (64, 256):
        assert math.isclose(sigreg(torch.zeros(n, 16), a).item(), n * collapse, rel_tol=1e-5)
    gen = torch.Generator().manual_seed(1)
    draws = torch.stack([sigreg(torch.randn(200, 16, generator=gen), a) for _ in range(100)])
    expected = float((weights * (1 - phi.square())).sum())  # E|φ̂ - φ|² = (1 - φ²)/N for N(0, 1) data
    assert abs(draws.mean().item() - expected) < 0.1 * expected
    stretched = sigreg(3 * torch.randn(200, 16, generator=gen), a)
    assert stretched > 10 * expected  # not isotropic unit variance: far from the Gaussian


def test_directions_are_unit_and_the_same_for_a_step_only():
    a = directions(8, 5, step=7, device="cpu")
    assert a.shape == (8, 5) and torch.allclose(a.norm(dim=0), torch.ones(5))
    assert torch.equal(a, directions(8, 5, step=7, device="cpu"))
    assert not torch.equal(a, directions(8, 5, step=8, device="cpu"))


def test_gradients_are_finite_and_bounded_even_for_huge_embeddings():
    a = directions(6, 16, step=0, device="cpu")
    for scale in (1e-3, 1.0, 1e4):
        z1 = (scale * torch.randn(32, 6, generator=torch.Generator().manual_seed(2))).requires_grad_()
        z2 = (scale * torch.randn(32, 6, generator=torch.Generator().manual_seed(3))).requires_grad_()
        terms = lejepa_terms([z1, z2], a)
        terms["sigreg"].backward()
        grad = torch.cat([z1.grad, z2.grad])
        assert torch.isfinite(grad).all() and grad.abs().max() < 10  # cos and sin bound every term (Thm 4)
    pred_only = lejepa_loss({"prediction": torch.tensor(2.0), "sigreg": torch.tensor(100.0)}, 0.0)
    assert pred_only.item() == 2.0


def test_more_views_all_predict_their_mean_and_one_view_is_refused():
    encoder = build_encoder("paper_conv", 8, (1, 28, 28), 0.3, 0.3)
    ctx = TaskContext((1, 28, 28), num_samples=64)
    task = build_task(TASKS["lejepa"].Config(name="lejepa", views=4, slices=16), encoder, ctx)
    images = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    seen = []
    encoder.register_forward_hook(lambda module, args, out: seen.append(args[0].shape[0]))
    out = task(encoder, Batch(images, torch.arange(8)))
    assert seen == [32] and torch.isfinite(out.loss) and out.images[0].shape == (8, 1, 28, 28)
    with pytest.raises(ConfigError, match="at least 2, got 1"):
        load_config("configs/lejepa_fmnist.yaml", ["tasks.0.views=1"])


def test_two_views_are_drawn_as_before_so_runs_resume_and_compare_bitwise():
    images = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    cfg = simclr_views()
    torch.manual_seed(5)
    old = torch.cat([augment(images, cfg), augment(images, cfg)])
    torch.manual_seed(5)
    assert torch.equal(several_views(images, cfg, 2), old)
