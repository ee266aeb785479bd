"""``rankme``: the effective rank of each source's embedding matrix and its spectrum.

RankMe (Garrido et al. 2023, "RankMe: assessing the downstream performance of pretrained
self-supervised representations by their rank") is exp of the entropy of the normalised
singular values of the (N, d) embeddings: near 1 for a collapsed representation, at most
min(N, d). Measured on the cached validation features; no label is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from evaluate import plots
from evaluate.context import EvalContext, Measurement
from evaluate.contract import Protocol
from evaluate.label_free import rankme, spectrum
from evaluate.protocol_registry import register_protocol
from evaluate.views import LabelFreeResult, fmt

SPECTRUM_KEPT = 256  # singular values kept in the report (the plot's curve)


@dataclass
class RankMeSettings:
    """``eval.rankme``: validation images measured (0 = all)."""

    images: int = 0


@dataclass(kw_only=True)
class RankMeResult(LabelFreeResult):
    rankme: float | None  # None where it cannot be measured (fewer than 2 images, no finite rows)
    dim: int
    spectrum: list[float] = field(default_factory=list)  # singular values / their sum, descending

    def scores(self) -> dict[str, float]:
        return {} if self.rankme is None else {"rankme": self.rankme, "rankme_per_dim": self.rankme / self.dim}


def measure_rank(z: torch.Tensor) -> RankMeResult:
    """RankMe of embeddings (N, d), flagged (never NaN) where N is too small to say much."""
    n, d = z.shape
    if n < 2 or not torch.isfinite(z).all() or not z.abs().sum():
        return RankMeResult(
            rankme=None, dim=d, images=n, flagged=["not measurable: fewer than 2 finite, non-zero rows"]
        )
    values = spectrum(z)
    flagged = [f"fewer images than dimensions ({n} < {d}): the rank cannot exceed {n}"] if n < d else []
    shares = (values / values.sum())[:SPECTRUM_KEPT].tolist()
    return RankMeResult(rankme=rankme(z), dim=d, images=n, spectrum=shares, flagged=flagged)


@register_protocol("rankme")
class RankMe(Protocol):
    rank = 10
    settings_type = RankMeSettings
    result_type = RankMeResult
    needs = frozenset({"features"})
    label_free = True

    def evaluate(self, ctx: EvalContext) -> list[Measurement]:
        count = ctx.settings(self.name).images
        out = []
        for source, parts in ctx.features.items():
            z = parts["val"].x if not count else parts["val"].x[:count]
            out.append(Measurement(source, self.name, measure_rank(z.double())))
        return out

    def note(self, cfg) -> str:
        return "- rankme: effective rank of the validation features (Garrido et al. 2023); no label read."

    def render(self, measurements: list[Measurement]) -> list[str]:
        lines = [
            "| features | dim | images | RankMe | RankMe / dim |",
            "|---|---:|---:|---:|---:|",
        ]
        for m in measurements:
            r = m.result
            per_dim = None if r.rankme is None else r.rankme / r.dim
            flag = " ⚑" if r.flagged else ""
            lines.append(f"| {m.source} | {r.dim} | {r.images} | {fmt(r.rankme, 2)}{flag} | {fmt(per_dim)} |")
        return lines

    def plot(self, measurements: list[Measurement], ctx: EvalContext, out_dir: Path) -> list[Path]:
        curves = {m.source: m.result.spectrum for m in measurements if m.result.spectrum}
        if not curves:
            return []
        return [plots.spectrum_plot(curves, out_dir / "feature_spectrum.png", "feature spectrum (validation images)")]
