"""The prototype protocol: nearest class mean on L2-normalised features."""

import torch

from evaluate.protocol_registry import PROTOCOLS
from evaluate.protocols.prototype import PrototypeResult, class_means
from evaluate.settings import EvalConfig
from pretrain.core.samples import Features


def features(x, y) -> Features:
    return Features(torch.tensor(x, dtype=torch.float32), torch.tensor(y), torch.arange(len(y)))


def test_class_means_average_the_normalised_rows():
    means, present = class_means(torch.tensor([[2.0, 0.0], [0.0, 5.0], [0.0, 1.0]]), torch.tensor([0, 1, 1]), 3)
    assert torch.allclose(means[:2], torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64))
    assert present.tolist() == [True, True, False]


def test_test_images_take_the_most_similar_class_mean_whatever_their_norm():
    train = features([[1, 0], [10, 1], [0, 1], [1, 10]], [0, 0, 1, 1])
    test = features([[100, 1], [0.01, 0.02], [1, 1.1], [3, 0]], [0, 1, 1, 0])
    result = PROTOCOLS["prototype"].fit(train, train, test, EvalConfig(), 3, 0)
    assert isinstance(result, PrototypeResult)
    assert result.test_predictions.tolist() == [0, 1, 1, 0] and result.accuracy == 1.0
    assert result.prototypes == 2 and result.val_size == 0  # class 2 has no labels: never predicted
