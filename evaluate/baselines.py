"""Feature sources: the run's encoder, what its tasks offer, and the baselines every result
is shown beside. A source (pretrain.core.tasks.FeatureSource) is a name, an identity string
(what the feature cache is keyed on) and an extractor from uint8 images (N, C, H, W) to
features (N, d).

- encoder:     the pretrained encoder's code (exported weights of the run).
- each task's own sources (``SSLTask.feature_sources``), e.g. decoder-only's per-sample codes.
- raw_pixels:  the flattened image in [0, 1]; no learning at all.
- random_init: the same architecture with random weights, never trained.
- pca:         the top-m principal components of the training pixels (m = the code size).
"""

from __future__ import annotations

import dataclasses
import hashlib
from functools import cache, partial

import torch
from torch import nn
from tqdm.auto import tqdm

from evaluate.features import extraction_identity, tensor_digest
from evaluate.identity import code_identity, defining_modules
from pretrain.core.checkpoint import file_digest
from pretrain.core.config import Config, ConfigError
from pretrain.core.data import Splits
from pretrain.core.encoders import Encoder, EncoderSpec, encode_images
from pretrain.core.images import to_unit_float
from pretrain.core.pca import fit_pca, pca_project
from pretrain.core.precision import resolve_precision
from pretrain.core.run_folder import Run
from pretrain.core.saved_encoder import load_encoder
from pretrain.core.tasks import FeatureSource, task_keys

BASELINES = ("raw_pixels", "pca", "random_init")


def encoder_extractor(encoder: torch.nn.Module, device: torch.device, batch_size: int, precision: str):
    encoder = encoder.to(device)
    bar = partial(tqdm, desc="features", unit="batch", leave=False)
    return lambda split, images: encode_images(encoder, images.x, batch_size, device, bar, precision)


class PooledFeatures(nn.Module):
    """The encoder's globally pooled backbone features h (B, feature_dim), before its projection
    to the code z: the representation SimCLR evaluates (Chen et al. 2020, sec. 2.1)."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.encoder.forward_pooled(images)


REPRESENTATIONS = {  # eval.representation -> (the module giving it, its description)
    "code": (lambda encoder: encoder, "the pretrained encoder's code z (m = {m})"),
    "pooled": (PooledFeatures, "the pretrained encoder's pooled features h ({d}-d, before the projection to the code)"),
}


def encoder_source(
    run: Run,
    device: torch.device,
    batch_size: int,
    encoder: nn.Module | None = None,
    representation: str = "code",
    name: str = "encoder",
    precision: str = "fp32",
) -> FeatureSource:
    """The run's exported encoder (``encoder`` if it is already loaded) as ``representation``
    (code | pooled) computed in ``precision``, keyed on its weight file."""
    encoder = load_encoder(run) if encoder is None else encoder
    wrap, description = REPRESENTATIONS[representation]
    module = wrap(encoder)
    weights = file_digest(run.encoder_weights)
    identity = extraction_identity("encoder", [module], device, precision, weights, f"representation={representation}")
    extract = encoder_extractor(module, device, batch_size, precision)
    return FeatureSource(name, identity, extract, description.format(m=encoder.code_dim, d=encoder.feature_dim))


def encoder_sources(run: Run, cfg: Config, device: torch.device, encoder: nn.Module) -> list[FeatureSource]:
    """``encoder`` = the headline representation (eval.representation); the other one beside it
    as ``encoder_code`` / ``encoder_pooled`` where the two differ in kind: the code is always
    there, pooled features where the backbone pools globally or were asked for."""
    e = cfg.eval
    headline = e.representation
    other = "code" if headline == "pooled" else "pooled"
    sources = [encoder_source(run, device, e.batch_size, encoder, headline, precision=e.precision)]
    if other == "code" or getattr(encoder, "takes_any_size", False):
        sources.append(encoder_source(run, device, e.batch_size, encoder, other, f"encoder_{other}", e.precision))
    return sources


def task_sources(
    run: Run, cfg: Config, encoder: nn.Module, tasks: nn.ModuleList, device: torch.device
) -> list[FeatureSource]:
    """What the run's tasks offer besides the encoder's code, keyed on the encoder and task
    weights, and on the task's and encoder's code, device and precision too; a name already
    taken (by the encoder, a baseline or another task) gets the task's key appended."""
    sources, taken = [], {"encoder", "encoder_code", "encoder_pooled", *BASELINES}
    weights = [file_digest(run.encoder_weights), file_digest(run.task_weights)]
    encoder, precision = encoder.to(device), resolve_precision("auto", device, "eval.precision")
    for key, task in zip(task_keys([t.name for t in cfg.tasks]), tasks):
        for source in task.feature_sources(encoder, device):
            name = source.name if source.name not in taken else f"{source.name}[{key}]"
            taken.add(name)
            identity = extraction_identity(source.identity, [encoder, task], device, precision, *weights)
            sources.append(dataclasses.replace(source, name=name, identity=identity))
    return sources


def raw_pixels_source() -> FeatureSource:
    def extract(split, images):
        return to_unit_float(images.x.flatten(1))

    return FeatureSource("raw_pixels", "raw_pixels", extract, "flattened pixels", cache=False, shared=True)


def pca_source(train_images: torch.Tensor, components: int) -> FeatureSource:
    """Projection onto the top principal components of the training split's pixels (fitted on
    training images only), as many as the encoder's code has dimensions; keyed on those images,
    and fitted only when a split's features are not in the store."""
    fit = cache(lambda: fit_pca(train_images, components))

    def extract(split, images):
        return pca_project(images.x, *fit())

    description = f"top {components} principal components of the training pixels"
    code = code_identity(defining_modules(fit_pca, pca_project))
    identity = f"pca:{components}:{tensor_digest(train_images)}:code={code}"
    return FeatureSource("pca", identity, extract, description, shared=True)


def random_encoder(spec: EncoderSpec, seed: int, memory_format: str = "contiguous") -> Encoder:
    """The encoder of ``spec`` with the random weights of ``seed`` (the scratch and random-init
    baselines), in ``memory_format`` (channels_last | contiguous)."""
    torch.manual_seed(seed)
    encoder = Encoder(spec).eval()
    return encoder.to(memory_format=torch.channels_last) if memory_format == "channels_last" else encoder


def random_init_source(
    spec: EncoderSpec,
    seed: int,
    device: torch.device,
    batch_size: int,
    representation: str = "code",
    precision: str = "fp32",
) -> FeatureSource:
    """Features of a never-trained encoder, read as the headline ``representation`` (code |
    pooled) so it is compared like with like, keyed on a hash of its weights (not only the
    seed: the same seed gives other weights when the initialisation code changes) and on its code."""
    encoder = random_encoder(spec, seed)
    module = REPRESENTATIONS[representation][0](encoder)
    weights = hashlib.sha256(b"".join(tensor_digest(t).encode() for t in encoder.state_dict().values())).hexdigest()
    settings = str(sorted(spec.to_dict().items()))
    identity = extraction_identity(
        "random_init", [module], device, precision, settings, weights[:16], f"representation={representation}"
    )
    extract = encoder_extractor(module, device, batch_size, precision)
    read = "" if representation == "code" else f", its {representation} features"
    description = f"{spec.name} with random weights (one draw per seed){read}"
    return FeatureSource("random_init", identity, extract, description, shared=True)


def random_init_variants(run: Run, cfg: Config, device: torch.device) -> list[FeatureSource]:
    """One random-init source per evaluation seed (seed ``train.seed + s``), so the baseline's
    spread over seeds includes the luck of its initialisation."""
    spec = run.spec
    e = cfg.eval
    return [
        random_init_source(spec, cfg.train.seed + s, device, e.batch_size, e.representation, e.precision)
        for s in range(e.seeds)
    ]


def baseline_sources(
    names: list[str], run: Run, cfg: Config, splits: Splits, device: torch.device
) -> list[FeatureSource]:
    e = cfg.eval
    builders = {  # one per name in BASELINES
        "raw_pixels": raw_pixels_source,
        "random_init": lambda: random_init_source(
            run.spec, cfg.train.seed, device, e.batch_size, e.representation, e.precision
        ),
        "pca": lambda: pca_source(splits.train.x, cfg.encoder.code_dim),
    }
    for name in names:
        if name not in builders:
            raise ConfigError(f"eval.baselines: {name!r} is unknown; choose from {', '.join(builders)}")
    return [builders[name]() for name in names]


def feature_sources(
    run: Run,
    cfg: Config,
    splits: Splits,
    baselines: list[str],
    device: torch.device,
    encoder: nn.Module,
    tasks: nn.ModuleList,
) -> list[FeatureSource]:
    """The run's encoder first, then what its tasks (loaded with ``encoder``) offer, then the baselines."""
    return [
        *encoder_sources(run, cfg, device, encoder),
        *task_sources(run, cfg, encoder, tasks, device),
        *baseline_sources(baselines, run, cfg, splits, device),
    ]
