import pytest
import torch

from pretrain.core.config import ConfigError
from ssl_tasks.corruptions import (
    CorruptionConfig,
    block_masking,
    corrupt,
    gaussian_noise,
    masking_noise,
    salt_and_pepper,
)


@pytest.fixture
def images():
    torch.manual_seed(0)
    return 0.25 + 0.5 * torch.rand(64, 2, 28, 28)  # strictly inside (0, 1)


def test_gaussian_noise_has_the_asked_spread(images):
    noisy = gaussian_noise(images, 0.05)
    assert (noisy - images).std().item() == pytest.approx(0.05, rel=0.05)
    assert noisy.min() >= 0 and noisy.max() <= 1


def test_masking_zeroes_the_fraction_in_every_channel(images):
    out = masking_noise(images, 0.3)
    zero = out == 0
    assert zero.float().mean().item() == pytest.approx(0.3, abs=0.01)
    assert torch.equal(zero[:, 0], zero[:, 1])
    assert torch.equal(out[~zero], images[~zero])


def test_salt_and_pepper_sets_extremes(images):
    out = salt_and_pepper(images, 0.2)
    changed = out != images
    assert changed.float().mean().item() == pytest.approx(0.2, abs=0.01)
    assert set(out[changed].unique().tolist()) <= {0.0, 1.0}


def test_block_masking_zeroes_squares(images):
    out = block_masking(images, 6, 1)
    for zero in out[:, 0] == 0:
        rows, cols = zero.nonzero(as_tuple=True)
        assert len(rows) == 36 and rows.max() - rows.min() == 5 and cols.max() - cols.min() == 5


def test_corrupt_dispatch_and_unknown(images):
    assert corrupt(images, CorruptionConfig(kind="none")) is images
    for kind in ("gaussian", "masking", "salt_pepper", "block"):
        out = corrupt(images, CorruptionConfig(kind=kind))
        assert out.shape == images.shape and not torch.equal(out, images)
    with pytest.raises(ConfigError, match="unknown"):
        corrupt(images, CorruptionConfig(kind="blur"))
