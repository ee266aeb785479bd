"""``anomaly``: the most unusual validation images, by every per-image score the run has:
each task's own (``SSLTask.anomaly_scores``, e.g. reconstruction error) and, for every
feature source, the mean cosine distance to its k nearest training images. The report
lists each score's spread; the plot shows the top images of each score in a grid, where a
user looks for broken files, duplicates or a class the data was not meant to hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from evaluate import plots
from evaluate.context import EvalContext, Measurement
from evaluate.contract import Protocol
from evaluate.outliers import knn_distance_scores
from evaluate.protocol_registry import register_protocol
from evaluate.views import LabelFreeResult, fmt, measured_images
from pretrain.core.images import to_unit_float


@dataclass
class AnomalySettings:
    """``eval.anomaly``: validation images scored, images shown per score, neighbours of the kNN distance."""

    images: int = 2000
    shown: int = 12
    k: int = 20


@dataclass(kw_only=True)
class AnomalyResult(LabelFreeResult):
    median: float | None  # of the score over the measured images
    top_positions: list[int] = field(default_factory=list)  # rows of the measured images, most unusual first
    top_scores: list[float] = field(default_factory=list)


def most_unusual(scores: torch.Tensor, shown: int) -> AnomalyResult:
    """The ``shown`` highest of per-image ``scores`` (N,), NaN scores never chosen."""
    finite = torch.nan_to_num(scores.double(), nan=-torch.inf)
    order = finite.argsort(descending=True)[: min(shown, len(scores))]
    valid = scores[torch.isfinite(scores)]
    median = float(valid.median()) if len(valid) else None
    flagged = [] if len(valid) == len(scores) else [f"{len(scores) - len(valid)} images without a finite score"]
    return AnomalyResult(
        images=len(scores),
        median=median,
        top_positions=order.tolist(),
        top_scores=finite[order].tolist(),
        flagged=flagged,
    )


@register_protocol("anomaly")
class Anomaly(Protocol):
    rank = 13
    settings_type = AnomalySettings
    result_type = AnomalyResult
    needs = frozenset({"features", "images"})
    label_free = True

    def scores(self, ctx: EvalContext) -> dict[str, torch.Tensor]:
        """{score name: (N,)} over the measured images: the tasks' scores, then kNN distances."""
        s = ctx.settings(self.name)
        images = measured_images(ctx, s.images)
        out = {}
        for key, score in ctx.scorers:
            out |= {f"{name}[{key}]": values.cpu() for name, values in score(images.x).items()}
        for source, parts in ctx.features.items():
            queries = parts["val"].x[: len(images)]
            k = min(s.k, len(parts["train"]))
            out[f"knn_distance[{source}]"] = knn_distance_scores(parts["train"].x, queries, k).cpu()
        return out

    def evaluate(self, ctx: EvalContext) -> list[Measurement]:
        shown = ctx.settings(self.name).shown
        return [Measurement(name, self.name, most_unusual(v, shown)) for name, v in self.scores(ctx).items()]

    def note(self, cfg) -> str:
        s = cfg.settings(self.name)
        return f"- anomaly: {s.images or 'all'} validation images ranked by each score; kNN distance with k={s.k}."

    def render(self, measurements: list[Measurement]) -> list[str]:
        lines = ["| score (higher = more unusual) | images | median | highest |", "|---|---:|---:|---:|"]
        for m in measurements:
            r = m.result
            top = r.top_scores[0] if r.top_scores else None
            lines.append(f"| {m.source} | {r.images} | {fmt(r.median, 4)} | {fmt(top, 4)} |")
        return lines

    def plot(self, measurements: list[Measurement], ctx: EvalContext, out_dir: Path) -> list[Path]:
        if not measurements:
            return []
        images = measured_images(ctx, ctx.settings(self.name).images).x
        rows = [to_unit_float(images[m.result.top_positions]) for m in measurements]
        title = "most unusual validation images, per score (left: most unusual)"
        return [plots.image_grid_plot(rows, [m.source for m in measurements], out_dir / "anomalies.png", title)]
