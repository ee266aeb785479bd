"""Denoising autoencoder (Vincent et al. 2008): encode a corrupted image, reconstruct the
clean one. Every autoencoder variant (decoder, sparsity, contractive) applies here too."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from pretrain.core.tasks import register_task
from ssl_tasks.autoencoder import Autoencoder, AutoencoderConfig
from ssl_tasks.corruptions import CorruptionConfig, corrupt


@dataclass
class DenoisingConfig(AutoencoderConfig):
    corruption: CorruptionConfig = field(default_factory=CorruptionConfig)


@register_task("denoising")
class DenoisingAutoencoder(Autoencoder):
    Config = DenoisingConfig

    def corrupt_input(self, images: torch.Tensor) -> torch.Tensor:
        return corrupt(images, self.cfg.corruption)
