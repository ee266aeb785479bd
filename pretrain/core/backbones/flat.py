"""Backbones on the flattened pixels: ``mlp`` (one hidden layer) and ``linear`` (none)."""

from __future__ import annotations

from torch import nn

from pretrain.core.encoders import EncoderSpec, register_backbone


@register_backbone("mlp")
def mlp(spec: EncoderSpec) -> tuple[nn.Module, int]:
    """A one-hidden-layer MLP (512 units): a quick, small baseline architecture."""
    n = spec.in_chans * spec.image_size**2
    return nn.Sequential(nn.Flatten(), nn.Linear(n, 512), nn.ReLU(inplace=True)), 512


@register_backbone("linear")
def linear(spec: EncoderSpec) -> tuple[nn.Module, int]:
    """No hidden layer: with the projection, an affine map of the pixels (the PCA setting)."""
    return nn.Flatten(), spec.in_chans * spec.image_size**2
