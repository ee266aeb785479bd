"""Label propagation's solver and grid: conjugate gradients warm-started along the α grid give the
cold solves' answers in fewer iterations, the kNN search runs once per pool at the largest k, and
``at_edge`` still means "a choice is an end of its grid"."""

from __future__ import annotations

import time

import torch

from evaluate.cells import CellStore
from evaluate.protocol_registry import PROTOCOLS
from evaluate.protocols import label_propagation as protocol
from evaluate.settings import EvalConfig
from evaluate.solvers import graph_propagation as lp
from evaluate.suite import unlabelled_pool
from pretrain.core.samples import Samples

ALPHAS = [0.5, 0.9, 0.99, 0.999]


def clustered(n: int = 300, classes: int = 3, seed: int = 0) -> Samples:
    """``classes`` noisy clusters in 8 dimensions: a kNN graph with a few loosely joined parts,
    so large α needs many iterations (what makes a good start worth having)."""
    gen = torch.Generator().manual_seed(seed)
    centres = 2.0 * torch.randn(classes, 8, generator=gen)
    y = torch.arange(n) % classes
    return Samples(centres[y] + torch.randn(n, 8, generator=gen), y, torch.arange(n))


def fixed_problem():
    data = clustered()
    graph = lp.knn_graph(lp.nearest_others(data.x, 8))
    seeds = lp.seed_matrix(torch.tensor([0, 1, 2]), data.y[:3], len(data.x), 3)
    return graph, seeds


def residual(graph: lp.Graph, solved: torch.Tensor, seeds: torch.Tensor, alpha: float) -> torch.Tensor:
    """‖Y - (I - αS)F‖ / ‖Y‖ per column (C,)."""
    return (seeds - solved + alpha * (graph.normalised @ solved)).norm(dim=0) / seeds.norm(dim=0)


def test_warm_started_solves_equal_the_cold_ones_in_fewer_iterations():
    graph, seeds = fixed_problem()
    tol, warm_total, cold_total, previous = 1e-4, 0, 0, None  # the protocol's default (float32 allows little less)
    for alpha in ALPHAS:
        cold, cold_steps = lp.propagate(graph, seeds, alpha, tol, 2000)
        warm, warm_steps = lp.propagate(graph, seeds, alpha, tol, 2000, start=previous)
        previous, warm_total, cold_total = warm, warm_total + warm_steps, cold_total + cold_steps
        assert (residual(graph, warm, seeds, alpha) <= 1.05 * tol).all()  # the same stopping rule
        exact = torch.linalg.solve(torch.eye(len(seeds)) - alpha * graph.normalised.to_dense(), seeds)
        scale = exact.norm(dim=0)  # F grows as 1 / (1 - α): errors relative to it
        assert ((warm - exact).norm(dim=0) <= 2 * tol * scale).all()
        assert ((warm - cold).norm(dim=0) <= 2 * tol * scale).all()
    assert warm_total < cold_total


def test_a_start_that_already_solves_the_system_takes_no_iteration():
    graph, seeds = fixed_problem()
    solved, _ = lp.propagate(graph, seeds, 0.9, tol=1e-6, max_iter=2000)
    again, steps = lp.propagate(graph, seeds, 0.9, tol=1e-4, start=solved)
    assert steps == 0 and torch.allclose(again, solved, rtol=1e-6, atol=1e-7)


def test_a_scaled_start_is_never_further_from_the_answer_than_zero():
    graph, seeds = fixed_problem()
    alpha = 0.99
    exact = torch.linalg.solve(torch.eye(len(seeds)) - alpha * graph.normalised.to_dense(), seeds)

    def a_norm(e: torch.Tensor) -> torch.Tensor:  # ‖e‖_A per column, A = I - αS: the norm CG minimises
        return (e * (e - alpha * (graph.normalised @ e))).sum(0).sqrt()

    for start in (torch.randn(seeds.shape, generator=torch.Generator().manual_seed(5)), -exact, 30 * exact):
        x0, r0 = lp.warm_start(start, seeds, start - alpha * (graph.normalised @ start))
        assert (a_norm(exact - x0) <= a_norm(exact) + 1e-5).all()
        assert torch.allclose(r0, seeds - x0 + alpha * (graph.normalised @ x0), atol=1e-5)


def fit(data: Samples, labelled: Samples, val: Samples, **settings):
    cfg = EvalConfig()
    cfg.settings("label_propagation").__dict__.update(settings)
    return PROTOCOLS["label_propagation"].fit(labelled, val, val, cfg, 3, 0, pool=unlabelled_pool(data))


def test_the_alpha_grid_order_changes_nothing_and_the_search_runs_once_at_the_largest_k(monkeypatch):
    data, val = clustered(seed=1), clustered(90, seed=1)
    labelled = data.take(torch.arange(3))
    searched = []
    nearest_others = lp.nearest_others
    monkeypatch.setattr(lp, "nearest_others", lambda x, k: searched.append(k) or nearest_others(x, k))
    PROTOCOLS["label_propagation"].memo.clear()
    shuffled = fit(data, labelled, val, ks=[10, 3, 5], alphas=[0.99, 0.5, 0.999, 0.9])
    ascending = fit(data, labelled, val, ks=[3, 5, 10], alphas=ALPHAS)
    assert searched == [10]  # one search per pool, at the largest k; smaller graphs keep its first columns
    assert shuffled.val_accuracy_by_setting == ascending.val_accuracy_by_setting
    assert len(shuffled.val_accuracy_by_setting) == 12
    assert (shuffled.k, shuffled.alpha, shuffled.at_edge) == (ascending.k, ascending.alpha, ascending.at_edge)


def test_at_edge_means_a_choice_is_an_end_of_its_grid():
    assert protocol.at_edge(0.999, [0.999, 0.5, 0.9])
    assert protocol.at_edge(3, [3, 5, 10])
    assert not protocol.at_edge(0.9, [0.999, 0.5, 0.9])
    assert not protocol.at_edge(5, [5])  # a single value is a choice, not an edge


def test_the_graph_is_kept_in_the_store_and_its_time_is_counted_once(monkeypatch, tmp_path):
    data, val = clustered(seed=2), clustered(90, seed=2)
    labelled, cfg = data.take(torch.arange(3)), EvalConfig()
    cfg.settings("label_propagation").__dict__.update(ks=[3, 5])
    searched, nearest_others = [], lp.nearest_others
    monkeypatch.setattr(lp, "nearest_others", lambda x, k: searched.append(k) or nearest_others(x, k))
    results = []
    for _ in range(2):  # a second evaluation: a new process memo, the same store
        PROTOCOLS["label_propagation"].memo.clear()
        cells = CellStore(tmp_path, "cpu", "fp32")
        pool = unlabelled_pool(data)
        results.append(PROTOCOLS["label_propagation"].fit(labelled, val, val, cfg, 3, 0, pool=pool, cells=cells))
        graphs = cells.stats["label_propagation_graph"]
    assert searched == [5]  # the second evaluation read the kNN lists instead of searching
    assert results[0].val_accuracy_by_setting == results[1].val_accuracy_by_setting
    assert (graphs.computed, graphs.stored) == (0, 2)  # the nodes' lists and the test queries' lists


def test_a_cell_computed_inside_another_is_tallied_under_its_own_kind_only(tmp_path):
    cells = CellStore(tmp_path, "cpu", "fp32")

    def outer():
        cells.get("inner", {"n": 1}, lambda: time.sleep(0.2) or 1)
        return 2

    cells.get("outer", {"n": 1}, outer)
    assert cells.stats["inner"].seconds >= 0.2
    assert cells.stats["outer"].seconds < 0.1  # the inner cell's time is not counted twice
