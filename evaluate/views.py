"""What the label-free protocols share: the images they measure on, two augmented views of
them, each source's features of those views, and the base of their results.

Label-free scores are measured on the validation split (images pretraining never saw,
labels never read), as many as a protocol's ``images`` setting asks. The views come from
the run's own augmentation (the first task with an enabled ``augment`` section) or, for a
run without one, ``DEFAULT_VIEWS``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from evaluate.context import EvalContext
from evaluate.results import Result
from pretrain.core.augment import AugmentConfig, augment
from pretrain.core.images import to_unit_float
from pretrain.core.samples import ImageSet

# mild views for a run whose tasks augment nothing: most of the image, flipped half the time
DEFAULT_VIEWS = AugmentConfig(crop_scale=[0.6, 1.0], flip=0.5, brightness=0.2, contrast=0.2)


@dataclass(kw_only=True)
class LabelFreeResult(Result):
    """Base of a label-free result: ``images`` measured and the flags that qualify its numbers."""

    images: int
    flagged: list[str] = field(default_factory=list)  # e.g. "fewer images than dimensions"

    def flags(self) -> list[str]:
        return list(self.flagged)

    def scores(self) -> dict[str, float]:
        """Its named scores, the ones compared with transfer (bench label_free); none by default."""
        return {}


def fmt(x: float | None, digits: int = 3) -> str:
    """A score for a table: "—" where it could not be measured (never "nan")."""
    return "—" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def measured_images(ctx: EvalContext, images: int) -> ImageSet:
    """The first ``images`` validation images (0: all of them)."""
    val = ctx.splits.val
    return val if not images or images >= len(val) else val.take(torch.arange(images))


def run_augmentation(ctx: EvalContext) -> tuple[AugmentConfig, str]:
    """(the views' augmentation, where it came from): the first task with an enabled
    ``augment`` section, else DEFAULT_VIEWS."""
    for task in ctx.cfg.tasks:
        chosen = getattr(task, "augment", None)
        if isinstance(chosen, AugmentConfig) and chosen.enabled:
            return chosen, f"{task.name}'s augment section"
    return DEFAULT_VIEWS, "the default views (crop 60-100% of the area, flip 0.5, brightness and contrast ±0.2)"


def two_views(images: ImageSet, cfg: AugmentConfig, seed: int) -> tuple[ImageSet, ImageSet]:
    """Two random views of each uint8 image, drawn from ``seed`` (the global generator is restored after)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unit = to_unit_float(images.x)
        views = [augment(unit, cfg) for _ in range(2)]
    as_bytes = [(v * 255).round().clamp(0, 255).to(torch.uint8) for v in views]
    return images.with_rows(as_bytes[0]), images.with_rows(as_bytes[1])


def view_features(ctx: EvalContext, images: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """{source: (z1 (N, d), z2 (N, d))}: every source's features of two views of the measured
    images, computed once per evaluation and image count (alignment, uniformity and view
    retrieval share them)."""
    key = ("views", images)
    if key not in ctx.memo:
        augmentation, _ = run_augmentation(ctx)
        first, second = two_views(measured_images(ctx, images), augmentation, ctx.base_seed)
        ctx.memo[key] = {
            s.name: (s.extract("views", first).float(), s.extract("views", second).float()) for s in ctx.sources
        }
    return ctx.memo[key]
