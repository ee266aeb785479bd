"""Decoders: codes (B, m) -> pixel logits (B, C, H, W).

They see only the code: no decoder here takes encoder activations, so no skip path can
carry the input around the bottleneck (a skip path lets an autoencoder reconstruct
perfectly from a useless code; see the no-skip test in tests/test_tasks.py).

``mirror`` is the transposed-conv mirror of the paper_conv encoder; ``linear`` is one
linear map from code to pixels, the "simple decoder" that forces the code to carry the
structure (shared/sources/qa-simple-vs-mirrored-decoder.txt); ``tied`` reuses the
encoder's own weights, transposed. Capacity is a setting worth comparing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pretrain.core.config import ConfigError
from pretrain.core.registry import Registry

# name -> fn(encoder, image_shape) -> module mapping codes (B, m) to logits (B, C, H, W)
DECODERS = Registry("decoder")
register_decoder = DECODERS.register


@register_decoder("mirror")
def mirror_decoder(encoder: nn.Module, image_shape: tuple[int, int, int]) -> nn.Module:
    """Linear -> (128, H/4, W/4), ReLU, convT 4x4/2 -> 64, ReLU, convT 4x4/2 -> C
    (Schuster & Krogh 2021, appendix Table 1, read bottom-up)."""
    c, h, w = image_shape
    code_dim = encoder.code_dim
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
def linear_decoder(encoder: nn.Module, image_shape: tuple[int, int, int]) -> nn.Module:
    """One affine map from the code to every pixel: the lowest-capacity decoder."""
    c, h, w = image_shape
    return nn.Sequential(nn.Linear(encoder.code_dim, c * h * w), nn.Unflatten(1, (c, h, w)))


@register_decoder("tied")
def tied_decoder(encoder: nn.Module, image_shape: tuple[int, int, int]) -> nn.Module:
    return TiedDecoder(encoder, image_shape)


class TiedDecoder(nn.Module):
    """The encoder run backwards with its own weights transposed; only biases are new.

    Weight tying halves the parameters and regularises the autoencoder
    (shared/sources/article-autoencoder-variants.txt). The encoder's layers are walked in
    reverse: Linear -> linear with W^T, Conv2d -> transposed conv with the same kernel,
    Flatten -> Unflatten, ReLU stays a ReLU. Works for backbones that are a Sequential of
    those layers (paper_conv, mlp); other encoders get a ConfigError.
    """

    SUPPORTED = (nn.Conv2d, nn.Linear, nn.ReLU, nn.Flatten)

    def __init__(self, encoder: nn.Module, image_shape: tuple[int, int, int]):
        super().__init__()
        layers = list(encoder.backbone) if isinstance(encoder.backbone, nn.Sequential) else []
        if not layers or not all(isinstance(layer, self.SUPPORTED) for layer in layers):
            raise ConfigError(
                "the tied decoder needs an encoder made of Conv2d/Linear/ReLU/Flatten layers (paper_conv, mlp)"
            )
        layers.append(encoder.proj)
        shapes, h = [], torch.zeros(1, *image_shape)
        with torch.no_grad():
            for layer in layers:  # the input shape of each layer fixes its transpose's output
                shapes.append(tuple(h.shape[1:]))
                h = layer(h)
        self.steps = list(reversed(list(zip(layers, shapes))))
        self._encoder = (encoder,)  # a tuple, so the encoder's weights are not registered twice
        self.biases = nn.ParameterList(
            nn.Parameter(torch.zeros(shape[0]))
            for layer, shape in self.steps
            if isinstance(layer, (nn.Linear, nn.Conv2d))
        )

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        h, biases = codes, iter(self.biases)
        for layer, in_shape in self.steps:
            if isinstance(layer, nn.Linear):
                h = F.linear(h, layer.weight.t(), next(biases))
            elif isinstance(layer, nn.Conv2d):
                h = self._transposed_conv(h, layer, in_shape, next(biases))
            elif isinstance(layer, nn.Flatten):
                h = h.view(h.shape[0], *in_shape)
            else:
                h = F.relu(h)
        return h

    @staticmethod
    def _transposed_conv(h: torch.Tensor, conv: nn.Conv2d, out_shape: tuple, bias: torch.Tensor) -> torch.Tensor:
        (s,), (p,), (k,) = set(conv.stride), set(conv.padding), set(conv.kernel_size)
        natural = (h.shape[-1] - 1) * s - 2 * p + k
        return F.conv_transpose2d(h, conv.weight, bias, stride=s, padding=p, output_padding=out_shape[-1] - natural)


def build_decoder(name: str, encoder: nn.Module, image_shape: tuple[int, int, int]) -> nn.Module:
    return DECODERS.lookup(name)(encoder, image_shape)
