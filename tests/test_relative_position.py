"""Relative crop position: labels match true offsets; the pretext task is learnable."""

import pytest
import torch

from pretrain.core.config import ConfigError, config_from_dict
from pretrain.core.datasets.synthetic import synthetic_images
from pretrain.core.encoders import build_encoder
from pretrain.core.images import to_unit_float
from pretrain.core.tasks import Batch, TaskContext, build_task
from pretrain.model import PretrainModel
from ssl_tasks.relative_position import NEIGHBOUR_OFFSETS, RelativePositionConfig, grid_defaults, sample_pairs


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


def test_a_globally_pooling_encoder_sees_crops_at_their_own_size():
    cfg = config_from_dict({"tasks": [{"name": "relative_position"}]}).tasks[0]
    seen = []
    for name, options in (("resnet_small", {"width": 8, "blocks": [1, 1]}), ("paper_conv", {})):
        encoder = build_encoder(name, 8, (3, 32, 32), 0.3, 0.3, **options)
        handle = encoder.backbone.register_forward_pre_hook(lambda m, inputs: seen.append(inputs[0].shape[-1]))
        task = build_task(cfg, encoder, TaskContext((3, 32, 32), 10))
        task(encoder, Batch(torch.rand(4, 3, 32, 32), torch.arange(4)))
        handle.remove()
    assert seen == [8, 32]  # native 8 px crops (32 px default grid), upsampled for paper_conv


@pytest.mark.parametrize(("size", "expected"), [(28, (7, 2, 1)), (32, (8, 2, 1)), (96, (25, 7, 3))])
def test_grid_defaults_follow_the_image_size(size, expected):
    crop, gap, jitter = grid_defaults(size, 0, -1, -1)
    assert (crop, gap, jitter) == expected and 3 * crop + 2 * gap + 2 * jitter <= size
    centre, neighbour, labels = sample_pairs(coordinate_images(64, size), crop, gap, jitter)
    assert centre.shape[-1] == crop
    delta = neighbour[:, :, 0, 0] - centre[:, :, 0, 0]  # (row, col) corner offsets from the coordinates
    expected = NEIGHBOUR_OFFSETS[labels].float()
    moved = expected != 0
    assert torch.equal(torch.sign(delta)[moved], expected[moved])  # every label is the true direction
