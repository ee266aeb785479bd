"""Reconstruction autoencoder and its variants: encoder -> code -> decoder -> image.

Hinton & Salakhutdinov (2006); the bottleneck, not the reconstruction, is the point
(shared/sources/article-autoencoder-basics.txt): a code as wide as the input lets the
network learn the identity and reconstruct perfectly while learning nothing.

Variants, all settings of this one task: decoder capacity (mirror | linear | tied),
sparse codes (L1 or KL toward a target rate), contractive penalty (exact Jacobian norm or
its random-projection estimate), and the variational autoencoder (Kingma & Welling 2014)
with a weight beta on its KL term (beta-VAE, Higgins et al. 2017), which the sources call
the most consequential variant (shared/sources/article-autoencoder-variants.txt). The
denoising task subclasses this one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from pretrain.core.config import ConfigError
from pretrain.core.encoders import map_batches
from pretrain.core.tasks import Batch, SSLTask, TaskConfig, TaskContext, TaskOutput, register_task
from ssl_tasks.decoders import build_decoder
from ssl_tasks.losses import decoded_image, per_image_loss, reconstruction_loss
from ssl_tasks.regularizers import jacobian_frobenius_exact, jacobian_frobenius_projection, kl_sparsity, l1_sparsity


@dataclass
class AutoencoderConfig(TaskConfig):
    decoder: str = "mirror"  # mirror | linear | tied: decoder capacity is worth comparing
    loss: str = "bce"  # bce | mse | mse_linear
    sparsity: str = "none"  # none | l1 | kl
    sparsity_weight: float = 1e-3
    sparsity_target: float = 0.05  # rho, the target mean activation for kl
    contractive_weight: float = 0.0  # > 0 adds lambda * ||d code / d input||_F^2
    contractive_method: str = "projection"  # exact (m backward passes) | projection (unbiased estimate)
    contractive_projections: int = 1
    variational: bool = False  # a VAE: the code is the posterior mean; a sample of it is decoded
    beta: float = 1.0  # weight of the KL term (beta-VAE); per pixel, as the reconstruction loss is


def gaussian_kl(mean: torch.Tensor, log_variance: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(log_variance)) || N(0, I)) per sample (B,), summed over the m code
    dimensions (Kingma & Welling 2014, appendix B)."""
    return 0.5 * (mean.square() + log_variance.exp() - 1 - log_variance).sum(1)


def sample_posterior(mean: torch.Tensor, log_variance: torch.Tensor) -> torch.Tensor:
    """The reparameterised sample mean + exp(log_variance / 2) * eps, eps ~ N(0, I)."""
    return mean + torch.randn_like(mean) * (0.5 * log_variance).exp()


def identity_trap_warning(code_dim: int, image_shape: tuple[int, int, int]) -> list[str]:
    """A warning line when the code is at least as wide as the input (m >= C*H*W)."""
    n = image_shape[0] * image_shape[1] * image_shape[2]
    if code_dim < n:
        return []
    return [
        f"WARNING: code size m={code_dim} >= input size n={n}: the autoencoder can learn the identity "
        "and reconstruct perfectly from a useless code. Use m < n (a bottleneck)."
    ]


@register_task("autoencoder")
class Autoencoder(SSLTask):
    Config = AutoencoderConfig

    def __init__(self, cfg: AutoencoderConfig, encoder: nn.Module, ctx: TaskContext):
        super().__init__(cfg, encoder, ctx)
        if cfg.sparsity not in ("none", "l1", "kl"):
            raise ConfigError(f"sparsity: {cfg.sparsity!r} is unknown (none | l1 | kl)")
        if cfg.contractive_method not in ("exact", "projection"):
            raise ConfigError(f"contractive_method: {cfg.contractive_method!r} is unknown (exact | projection)")
        self.image_shape = ctx.image_shape
        self.decoder = build_decoder(cfg.decoder, encoder, ctx.image_shape)
        # the posterior's log-variance, read from the same pooled features as the mean (the code)
        self.log_variance = nn.Linear(encoder.feature_dim, encoder.code_dim) if cfg.variational else None

    def corrupt_input(self, images: torch.Tensor) -> torch.Tensor:
        """What the encoder sees; the plain autoencoder sees the clean image."""
        return images

    def forward_encoder(self, encoder: nn.Module, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> codes (B, m)."""
        return encoder(images)

    def forward_posterior(self, encoder: nn.Module, images: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """-> (posterior mean (B, m) = the encoder's code, {"kl": beta-weighted KL per pixel,
        "log_variance": (B, m)}). The mean is the encoder's own projection of its pooled
        features, so the evaluated code is the posterior mean."""
        features = encoder.forward_pooled(images)
        mean, log_variance = encoder.proj(features), self.log_variance(features).clamp(-20, 20)
        kl = gaussian_kl(mean.float(), log_variance.float()).mean() / images[0].numel()
        return mean, {"kl": self.cfg.beta * kl, "log_variance": log_variance}

    def forward_decoder(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, m) -> pixel logits (B, C, H, W). The decoder sees nothing but the code."""
        return self.decoder(codes)

    def forward_loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return reconstruction_loss(logits, target, self.cfg.loss)

    def forward_penalties(self, codes: torch.Tensor, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        """Weighted regulariser terms by name (empty for a plain autoencoder)."""
        cfg, out = self.cfg, {}
        if cfg.sparsity == "l1":
            out["sparsity_l1"] = cfg.sparsity_weight * l1_sparsity(codes)
        elif cfg.sparsity == "kl":
            out["sparsity_kl"] = cfg.sparsity_weight * kl_sparsity(codes, cfg.sparsity_target)
        if cfg.contractive_weight > 0:
            if cfg.contractive_method == "exact":
                norm = jacobian_frobenius_exact(codes, inputs)
            else:
                norm = jacobian_frobenius_projection(codes, inputs, cfg.contractive_projections)
            out["contractive"] = cfg.contractive_weight * norm
        return out

    def forward(self, encoder: nn.Module, batch: Batch) -> TaskOutput:
        inputs = self.corrupt_input(batch.images)
        if self.cfg.contractive_weight > 0:
            inputs = inputs.detach().requires_grad_(True)  # the penalty differentiates codes by inputs
        if self.cfg.variational:
            codes, penalties = self.forward_posterior(encoder, inputs)
            logits = self.forward_decoder(sample_posterior(codes, penalties.pop("log_variance")))
        else:
            codes, penalties = self.forward_encoder(encoder, inputs), {}
            logits = self.forward_decoder(codes)
        recon = self.forward_loss(logits, batch.images)
        penalties.update(self.forward_penalties(codes, inputs))
        loss = recon + sum(penalties.values())
        logs = {"recon_loss": recon.detach(), **{k: v.detach() for k, v in penalties.items()}}
        return TaskOutput(loss, logs, images=(inputs.detach(), decoded_image(logits, self.cfg.loss)))

    def describe(self, encoder: nn.Module) -> list[str]:
        return identity_trap_warning(encoder.code_dim, self.image_shape)

    # ----------------------------------------------------------------- capabilities for evaluation

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, m) -> reconstructions (B, C, H, W) in [0, 1]."""
        return decoded_image(self.forward_decoder(codes), self.cfg.loss)

    def decoder_codes(self, encoder: nn.Module, images: torch.Tensor, device) -> torch.Tensor:
        """The encoder's codes (N, m) of clean uint8 images (N, C, H, W), in full precision."""
        return map_batches(encoder.to(device), images, device=device)

    def anomaly_scores(self, encoder: nn.Module, images: torch.Tensor, device) -> dict[str, torch.Tensor]:
        """{"reconstruction_error": per-pixel loss (N,) of each clean uint8 image through
        encoder -> decoder}: images unlike the pretraining data reconstruct worse."""
        encoder, task = encoder.to(device).eval(), self.to(device).eval()

        def error(x: torch.Tensor) -> torch.Tensor:
            return per_image_loss(task.forward_decoder(encoder(x)), x, task.cfg.loss)

        return {"reconstruction_error": map_batches(error, images, device=device)}
