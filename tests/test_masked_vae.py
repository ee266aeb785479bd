"""Masked reconstruction scores hidden patches only; the VAE's code is its posterior mean."""

from __future__ import annotations

import torch

from pretrain.core.config import config_from_dict
from pretrain.core.encoders import build_encoder
from pretrain.core.tasks import Batch, TaskContext, build_task
from ssl_tasks.autoencoder import gaussian_kl
from ssl_tasks.masked_reconstruction import masked_loss, patch_mask


def test_patch_mask_hides_the_asked_share_of_whole_patches():
    torch.manual_seed(0)
    mask = patch_mask(5, 28, 4, 0.6, None)
    assert mask.shape == (5, 1, 28, 28)
    per_patch = mask.view(5, 7, 4, 7, 4).mean((2, 4))
    assert set(per_patch.unique().tolist()) <= {0.0, 1.0}  # patches are hidden whole
    assert (per_patch.sum((1, 2)) == round(0.6 * 49)).all()


def test_masked_loss_ignores_visible_patches():
    torch.manual_seed(1)
    logits, target = torch.randn(3, 1, 8, 8), torch.rand(3, 1, 8, 8)
    mask = patch_mask(3, 8, 2, 0.5, None)
    changed = torch.where(mask.bool(), target, torch.rand_like(target))  # only visible pixels change
    assert torch.allclose(masked_loss(logits, target, mask, "bce"), masked_loss(logits, changed, mask, "bce"))
    hidden_changed = torch.where(mask.bool(), torch.rand_like(target), target)
    assert not torch.allclose(
        masked_loss(logits, target, mask, "bce"), masked_loss(logits, hidden_changed, mask, "bce")
    )


def test_gaussian_kl_is_zero_only_at_the_prior():
    assert torch.allclose(gaussian_kl(torch.zeros(2, 4), torch.zeros(2, 4)), torch.zeros(2))
    assert (gaussian_kl(torch.ones(2, 4), torch.zeros(2, 4)) > 0).all()


def test_the_vae_code_is_the_posterior_mean_and_the_kl_is_logged():
    cfg = config_from_dict({"tasks": [{"name": "autoencoder", "variational": True, "beta": 4.0}]})
    encoder = build_encoder("resnet_small", 6, (1, 16, 16), 0.3, 0.3, width=8, blocks=[1, 1])
    task = build_task(cfg.tasks[0], encoder, TaskContext((1, 16, 16), 10))
    images = torch.rand(4, 1, 16, 16)
    encoder.eval()
    mean, terms = task.forward_posterior(encoder, images)
    assert torch.allclose(mean, encoder(images))  # evaluation reads the posterior mean
    out = task(encoder, Batch(images, torch.arange(4)))
    assert "kl" in out.logs and out.logs["kl"] >= 0 and torch.isfinite(out.loss)
