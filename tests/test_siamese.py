"""BYOL, VICReg, Barlow Twins and DINO: each loss against the paper's formula written out, the
momentum teachers against an EMA computed by hand, and DINO's multi-crop shapes."""

from __future__ import annotations

import math

import pytest
import torch

from pretrain.core.config import OptimConfig
from pretrain.core.encoders import build_encoder
from pretrain.core.tasks import TASKS, TaskContext, TrainingProgress, build_task
from pretrain.model import PretrainModel
from pretrain.optim import build_optimizers
from ssl_tasks.barlow_twins import barlow_twins_loss, cross_correlation
from ssl_tasks.byol import symmetric_byol_loss
from ssl_tasks.dino import DinoConfig, dino_loss, teacher_temperature, updated_center
from ssl_tasks.momentum import cosine_momentum
from ssl_tasks.vicreg import VicregConfig, vicreg_loss, vicreg_terms

SHAPE = (1, 28, 28)


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_byol_loss_is_the_paper_regression_both_ways():
    p1, p2, t1, t2 = (randn(5, 6, seed=s) for s in range(4))

    def regression(p, z):  # BYOL eq. 2, one sample at a time
        return sum(float(((p[i] / p[i].norm() - z[i] / z[i].norm()) ** 2).sum()) for i in range(len(p))) / len(p)

    expected = regression(p1, t2) + regression(p2, t1)
    assert math.isclose(float(symmetric_byol_loss(p1, p2, t1, t2)), expected, rel_tol=1e-5)


def brute_force_vicreg(z1, z2, lam, mu, nu, eps=1e-4) -> float:
    n, d = z1.shape
    invariance = sum(float((z1[i] - z2[i]).pow(2).sum()) for i in range(n)) / (n * d)

    def variance(z):
        return sum(max(0.0, 1 - math.sqrt(float(z[:, j].var()) + eps)) for j in range(d)) / d

    def covariance(z):
        mean = z.mean(0)
        cov = [
            [sum(float((z[b, i] - mean[i]) * (z[b, j] - mean[j])) for b in range(n)) / (n - 1) for j in range(d)]
            for i in range(d)
        ]
        return sum(cov[i][j] ** 2 for i in range(d) for j in range(d) if i != j) / d

    return lam * invariance + mu * (variance(z1) + variance(z2)) / 2 + nu * (covariance(z1) + covariance(z2))


def test_vicreg_loss_is_the_paper_formula():
    z1, z2 = randn(7, 4, seed=1) * 0.5, randn(7, 4, seed=2) * 2
    cfg = VicregConfig(name="vicreg", invariance_weight=25, variance_weight=15, covariance_weight=2)
    got = float(vicreg_loss(vicreg_terms(z1, z2), cfg))
    assert math.isclose(got, brute_force_vicreg(z1, z2, 25, 15, 2), rel_tol=1e-5)


def test_barlow_twins_loss_is_the_paper_formula():
    z1, z2 = randn(9, 3, seed=3), randn(9, 3, seed=4) + 0.5 * randn(9, 3, seed=3)
    n, d, lam = 9, 3, 0.3

    def standard(z, j):
        column = [float(z[b, j]) for b in range(n)]
        mean = sum(column) / n
        std = math.sqrt(sum((x - mean) ** 2 for x in column) / n + 1e-5)
        return [(x - mean) / std for x in column]

    a, b = [standard(z1, j) for j in range(d)], [standard(z2, j) for j in range(d)]
    c = [[sum(a[i][k] * b[j][k] for k in range(n)) / n for j in range(d)] for i in range(d)]
    expected = sum((1 - c[i][i]) ** 2 for i in range(d)) + lam * sum(
        c[i][j] ** 2 for i in range(d) for j in range(d) if i != j
    )
    assert math.isclose(float(barlow_twins_loss(cross_correlation(z1, z2), lam)), expected, rel_tol=1e-5)
    # identical, decorrelated views give the identity: zero loss
    whitened = torch.linalg.qr(randn(64, 3, seed=5) - randn(64, 3, seed=5).mean(0))[0] * 8
    assert float(barlow_twins_loss(cross_correlation(whitened, whitened), lam)) < 1e-3


def test_dino_loss_is_the_cross_entropy_over_pairs_of_different_crops():
    student = [randn(4, 6, seed=s) for s in range(4)]  # 2 global + 2 local crops
    teacher = [randn(4, 6, seed=10 + s) for s in range(2)]
    center, tau_s, tau_t = randn(1, 6, seed=20) * 0.1, 0.1, 0.05
    total, pairs = 0.0, 0
    for t, g_t in enumerate(teacher):
        for s, g_s in enumerate(student):
            if s == t:
                continue  # a crop is never matched to itself
            for b in range(4):
                q = [math.exp((g_t[b, k] - center[0, k]) / tau_t) for k in range(6)]
                q = [x / sum(q) for x in q]
                p = [math.exp(g_s[b, k] / tau_s) for k in range(6)]
                total += -sum(q[k] * math.log(p[k] / sum(p)) for k in range(6)) / 4
            pairs += 1
    assert pairs == 6
    assert math.isclose(float(dino_loss(student, teacher, center, tau_s, tau_t)), total / pairs, rel_tol=1e-5)


def test_schedules_start_and_end_where_the_papers_say():
    assert cosine_momentum(TrainingProgress(0, 100), 0.99, 1.0) == pytest.approx(0.99)
    assert cosine_momentum(TrainingProgress(50, 100), 0.99, 1.0) == pytest.approx(0.995)
    assert cosine_momentum(TrainingProgress(100, 100), 0.99, 1.0) == pytest.approx(1.0)
    cfg = DinoConfig(name="dino", warmup_teacher_temperature=0.04, teacher_temperature=0.07)
    assert teacher_temperature(TrainingProgress(0, 10), cfg) == pytest.approx(0.04)
    assert teacher_temperature(TrainingProgress(3, 10), cfg) == pytest.approx(0.07)
    assert teacher_temperature(TrainingProgress(9, 10), cfg) == pytest.approx(0.07)


def make(name: str, encoder: str = "paper_conv", shape=SHAPE, **options) -> PretrainModel:
    torch.manual_seed(0)
    extra = {"width": 8, "blocks": [1, 1]} if encoder == "resnet_small" else {}
    enc = build_encoder(encoder, 8, shape, 0.3, 0.3, **extra)
    task = build_task(TASKS[name].Config(name=name, **options), enc, TaskContext(shape, 64))
    return PretrainModel(enc, [task])


@pytest.mark.parametrize("name", ["byol", "dino"])
def test_the_teacher_is_the_ema_of_the_student_and_gets_no_gradient(name):
    model = make(name, base_momentum=0.9, final_momentum=1.0)
    task = model.tasks[0]
    pairs = task.teacher_pairs(model.encoder)
    expected = [[p.detach().clone() for p in teacher.parameters()] for _, teacher in pairs]
    optimizers = build_optimizers(model, OptimConfig(lr=1e-2))
    optimised = {id(p) for opt in optimizers for group in opt.param_groups for p in group["params"]}
    assert not optimised & {id(p) for teacher in task.teachers() for p in teacher.parameters()}
    steps = 4
    for step in range(steps):
        model.set_progress(TrainingProgress(step, steps))
        loss = model(torch.rand(16, *SHAPE), torch.arange(16))[0]
        loss.backward()
        assert all(p.grad is None for teacher in task.teachers() for p in teacher.parameters())
        for opt in optimizers:
            opt.step()
            opt.zero_grad()
        model.after_step(TrainingProgress(step + 1, steps))
        m = cosine_momentum(TrainingProgress(step, steps), 0.9, 1.0)  # m(k) after step k
        for (student, _), params in zip(pairs, expected):
            for mine, theirs in zip(params, student.parameters()):
                mine.mul_(m).add_(theirs.detach(), alpha=1 - m)
    for (student, teacher), params in zip(pairs, expected):
        moved = [not torch.equal(t, s) for t, s in zip(teacher.parameters(), student.parameters())]
        assert any(moved)  # the teacher lags the student
        for mine, theirs in zip(params, teacher.parameters()):
            torch.testing.assert_close(theirs, mine, rtol=0, atol=1e-6)


@pytest.mark.parametrize("side, local", [(28, 12), (32, 14), (96, 41)])
def test_dino_multi_crop_shapes(side, local):
    model = make("dino", encoder="resnet_small", shape=(3, side, side), local_crops_number=3, prototypes=32)
    task = model.tasks[0]
    global_views, local_views = task.crops(torch.rand(5, 3, side, side))
    assert global_views.shape == (10, 3, side, side)
    assert local_views.shape == (15, 3, local, local)
    loss, logs, _ = model(torch.rand(5, 3, side, side), torch.arange(5))
    assert torch.isfinite(loss) and "dino/teacher_temperature" in logs


def test_dino_takes_full_size_local_crops_on_an_encoder_with_a_fixed_grid():
    task = make("dino", local_crops_number=2).tasks[0]  # paper_conv flattens a fixed grid
    assert task.local_size == 28
    assert "resampled to the full side" in task.describe(make("dino").encoder)[0]


def test_dino_center_moves_towards_the_teacher_mean_after_the_step_only():
    model = make("dino", center_momentum=0.5, prototypes=16)
    task = model.tasks[0]
    model(torch.rand(8, *SHAPE), torch.arange(8))
    assert torch.equal(task.center, torch.zeros(1, 16))  # a forward alone changes nothing
    pending = task.pending_center.clone()
    model.after_step(TrainingProgress(1, 10))
    assert torch.equal(task.center, pending) and pending.abs().sum() > 0
    teacher = randn(6, 16, seed=7)
    expected = 0.5 * task.center + 0.5 * teacher.mean(0, keepdim=True)
    torch.testing.assert_close(updated_center(task.center, teacher, 0.5), expected)
