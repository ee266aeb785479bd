"""Feature sources: the run's encoder and the baselines every result is shown beside.

A source is a name, an identity string (what the feature cache is keyed on) and an
extractor from uint8 images (N, C, H, W) to features (N, d).
- encoder:     the pretrained encoder's code (exported weights of the run).
- raw_pixels:  the flattened image in [0, 1]; no learning at all.
- random_init: the same architecture with random weights, never trained.
- pca:         the top-m principal components of the training pixels (m = the code size).
- decoder_only_codes: for runs with a decoder_only task, its per-sample codes: the learned
  table for the training split, codes inferred with the decoder frozen for val and test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from tqdm.auto import tqdm

from evaluate.features import file_digest
from pretrain.config import Config, ConfigError
from pretrain.data import ImageSet, Splits
from pretrain.encoders import Encoder, EncoderSpec, encode_images
from pretrain.export import ENCODER_WEIGHTS, TASK_WEIGHTS, load_encoder, load_encoder_spec, load_task_heads
from ssl_tasks.decoder_only import DecoderOnly


@dataclass
class FeatureSource:
    name: str
    identity: str
    extract: Callable[[str, ImageSet], torch.Tensor]  # (split name, images) -> (N, d)
    description: str
    cache: bool = True  # False where recomputing is cheaper than reading the file back


def encoder_extractor(encoder: torch.nn.Module, device: torch.device, batch_size: int):
    encoder = encoder.to(device)
    bar = partial(tqdm, desc="features", unit="batch", leave=False)
    return lambda split, images: encode_images(encoder, images.images, batch_size, device, progress=bar)


def encoder_source(run_dir: Path, device: torch.device, batch_size: int) -> FeatureSource:
    identity = f"encoder:{file_digest(run_dir / ENCODER_WEIGHTS)}"
    extract = encoder_extractor(load_encoder(run_dir), device, batch_size)
    return FeatureSource("encoder", identity, extract, "the pretrained encoder's code")


def raw_pixels_source() -> FeatureSource:
    return FeatureSource(
        "raw_pixels",
        "raw_pixels",
        lambda split, images: images.images.flatten(1).float() / 255,
        "flattened pixels",
        cache=False,
    )


def fit_pca(images: torch.Tensor, components: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (n,) and top principal directions (components, n) of uint8 images (N, C, H, W),
    as pixels in [0, 1]; directions signed so their largest-magnitude entry is positive."""
    x = images.flatten(1).double() / 255
    mean = x.mean(0)
    _, _, vh = torch.linalg.svd(x - mean, full_matrices=False)
    directions = vh[:components]
    signs = torch.sign(directions.gather(1, directions.abs().argmax(1, keepdim=True)))
    return mean.float(), (directions * signs).float()


def pca_source(train_images: torch.Tensor, components: int) -> FeatureSource:
    """Projection onto the top principal components of the training split's pixels (fitted on
    training images only), as many as the encoder's code has dimensions."""
    mean, directions = fit_pca(train_images, components)
    extract = lambda split, images: (images.images.flatten(1).float() / 255 - mean) @ directions.T  # noqa: E731
    return FeatureSource(
        "pca",
        f"pca:{components}",
        extract,
        f"top {components} principal components of the training pixels",
        cache=False,
    )


def random_init_source(spec: EncoderSpec, seed: int, device: torch.device, batch_size: int) -> FeatureSource:
    torch.manual_seed(seed)
    identity = f"random_init:{sorted(spec.to_dict().items())}:{seed}"
    extract = encoder_extractor(Encoder(spec).eval(), device, batch_size)
    return FeatureSource("random_init", identity, extract, f"{spec.name} with random weights (seed {seed})")


def decoder_only_source(run_dir: Path, cfg: Config, splits: Splits, device: torch.device) -> FeatureSource | None:
    """Per-sample codes of the run's decoder_only task, or None if it has none."""
    if not any(t.name == "decoder_only" for t in cfg.tasks):
        return None  # no need to load the task weights to find that out
    encoder, tasks = load_task_heads(run_dir, cfg, splits)
    found = [(t, c) for t, c in zip(tasks, cfg.tasks) if isinstance(t, DecoderOnly)]
    if not found:
        return None
    task, tcfg = found[0]
    encoder = encoder.to(device)

    def extract(split: str, images: ImageSet) -> torch.Tensor:
        if split == "train":
            return task.codes.detach().cpu()  # row k is training image k: the learned z_k
        bar = partial(tqdm, desc=f"code inference ({split})", unit="batch", leave=False)
        return task.infer(encoder, images.images, device, progress=bar)[0]

    settings = f"{tcfg.infer_init}:{tcfg.infer_steps}:{tcfg.infer_lr}:{tcfg.infer_momentum}:{tcfg.loss}"
    identity = f"decoder_only:{file_digest(run_dir / TASK_WEIGHTS)}:{settings}"
    description = f"learned codes (train) and codes inferred in {tcfg.infer_steps} steps (val, test)"
    return FeatureSource("decoder_only_codes", identity, extract, description)


def feature_sources(
    run_dir: Path, cfg: Config, splits: Splits, baselines: list[str], device: torch.device
) -> list[FeatureSource]:
    """The run's encoder first, its decoder-only codes if any, then the requested baselines."""
    seed, batch_size = cfg.train.seed, cfg.eval.batch_size
    sources = [encoder_source(run_dir, device, batch_size)]
    codes = decoder_only_source(run_dir, cfg, splits, device)
    sources += [codes] if codes else []
    builders = {
        "raw_pixels": raw_pixels_source,
        "random_init": lambda: random_init_source(load_encoder_spec(run_dir), seed, device, batch_size),
        "pca": lambda: pca_source(splits.train.images, cfg.encoder.code_dim),
    }
    for name in baselines:
        if name not in builders:
            raise ConfigError(f"eval.baselines: {name!r} is unknown; choose from {', '.join(builders)}")
        sources.append(builders[name]())
    return sources
