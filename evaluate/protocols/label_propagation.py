"""``label_propagation``: the labelled subset's labels spread over a kNN graph of every
training image's frozen features, labelled or not (evaluate.solvers.graph_propagation, after Zhou et
al. 2004 and Iscen et al. 2019); k and α chosen on validation images as scarce as the labels;
validation and test images predicted inductively from their training neighbours.

It is a semi-supervised protocol: it reads the unlabelled training images (their features,
never their labels), so its supervised counterpart, ``knn`` on the labelled subset alone, is
reported beside it for the same features: propagation lifts raw pixels too, and a gain that
every source gets is not a gain from pretraining.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import torch

from evaluate.cells import CellStore
from evaluate.contract import FrozenProtocol
from evaluate.protocol_registry import register_protocol
from evaluate.results import DETAIL, ProtocolResult, prediction_scores
from evaluate.solvers import graph_propagation as lp
from evaluate.suite import feature_digest
from pretrain.core.samples import Features
from pretrain.core.search import cosine_search

MEMO_POOLS = 8  # feature sets whose searches and graphs are kept (shared by every subset and seed of a source)


@dataclass
class LabelPropagationSettings:
    """``eval.label_propagation``: the grid chosen on validation, and the solver's stopping rule."""

    # neighbours per node (capped at N - 1). k = 3 brackets the old grid's edge at 5; on raw Fashion-MNIST pixels
    # k = 2 (40 components) and k = 100 lost to their inner neighbours on all 9 draws measured (1, 10, 100 labels
    # per class x 3 seeds), and k = 100 would double the graphs' cost, so 50 stays the upper end
    ks: list[int] = field(default_factory=lambda: [3, 5, 10, 20, 50])
    # how far labels spread, in (0, 1); α = 0.999 lost to 0.99 on all 9 of those draws (see note())
    alphas: list[float] = field(default_factory=lambda: [0.5, 0.9, 0.99])
    tol: float = 1e-4  # conjugate gradients stop at this relative residual (the argmax has long settled) ...
    max_iter: int = 500  # ... or after this many iterations


@dataclass(kw_only=True)
class LabelPropagationResult(ProtocolResult):
    k: int  # chosen on validation
    alpha: float  # chosen on validation
    at_edge: bool  # a choice is an end of its grid: the grid may be too narrow
    iterations: int  # conjugate-gradient iterations of the chosen solve (warm-started from the α below it)
    graph_size: int  # training images in the graph, labelled and unlabelled
    isolated: int  # nodes with no edge
    unreached: int  # unlabelled nodes in components holding no labelled node
    components: int
    unlabelled_components: int
    classes_without_labels: list[int]
    fallback: int  # test images whose neighbours no label reached (their nearest labelled image decides)
    val_accuracy_by_setting: dict[str, float] = field(metadata=DETAIL)
    FLAGS = ("at_edge", "isolated", "unreached", "class_without_labels", "fallback")

    def flags(self) -> list[str]:
        raised = {
            "at_edge": self.at_edge,
            "isolated": self.isolated > 0,
            "unreached": self.unreached > 0,
            "class_without_labels": bool(self.classes_without_labels),
            "fallback": self.fallback > 0,
        }
        return [name for name in self.FLAGS if raised[name]]


def rows_of(pool: Features, labelled: Features) -> torch.Tensor:
    """Positions (L,) in ``pool`` of the labelled images, matched on their dataset index."""
    order = pool.index.argsort()
    found = order[torch.searchsorted(pool.index[order], labelled.index).clamp(max=len(pool) - 1)]
    if not torch.equal(pool.index[found], labelled.index):
        raise ValueError("a labelled image is not in the training pool the graph is built from")
    return found


def stored_neighbours(cells: CellStore | None, pool: Features, key: tuple, search) -> lp.Neighbours:
    """``search()``'s kNN lists, kept in the machine-wide store (kind ``label_propagation_graph``):
    they are the graph, and the exact search over every training image is its cost (27 s of
    the 55000 x 784 raw pixels on two cores), the same for every run that evaluates a baseline."""
    if cells is None or not cells.enabled:
        return search()
    parts = {"pool": feature_digest(pool), "search": list(key)}
    found = cells.get("label_propagation_graph", parts, lambda: plain_lists(search()), code=search)
    return lp.Neighbours(*found)


def plain_lists(neighbours: lp.Neighbours) -> list[torch.Tensor]:
    return [neighbours.sims, neighbours.positions]


def at_edge(choice, grid: list) -> bool:
    """The choice is the smallest or largest value of a grid of several."""
    return len(set(grid)) > 1 and choice in (min(grid), max(grid))


@register_protocol("label_propagation")
class LabelPropagation(FrozenProtocol):
    rank = 3
    settings_type = LabelPropagationSettings
    result_type = LabelPropagationResult
    uses_unlabelled = True
    supervised_counterpart = "knn"

    def __init__(self):
        self.memo: OrderedDict = OrderedDict()

    def runs_at(self, per_class: int) -> bool:
        return per_class != 0  # with all labels there is nothing unlabelled to propagate to

    def remembered(self, pool: Features, key: tuple, compute):
        """``compute()`` once per ``pool`` and ``key``: the searches and graphs of the last
        MEMO_POOLS feature sets are kept (the grid visits every source at every subset)."""
        name = feature_digest(pool)
        held = self.memo.setdefault(name, {})
        self.memo.move_to_end(name)
        while len(self.memo) > MEMO_POOLS:
            self.memo.popitem(last=False)
        if key not in held:
            held[key] = compute()
        return held[key]

    def neighbours(self, pool: Features, queries: Features | None, k: int, cells: CellStore | None) -> lp.Neighbours:
        """Each pool node's k other nearest nodes (``queries`` None), or each query's k nearest
        nodes: from this process's memo, else from the store, else searched."""
        if queries is None:
            key, search = ("nodes", k), lambda: lp.nearest_others(pool.x, k)
        else:
            key = ("queries", feature_digest(queries), k)
            search = lambda: lp.Neighbours(*cosine_search(pool.x, queries.x, k))  # noqa: E731
        return self.remembered(pool, key, lambda: stored_neighbours(cells, pool, key, search))

    def graph(self, pool: Features, k_max: int, k: int, cells: CellStore | None) -> lp.Graph:
        nodes = self.neighbours(pool, None, k_max, cells)
        return self.remembered(pool, ("graph", k_max, k), lambda: lp.knn_graph(nodes.first(k)))

    def fit(
        self, train, val, test, cfg, num_classes: int, seed: int, pool: Features, cells: CellStore | None = None
    ) -> LabelPropagationResult:
        s = cfg.settings(self.name)
        if bool((pool.y >= 0).any()):
            raise ValueError("label_propagation: the pool carries labels; hide them (evaluate.suite.unlabelled_pool)")
        positions = rows_of(pool, train)
        k_max = min(max(s.ks), len(pool) - 1)
        ks, alphas = sorted({min(k, k_max) for k in s.ks}), sorted(set(s.alphas))
        seeds = lp.seed_matrix(positions, train.y, len(pool), num_classes)
        val_neighbours = lp.Neighbours(*cosine_search(pool.x, val.x, k_max))
        by_setting, best = {}, None
        for k in ks:
            graph, previous = self.graph(pool, k_max, k, cells), None
            for alpha in alphas:  # ascending: each solve starts from the last one's F on this graph
                propagated, iterations = lp.propagate(graph, seeds, alpha, s.tol, s.max_iter, start=previous)
                previous = propagated
                distributions = lp.class_distributions(propagated)
                scores = lp.inductive_scores(distributions, val_neighbours.first(k))
                accuracy = (lp.predict(scores, train.x, train.y, val.x)[0] == val.y).float().mean().item()
                by_setting[f"k={k}, alpha={alpha:g}"] = accuracy
                if best is None or accuracy > best[0]:
                    best = (accuracy, k, alpha, iterations, distributions, graph)
        accuracy, k, alpha, iterations, distributions, graph = best
        scores = lp.inductive_scores(distributions, self.neighbours(pool, test, k_max, cells).first(k))
        predictions, fallback = lp.predict(scores, train.x, train.y, test.x)
        reach = lp.reach(graph, positions, train.y, num_classes)
        return LabelPropagationResult(
            **prediction_scores(predictions, test.y, num_classes),
            train_size=len(train),
            val_size=len(val),
            selected_on="validation split (k and alpha)",
            val_accuracy=accuracy,
            k=k,
            alpha=alpha,
            at_edge=at_edge(k, ks) or at_edge(alpha, alphas),
            iterations=iterations,
            graph_size=len(pool),
            isolated=reach.isolated,
            unreached=reach.unreached,
            components=reach.components,
            unlabelled_components=reach.unlabelled_components,
            classes_without_labels=reach.classes_without_labels,
            fallback=fallback,
            val_accuracy_by_setting=by_setting,
        )

    def note(self, cfg) -> str:
        s = cfg.settings(self.name)
        return (
            "- label_propagation: a kNN graph (cosine, w = max(cos, 0)^3, W + Wᵀ, symmetric normalisation) over every "
            "training image, labelled or not (their labels never read); F = (I − αS)⁻¹Y by conjugate gradients, "
            "each α warm-started from the next smaller α's F on the same graph; "
            f"k from {sorted(s.ks)} and α from {sorted(s.alphas)} chosen on validation; validation and test images "
            "predicted from their k training neighbours (never graph nodes); not run with all labels. "
            "The grid's ends are not arbitrary: α → 1 does not keep improving, because F's component along the "
            "graph's stationary vector grows as 1/(1 − α) and is alike at every node, pulling every prediction "
            "towards the class whose labelled images have the largest degree; a very small k splits the graph into "
            "components that labels cannot reach. On raw pixels the next values out, k = 100 and α = 0.999, lost to "
            "k = 50 and α = 0.99 on every draw measured; a choice at an end is still flagged (at_edge): other "
            "features may want a wider grid (eval.label_propagation.ks / alphas)."
        )
