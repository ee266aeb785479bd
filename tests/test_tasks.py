"""Behaviour every registered task must show, parametrized over the task registry."""

import pytest
import torch
from safetensors.torch import load_file

from pretrain.core.checkpoint import load_checkpoint
from pretrain.core.datasets.synthetic import synthetic_images
from pretrain.core.encoders import build_encoder
from pretrain.core.images import to_unit_float
from pretrain.core.samples import ImageSet
from pretrain.core.tasks import TASKS, Batch, TaskContext, build_task, register_task
from pretrain.engine import run_pretraining
from pretrain.model import PretrainModel
from ssl_tasks.autoencoder import Autoencoder, AutoencoderConfig, identity_trap_warning
from ssl_tasks.losses import reconstruction_loss

SHAPE = (1, 28, 28)


def make(task_name: str, seed: int = 0, **options):
    torch.manual_seed(seed)
    encoder = build_encoder("paper_conv", 8, SHAPE, 0.3, 0.3)
    cfg = TASKS[task_name].Config(name=task_name, **options)
    task = build_task(cfg, encoder, TaskContext(SHAPE, num_samples=64))
    return PretrainModel(encoder, [task])


def batch(seed=0, n=16):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, *SHAPE, generator=gen), torch.arange(n)


@pytest.mark.parametrize("name", TASKS.names())
def test_loss_finite_and_gradients_reach_encoder(name):
    model = make(name)
    loss, logs, _ = model(*batch())
    assert torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in model.encoder.parameters()]
    assert all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0
    assert f"{name}/loss" in logs


@pytest.mark.parametrize("name", TASKS.names())
def test_same_seed_same_losses(name):
    def three_losses():
        model = make(name, seed=5)
        opt = torch.optim.Adam(model.parameters(), 1e-3)
        out = []
        for step in range(3):
            torch.manual_seed(100 + step)
            loss = model(*batch(step))[0]
            opt.zero_grad()
            loss.backward()
            opt.step()
            out.append(loss.item())
        return out

    assert three_losses() == three_losses()


def test_duplicate_task_name_raises():
    with pytest.raises(ValueError, match="already registered"):
        register_task("autoencoder")(Autoencoder)


@pytest.mark.parametrize("decoder, lr", [("mirror", 3e-3), ("linear", 1e-2)])
def test_autoencoder_beats_the_mean_image_on_tiny_data(decoder, lr):
    """The code must carry information: after training, reconstruction error is well below
    that of the best input-independent guess, the per-pixel mean image."""
    data = to_unit_float(synthetic_images(64, seed=0).x)
    mean_image = data.mean(0, keepdim=True).clamp(1e-4, 1 - 1e-4)
    floor = reconstruction_loss(torch.logit(mean_image).expand_as(data), data, "mse").item()
    model = make("autoencoder", decoder=decoder, loss="mse")
    opt = torch.optim.Adam(model.parameters(), lr)
    for _ in range(200):
        loss = model(data, torch.arange(64))[0]
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.7 * floor


def test_no_skip_path_reconstruction_depends_on_code_only():
    """Hold the code fixed and change the input: the reconstruction must not move."""
    model = make("autoencoder")
    task = model.tasks[0]
    fixed = torch.randn(4, 8)

    class FixedCode(torch.nn.Module):
        code_dim = 8

        def forward(self, images):
            return fixed + 0 * images.sum()  # ignores the pixels

    a, b = batch(1, 4)[0], batch(2, 4)[0]
    out_a = task(FixedCode(), Batch(a, torch.arange(4))).images[1]
    out_b = task(FixedCode(), Batch(b, torch.arange(4))).images[1]
    assert not torch.equal(a, b)
    assert torch.equal(out_a, out_b)


def test_identity_trap_warning():
    assert identity_trap_warning(20, SHAPE) == []
    assert "identity" in identity_trap_warning(784, SHAPE)[0]
    encoder = build_encoder("paper_conv", 800, SHAPE, 0.3, 0.3)
    task = Autoencoder(AutoencoderConfig(name="autoencoder", decoder="linear"), encoder, TaskContext(SHAPE, 8))
    assert any("WARNING" in line for line in task.describe(encoder))


@pytest.mark.parametrize("name", TASKS.names())
def test_two_steps_through_the_real_loop(name, tiny_cfg):
    cfg = tiny_cfg(tasks=[{"name": name}], train={"epochs": 0.1, "log_every": 1, "ckpt_every": 1})
    run_dir = run_pretraining(cfg)
    assert load_checkpoint(cfg.run)["step"] == 2
    weights = load_file(run_dir / "encoder.safetensors")
    assert all(torch.isfinite(w).all() for w in weights.values())


DECODING_TASKS = [name for name in TASKS.names() if make(name).tasks[0].decode(torch.zeros(1, 8)) is not None]


def test_the_built_in_decoders_are_found():
    assert {"autoencoder", "denoising", "decoder_only"} <= set(DECODING_TASKS)
    assert "relative_position" not in DECODING_TASKS


@pytest.mark.parametrize("name", DECODING_TASKS)
def test_no_skip_path_in_any_decoder_task(name):
    """For every task that decodes: the decoder reads nothing but the code, so with the code
    held fixed the input cannot move the output."""
    task = make(name).tasks[0]
    fixed = torch.randn(4, 8)
    outputs = [task.decode(fixed + 0 * batch(seed, 4)[0].sum()) for seed in (1, 2)]
    assert outputs[0].shape == (4, *SHAPE) and 0 <= outputs[0].min() and outputs[0].max() <= 1
    assert torch.equal(outputs[0], outputs[1])


@pytest.mark.parametrize("name", TASKS.names())
def test_capabilities_are_consistent(name):
    """A task decodes exactly when it says which codes its decoder reads; per-image scores and
    extra feature sources, where offered, cover every image asked about."""
    model = make(name).eval()
    task, encoder = model.tasks[0], model.encoder
    images = (torch.rand(6, *SHAPE) * 255).to(torch.uint8)
    with torch.no_grad():  # evaluation asks under no_grad; a task that optimises (code inference) must cope
        codes = task.decoder_codes(encoder, images, "cpu")
        scores = task.anomaly_scores(encoder, images, "cpu")
    assert (codes is None) == (name not in DECODING_TASKS)
    if codes is not None:
        assert codes.shape == (6, 8) and task.decode(codes).shape == (6, *SHAPE)
    for score, values in scores.items():
        assert values.shape == (6,) and torch.isfinite(values).all(), score
    for source in task.feature_sources(encoder, "cpu"):
        assert source.extract("val", ImageSet(images, torch.zeros(6).long(), torch.arange(6))).shape == (6, 8)


def test_decoder_only_gradients_reach_codes_and_decoder():
    model = make("decoder_only")
    task = model.tasks[0]
    with torch.no_grad():  # codes start at zero, where the first layer's weights get no gradient yet
        task.codes.normal_()
    images, index = batch()
    model(images, index)[0].backward()
    rows_with_grad = (task.codes.grad.abs().sum(1) > 0).nonzero().flatten()
    assert rows_with_grad.tolist() == index.tolist()  # exactly the batch's own codes move
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in task.decoder.parameters())


def test_multitask_loss_is_the_weighted_sum_logged_per_task():
    torch.manual_seed(0)
    encoder = build_encoder("paper_conv", 8, SHAPE, 0.3, 0.3)
    ctx = TaskContext(SHAPE, num_samples=64)
    tasks = [
        build_task(TASKS["autoencoder"].Config(name="autoencoder", weight=1.0), encoder, ctx),
        build_task(TASKS["relative_position"].Config(name="relative_position", weight=0.25), encoder, ctx),
    ]
    loss, logs, _ = PretrainModel(encoder, tasks)(*batch())
    expected = logs["autoencoder/loss"] + 0.25 * logs["relative_position/loss"]
    assert torch.allclose(loss, expected)
    assert "relative_position/pretext_accuracy" in logs and "autoencoder/recon_loss" in logs
