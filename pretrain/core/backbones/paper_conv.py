"""``paper_conv``: the decoder-only paper's MNIST encoder."""

from __future__ import annotations

from torch import nn

from pretrain.core.encoders import EncoderSpec, register_backbone


@register_backbone("paper_conv")
def paper_conv(spec: EncoderSpec) -> tuple[nn.Module, int]:
    """The MNIST encoder of Schuster & Krogh (Entropy 2021), appendix Table 1:
    conv 4x4/2 -> 64, ReLU, conv 4x4/2 -> 128, ReLU, flatten; the Encoder's projection is
    the linear representation layer (linear output, as the paper's section 3.1 says)."""
    side = spec.image_size // 4
    body = nn.Sequential(
        nn.Conv2d(spec.in_chans, 64, 4, 2, 1),
        nn.ReLU(inplace=True),
        nn.Conv2d(64, 128, 4, 2, 1),
        nn.ReLU(inplace=True),
        nn.Flatten(),
    )
    return body, 128 * side * side
