"""Autoencoder variants: the linear-AE/PCA result, tied weights, sparsity and contractive penalties."""

import pytest
import torch

from pretrain.core.config import ConfigError
from pretrain.core.encoders import build_encoder, count_parameters
from pretrain.core.tasks import Batch, TaskContext
from pretrain.model import PretrainModel
from ssl_tasks.autoencoder import Autoencoder, AutoencoderConfig
from ssl_tasks.decoders import TiedDecoder
from ssl_tasks.regularizers import jacobian_frobenius_exact, jacobian_frobenius_projection, kl_sparsity, l1_sparsity


def principal_angles_cos(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosines of the principal angles between the column spaces of a (n, k) and b (n, k)."""
    qa, _ = torch.linalg.qr(a)
    qb, _ = torch.linalg.qr(b)
    return torch.linalg.svdvals(qa.T @ qb)


def test_linear_autoencoder_recovers_principal_subspace():
    """Bourlard & Kamp (1988): a linear AE with squared error spans the top-k principal subspace."""
    torch.manual_seed(0)
    n, k, samples = 64, 3, 2000
    basis = torch.linalg.qr(torch.randn(n, k))[0]
    scales = torch.tensor([3.0, 2.0, 1.5])
    data = 0.5 + 0.3 * (torch.randn(samples, k) * scales) @ basis.T + 0.005 * torch.randn(samples, n)
    images = data.view(samples, 1, 8, 8)
    centred = data - data.mean(0)
    top_k = torch.linalg.svd(centred, full_matrices=False).Vh[:k].T  # (n, k)

    shape = (1, 8, 8)
    torch.manual_seed(0)
    encoder = build_encoder("linear", k, shape, mean=0.5, std=0.3)
    task = Autoencoder(
        AutoencoderConfig(name="autoencoder", decoder="linear", loss="mse_linear"), encoder, TaskContext(shape, samples)
    )
    model = PretrainModel(encoder, [task])
    opt = torch.optim.Adam(model.parameters(), 3e-2)
    for _ in range(2000):
        loss = model(images, torch.arange(samples))[0]
        opt.zero_grad()
        loss.backward()
        opt.step()
    decoder_columns = task.decoder[0].weight.detach()  # (n, k): the decoder's span
    assert principal_angles_cos(decoder_columns, top_k).min() > 0.99
    pca_error = (centred - centred @ top_k @ top_k.T).pow(2).mean()  # the best rank-k reconstruction
    assert loss.item() < 1.05 * pca_error.item()


@pytest.mark.parametrize("backbone", ["paper_conv", "mlp"])
def test_tied_decoder_reuses_encoder_weights(backbone):
    shape = (1, 28, 28)
    encoder = build_encoder(backbone, 8, shape, 0.3, 0.3)
    decoder = TiedDecoder(encoder, shape)
    weight_matrices = [p for p in encoder.parameters() if p.ndim > 1]
    assert all(p.ndim == 1 for p in decoder.parameters())  # only new biases
    assert count_parameters(decoder) < 0.05 * count_parameters(encoder)
    decoder(torch.randn(2, 8)).sum().backward()  # the decoder alone moves the encoder's weights
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in weight_matrices)
    assert decoder(torch.randn(2, 8)).shape == (2, *shape)


def test_tied_decoder_refuses_timm_encoders():
    with pytest.raises(ConfigError, match="tied"):
        TiedDecoder(build_encoder("resnet18", 8, (1, 28, 28), 0.3, 0.3), (1, 28, 28))


def test_sparsity_penalties():
    codes = torch.tensor([[1.0, -2.0], [3.0, 0.0]])
    assert l1_sparsity(codes).item() == pytest.approx(1.5)
    rho = 0.2
    at_target = torch.logit(torch.full((5, 3), rho))
    assert kl_sparsity(at_target, rho).item() == pytest.approx(0.0, abs=1e-5)
    assert kl_sparsity(at_target + 2.0, rho).item() > 0.1


def tiny_mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))


def exact_reference(net, x):
    """Mean over samples of ||J||_F^2 with torch.autograd.functional.jacobian, one sample at a time."""
    return torch.stack([torch.autograd.functional.jacobian(net, xi).pow(2).sum() for xi in x]).mean()


def test_contractive_exact_equals_autograd_jacobian():
    net, x = tiny_mlp(), torch.randn(4, 6).requires_grad_(True)
    penalty = jacobian_frobenius_exact(net(x), x)
    assert penalty.item() == pytest.approx(exact_reference(net, x.detach()).item(), rel=1e-5)
    penalty.backward()  # differentiable: the encoder can be trained to contract
    assert net[0].weight.grad is not None


def test_contractive_projection_estimator_is_unbiased():
    net, x = tiny_mlp(), torch.randn(4, 6).requires_grad_(True)
    exact = exact_reference(net, x.detach()).item()
    torch.manual_seed(1)
    estimates = torch.stack([jacobian_frobenius_projection(net(x), x, projections=1).detach() for _ in range(4000)])
    assert estimates.mean().item() == pytest.approx(exact, rel=0.05)
    assert estimates.std().item() > 0  # it is an estimate, not the exact value in disguise


@pytest.mark.parametrize(
    "options",
    [
        {"sparsity": "l1"},
        {"sparsity": "kl"},
        {"contractive_weight": 0.1, "contractive_method": "exact"},
        {"contractive_weight": 0.1},
    ],
)
def test_variant_terms_are_added_and_logged(options):
    shape = (1, 28, 28)
    encoder = build_encoder("paper_conv", 4, shape, 0.3, 0.3)
    task = Autoencoder(AutoencoderConfig(name="autoencoder", **options), encoder, TaskContext(shape, 8))
    out = task(encoder, Batch(torch.rand(3, *shape), torch.arange(3)))
    extra = [k for k in out.logs if k != "recon_loss"]
    assert len(extra) == 1
    assert torch.allclose(out.loss, out.logs["recon_loss"] + out.logs[extra[0]])
