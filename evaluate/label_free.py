"""Label-free quality scores of an embedding: what can be said about features without a label.

- spectrum / rankme:      effective rank of the embedding matrix (Garrido et al. 2023).
- alignment / uniformity: closeness of two views and spread on the hypersphere (Wang & Isola 2020).
- view_retrieval:         does a view find its own twin among all the other images' views?
- spearman(_interval):    rank correlation of such a score with a downstream metric, with a
                          bootstrap interval, to judge whether the score predicts anything.

Pure functions over tensors (N rows = samples, D columns = feature dimensions); no I/O.
"""

from __future__ import annotations

import math

import faiss
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


def _matrix(z: Tensor, name: str = "z", min_rows: int = 2) -> Tensor:
    """``z`` detached as float64 on the CPU, after checking it is a finite (N >= min_rows, D) matrix."""
    if z.ndim != 2 or z.shape[1] < 1:
        raise ValueError(f"{name} must be an (N, D) matrix with D >= 1, got shape {tuple(z.shape)}")
    if z.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} rows, got {z.shape[0]}")
    z = z.detach().to("cpu", torch.float64)
    if not torch.isfinite(z).all():
        raise ValueError(f"{name} has non-finite entries (NaN or inf)")
    return z


def _pair(z1: Tensor, z2: Tensor, min_rows: int) -> tuple[Tensor, Tensor]:
    """Two views of the same N samples: same shape, row i of each is sample i."""
    if z1.shape != z2.shape:
        raise ValueError(f"z1 and z2 must have the same shape, got {tuple(z1.shape)} and {tuple(z2.shape)}")
    return _matrix(z1, "z1", min_rows), _matrix(z2, "z2", min_rows)


def spectrum(z: Tensor) -> Tensor:
    """Singular values of the embedding matrix ``z`` (N, D), descending, shape (min(N, D),), float64.

    Not centred: RankMe (Garrido et al. 2023) takes the rank of the raw embedding matrix.
    """
    return torch.linalg.svdvals(_matrix(z))


def rankme(z: Tensor, eps: float = 1e-7) -> float:
    """RankMe of ``z`` (N, D): Garrido, Balestriero, Najman, LeCun 2023, "RankMe: Assessing the
    downstream performance of pretrained self-supervised representations by their rank".

    p_k = sigma_k / ||sigma||_1 + eps and RankMe = exp(-sum_k p_k log p_k): the exponential of the
    entropy of the normalised spectrum, a smooth rank in [1, min(N, D)]; r equal singular values
    (the rest zero) give r.
    """
    z = _matrix(z)
    if not z.any():
        # sigma would be all zero and p undefined: a fully collapsed embedding has no spectrum.
        raise ValueError("z is all zeros: RankMe is undefined for a zero embedding")
    sigma = torch.linalg.svdvals(z)
    p = sigma / sigma.sum() + eps  # eps keeps log finite for zero singular values
    value = math.exp(-(p * p.log()).sum().item())
    # eps adds a mass of min(N, D) * eps, which can lift the score a hair (~1e-6 relative) above
    # its bound for a flat spectrum; keep the documented range.
    return min(value, float(sigma.numel()))


def alignment(z1: Tensor, z2: Tensor, alpha: float = 2.0) -> float:
    """Alignment of two views z1, z2 (N, D), row i of each from sample i: Wang & Isola 2020,
    "Understanding contrastive representation learning through alignment and uniformity on
    the hypersphere".

    Mean over i of ||f(z1_i) - f(z2_i)||^alpha with f the L2 normalisation; in [0, 2^alpha],
    lower = views closer. The normalisation makes it blind to the scale of the features.
    """
    a, b = _pair(z1, z2, min_rows=1)
    # The paper's scores live on the unit sphere; an all-zero row stays zero (F.normalize's eps).
    a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
    return (a - b).norm(dim=1).pow(alpha).mean().item()


def uniformity(z: Tensor, t: float = 2.0, max_points: int = 4096, seed: int = 0) -> float:
    """Uniformity of ``z`` (N, D): Wang & Isola 2020 (see ``alignment``).

    log of the mean over distinct pairs i < j of exp(-t ||f_i - f_j||^2), f the L2-normalised
    rows; in [-4t, 0], lower = more uniform on the sphere, 0 = all rows in one direction.
    Computed on at most ``max_points`` rows, a random subset fixed by ``seed``: the pairs are O(N^2).
    """
    if max_points < 2:
        raise ValueError(f"max_points must be at least 2, got {max_points}")
    z = _matrix(z)
    if z.shape[0] > max_points:
        generator = torch.Generator().manual_seed(seed)
        z = z[torch.randperm(z.shape[0], generator=generator)[:max_points]]
    squared = torch.pdist(F.normalize(z, dim=1)).pow(2)  # the N(N-1)/2 pairs i < j
    # float64 keeps exp(-t d^2) from underflowing for any t < ~180 (d^2 <= 4 on the unit sphere).
    return squared.mul(-t).exp().mean().log().item()


def view_retrieval(z1: Tensor, z2: Tensor) -> float:
    """Share of samples whose second view finds its first view: z1, z2 (N, D), row i of each
    the embedding of one augmented view of image i.

    For each i, the nearest neighbour of z2[i] among all rows of z1 by cosine similarity
    (L2-normalised inner product, exact FAISS IndexFlatIP search). A hit only when z1[i] is the
    single top result FAISS returns (k=1), so a tie with another row may count as a miss.
    Chance level is 1/N (``view_retrieval_chance``); 1.0 = every view finds its twin.
    """
    a, b = _pair(z1, z2, min_rows=2)

    # FAISS takes C-contiguous float32; normalising first turns inner product into cosine.
    def as_array(x: Tensor) -> np.ndarray:
        return np.ascontiguousarray(F.normalize(x, dim=1).numpy(), dtype=np.float32)

    index = faiss.IndexFlatIP(a.shape[1])
    index.add(as_array(a))
    _, nearest = index.search(as_array(b), 1)
    return float((nearest[:, 0] == np.arange(a.shape[0])).mean())


def view_retrieval_chance(n: int) -> float:
    """Expected ``view_retrieval`` of embeddings unrelated to the images: 1/n for n samples."""
    if n < 2:
        raise ValueError(f"view retrieval needs at least 2 samples, got {n}")
    return 1.0 / n


def _average_ranks(a: np.ndarray) -> np.ndarray:
    """1-based ranks of ``a`` (n,), tied values sharing the mean of the ranks they span."""
    _, inverse, counts = np.unique(a, return_inverse=True, return_counts=True)
    first = np.cumsum(counts) - counts  # 0-based rank of each distinct value's first copy
    return (first + (counts + 1) / 2)[inverse]


def _rank_correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation of the average ranks of x and y (n,), neither of them constant."""
    rx, ry = _average_ranks(x), _average_ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    rho = float(rx @ ry / math.sqrt((rx @ rx) * (ry @ ry)))
    return min(1.0, max(-1.0, rho))  # rounding can step just past +-1


def _pairs(x: list[float], y: list[float]) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if xs.ndim != 1 or xs.shape != ys.shape:
        raise ValueError(f"x and y must be equally long sequences, got shapes {xs.shape} and {ys.shape}")
    if len(xs) < 3:
        raise ValueError(f"Spearman correlation needs at least 3 pairs, got {len(xs)}")
    if not (np.isfinite(xs).all() and np.isfinite(ys).all()):
        raise ValueError("x and y must be finite (no NaN or inf)")
    if np.ptp(xs) == 0 or np.ptp(ys) == 0:
        raise ValueError("Spearman correlation is undefined when x or y is constant")
    return xs, ys


def spearman(x: list[float], y: list[float]) -> float:
    """Spearman rank correlation of paired values x, y (n,), n >= 3: Spearman 1904, "The proof
    and measurement of association between two things".

    Pearson correlation of the ranks, tied values taking their average rank; in [-1, 1].
    Raises ValueError rather than returning NaN when either side is constant.
    """
    return _rank_correlation(*_pairs(x, y))


def spearman_interval(
    x: list[float], y: list[float], resamples: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """(rho, low, high): ``spearman(x, y)`` and its percentile bootstrap interval (Efron &
    Tibshirani 1993, "An introduction to the bootstrap") at ``level``, x, y of shape (n,).

    Each resample draws n pairs with replacement (numpy Generator seeded with ``seed``);
    resamples where either side comes out constant have no correlation and are skipped. When
    fewer than half the resamples are usable, (rho, -1.0, 1.0) is returned: it means "no usable
    interval", the data are too few or too tied to bound rho. The bounds are clipped to [-1, 1].
    """
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    xs, ys = _pairs(x, y)
    rho = _rank_correlation(xs, ys)
    draws = np.random.default_rng(seed).integers(0, len(xs), size=(resamples, len(xs)))
    stats = [_rank_correlation(xs[i], ys[i]) for i in draws if np.ptp(xs[i]) > 0 and np.ptp(ys[i]) > 0]
    if 2 * len(stats) < resamples:
        return rho, -1.0, 1.0
    tail = (1.0 - level) / 2
    low, high = np.quantile(stats, [tail, 1.0 - tail])
    return rho, float(np.clip(low, -1.0, 1.0)), float(np.clip(high, -1.0, 1.0))
