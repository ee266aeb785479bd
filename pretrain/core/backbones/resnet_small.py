"""``resnet_small``: ResNets for small images: a 3x3 stride-1 stem and no max-pool (the CIFAR ResNets of He et
al. 2016, sec. 4.2, which SimCLR (Chen et al. 2020, appendix B.9) also uses), basic blocks,
and global average pooling, so the network takes any input size: crops go in at their own.

    images (B, C, H, W) -> stem -> stage 1 (width w) -> stage 2 (2w, stride 2) -> ... -> pool -> (B, w * 2^(S-1))
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from pretrain.core.encoders import EncoderSpec, register_backbone
from pretrain.core.typed_yaml import ConfigError


class BasicBlock(nn.Module):
    """Two 3x3 conv + batch norm layers with an identity (or 1x1 projection) shortcut."""

    def __init__(self, in_ch: int, out_ch: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False),
            nn.BatchNorm2d(out_ch),
        )
        self.shortcut = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.body(x) + self.shortcut(x))


def small_resnet(in_chans: int, width: int, blocks: list[int]) -> tuple[nn.Sequential, int]:
    """The backbone (images -> pooled features (B, d)) and d. ``blocks[i]`` basic blocks in
    stage i, of width ``width * 2**i``; every stage after the first halves the resolution."""
    if not blocks or min(blocks) < 1 or width < 1:
        raise ValueError(
            f"encoder.blocks must list at least one stage of >= 1 block, width >= 1; got {blocks}, {width}"
        )
    layers = {"stem": nn.Sequential(nn.Conv2d(in_chans, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())}
    channels = width
    for i, count in enumerate(blocks):
        out = width * 2**i
        stage = [BasicBlock(channels, out, 1 if i == 0 else 2)] + [BasicBlock(out, out, 1) for _ in range(count - 1)]
        layers[f"stage{i + 1}"] = nn.Sequential(*stage)
        channels = out
    layers["pool"] = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
    backbone = nn.Sequential()
    for name, module in layers.items():
        backbone.add_module(name, module)
    backbone.probe_names = [f"stage{i + 1}" for i in range(len(blocks))]  # what the layer probe reads
    backbone.any_size = True  # global pooling: any input size
    return backbone, channels


@dataclass
class ResnetSmallSettings:
    width: int = 64  # encoder.width: channels of the first stage (doubling per stage)
    blocks: list[int] = field(default_factory=lambda: [1, 1, 1])  # encoder.blocks: basic blocks per stage


@register_backbone("resnet_small", settings=ResnetSmallSettings)
def resnet_small(spec: EncoderSpec) -> tuple[nn.Module, int]:
    """A ResNet for small images (``small_resnet`` above): ``encoder.width`` and
    ``encoder.blocks`` per stage, global average pooling; takes any input size."""
    try:
        settings = spec.settings()
        return small_resnet(spec.in_chans, settings.width, list(settings.blocks))
    except ValueError as err:
        raise ConfigError(str(err)) from None
