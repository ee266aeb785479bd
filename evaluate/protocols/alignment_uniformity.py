"""``alignment_uniformity``: how close two views of an image land, and how evenly the images
spread over the unit sphere (Wang & Isola 2020, "Understanding contrastive representation
learning through alignment and uniformity on the hypersphere"). Both lower = better; a
collapsed representation has perfect alignment (0) and the worst uniformity (0).
"""

from __future__ import annotations

from dataclasses import dataclass

from evaluate.context import EvalContext, Measurement
from evaluate.contract import Protocol
from evaluate.label_free import alignment, uniformity
from evaluate.protocol_registry import register_protocol
from evaluate.views import LabelFreeResult, fmt, run_augmentation, view_features


@dataclass
class AlignmentUniformitySettings:
    """``eval.alignment_uniformity``: validation images measured, the exponents of the two losses."""

    images: int = 2000
    alpha: float = 2.0  # alignment: mean ||f(x) - f(x')||^alpha over the two views
    t: float = 2.0  # uniformity: log mean exp(-t ||f(x) - f(y)||^2) over pairs of images


@dataclass(kw_only=True)
class AlignmentUniformityResult(LabelFreeResult):
    alignment: float | None
    uniformity: float | None
    views: str  # where the augmentation came from

    def scores(self) -> dict[str, float]:
        if self.alignment is None:
            return {}
        return {"alignment": self.alignment, "uniformity": self.uniformity}


@register_protocol("alignment_uniformity")
class AlignmentUniformity(Protocol):
    rank = 11
    settings_type = AlignmentUniformitySettings
    result_type = AlignmentUniformityResult
    needs = frozenset({"features", "images"})
    label_free = True

    def evaluate(self, ctx: EvalContext) -> list[Measurement]:
        s = ctx.settings(self.name)
        _, where = run_augmentation(ctx)
        out = []
        for source, (z1, z2) in view_features(ctx, s.images).items():
            if len(z1) < 2:
                result = AlignmentUniformityResult(
                    alignment=None, uniformity=None, views=where, images=len(z1), flagged=["fewer than 2 images"]
                )
            else:
                a, u = alignment(z1, z2, s.alpha), uniformity(z1, s.t, seed=ctx.base_seed)
                result = AlignmentUniformityResult(alignment=a, uniformity=u, views=where, images=len(z1))
            out.append(Measurement(source, self.name, result))
        return out

    def note(self, cfg) -> str:
        s = cfg.settings(self.name)
        return (
            f"- alignment_uniformity: on {s.images or 'all'} validation images and two views of each "
            f"(Wang & Isola 2020, alpha={s.alpha:g}, t={s.t:g}); no label read."
        )

    def render(self, measurements: list[Measurement]) -> list[str]:
        lines = ["| features | images | alignment (lower: views closer) | uniformity (lower: spread out) |"]
        lines.append("|---|---:|---:|---:|")
        for m in measurements:
            r = m.result
            lines.append(f"| {m.source} | {r.images} | {fmt(r.alignment)} | {fmt(r.uniformity)} |")
        if measurements:
            lines += ["", f"Views: {measurements[0].result.views}."]
        return lines
