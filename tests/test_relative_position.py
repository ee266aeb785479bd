"""Relative crop position: labels match true offsets; the pretext task is learnable."""

import pytest
import torch

from pretrain.core.config import ConfigError
from pretrain.core.datasets.synthetic import synthetic_images
from pretrain.core.encoders import build_encoder
from pretrain.core.images import to_unit_float
from pretrain.core.tasks import TaskContext, build_task
from pretrain.model import PretrainModel
from ssl_tasks.relative_position import NEIGHBOUR_OFFSETS, RelativePositionConfig, sample_pairs


def coordinate_images(batch: int, size: int) -> torch.Tensor:
    """Channel 0 holds each pixel's row, channel 1 its column: a crop knows where it came from."""
    rows = torch.arange(size, dtype=torch.float32).view(1, 1, size, 1).expand(batch, 1, size, size)
    cols = torch.arange(size, dtype=torch.float32).view(1, 1, 1, size).expand(batch, 1, size, size)
    return torch.cat([rows, cols], dim=1)


@pytest.mark.parametrize("crop, gap, jitter", [(7, 2, 1), (5, 3, 2), (8, 2, 0)])
def test_every_label_matches_the_true_offset(crop, gap, jitter):
    torch.manual_seed(0)
    images = coordinate_images(2000, 28)
    centre, neighbour, labels = sample_pairs(images, crop, gap, jitter)
    assert centre.shape == neighbour.shape == (2000, 2, crop, crop)
    # crops are contiguous windows: coordinates rise by one per pixel
    assert torch.all(centre[:, 0, 1:, 0] - centre[:, 0, :-1, 0] == 1)
    delta = neighbour[:, :, 0, 0] - centre[:, :, 0, 0]  # (row, col) shift of the top-left corners
    expected = NEIGHBOUR_OFFSETS[labels].float()
    moved = expected != 0
    assert torch.equal(torch.sign(delta)[moved], expected[moved])
    assert torch.all(delta.abs()[moved] >= crop + gap - 2 * jitter)  # never touching: the gap holds
    assert torch.all(delta.abs()[~moved] <= 2 * jitter)
    assert set(labels.tolist()) == set(range(8))


def test_grid_that_does_not_fit_is_an_error():
    with pytest.raises(ConfigError, match="exceed"):
        sample_pairs(torch.zeros(2, 1, 28, 28), 9, 2, 1)


def test_pretext_accuracy_well_above_chance_after_short_training():

    torch.manual_seed(0)
    images = to_unit_float(synthetic_images(256, seed=0).x)
    shape = (1, 28, 28)
    encoder = build_encoder("paper_conv", 16, shape, 0.3, 0.3)
    task = build_task(RelativePositionConfig(name="relative_position"), encoder, TaskContext(shape, 256))
    model = PretrainModel(encoder, [task])
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    for _step in range(150):
        index = torch.randint(0, 256, (64,))
        loss, logs, _ = model(images[index], index)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        accuracy = torch.stack(
            [model(images, torch.arange(256))[1]["relative_position/pretext_accuracy"] for _ in range(4)]
        ).mean()
    assert accuracy > 0.3  # chance is 1/8
