"""Decoder-only learning: loads, the paper's simulated regulatory data, code inference."""

import pytest
import torch
from torch import nn

from pretrain.core.config import OptimConfig
from pretrain.core.datasets.synthetic import synthetic_images
from pretrain.core.encoders import build_encoder
from pretrain.core.images import to_unit_float
from pretrain.core.tasks import TaskContext
from pretrain.model import PretrainModel
from pretrain.optim import build_optimizers
from ssl_tasks.decoder_only import DecoderOnly, DecoderOnlyConfig, decoder_load, encoder_load, infer_codes, load_report


def test_loads_follow_the_paper_equations():
    # alpha_d = N n / (C_d + N m); alpha_e = N m / C_e  (eqs. 3 and 4)
    assert decoder_load(1000, 784, 20, 20_000) == pytest.approx(1000 * 784 / (20_000 + 20_000))
    assert encoder_load(1000, 20, 100_000) == pytest.approx(0.2)
    lines = load_report(decoder_load(1000, 784, 20, 20_000), 0.2)
    assert any("WARNING: encoder load" in line for line in lines)
    assert not any("WARNING: decoder load" in line for line in lines)
    assert len(load_report(5.0, 2.0)) == 1


def test_task_reports_its_loads():
    shape = (1, 28, 28)
    encoder = build_encoder("paper_conv", 20, shape, 0.3, 0.3)
    task = DecoderOnly(DecoderOnlyConfig(name="decoder_only"), encoder, TaskContext(shape, 500))
    text = "\n".join(task.describe(encoder))
    assert "alpha_d" in text and "WARNING: encoder load" in text  # 500 * 20 / 257k parameters << 1


class MaskedLinearReLU(nn.Module):
    """The paper's sec. 3.3 decoder: one linear layer on a fixed sparse connectivity, then ReLU."""

    def __init__(self, mask: torch.Tensor):
        super().__init__()
        self.register_buffer("mask", mask)
        self.weight = nn.Parameter(0.1 * torch.randn(mask.shape))
        self.bias = nn.Parameter(torch.zeros(mask.shape[0]))

    def forward(self, z):
        return torch.relu(z @ (self.weight * self.mask).T + self.bias).view(len(z), 1, 10, 10)


def simulated_regulatory_data(samples, n, m, connectivity, seed):
    """x = ReLU(sum_j a_ij w_ij z_j), z ~ Gamma, A sparse binary, W uniform (paper sec. 3.3, no noise)."""
    gen = torch.Generator().manual_seed(seed)
    mask = (torch.rand(n, m, generator=gen) < connectivity).float()
    weight = torch.rand(n, m, generator=gen) * 2 - 1
    z = torch.distributions.Gamma(2.0, 2.0).sample((samples, m))
    x = torch.relu(z @ (weight * mask).T)
    return x.view(samples, 1, 10, 10), z, mask  # n = 100 values shown as a 10x10 image


def pearson_per_unit(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a, b = a - a.mean(0), b - b.mean(0)
    return (a * b).sum(0) / (a.norm(dim=0) * b.norm(dim=0))


def test_learned_codes_recover_the_true_regulators():
    """At a decoder load well above 1 the codes correlate with the true z (PCC near 1)."""
    torch.manual_seed(0)
    samples, n, m = 400, 100, 8
    x, z_true, mask = simulated_regulatory_data(samples, n, m, connectivity=0.3, seed=0)
    encoder = build_encoder("mlp", m, (1, 10, 10), 0.0, 1.0)
    cfg = DecoderOnlyConfig(name="decoder_only", decoder="linear", loss="mse_linear", code_lr=0.01, distill_weight=0.0)
    task = DecoderOnly(cfg, encoder, TaskContext((1, 10, 10), samples))
    task.decoder = MaskedLinearReLU(mask)
    with torch.no_grad():
        task.codes.uniform_(0.5, 1.5)  # a positive start: a ReLU decoder has no gradient below zero
    alpha_d = decoder_load(samples, n, m, int(mask.sum()) + n)
    assert alpha_d > 5
    model = PretrainModel(encoder, [task])
    optimizers = build_optimizers(model, OptimConfig(optimizer="adam", lr=1e-2, weight_decay=0.0))
    for _epoch in range(150):
        for index in torch.randperm(samples).split(32):
            loss = model(x[index], index)[0]
            for opt in optimizers:
                opt.zero_grad()
            loss.backward()
            for opt in optimizers:
                opt.step()
    pcc = pearson_per_unit(task.codes.detach(), z_true)
    assert pcc.abs().min() > 0.95, pcc


def test_code_inference_matches_learned_codes_on_training_images():

    torch.manual_seed(0)
    shape, samples = (1, 28, 28), 64
    images = to_unit_float(synthetic_images(samples, seed=0).x)
    encoder = build_encoder("paper_conv", 4, shape, 0.3, 0.3)
    task = DecoderOnly(DecoderOnlyConfig(name="decoder_only", distill_weight=0.0), encoder, TaskContext(shape, samples))
    model = PretrainModel(encoder, [task])
    optimizers = build_optimizers(model, OptimConfig(optimizer="adam", lr=3e-3))
    index = torch.arange(samples)
    for _ in range(300):
        loss = model(images, index)[0]
        for opt in optimizers:
            opt.zero_grad()
        loss.backward()
        for opt in optimizers:
            opt.step()
    learned_error = task.reconstruction_error(task.codes.detach(), images).mean().item()
    inferred, inferred_error = infer_codes(task.decoder, images, 4, "bce", steps=300, lr=0.02, momentum=0.9)
    assert inferred.shape == (samples, 4)
    assert inferred_error.mean().item() < 1.05 * learned_error
    assert all(p.requires_grad for p in task.decoder.parameters())  # inference left the decoder trainable


def test_pca_code_init_spans_the_principal_subspace_with_unit_variance():

    images = synthetic_images(300, seed=0).x
    shape = (1, 28, 28)
    encoder = build_encoder("paper_conv", 5, shape, 0.3, 0.3)
    task = DecoderOnly(DecoderOnlyConfig(name="decoder_only"), encoder, TaskContext(shape, 300))
    torch.manual_seed(0)
    task.prepare(images)
    codes = task.codes.detach()
    assert torch.allclose(codes.std(0), torch.ones(5), atol=1e-4)
    x = images.flatten(1).float() / 255
    x = x - x.mean(0)
    top = torch.linalg.svd(x, full_matrices=False).U[:, :5]  # the principal directions in sample space
    q, _ = torch.linalg.qr(codes)
    assert torch.linalg.svdvals(q.T @ top).min() > 0.99
    with pytest.raises(Exception, match="code_init"):
        DecoderOnly(
            DecoderOnlyConfig(name="decoder_only", code_init="bogus"), encoder, TaskContext(shape, 300)
        ).prepare(images)


def test_training_codes_for_probes_are_inferred_like_test_codes():
    """A probe must train and score on one kind of code: the training split's features are
    inferred with the decoder frozen, as the test split's are, not read from the learned table."""
    torch.manual_seed(0)
    shape, samples = (1, 28, 28), 12
    images = synthetic_images(samples, seed=0)
    encoder = build_encoder("paper_conv", 4, shape, 0.3, 0.3)
    cfg = DecoderOnlyConfig(name="decoder_only", infer_steps=3)
    task = DecoderOnly(cfg, encoder, TaskContext(shape, samples))
    with torch.no_grad():
        task.codes.fill_(7.0)  # a table nothing like inferred codes
    (source,) = task.feature_sources(encoder, "cpu")
    train, test = source.extract("train", images), source.extract("test", images)
    assert torch.equal(train, test)  # the same images give the same codes, whatever the split
    assert torch.equal(train, task.infer(encoder, images.x, "cpu")[0]) and not torch.equal(train, task.codes)
