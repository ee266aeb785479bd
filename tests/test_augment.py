"""On-device augmentation: deterministic per seed, shape-correct, each transform does what it says."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from pretrain.core.augment import AugmentConfig, augment, gaussian_blur
from pretrain.core.typed_yaml import ConfigError
from pretrain.engine import run_pretraining

STRONG = AugmentConfig(crop_scale=[0.2, 1.0], flip=0.5, translate=2, brightness=0.4, contrast=0.4, blur=0.5)


def images(n=6, c=3, size=16):
    return torch.rand(n, c, size, size, generator=torch.Generator().manual_seed(0))


def test_same_seed_same_views_and_shapes():
    x = images()
    torch.manual_seed(5)
    a = augment(x, STRONG)
    torch.manual_seed(5)
    b = augment(x, STRONG)
    torch.manual_seed(6)
    c = augment(x, STRONG)
    assert a.shape == x.shape and a.dtype == x.dtype
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= 0 and a.max() <= 1


def test_defaults_leave_images_alone():
    x = images()
    assert not AugmentConfig().enabled
    assert augment(x, AugmentConfig()) is x


def test_flip_mirrors_exactly():
    x = images()
    out = augment(x, AugmentConfig(flip=1.0))
    assert torch.allclose(out, x.flip(-1), atol=1e-6)


def test_brightness_and_contrast_are_per_image_scalars():
    x = torch.full((4, 1, 8, 8), 0.5)
    torch.manual_seed(0)
    out = augment(x, AugmentConfig(brightness=0.2))
    shift = out - x
    assert torch.allclose(shift, shift[:, :, :1, :1].expand_as(shift)) and shift.abs().max() <= 0.2 + 1e-6
    assert len(shift.flatten(1)[:, 0].unique()) == 4  # each image its own draw
    flat = augment(x, AugmentConfig(contrast=0.5))
    assert torch.allclose(flat, x)  # a flat image has no contrast to change


def test_crop_zooms_into_the_image():
    x = torch.zeros(1, 1, 20, 20)
    x[..., 8:12, 8:12] = 1.0  # a small bright centre
    torch.manual_seed(0)
    out = augment(x.expand(64, -1, -1, -1), AugmentConfig(crop_scale=[0.1, 0.1], crop_ratio=[1.0, 1.0]))
    assert out.sum((1, 2, 3)).max() > 4 * x.sum()  # where the crop holds the centre, it is magnified


def test_blur_keeps_a_flat_image_and_smooths_an_edge():
    flat = torch.full((2, 3, 12, 12), 0.3)
    assert torch.allclose(gaussian_blur(flat, torch.tensor([1.0, 2.0])), flat, atol=1e-6)
    edge = torch.zeros(2, 1, 12, 12)
    edge[..., 6:] = 1.0
    blurred = gaussian_blur(edge, torch.tensor([0.1, 2.0]))
    assert torch.allclose(blurred[0], edge[0], atol=1e-3)  # a tiny sigma changes nothing
    assert 0.05 < blurred[1, 0, 6, 5] < 0.5  # a wide one spreads the edge


def test_bad_ranges_are_config_errors():
    with pytest.raises(ConfigError, match="augment.crop_scale"):
        AugmentConfig(crop_scale=[0.5, 1.5])
    with pytest.raises(ConfigError, match="augment.blur_sigma"):
        AugmentConfig(blur_sigma=[2.0, 1.0])


def test_resume_with_augmentation_equals_an_uninterrupted_run(tiny_cfg, tmp_path):
    task = {"name": "autoencoder", "augment": {"crop_scale": [0.5, 1.0], "flip": 0.5, "brightness": 0.2}}
    straight = tiny_cfg(run_dir=str(tmp_path / "a"), tasks=[task])
    run_pretraining(straight)
    halted = tiny_cfg(run_dir=str(tmp_path / "b"), tasks=[task], train={"halt_after_steps": 6})
    run_pretraining(halted)
    halted.train.halt_after_steps = 0
    run_pretraining(halted, resume=True)
    a, b = load_file(straight.run_path / "encoder.safetensors"), load_file(halted.run_path / "encoder.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
