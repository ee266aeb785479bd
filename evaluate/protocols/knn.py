"""``knn``: weighted cosine kNN over cached features (evaluate.solvers.neighbour_vote, after DINO), the labelled
subset as its bank; nothing is chosen."""

from __future__ import annotations

from dataclasses import dataclass

from evaluate.contract import FrozenProtocol
from evaluate.protocol_registry import register_protocol
from evaluate.results import KnnResult
from evaluate.solvers.neighbour_vote import knn_classifier


@dataclass
class KnnSettings:
    """``eval.knn``: neighbours voting and the temperature of their exp(similarity / T) weights."""

    k: int = 20
    temperature: float = 0.07


@register_protocol("knn")
class Knn(FrozenProtocol):
    rank = 2
    settings_type = KnnSettings
    result_type = KnnResult

    def fit(self, train, val, test, cfg, num_classes: int, seed: int) -> KnnResult:
        s = cfg.settings(self.name)
        return knn_classifier(train.x, train.y, test.x, test.y, min(s.k, len(train)), s.temperature, num_classes)

    def note(self, cfg) -> str:
        s = cfg.settings(self.name)
        return (
            f"- knn: cosine, k={s.k} (capped at the bank size), T={s.temperature}; "
            "the labelled subset is the bank; nothing selected."
        )
