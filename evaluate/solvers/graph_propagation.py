"""Label propagation over a kNN graph of frozen features (Zhou et al. 2004, "Learning with
Local and Global Consistency"), with the sparse kNN affinity and conjugate-gradient solve of
Iscen et al. 2019 ("Label Propagation for Deep Semi-supervised Learning").

The graph holds the training images only, labelled and unlabelled. Labels spread along it:
F = (I - αS)^-1 Y, S = D^-1/2 W D^-1/2 the symmetrically normalised affinity. Validation and
test images are never nodes: each is predicted from its k nearest training nodes' propagated
label distributions (inductive), so the test set cannot shape the graph.

Where labels cannot reach: a node with no edge (isolated), a connected component with no
labelled node (unreached), a class with no labelled node. Such nodes keep F = 0; a query whose
neighbours all have F = 0 falls back to its nearest labelled image. Every case is counted.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch

from pretrain.core.search import cosine_search

AFFINITY_POWER = 3  # w_ij = max(cos_ij, 0)^3: sharpens the affinity (Iscen et al. 2019, eq. 9)


@dataclass
class Neighbours:
    """The k nearest other nodes of every node: similarities and positions (N, k), descending."""

    sims: torch.Tensor
    positions: torch.Tensor

    def first(self, k: int) -> Neighbours:
        return Neighbours(self.sims[:, :k], self.positions[:, :k])


@dataclass
class Graph:
    """The symmetrised, normalised kNN affinity of N nodes and where labels can travel."""

    normalised: torch.Tensor  # S (N, N), sparse CSR, float32
    isolated: torch.Tensor  # (N,) bool: no edge of positive weight
    component: torch.Tensor  # (N,) int64: a connected component's smallest node

    def __len__(self) -> int:
        return len(self.isolated)


def nearest_others(features: torch.Tensor, k: int) -> Neighbours:
    """The ``k`` most cosine-similar nodes of each node, itself excluded. features (N, d), k < N."""
    if not 0 < k < len(features):
        raise ValueError(f"a kNN graph of {len(features)} nodes cannot give each node k={k} neighbours")
    sims, positions = cosine_search(features, features, k + 1)
    itself = positions == torch.arange(len(features))[:, None]
    sims = sims.masked_fill(itself, -2.0)  # below any cosine: sorted last, then dropped
    keep = sims.topk(k, dim=1).indices  # ties and duplicates keep the search's order
    return Neighbours(sims.gather(1, keep), positions.gather(1, keep))


def connected_components(rows: torch.Tensor, cols: torch.Tensor, n: int) -> torch.Tensor:
    """(n,) label of each node's component (its smallest node) for an undirected edge list
    (E,), (E,): minimum-label spreading with pointer jumping, a few sweeps for kNN graphs."""
    label = torch.arange(n)
    for _ in range(n):
        spread = label.clone().scatter_reduce_(0, rows, label[cols], reduce="amin")
        spread = spread[spread]  # jump: a node takes its representative's label
        if torch.equal(spread, label):
            break
        label = spread
    return label


def knn_graph(neighbours: Neighbours, power: int = AFFINITY_POWER) -> Graph:
    """W_ij = max(s_ij, 0)^power on each node's kNN list (N, k), symmetrised as W + Wᵀ, then
    S = D^-1/2 W D^-1/2; an isolated node (degree 0) has a zero row."""
    n, k = neighbours.sims.shape
    rows = torch.arange(n).repeat_interleave(k)
    cols = neighbours.positions.flatten()
    weights = neighbours.sims.flatten().clamp(min=0).pow(power)
    edge = weights > 0
    rows, cols, weights = rows[edge], cols[edge], weights[edge]
    both_rows, both_cols = torch.cat([rows, cols]), torch.cat([cols, rows])
    pairs, both = torch.stack([both_rows, both_cols]), torch.cat([weights, weights])
    w = torch.sparse_coo_tensor(pairs, both, (n, n), check_invariants=False).coalesce()  # sums the pairs found twice
    (r, c), values = w.indices(), w.values()
    degree = torch.zeros(n).index_add_(0, r, values)
    scale = torch.where(degree > 0, degree.clamp(min=1e-12).rsqrt(), torch.zeros(()))
    symmetric = values * (scale[r] * scale[c])  # one product per pair, so S is exactly symmetric
    normalised = torch.sparse_coo_tensor(w.indices(), symmetric, (n, n), is_coalesced=True, check_invariants=False)
    return Graph(as_csr(normalised), degree == 0, connected_components(r, c, n))


def as_csr(matrix: torch.Tensor) -> torch.Tensor:
    """CSR form of a coalesced COO matrix: on CPU its products with dense matrices are far
    faster than COO's, and conjugate gradients make one per iteration."""
    with warnings.catch_warnings():  # "sparse CSR support is in beta": the product used here is stable
        warnings.simplefilter("ignore", UserWarning)
        return matrix.to_sparse_csr()


def seed_matrix(positions: torch.Tensor, labels: torch.Tensor, n: int, num_classes: int) -> torch.Tensor:
    """Y (n, C): one-hot rows at the labelled ``positions`` (L,) with ``labels`` (L,), zeros elsewhere."""
    y = torch.zeros(n, num_classes)
    y[positions, labels] = 1.0
    return y


def propagate(
    graph: Graph,
    seeds: torch.Tensor,
    alpha: float,
    tol: float = 1e-6,
    max_iter: int = 500,
    start: torch.Tensor | None = None,
):
    """F (N, C) solving (I - αS) F = Y by conjugate gradients, every column at once (I - αS is
    symmetric positive definite for 0 < α < 1). seeds Y (N, C). Returns (F, iterations).

    ``start`` (N, C), e.g. the solution for a smaller α on the same graph, warm-starts the solve
    (see ``warm_start``); the stopping rule, ‖residual‖ ≤ tol ‖Y‖ per column, is the same as from zero."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha={alpha} must lie strictly between 0 and 1")

    def apply(x: torch.Tensor) -> torch.Tensor:
        return x - alpha * (graph.normalised @ x)

    if start is None:
        x, residual = torch.zeros_like(seeds), seeds.clone()
    else:
        x, residual = warm_start(start, seeds, apply(start))
    direction = residual.clone()
    rr = (residual * residual).sum(0)
    target = tol**2 * (seeds * seeds).sum(0).clamp(min=1e-30)
    if bool((rr <= target).all()):
        return x, 0
    for step in range(1, max_iter + 1):
        a_dir = apply(direction)
        step_size = rr / (direction * a_dir).sum(0).clamp(min=1e-30)
        x += step_size * direction
        residual -= step_size * a_dir
        rr_next = (residual * residual).sum(0)
        if bool((rr_next <= target).all()):
            return x, step
        direction = residual + (rr_next / rr.clamp(min=1e-30)) * direction
        rr = rr_next
    return x, max_iter


def warm_start(start: torch.Tensor, seeds: torch.Tensor, applied: torch.Tensor):
    """(x0, residual Y - A x0), each (N, C): x0 = c·start with c per column minimising the A-norm
    error ‖F - c·start‖_A (c = ⟨start, Y⟩ / ⟨start, A start⟩, A = I - αS, applied = A start).
    c = 0 is a candidate, so the start is never further from F, in the norm CG minimises, than
    zero is: a guarantee, not a speed-up (the unscaled start took as many iterations on Fashion-MNIST)."""
    curvature = (start * applied).sum(0)
    scale = torch.where(curvature > 0, (start * seeds).sum(0) / curvature.clamp(min=1e-30), torch.zeros(()))
    return scale * start, seeds - scale * applied


def class_distributions(propagated: torch.Tensor) -> torch.Tensor:
    """Each node's propagated scores (N, C) as a distribution over classes; rows that no label
    reached stay zero (so they give no vote)."""
    scores = propagated.clamp(min=0)
    return scores / scores.sum(1, keepdim=True).clamp(min=1e-12)


def inductive_scores(
    distributions: torch.Tensor, query_neighbours: Neighbours, power: int = AFFINITY_POWER
) -> torch.Tensor:
    """Class scores (Q, C) of queries from their training neighbours (Q, k): the affinity-
    weighted sum of the neighbours' class distributions (N, C)."""
    weights = query_neighbours.sims.clamp(min=0).pow(power)
    return (weights[..., None] * distributions[query_neighbours.positions]).sum(1)


@dataclass
class Reach:
    """Where the labels of one labelled subset cannot go in a graph."""

    isolated: int  # nodes without an edge
    unreached: int  # unlabelled nodes in a component holding no labelled node
    components: int
    unlabelled_components: int  # components holding no labelled node
    classes_without_labels: list[int]  # classes with no labelled node at all


def reach(graph: Graph, positions: torch.Tensor, labels: torch.Tensor, num_classes: int) -> Reach:
    """How far the labels at ``positions`` (L,) can spread in ``graph``."""
    components = graph.component.unique()
    labelled = torch.zeros(len(graph), dtype=torch.bool)
    labelled[positions] = True
    reached = torch.isin(graph.component, graph.component[positions])
    return Reach(
        isolated=int(graph.isolated.sum()),
        unreached=int((~reached & ~labelled).sum()),
        components=len(components),
        unlabelled_components=int((~torch.isin(components, graph.component[positions])).sum()),
        classes_without_labels=sorted(set(range(num_classes)) - set(labels.tolist())),
    )


def predict(scores: torch.Tensor, labelled: torch.Tensor, labels: torch.Tensor, queries: torch.Tensor):
    """(predicted classes (Q,), how many fell back): argmax of the scores (Q, C); a query
    whose scores are all zero takes the class of its most similar labelled image
    (labelled features (L, d), labels (L,), queries (Q, d))."""
    predictions = scores.argmax(1)
    lost = scores.sum(1) <= 0
    if lost.any():
        _, nearest = cosine_search(labelled, queries[lost], 1)
        predictions[lost] = labels.cpu()[nearest[:, 0]]
    return predictions, int(lost.sum())
