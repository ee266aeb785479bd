"""``view_retrieval``: for N validation images, the share whose second augmented view has the
first view of the same image as its nearest neighbour among all N first views (cosine,
FAISS). Chance is 1/N; 1 means every image is told apart from the others under the
augmentation, whatever its class.
"""

from __future__ import annotations

from dataclasses import dataclass

from evaluate.context import EvalContext, Measurement
from evaluate.contract import Protocol
from evaluate.label_free import view_retrieval, view_retrieval_chance
from evaluate.protocol_registry import register_protocol
from evaluate.views import LabelFreeResult, fmt, view_features


@dataclass
class ViewRetrievalSettings:
    """``eval.view_retrieval``: validation images measured."""

    images: int = 2000


@dataclass(kw_only=True)
class ViewRetrievalResult(LabelFreeResult):
    retrieval: float | None  # share of second views whose nearest first view is their own
    chance: float | None  # 1 / N

    def scores(self) -> dict[str, float]:
        return {} if self.retrieval is None else {"view_retrieval": self.retrieval}


@register_protocol("view_retrieval")
class ViewRetrieval(Protocol):
    rank = 12
    settings_type = ViewRetrievalSettings
    result_type = ViewRetrievalResult
    needs = frozenset({"features", "images"})
    label_free = True

    def evaluate(self, ctx: EvalContext) -> list[Measurement]:
        out = []
        for source, (z1, z2) in view_features(ctx, ctx.settings(self.name).images).items():
            n = len(z1)
            if n < 2:
                result = ViewRetrievalResult(retrieval=None, chance=None, images=n, flagged=["fewer than 2 images"])
            else:
                result = ViewRetrievalResult(
                    retrieval=view_retrieval(z1, z2), chance=view_retrieval_chance(n), images=n
                )
            out.append(Measurement(source, self.name, result))
        return out

    def note(self, cfg) -> str:
        n = cfg.settings(self.name).images
        return f"- view_retrieval: {n or 'all'} validation images, second view against all first views; no label read."

    def render(self, measurements: list[Measurement]) -> list[str]:
        lines = ["| features | images | own first view is nearest % | chance % |", "|---|---:|---:|---:|"]
        for m in measurements:
            r = m.result
            shown = [None if v is None else 100 * v for v in (r.retrieval, r.chance)]
            lines.append(f"| {m.source} | {r.images} | {fmt(shown[0], 1)} | {fmt(shown[1], 2)} |")
        return lines
