"""Encoders: images (B, C, H, W) in [0, 1] -> codes (B, m).

Every encoder is an ``Encoder``: it normalises its input with the dataset's mean/std
(stored with the weights, so exported encoders are self-contained), runs a backbone to a
feature vector, and projects it to the code size m, the bottleneck all tasks share.

Backbones come from a small local registry (``@register_backbone``, one module each in
``pretrain/core/backbones/``, imported on the registry's first lookup) or, for any other
name, from timm: ``timm.create_model(name, num_classes=0, in_chans=C[, img_size=S])``; the
image size goes to models that take one (ViTs, MLP-Mixers). Every encoder is tried on one
blank image when built, so a size it cannot take is a ConfigError naming both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import torch
from torch import nn

from pretrain.core.images import to_unit_float
from pretrain.core.precision import autocast, resolve_precision
from pretrain.core.registry import Registry
from pretrain.core.typed_yaml import ConfigError


@dataclass
class EncoderSpec:
    """Everything needed to rebuild an encoder (saved as encoder.json beside the weights)."""

    name: str
    code_dim: int
    in_chans: int
    image_size: int
    mean: float | list[float]  # per channel (older runs saved one value for all)
    std: float | list[float]
    # the backbone's own settings (resnet_small's width and blocks, a timm model's small_stem), written flat
    options: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        data = asdict(self)
        return data | data.pop("options")

    @classmethod
    def from_dict(cls, data: dict) -> EncoderSpec:
        """The spec from encoder.json: its shared keys, and those of the backbone's settings it holds
        (older runs wrote width, blocks and small_stem for every encoder; the others' are left out)."""
        shared = {k: data[k] for k in ("name", "code_dim", "in_chans", "image_size", "mean", "std")}
        owned = backbone_settings(data["name"])
        keys = [f.name for f in fields(owned)] if owned is not None else []
        return cls(**shared, options={k: data[k] for k in keys if k in data})

    def settings(self) -> Any:
        """The backbone's typed settings (its defaults where the spec holds none), or None."""
        owned = backbone_settings(self.name)
        return owned(**self.options) if owned is not None else None


# name -> fn(spec) -> (module mapping images to (B, d) features, d)
BACKBONES = Registry("encoder", plugins="pretrain.core.backbones")


@dataclass
class TimmSettings:
    """``encoder.*`` keys read by any timm model (a name no local backbone registers)."""

    small_stem: bool = False  # ResNets: 3x3 stride-1 stem without max-pool, for small images


def register_backbone(name: str, settings: type | None = None) -> Callable:
    """Decorator adding a backbone (spec -> (module, feature width)) under ``name``; ``settings``:
    the dataclass of the ``encoder.*`` keys only it reads (pretrain.core.plugin_settings)."""

    def wrap(fn: Callable) -> Callable:
        fn.settings_type = settings
        return BACKBONES.register(name)(fn)

    return wrap


def backbone_settings(name: str) -> type | None:
    """The settings of a local backbone, or of a timm model for any other name."""
    return getattr(BACKBONES[name], "settings_type", None) if name in BACKBONES else TimmSettings


def all_backbone_settings() -> dict[str, type]:
    owned = {name: BACKBONES[name].settings_type for name in BACKBONES if BACKBONES[name].settings_type}
    return owned | {"timm models": TimmSettings}


# Backbones that train and extract faster in channels-last memory (train/eval.memory_format=auto), measured by
# `python -m bench --sections speed` (BENCHMARKS.md, section 4): resnet_small gains on every machine measured;
# paper_conv gained in fp32 on the 2-core AMD EPYC CI machine. timm models stay contiguous until measured.
CHANNELS_LAST_BACKBONES = ("paper_conv", "resnet_small")


def channels_last_faster(name: str) -> bool:
    return name in CHANNELS_LAST_BACKBONES


def timm_backbone(spec: EncoderSpec) -> tuple[nn.Module, int]:
    """Any timm model, classifier removed; its pooled features feed the projection."""
    # here, not at the top: importing timm (through torchvision's ops and torch._dynamo) takes
    # about 2 s, which every command would pay at start-up; only a timm encoder needs it
    import timm

    if not timm.is_model(spec.name):
        known = ", ".join(sorted(BACKBONES))
        raise ConfigError(f"encoder.name: {spec.name!r} is neither a local encoder ({known}) nor a timm model")
    kwargs = {"pretrained": False, "num_classes": 0, "in_chans": spec.in_chans}
    try:  # models with a fixed input grid (ViT, Mixer, Swin) must be told the size
        model = timm.create_model(spec.name, img_size=spec.image_size, **kwargs)
    except TypeError:  # CNNs take any size and no img_size argument
        model = timm.create_model(spec.name, **kwargs)
    if spec.settings().small_stem:
        use_small_stem(model, spec)
    model.any_size = not hasattr(model, "patch_embed")  # a CNN pools globally; a ViT has a fixed grid
    return model, model.num_features


def use_small_stem(model: nn.Module, spec: EncoderSpec) -> None:
    """A timm ResNet with the CIFAR stem: its 7x7 stride-2 conv becomes 3x3 stride 1 and the
    max-pool goes, so a 28 px image keeps 28 px into the first stage instead of 7."""
    conv = getattr(model, "conv1", None)
    if not isinstance(conv, nn.Conv2d) or not hasattr(model, "maxpool"):
        raise ConfigError(f"encoder.small_stem applies to timm ResNets (conv1 + maxpool); {spec.name} has no such stem")
    model.conv1 = nn.Conv2d(spec.in_chans, conv.out_channels, 3, 1, 1, bias=False)
    model.maxpool = nn.Identity()


class Encoder(nn.Module):
    """images (B, C, H, W) float in [0, 1] -> codes (B, m). ``code_dim`` is m."""

    def __init__(self, spec: EncoderSpec):
        super().__init__()
        self.spec = spec
        build = BACKBONES.get(spec.name, timm_backbone)
        self.backbone, self.feature_dim = build(spec)
        self.proj = nn.Linear(self.feature_dim, spec.code_dim)
        # (C, 1, 1) per-channel statistics broadcast over (B, C, H, W); a scalar for older runs
        shape = (-1, 1, 1) if isinstance(spec.mean, list) else ()
        self.register_buffer("mean", torch.tensor(spec.mean).view(shape), persistent=False)
        self.register_buffer(
            "std", torch.tensor(spec.std).view(shape).clamp_min(1e-6), persistent=False
        )  # a flat channel

    @property
    def code_dim(self) -> int:
        return self.spec.code_dim

    @property
    def takes_any_size(self) -> bool:
        """True when the backbone pools globally, so crops can go in at their own size."""
        return bool(getattr(self.backbone, "any_size", False))

    def forward_pooled(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, C, H, W) in [0, 1] -> backbone features h (B, feature_dim), before the projection."""
        return self.backbone((images - self.mean) / self.std)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, C, H, W) in [0, 1] -> codes z (B, m)."""
        return self.proj(self.forward_pooled(images))


def build_encoder(name: str, code_dim: int, image_shape: tuple[int, int, int], mean, std, **options) -> Encoder:
    """An encoder for images of ``image_shape`` (C, H, W) with per-channel ``mean``/``std``
    (sequences of C floats, or one float); ``options``: the backbone's own settings (EncoderSpec.options)."""
    c, h, w = image_shape
    if h != w:
        raise ConfigError(f"encoders take square images; got {h}x{w} (set data.image_size)")
    if code_dim < 1:
        raise ConfigError(f"encoder.code_dim must be >= 1, got {code_dim}")
    as_spec = lambda v: [float(x) for x in v] if isinstance(v, (list, tuple)) else float(v)  # noqa: E731
    encoder = Encoder(EncoderSpec(name, code_dim, c, h, as_spec(mean), as_spec(std), options=dict(options)))
    check_input_size(encoder)
    return encoder


def check_input_size(encoder: Encoder) -> None:
    """Run one blank image through ``encoder``; a shape it cannot take is a ConfigError."""
    s = encoder.spec
    was_training = encoder.training
    try:
        with torch.no_grad():
            encoder.eval()(torch.zeros(1, s.in_chans, s.image_size, s.image_size))
    except (RuntimeError, AssertionError, ValueError) as err:
        raise ConfigError(
            f"encoder.name={s.name} cannot take {s.in_chans}x{s.image_size}x{s.image_size} images "
            f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else 'no message'}); "
            f"choose another encoder or data.image_size"
        ) from None
    encoder.train(was_training)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@torch.no_grad()
def map_batches(
    fn: Callable[[torch.Tensor], torch.Tensor],
    images: torch.Tensor,
    batch_size: int = 1024,
    device: str | torch.device = "cpu",
    progress=None,
) -> torch.Tensor:
    """``fn`` over uint8 images (N, C, H, W), a batch at a time as float in [0, 1] on ``device``
    -> its outputs (N, ...) concatenated as float32 on the CPU."""
    out = []
    starts = range(0, len(images), batch_size)
    for start in progress(starts) if progress else starts:
        chunk = to_unit_float(images[start : start + batch_size].to(device, non_blocking=True))
        out.append(fn(chunk).float().cpu())
    return torch.cat(out) if out else torch.empty(0)


def encode_images(
    model: nn.Module,
    images: torch.Tensor,
    batch_size: int = 1024,
    device: str | torch.device = "cpu",
    progress=None,
    precision: str = "auto",
) -> torch.Tensor:
    """Run ``model`` over uint8 images (N, C, H, W) in batches -> float32 features (N, d) on CPU.

    The model is put in eval mode and restored afterwards; ``precision`` (auto | fp32 | bf16,
    pretrain.core.precision) is the autocast it runs under: auto is bf16 where the device
    computes it natively."""
    was_training = model.training
    model.eval()
    precision = resolve_precision(precision, device, "eval.precision")

    def forward(chunk: torch.Tensor) -> torch.Tensor:
        with autocast(precision, device):
            return model(chunk)

    out = map_batches(forward, images, batch_size, device, progress)
    model.train(was_training)
    return out
