"""Code regularizers of the autoencoder variants, as small functions.

Sparse autoencoders penalise the code itself (L1, or a KL divergence pulling each unit's
mean activation toward a target rate rho); contractive autoencoders (Rifai et al. 2011)
penalise the squared Frobenius norm of the encoder's Jacobian d code / d input.
See shared/sources/article-autoencoder-variants.txt.
"""

from __future__ import annotations

import torch


def l1_sparsity(codes: torch.Tensor) -> torch.Tensor:
    """Mean absolute code value. codes (B, m) -> scalar."""
    return codes.abs().mean()


def kl_sparsity(codes: torch.Tensor, rho: float, eps: float = 1e-6) -> torch.Tensor:
    """sum_j KL(Bernoulli(rho) || Bernoulli(rho_hat_j)), rho_hat_j the batch mean of
    sigmoid(code_j): the codes are linear, so a sigmoid maps them to activation rates."""
    rho_hat = torch.sigmoid(codes.float()).mean(0).clamp(eps, 1 - eps)
    kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
    return kl.sum()


def jacobian_frobenius_exact(codes: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ||d code_b / d input_b||_F^2, exactly: one backward pass per
    code unit (m passes), kept differentiable (create_graph) so it can be minimised.
    codes (B, m) must come from ``inputs`` (B, ...) with requires_grad, sample by sample
    (no batch norm in train mode). -> scalar."""
    total = inputs.new_zeros(())
    for j in range(codes.shape[1]):
        (grad,) = torch.autograd.grad(codes[:, j].sum(), inputs, create_graph=True)
        total = total + grad.pow(2).sum()
    return total / inputs.shape[0]


def jacobian_frobenius_projection(codes: torch.Tensor, inputs: torch.Tensor, projections: int = 1) -> torch.Tensor:
    """Unbiased estimate of the same quantity: for v ~ N(0, I_m), E ||J^T v||^2 = tr(J J^T)
    = ||J||_F^2 (Hutchinson). One backward pass per projection, whatever m is."""
    total = inputs.new_zeros(())
    for _ in range(projections):
        v = torch.randn_like(codes)
        (grad,) = torch.autograd.grad((codes * v).sum(), inputs, create_graph=True)
        total = total + grad.pow(2).sum()
    return total / (projections * inputs.shape[0])
