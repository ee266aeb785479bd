"""Features of intermediate encoder layers, for a per-layer linear probe ("which layer
transfers best"). Spatial maps are average-pooled to a small grid so every layer's
feature stays a few hundred numbers."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pretrain.core.encoders import encode_images


def probe_layers(encoder: nn.Module) -> list[str]:
    """Module names worth probing: the ReLUs of a Sequential backbone, or the stages timm
    lists in ``feature_info``; the code itself is probed elsewhere."""
    backbone = encoder.backbone
    if hasattr(backbone, "probe_names"):  # a backbone that names its stages (resnet_small)
        return [f"backbone.{name}" for name in backbone.probe_names]
    if isinstance(backbone, nn.Sequential):
        return [f"backbone.{name}" for name, child in backbone.named_children() if isinstance(child, nn.ReLU)]
    info = getattr(backbone, "feature_info", None)
    return [f"backbone.{entry['module']}" for entry in info] if info else []


def encode_layers(
    encoder: nn.Module, images: torch.Tensor, names: list[str], pool: int = 2, batch_size: int = 1024, device="cpu"
) -> dict[str, torch.Tensor]:
    """{layer name: (N, d) float32} for uint8 images (N, C, H, W); 4-D maps pooled to pool x pool.
    Forward hooks collect each batch while pretrain.core.encoders.encode_images runs the encoder."""
    modules = dict(encoder.named_modules())
    chunks: dict[str, list[torch.Tensor]] = {name: [] for name in names}

    def keep(name):
        def hook(module, inputs, output):
            out = output if output.ndim == 2 else F.adaptive_avg_pool2d(output, pool).flatten(1)
            chunks[name].append(out.float().cpu())

        return hook

    handles = [modules[name].register_forward_hook(keep(name)) for name in names]
    try:
        encode_images(encoder.to(device), images, batch_size, device)
    finally:
        for handle in handles:
            handle.remove()
    return {name: torch.cat(parts) for name, parts in chunks.items()}
