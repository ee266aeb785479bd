"""Semi-supervised protocols: label propagation over a kNN graph of the training images, and
self-training from a fine-tuned teacher's soft labels. Both read the unlabelled training
images, never their labels nor the test labels."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from conftest import tiny_config_dict
from test_protocols import report_of

from evaluate.contract import supervised_counterparts
from evaluate.entry import EvaluationSettings, load_run
from evaluate.protocol_registry import PROTOCOLS
from evaluate.report import render_markdown
from evaluate.settings import EvalConfig
from evaluate.solvers import graph_propagation as lp
from evaluate.solvers.neighbour_vote import knn_classifier
from evaluate.suite import counterpart_differences, unlabelled_pool
from pretrain.core.config import config_from_dict
from pretrain.core.samples import Samples
from pretrain.engine import run_pretraining

PROPAGATION = PROTOCOLS["label_propagation"]


def moons(n: int, seed: int, noise: float = 0.08) -> Samples:
    """Two interleaved half circles in the plane z = 3 (so cosine neighbours are plane neighbours)."""
    gen = torch.Generator().manual_seed(seed)
    t = torch.rand(n, generator=gen) * math.pi
    y = torch.randint(0, 2, (n,), generator=gen)
    upper = torch.stack([t.cos(), t.sin()], 1)
    lower = torch.stack([1 - t.cos(), 0.5 - t.sin()], 1)
    xy = torch.where(y[:, None] == 0, upper, lower) + noise * torch.randn(n, 2, generator=gen)
    return Samples(torch.cat([xy, torch.full((n, 1), 3.0)], 1), y, torch.arange(n))


def one_per_class(train: Samples) -> Samples:
    return train.take(torch.stack([(train.y == c).nonzero()[0, 0] for c in train.y.unique()]))


# CI time: the default grid's α = 0.999 and k = 100 are its costliest solves; these tests are about
# propagation, not the grid (tests/test_label_propagation_solver.py checks the default grid)
SMALL_GRID = {"ks": [5, 10, 20], "alphas": [0.5, 0.9, 0.99]}


def propagate_once(train: Samples, labelled: Samples, val: Samples, test: Samples, classes: int = 2, **settings):
    settings = {**SMALL_GRID, **settings}
    cfg = EvalConfig()
    cfg.settings("label_propagation").__dict__.update(settings)
    return PROPAGATION.fit(labelled, val, test, cfg, classes, 0, pool=unlabelled_pool(train))


def test_label_propagation_beats_knn_on_two_moons_with_one_label_per_class():
    train, val, test = moons(1000, 0), moons(200, 1), moons(1000, 2)
    labelled = one_per_class(train)
    propagated = propagate_once(train, labelled, val, test)
    knn = knn_classifier(labelled.x, labelled.y, test.x, test.y, k=2, num_classes=2)
    assert propagated.accuracy >= 0.95 and propagated.accuracy > knn.accuracy + 0.1
    assert propagated.graph_size == 1000 and propagated.train_size == 2
    assert propagated.isolated == propagated.unreached == propagated.fallback == 0


def test_the_test_images_never_shape_the_graph_or_the_choice():
    train, val, test = moons(600, 0), moons(100, 1), moons(300, 2)
    labelled = one_per_class(train)
    first = propagate_once(train, labelled, val, test)
    other = moons(300, 7)
    second = propagate_once(train, labelled, val, Samples(other.x, torch.zeros_like(other.y), other.index))
    chosen = [(r.k, r.alpha, r.val_accuracy_by_setting) for r in (first, second)]
    assert chosen[0] == chosen[1]


def test_a_pool_that_carries_labels_is_refused():
    train = moons(100, 0)
    with pytest.raises(ValueError, match="labels"):
        PROPAGATION.fit(one_per_class(train), train, train, EvalConfig(), 2, 0, pool=train)


def test_propagation_solves_the_linear_system_of_zhou_et_al():
    features = torch.randn(60, 5, generator=torch.Generator().manual_seed(0))
    graph = lp.knn_graph(lp.nearest_others(features, 6))
    seeds = lp.seed_matrix(torch.tensor([0, 1, 2]), torch.tensor([0, 1, 2]), 60, 3)
    solved, _ = lp.propagate(graph, seeds, 0.9, tol=1e-8)
    dense = torch.eye(60) - 0.9 * graph.normalised.to_dense()
    assert torch.allclose(solved, torch.linalg.solve(dense, seeds), atol=1e-4)


def test_the_graph_is_the_symmetrised_normalised_knn_affinity():
    features = torch.randn(40, 4, generator=torch.Generator().manual_seed(1))
    k = 5
    unit = torch.nn.functional.normalize(features, dim=1)
    cos = unit @ unit.T
    cos.fill_diagonal_(-2.0)
    w = torch.zeros(40, 40)
    top = cos.topk(k, dim=1)
    w.scatter_(1, top.indices, top.values.clamp(min=0) ** 3)
    w = w + w.T
    d = w.sum(1).rsqrt()
    expected = d[:, None] * w * d[None, :]
    graph = lp.knn_graph(lp.nearest_others(features, k))
    assert torch.allclose(graph.normalised.to_dense(), expected, atol=1e-5)
    assert torch.equal(graph.normalised.to_dense(), graph.normalised.to_dense().T)


def test_components_match_a_breadth_first_search():
    gen = torch.Generator().manual_seed(2)
    rows, cols = torch.randint(0, 50, (30,), generator=gen), torch.randint(0, 50, (30,), generator=gen)
    rows, cols = torch.cat([rows, cols]), torch.cat([cols, rows])
    found = lp.connected_components(rows, cols, 50)
    neighbours = {i: set(cols[rows == i].tolist()) for i in range(50)}
    for start in range(50):
        seen, frontier = {start}, [start]
        while frontier:
            frontier = [j for i in frontier for j in neighbours[i] if j not in seen]
            seen.update(frontier)
        assert found[start] == min(seen) and all(found[j] == found[start] for j in seen)


def test_isolated_nodes_unreached_components_and_missing_classes_are_flagged():
    gen = torch.Generator().manual_seed(3)
    east = torch.tensor([1.0, 0.0]) + 0.05 * torch.randn(30, 2, generator=gen)
    west = torch.tensor([-1.0, 0.0]) + 0.05 * torch.randn(30, 2, generator=gen)  # cos < 0 to the east: no edge
    x = torch.cat([east, west, torch.zeros(2, 2)])  # two zero rows: no positive affinity to anything
    y = torch.cat([torch.zeros(30), torch.ones(30), torch.zeros(2)]).long()
    train = Samples(x, y, torch.arange(62))
    labelled = train.take(torch.tensor([0, 1]))  # class 0 only, in the east
    test = Samples(west[:5] * 1.01, torch.ones(5).long(), torch.arange(5))
    result = propagate_once(train, labelled, train.take(torch.arange(0, 60, 6)), test, ks=[5], alphas=[0.9])
    assert result.isolated == 2
    assert result.unreached == 32 and result.unlabelled_components >= 2
    assert result.classes_without_labels == [1]
    assert result.fallback == 5  # west queries: no propagated label nearby, the nearest labelled image decides
    assert {"isolated", "unreached", "class_without_labels", "fallback"} <= set(result.flags())
    assert result.test_predictions.tolist() == [0] * 5


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    cfg = config_from_dict(tiny_config_dict(tmp_path_factory.mktemp("semi") / "run"))
    run_pretraining(cfg)
    return load_run(cfg.run, EvaluationSettings(baselines=["raw_pixels"], write=False))


def with_test_labels(ctx, labels: torch.Tensor):
    test = ctx.splits.test
    splits = dataclasses.replace(ctx.splits, test=Samples(test.x, labels, test.index))
    return dataclasses.replace(ctx, splits=splits, cells=None)


def test_self_training_never_reads_the_test_labels(tiny_run):
    ctx = tiny_run
    true = PROTOCOLS["self_training"].evaluate(with_test_labels(ctx, ctx.splits.test.y))
    shuffled = ctx.splits.test.y[torch.randperm(len(ctx.splits.test.y), generator=torch.Generator().manual_seed(0))]
    blind = PROTOCOLS["self_training"].evaluate(with_test_labels(ctx, shuffled))
    assert {r.source for r in true} == {"encoder", "scratch"} and len(true) == len(blind) == 4
    for a, b in zip(true, blind):
        assert (a.source, a.seed, a.result.best_step, a.result.val_accuracy) == (
            b.source,
            b.seed,
            b.result.best_step,
            b.result.val_accuracy,
        )
        assert torch.equal(a.result.test_predictions, b.result.test_predictions)
        assert a.result.unlabelled_size == len(ctx.splits.train)
    assert any(a.result.accuracy != b.result.accuracy for a, b in zip(true, blind))


def test_semi_supervised_minus_supervised_is_reported_per_source(tiny_run):
    ctx = tiny_run
    records = [r for name in ("knn", "label_propagation") for r in PROTOCOLS[name].evaluate(ctx)]
    assert {r.labels_per_class for r in records if r.protocol == "label_propagation"} == {2}  # never with all labels
    rows = counterpart_differences(records, ctx.splits.test.y, supervised_counterparts(), 50)
    assert {(d.protocol, d.versus, d.a) for d in rows} == {
        ("label_propagation", "knn", source) for source in ctx.features
    }
    semi = {(r.source, r.seed): r.result.accuracy for r in records if r.protocol == "label_propagation"}
    knn = {(r.source, r.seed): r.result.accuracy for r in records if r.protocol == "knn" and r.labels_per_class == 2}
    row = next(d for d in rows if d.a == "encoder")
    assert row.difference == pytest.approx(sum(semi[("encoder", s)] - knn[("encoder", s)] for s in (0, 1)) / 2)
    report = report_of(tiny_run, records, [])
    report.semi_supervised = rows
    assert "| label_propagation − knn | encoder |" in render_markdown(report)
