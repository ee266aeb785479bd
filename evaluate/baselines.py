"""Feature sources: the run's encoder and the baselines every result is shown beside.

A source is a name, an identity string (what the feature cache is keyed on) and an
extractor from uint8 images (N, C, H, W) to features (N, d).
- encoder:     the pretrained encoder's code (exported weights of the run).
- raw_pixels:  the flattened image in [0, 1]; no learning at all.
- random_init: the same architecture with random weights, never trained.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import torch
from tqdm.auto import tqdm

from evaluate.features import file_digest
from pretrain.config import ConfigError
from pretrain.encoders import Encoder, EncoderSpec, encode_images
from pretrain.export import ENCODER_WEIGHTS, load_encoder, load_encoder_spec


@dataclass
class FeatureSource:
    name: str
    identity: str
    extract: Callable[[torch.Tensor], torch.Tensor]
    description: str
    cache: bool = True  # False where recomputing is cheaper than reading the file back


def encoder_extractor(encoder: torch.nn.Module, device: torch.device, batch_size: int):
    encoder = encoder.to(device)
    bar = partial(tqdm, desc="features", unit="batch", leave=False)
    return lambda images: encode_images(encoder, images, batch_size, device, progress=bar)


def encoder_source(run_dir: Path, device: torch.device, batch_size: int) -> FeatureSource:
    identity = f"encoder:{file_digest(run_dir / ENCODER_WEIGHTS)}"
    extract = encoder_extractor(load_encoder(run_dir), device, batch_size)
    return FeatureSource("encoder", identity, extract, "the pretrained encoder's code")


def raw_pixels_source() -> FeatureSource:
    return FeatureSource("raw_pixels", "raw_pixels", lambda images: images.flatten(1).float() / 255, "flattened pixels", cache=False)


def random_init_source(spec: EncoderSpec, seed: int, device: torch.device, batch_size: int) -> FeatureSource:
    torch.manual_seed(seed)
    identity = f"random_init:{sorted(spec.to_dict().items())}:{seed}"
    extract = encoder_extractor(Encoder(spec).eval(), device, batch_size)
    return FeatureSource("random_init", identity, extract, f"{spec.name} with random weights (seed {seed})")


def feature_sources(
    run_dir: Path, baselines: list[str], seed: int, device: torch.device, batch_size: int
) -> list[FeatureSource]:
    """The run's encoder first, then the requested baselines."""
    sources = [encoder_source(run_dir, device, batch_size)]
    builders = {
        "raw_pixels": raw_pixels_source,
        "random_init": lambda: random_init_source(load_encoder_spec(run_dir), seed, device, batch_size),
    }
    for name in baselines:
        if name not in builders:
            raise ConfigError(f"eval.baselines: {name!r} is unknown; choose from {', '.join(builders)}")
        sources.append(builders[name]())
    return sources
