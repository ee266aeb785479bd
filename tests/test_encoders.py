import pytest
import torch

from pretrain.core.config import ConfigError
from pretrain.core.encoders import build_encoder, encode_images
from pretrain.core.run_folder import Run
from pretrain.core.saved_encoder import export_encoder, load_encoder


@pytest.mark.parametrize(
    "name, shape",
    [
        ("paper_conv", (1, 28, 28)),
        ("mlp", (1, 28, 28)),
        ("resnet18", (1, 28, 28)),
        ("paper_conv", (3, 32, 32)),
        ("paper_conv", (3, 96, 96)),
        ("vit_tiny_patch16_224", (1, 28, 28)),  # timm is told the size: no AssertionError at 28 px
        ("vit_tiny_patch16_224", (3, 64, 64)),
    ],
)
def test_encoder_maps_images_to_codes(name, shape):
    encoder = build_encoder(name, code_dim=12, image_shape=shape, mean=0.3, std=0.3)
    codes = encoder(torch.rand(4, *shape))
    assert codes.shape == (4, 12)
    assert encoder.code_dim == 12
    assert torch.isfinite(codes).all()


def test_unknown_encoder_name_is_an_error():
    with pytest.raises(ConfigError, match="neither a local encoder"):
        build_encoder("no_such_net_xyz", 8, (1, 28, 28), 0.0, 1.0)


def test_export_roundtrip_reproduces_codes(tmp_path):
    torch.manual_seed(0)
    encoder = build_encoder("paper_conv", 6, (1, 28, 28), 0.28, 0.35)
    export_encoder(Run.at(tmp_path), encoder, torch.nn.Linear(2, 2), {"steps": 1})
    loaded = load_encoder(tmp_path)
    images = torch.randint(0, 256, (5, 1, 28, 28), dtype=torch.uint8)
    assert torch.allclose(encode_images(encoder, images), encode_images(loaded, images))
    assert loaded.spec == encoder.spec


def test_load_encoder_missing_weights_is_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="finished"):
        load_encoder(tmp_path)


@pytest.mark.parametrize(("name", "side"), [("paper_conv", 2), ("vit_tiny_patch16_224", 8)])
def test_a_size_a_model_cannot_take_is_a_config_error(name, side):
    with pytest.raises(ConfigError, match=rf"encoder.name={name} cannot take 3x{side}x{side} images"):
        build_encoder(name, 8, (3, side, side), 0.5, 0.2)


def test_per_channel_statistics_normalise_each_channel():
    encoder = build_encoder("linear", 2, (3, 4, 4), mean=[0.1, 0.5, 0.9], std=[0.1, 0.2, 0.3])
    images = torch.tensor([0.1, 0.5, 0.9]).view(1, 3, 1, 1).expand(1, 3, 4, 4)
    seen = {}
    encoder.backbone.register_forward_hook(lambda m, inputs, out: seen.update(x=inputs[0]))
    encoder(images)
    assert torch.allclose(seen["x"], torch.zeros(1, 3, 4, 4), atol=1e-6)  # each channel at its own mean


def test_resnet_small_takes_any_size_and_exposes_pooled_features():
    encoder = build_encoder("resnet_small", 10, (3, 32, 32), [0.5] * 3, [0.2] * 3, width=8, blocks=[1, 2])
    assert encoder.takes_any_size and encoder.feature_dim == 16
    for side in (7, 32, 96):
        x = torch.rand(2, 3, side, side)
        assert encoder.forward_pooled(x).shape == (2, 16) and encoder(x).shape == (2, 10)


def test_small_stem_keeps_the_resolution_of_a_timm_resnet():
    plain = build_encoder("resnet18", 8, (1, 28, 28), 0.3, 0.3)
    small = build_encoder("resnet18", 8, (1, 28, 28), 0.3, 0.3, small_stem=True)
    sizes = {}
    for name, encoder in (("plain", plain), ("small", small)):
        encoder.backbone.layer1.register_forward_hook(lambda m, i, out, n=name: sizes.update({n: out.shape[-1]}))
        encoder.eval()(torch.rand(1, 1, 28, 28))
    assert sizes == {"plain": 7, "small": 28}
    with pytest.raises(ConfigError, match="small_stem applies to timm ResNets"):
        build_encoder("vit_tiny_patch16_224", 8, (1, 32, 32), 0.3, 0.3, small_stem=True)


def test_the_spec_holds_the_backbone_s_own_settings_and_reads_older_encoder_json():
    from pretrain.core.encoders import EncoderSpec

    shared = {"code_dim": 8, "in_chans": 1, "image_size": 28, "mean": 0.3, "std": 0.3}
    older = {"name": "paper_conv", **shared, "width": 64, "blocks": [1, 1, 1], "small_stem": False, "steps": 9}
    assert EncoderSpec.from_dict(older).options == {}  # another backbone's keys, written by older runs: left out
    small = EncoderSpec.from_dict({**older, "name": "resnet_small", "width": 8, "blocks": [1, 2]})
    assert small.settings().width == 8 and small.to_dict()["blocks"] == [1, 2] and "options" not in small.to_dict()
    encoder = build_encoder("resnet_small", 8, (1, 28, 28), 0.3, 0.3, width=8, blocks=[1, 2])
    assert EncoderSpec.from_dict(encoder.spec.to_dict()) == encoder.spec  # encoder.json round-trips
