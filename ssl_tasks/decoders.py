"""Decoders: codes (B, m) -> pixel logits (B, C, H, W).

They see only the code: no decoder here takes encoder activations, so no skip path can
carry the input around the bottleneck (a skip path lets an autoencoder reconstruct
perfectly from a useless code; see the no-skip test in tests/test_tasks.py).

``mirror`` is the transposed-conv mirror of the paper_conv encoder; ``linear`` is one
linear map from code to pixels, the "simple decoder" that forces the code to carry the
structure (shared/sources/qa-simple-vs-mirrored-decoder.txt). Capacity is a setting.
"""

from __future__ import annotations

from torch import nn

from pretrain.config import ConfigError
from pretrain.registry import Registry

# name -> fn(code_dim, image_shape) -> module mapping codes (B, m) to logits (B, C, H, W)
DECODERS = Registry("decoder")
register_decoder = DECODERS.register


@register_decoder("mirror")
def mirror_decoder(code_dim: int, image_shape: tuple[int, int, int]) -> nn.Module:
    """Linear -> (128, H/4, W/4), ReLU, convT 4x4/2 -> 64, ReLU, convT 4x4/2 -> C
    (Schuster & Krogh 2021, appendix Table 1, read bottom-up)."""
    c, h, w = image_shape
    if h % 4 or w % 4:
        raise ConfigError(f"the mirror decoder needs image sides divisible by 4, got {h}x{w}")
    return nn.Sequential(
        nn.Linear(code_dim, 128 * (h // 4) * (w // 4)),
        nn.ReLU(inplace=True),
        nn.Unflatten(1, (128, h // 4, w // 4)),
        nn.ConvTranspose2d(128, 64, 4, 2, 1),
        nn.ReLU(inplace=True),
        nn.ConvTranspose2d(64, c, 4, 2, 1),
    )


@register_decoder("linear")
def linear_decoder(code_dim: int, image_shape: tuple[int, int, int]) -> nn.Module:
    """One affine map from the code to every pixel: the lowest-capacity decoder."""
    c, h, w = image_shape
    return nn.Sequential(nn.Linear(code_dim, c * h * w), nn.Unflatten(1, (c, h, w)))


def build_decoder(name: str, code_dim: int, image_shape: tuple[int, int, int]) -> nn.Module:
    return DECODERS.lookup(name)(code_dim, image_shape)
