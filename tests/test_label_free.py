"""Label-free embedding scores: each one measures what its paper says, on data whose answer is known."""

from __future__ import annotations

import math

import pytest
import torch

from evaluate.label_free import (
    alignment,
    rankme,
    spearman,
    spearman_interval,
    spectrum,
    uniformity,
    view_retrieval,
    view_retrieval_chance,
)


def gaussian(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def orthonormal(n, r, seed):
    q, _ = torch.linalg.qr(gaussian(n, r, seed=seed))
    return q  # (n, r), orthonormal columns


def with_singular_values(values, n=40, d=24):
    """z = U diag(values) V^T with orthonormal U (n, r), V (d, r): its spectrum is ``values``."""
    r = len(values)
    return orthonormal(n, r, seed=1) @ torch.diag(torch.tensor(values, dtype=torch.float64)) @ orthonormal(d, r, 2).T


# --- spectrum and RankMe -------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(5, 12), (12, 5), (7, 7)])
def test_spectrum_is_descending_with_min_n_d_entries(shape):
    s = spectrum(gaussian(*shape).float())
    assert s.shape == (min(shape),) and s.dtype == torch.float64
    assert (s[:-1] >= s[1:]).all() and (s >= 0).all()


def test_spectrum_recovers_the_singular_values_without_centring():
    s = spectrum(with_singular_values([5.0, 3.0, 1.0]))
    assert torch.allclose(s[:3], torch.tensor([5.0, 3.0, 1.0], dtype=torch.float64))
    assert s[3:].abs().max() < 1e-10
    # A constant matrix is rank one; centring would have made it zero.
    assert spectrum(torch.ones(6, 4))[0] == pytest.approx(math.sqrt(24))


@pytest.mark.parametrize("r", [1, 2, 5, 12])
def test_rankme_of_r_equal_singular_values_is_r(r):
    assert rankme(with_singular_values([2.0] * r)) == pytest.approx(r, abs=1e-3)


def test_rankme_of_a_rank_one_matrix_is_one():
    u, v = gaussian(30, 1, seed=3), gaussian(1, 10, seed=4)
    assert rankme(u @ v) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("shape", [(8, 3), (3, 8), (50, 16), (16, 16)])
def test_rankme_stays_within_one_and_min_n_d(shape):
    value = rankme(gaussian(*shape, seed=5))
    assert 1.0 <= value <= min(shape)
    assert rankme(with_singular_values([1.0] * 16, n=16, d=16)) <= 16  # the flattest spectrum


def test_rankme_of_an_unequal_rank_r_product_is_at_most_r():
    z = gaussian(40, 4, seed=6) @ gaussian(4, 20, seed=7)
    assert 1.5 < rankme(z) <= 4 + 1e-3


@pytest.mark.parametrize(
    "z, message",
    [
        (torch.ones(1, 5), "at least 2 rows"),
        (torch.tensor([[1.0, float("nan")], [0.0, 1.0]]), "non-finite"),
        (torch.tensor([[1.0, float("inf")], [0.0, 1.0]]), "non-finite"),
        (torch.zeros(4, 3), "all zeros"),
        (torch.ones(5), "matrix"),
    ],
)
def test_rankme_rejects_what_has_no_rank(z, message):
    with pytest.raises(ValueError, match=message):
        rankme(z)


# --- alignment and uniformity --------------------------------------------------------------


def test_alignment_is_zero_for_identical_views_and_grows_with_noise():
    z = gaussian(64, 16)
    assert alignment(z, z) == pytest.approx(0.0, abs=1e-12)
    small, large = alignment(z, z + 0.1 * gaussian(64, 16, seed=1)), alignment(z, z + gaussian(64, 16, seed=1))
    assert 0 < small < large <= 4


def test_alignment_ignores_the_scale_of_the_features():
    z1, z2 = gaussian(32, 8, seed=1), gaussian(32, 8, seed=2)
    assert alignment(3.0 * z1, 0.5 * z2) == pytest.approx(alignment(z1, z2), rel=1e-9)
    # Opposite unit vectors are 2 apart: 2^alpha.
    assert alignment(z1, -z1, alpha=1.0) == pytest.approx(2.0)


def test_alignment_rejects_mismatched_views():
    with pytest.raises(ValueError, match="same shape"):
        alignment(torch.ones(4, 3), torch.ones(5, 3))


def test_uniformity_is_lower_for_spread_points_than_for_clustered_ones():
    spread = gaussian(500, 16)
    clustered = torch.ones(500, 16) + 0.05 * gaussian(500, 16, seed=1)
    assert uniformity(spread) < uniformity(clustered) < 0
    assert uniformity(3.0 * spread) == pytest.approx(uniformity(spread))  # on the sphere


@pytest.mark.parametrize("t", [1.0, 2.0, 5.0])
def test_uniformity_of_a_collapsed_embedding_is_zero(t):
    assert uniformity(torch.ones(10, 4) * torch.tensor([1.0, -2.0, 0.5, 3.0]), t=t) == 0.0


def test_uniformity_subsample_is_seeded():
    z = gaussian(300, 8)
    assert uniformity(z, max_points=50, seed=1) == uniformity(z, max_points=50, seed=1)
    assert uniformity(z, max_points=50, seed=1) != uniformity(z, max_points=50, seed=2)
    assert uniformity(z, max_points=300) == uniformity(z)  # no subset when all rows fit


def test_uniformity_rejects_a_single_row():
    with pytest.raises(ValueError, match="at least 2 rows"):
        uniformity(torch.ones(1, 4))


# --- view retrieval ------------------------------------------------------------------------


def test_identical_views_all_find_their_twin():
    z = gaussian(100, 16).float()
    assert view_retrieval(z, z.clone()) == 1.0


def test_permuted_views_hit_only_at_the_fixed_points():
    z = gaussian(200, 16)  # distinct rows
    perm = torch.randperm(200, generator=torch.Generator().manual_seed(0))
    share = view_retrieval(z, z[perm])
    assert share == pytest.approx((perm == torch.arange(200)).double().mean().item())
    assert share <= 3 / 200


def test_slightly_noisy_views_mostly_find_their_twin():
    z = gaussian(200, 32)
    assert view_retrieval(z, z + 0.05 * gaussian(200, 32, seed=1)) >= 0.95
    assert view_retrieval(z, gaussian(200, 32, seed=2)) <= 0.05  # unrelated views: near chance


@pytest.mark.parametrize("n", [2, 10, 1000])
def test_view_retrieval_chance_is_one_over_n(n):
    assert view_retrieval_chance(n) == 1 / n


def test_view_retrieval_rejects_fewer_than_two_samples():
    with pytest.raises(ValueError, match="at least 2"):
        view_retrieval(torch.ones(1, 3), torch.ones(1, 3))
    with pytest.raises(ValueError, match="at least 2"):
        view_retrieval_chance(1)


# --- Spearman ------------------------------------------------------------------------------

MONOTONE_X = [0.1, 0.5, 1.0, 2.0, 3.5, 7.0]


def test_spearman_of_a_monotone_nonlinear_pair_is_one():
    assert spearman(MONOTONE_X, [math.exp(v) for v in MONOTONE_X]) == 1.0
    assert spearman(MONOTONE_X, [-(v**3) for v in MONOTONE_X]) == -1.0


def test_spearman_with_ties_matches_the_hand_computation():
    # x = [1, 2, 2, 3] -> ranks [1, 2.5, 2.5, 4]; y = [1, 3, 2, 4] -> ranks [1, 3, 2, 4]. Both rank
    # means are 2.5, so the centred ranks are [-1.5, 0, 0, 1.5] and [-1.5, 0.5, -0.5, 1.5]:
    # dot 2.25 + 2.25 = 4.5, squared norms 4.5 and 5, rho = 4.5 / sqrt(4.5 * 5) = sqrt(0.9).
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(math.sqrt(0.9), rel=1e-12)


@pytest.mark.parametrize(
    "x, y, message",
    [
        ([1, 1, 1], [1, 2, 3], "constant"),
        ([1, 2, 3], [4, 4, 4], "constant"),
        ([1, 2], [2, 1], "at least 3 pairs"),
        ([1, 2, 3], [1, 2], "equally long"),
        ([1, 2, float("nan")], [1, 2, 3], "finite"),
    ],
)
def test_spearman_rejects_what_has_no_correlation(x, y, message):
    with pytest.raises(ValueError, match=message):
        spearman(x, y)


def correlated_pairs(n=20):
    x = torch.arange(n, dtype=torch.float64)
    return x.tolist(), (x + 2.0 * gaussian(n, seed=3)).tolist()


def test_spearman_interval_holds_rho_and_excludes_zero_for_strong_correlation():
    x, y = correlated_pairs()
    rho, low, high = spearman_interval(x, y)
    assert rho == spearman(x, y) and rho > 0.8
    assert 0 < low <= rho <= high <= 1


def test_spearman_interval_is_deterministic_per_seed_and_widens_with_level():
    x, y = correlated_pairs()
    assert spearman_interval(x, y, seed=4) == spearman_interval(x, y, seed=4)
    _, low80, high80 = spearman_interval(x, y, level=0.8)
    _, low99, high99 = spearman_interval(x, y, level=0.99)
    assert low99 <= low80 < high80 <= high99


def test_spearman_interval_of_a_perfect_ranking_is_a_point():
    assert spearman_interval(MONOTONE_X, [math.exp(v) for v in MONOTONE_X], resamples=200) == (1.0, 1.0, 1.0)


def test_spearman_interval_without_usable_resamples_spans_everything():
    # With one resample of three pairs, x = [0, 0, 1] comes out constant about a third of the
    # time: those seeds have no usable interval and say so as (rho, -1, 1).
    x, y = [0.0, 0.0, 1.0], [0.0, 1.0, 2.0]
    results = [spearman_interval(x, y, resamples=1, seed=s) for s in range(20)]
    rho = spearman(x, y)
    assert (rho, -1.0, 1.0) in results
    assert any(low == high for _, low, high in results)  # the others: one usable resample, a point
