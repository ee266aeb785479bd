import numpy as np
import torch

from evaluate.baselines import pca_source
from pretrain.core.datasets.synthetic import synthetic_images
from pretrain.core.samples import ImageSet


def test_pca_baseline_equals_numpy_svd_projection():
    train, test = synthetic_images(300, seed=0), synthetic_images(50, seed=1)
    source = pca_source(train.x, components=5)
    got = source.extract("test", test).numpy()

    x = train.x.flatten(1).double().numpy() / 255
    mean = x.mean(0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    expected = (test.x.flatten(1).double().numpy() / 255 - mean) @ vt[:5].T
    # principal directions are defined up to sign: compare each component up to its sign
    for j in range(5):
        sign = np.sign(np.dot(got[:, j], expected[:, j]))
        assert np.allclose(got[:, j], sign * expected[:, j], atol=1e-4)


def test_pca_is_fitted_on_training_images_only():
    train = synthetic_images(300, seed=0)
    other = synthetic_images(300, seed=5)
    probe = ImageSet(other.x[:10], other.y[:10], other.index[:10])
    a = pca_source(train.x, 4).extract("test", probe)
    b = pca_source(torch.cat([train.x, other.x]), 4).extract("test", probe)
    assert not torch.allclose(a, b)  # what it is fitted on matters, so it must be the training split
