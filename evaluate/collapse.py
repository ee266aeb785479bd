"""The collapse alarm: does the encoder map different images to (nearly) the same features?

A pretext task can reach a low loss with a useless code (a siamese method whose views all
land on one point, an autoencoder stopped after a handful of steps), and a label-free report
would show it only as numbers in four tables. This check runs on every evaluation, labelled or
not, on the validation images, against the random-init encoder of the same architecture read
the same way, and names each score that fired:

- effective rank (RankMe, Garrido et al. 2023) far below the random-init encoder's;
- different images at nearly the same direction (mean cosine of random pairs near 1);
- most feature dimensions constant across images;
- near-zero spread: the features' variation tiny beside their length.

The thresholds, and the runs they were checked on, are in docs/protocols.md ("The collapse
alarm"). Pure functions over (N, D) feature matrices, and one that reads an evaluation.
"""

from __future__ import annotations

import torch
from torch import Tensor

from evaluate.baselines import REPRESENTATIONS, random_encoder
from evaluate.context import EvalContext
from evaluate.label_free import rankme
from evaluate.report_types import CollapseCheck
from pretrain.core.encoders import encode_images

RANK_SHARE = 0.25  # fires below this share of the random-init encoder's effective rank
SAME_DIRECTION = 0.97  # fires above this mean cosine between the features of different images
CONSTANT_SHARE = 0.9  # fires when at least this share of dimensions is constant across images
SPREAD = 1e-3  # fires below this ratio of the features' spread to their length
PAIRS = 4096  # random pairs of different images for the mean cosine
ADVICE = (
    "Try more pretraining steps (train.epochs), a lower learning rate (optim.lr), or another task; "
    "a siamese task that collapses may need stronger views or its variance term. docs/protocols.md says more."
)


def alarm_lines(check: CollapseCheck | None) -> list[str]:
    """The alarm as Markdown bullets (nothing where none fired)."""
    if check is None or not check.fired:
        return []
    head = f"**Collapse alarm**: the encoder's features look collapsed or untrained ({check.images} images):"
    return [head, *(f"- {reason}" for reason in check.fired), f"- {ADVICE}"]


def effective_rank(z: Tensor) -> float:
    """RankMe of ``z`` (N, D); 0 for an all-zero embedding (no spectrum at all)."""
    return rankme(z) if z.any() else 0.0


def mean_pair_cosine(z: Tensor, pairs: int = PAIRS, seed: int = 0) -> float:
    """Mean cosine similarity of ``pairs`` random pairs of different rows of ``z`` (N, D); a zero
    row counts as pointing the same way as every other (a constant encoder scores 1)."""
    g = torch.Generator().manual_seed(seed)
    first = torch.randint(len(z), (pairs,), generator=g)
    second = (first + torch.randint(1, len(z), (pairs,), generator=g)) % len(z)  # never the same row
    a, b = z[first].double(), z[second].double()
    norms = a.norm(dim=1) * b.norm(dim=1)
    cosine = torch.where(norms > 0, (a * b).sum(1) / norms.clamp_min(1e-300), torch.ones_like(norms))
    return cosine.mean().item()


def constant_share(z: Tensor, tolerance: float = 1e-6) -> float:
    """Share of the D columns of ``z`` (N, D) whose spread across rows is below ``tolerance``
    times the features' typical size."""
    scale = max(z.abs().mean().item(), 1e-12)
    return (z.double().std(dim=0) <= tolerance * scale).double().mean().item()


def spread(z: Tensor) -> float:
    """sqrt(total variance) / root-mean-square length of the rows of ``z`` (N, D): 0 when every
    row is the same point, about 1 when the rows scatter around the origin."""
    z = z.double()
    length = z.pow(2).sum(1).mean().sqrt().item()
    return (z.var(dim=0, unbiased=False).sum().sqrt().item() / length) if length > 0 else 0.0


def check_collapse(z: Tensor, random_z: Tensor | None) -> CollapseCheck:
    """The four scores of ``z`` (N, D) beside ``random_z`` (the random-init encoder's features of
    the same images; None where there is none), and the alarms they raise."""
    rank, cosine = effective_rank(z), mean_pair_cosine(z)
    random_rank = effective_rank(random_z) if random_z is not None else None
    random_cosine = mean_pair_cosine(random_z) if random_z is not None else None
    check = CollapseCheck(len(z), z.shape[1], rank, random_rank, cosine, random_cosine, constant_share(z), spread(z))
    if random_rank and rank < RANK_SHARE * random_rank:
        check.fired.append(
            f"effective rank (RankMe) {rank:.1f} of {z.shape[1]} dimensions, below {RANK_SHARE:g} of the random-init "
            f"encoder's {random_rank:.1f}"
        )
    if cosine > SAME_DIRECTION:
        beside = f" (random init: {random_cosine:.3f})" if random_cosine is not None else ""
        check.fired.append(f"different images point the same way: mean cosine {cosine:.3f}{beside}")
    if check.constant_share >= CONSTANT_SHARE:
        check.fired.append(f"{100 * check.constant_share:.0f}% of the feature dimensions are constant across images")
    if check.spread < SPREAD:
        check.fired.append(f"near-zero spread: the features vary by {check.spread:.1e} of their length")
    return check


ALARM_IMAGES = 2000  # validation images the check reads (the first ones, as the label-free protocols do)


def random_twin_features(ctx: EvalContext, split: str, count: int) -> Tensor:
    """The random-init encoder's features of the first ``count`` images of ``split``: the
    random_init baseline's where the evaluation has it, else drawn here (seed eval's base seed)."""
    if "random_init" in ctx.features and split in ctx.features["random_init"]:
        return ctx.features["random_init"][split].x[:count]
    images = getattr(ctx.splits, split).take(torch.arange(count)).x
    wrap, _ = REPRESENTATIONS[ctx.cfg.eval.representation]
    with torch.random.fork_rng(devices=[]):  # drawing the twin leaves every later draw of the evaluation as it was
        twin = wrap(random_encoder(ctx.run_folder.spec, ctx.base_seed))
    return encode_images(twin, images, ctx.cfg.eval.batch_size, ctx.device)


def encoder_collapse(ctx: EvalContext) -> CollapseCheck | None:
    """The check of the run's encoder (its headline reading) on at most ALARM_IMAGES validation
    images (training images where there are too few); None where the evaluation serves no encoder."""
    features = ctx.features.get("encoder")
    if not features:
        return None
    split = "val" if "val" in features and len(features["val"]) >= 2 else "train"
    z = features[split].x[:ALARM_IMAGES]
    return check_collapse(z, random_twin_features(ctx, split, len(z)))
