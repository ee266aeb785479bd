import pytest
import torch

from evaluate.layers import encode_layers, probe_layers
from evaluate.outliers import auroc, knn_distance_scores
from evaluate.solvers.neighbour_vote import approximate_search_recall
from pretrain.core.encoders import build_encoder


def brute_force_auroc(scores, positive):
    pos, neg = scores[positive], scores[~positive]
    wins = (pos[:, None] > neg[None, :]).float() + 0.5 * (pos[:, None] == neg[None, :]).float()
    return wins.mean().item()


def test_auroc_matches_pairwise_definition_with_ties():
    gen = torch.Generator().manual_seed(0)
    scores = torch.randint(0, 6, (300,), generator=gen).float()  # many ties
    positive = torch.rand(300, generator=gen) < 0.3
    assert auroc(scores, positive) == pytest.approx(brute_force_auroc(scores, positive))
    assert auroc(torch.arange(10.0), torch.arange(10) >= 5) == 1.0
    assert auroc(-torch.arange(10.0), torch.arange(10) >= 5) == 0.0


def test_knn_distance_flags_far_points():
    gen = torch.Generator().manual_seed(0)
    bank = torch.randn(200, 8, generator=gen) + torch.tensor([5.0] + [0.0] * 7)
    near = torch.randn(50, 8, generator=gen) + torch.tensor([5.0] + [0.0] * 7)
    far = torch.randn(50, 8, generator=gen) - torch.tensor([5.0] + [0.0] * 7)
    scores = knn_distance_scores(bank, torch.cat([near, far]), k=5)
    assert auroc(scores, torch.arange(100) >= 50) > 0.99


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_index_recall_is_reported(kind):
    gen = torch.Generator().manual_seed(0)
    bank, queries = torch.randn(3000, 16, generator=gen), torch.randn(100, 16, generator=gen)
    result = approximate_search_recall(bank, queries, 10, kind)
    assert 0.5 < result["recall_vs_exact"] <= 1.0 and result["index"] == kind


def test_layer_features_of_conv_and_timm_encoders():
    images = torch.randint(0, 256, (6, 1, 28, 28), dtype=torch.uint8)
    conv = build_encoder("paper_conv", 8, (1, 28, 28), 0.3, 0.3)
    names = probe_layers(conv)
    assert names == ["backbone.1", "backbone.3"]
    feats = encode_layers(conv, images, names, pool=2)
    assert feats["backbone.1"].shape == (6, 64 * 4) and feats["backbone.3"].shape == (6, 128 * 4)
    resnet = build_encoder("resnet18", 8, (1, 28, 28), 0.3, 0.3)
    names = probe_layers(resnet)
    assert len(names) >= 4
    assert all(f.shape[0] == 6 for f in encode_layers(resnet, images, names).values())
