"""Precision, memory format and compile: what each setting resolves to on which device, that
config.yaml records it, that bf16 stays close to fp32, and that a compiled run resumes exactly."""

from __future__ import annotations

import pytest
import torch
import yaml
from accelerate import Accelerator
from safetensors.torch import load_file

import pretrain.core.precision as precision
from pretrain.core.config import ConfigError, load_config
from pretrain.core.data import load_splits
from pretrain.core.precision import resolve_memory_format, resolve_precision
from pretrain.core.typed_yaml import read_yaml
from pretrain.engine import build_model, run_pretraining
from pretrain.hardware import forget_other_precision, make_accelerator


@pytest.fixture
def cpu_support(monkeypatch):
    """cpu_support(kernels, native): pretend the CPU's oneDNN has (or lacks) bf16."""

    def set_support(kernels: bool, native: bool) -> None:
        monkeypatch.setattr(precision, "cpu_bf16_support", lambda: (kernels, native))

    return set_support


def test_auto_picks_bf16_only_where_the_cpu_computes_it_natively(cpu_support):
    cpu_support(True, True)
    assert resolve_precision("auto", "cpu") == "bf16"
    cpu_support(True, False)  # AVX512 without bf16 instructions: oneDNN emulates it, slower than fp32
    assert resolve_precision("auto", "cpu") == "fp32" and resolve_precision("bf16", "cpu") == "bf16"
    cpu_support(False, False)
    assert resolve_precision("auto", "cpu") == "fp32"


def test_a_precision_the_device_cannot_do_is_a_config_error_naming_both(cpu_support):
    cpu_support(False, False)
    with pytest.raises(ConfigError, match=r"train\.precision: bf16 is not available on this CPU.*supports fp32"):
        resolve_precision("bf16", "cpu")
    cpu_support(True, True)
    with pytest.raises(ConfigError, match=r"fp16 is not available on this CPU.*supports fp32, bf16"):
        resolve_precision("fp16", "cpu")
    with pytest.raises(ConfigError, match=r"eval\.precision: 'fp64' is unknown"):
        resolve_precision("fp64", "cpu", "eval.precision")


def test_cuda_resolution_asks_for_native_bf16(monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "a test GPU")
    for native, expected in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True, n=native: n)
        assert resolve_precision("auto", "cuda") == expected
        assert resolve_precision("fp16", "cuda") == "fp16"
    with pytest.raises(ConfigError, match="not available on the GPU a test GPU"):
        resolve_precision("bf16", "cuda")


def test_no_and_fp32_overrides_are_full_precision_and_recorded(tiny_cfg, tmp_path):
    assert load_config(None, ["train.precision=no"]).train.precision == "no"  # YAML 1.1 would read False
    assert read_yaml("a: no\nb: off\nc: true") == {"a": "no", "b": "off", "c": True}
    with pytest.raises(ConfigError, match=r"train\.compile: expected bool, got 'yes'"):
        load_config(None, ["train.compile=yes"])
    for value in ("no", "fp32"):
        cfg = tiny_cfg(run_dir=str(tmp_path / value), train={"precision": value, "halt_after_steps": 1})
        run_pretraining(cfg)
        saved = yaml.safe_load((cfg.run_path / "config.yaml").read_text())["train"]
        assert saved["precision"] == "fp32" and saved["memory_format"] == "channels_last"  # paper_conv: measured faster


def test_one_process_can_train_in_fp32_after_bf16(tiny_cfg):
    """Accelerate refuses a second precision in one process; the bench and notebooks need one."""
    forget_other_precision("bf16")  # an earlier test's state
    Accelerator(mixed_precision="bf16", cpu=True)  # what auto gives a run on a CPU with native bf16
    assert make_accelerator(tiny_cfg(train={"precision": "fp32"})).mixed_precision == "no"


def test_memory_format_follows_the_encoder_and_rejects_unknown_values():
    assert resolve_memory_format("auto", True) == "channels_last"
    assert resolve_memory_format("auto", False) == "contiguous"
    assert resolve_memory_format("contiguous", True) == "contiguous"
    with pytest.raises(ConfigError, match=r"train\.memory_format: 'nhwc' is unknown"):
        resolve_memory_format("nhwc", True)


def test_bf16_loss_is_close_to_fp32_on_a_fixed_batch(tiny_cfg):
    """Autocast keeps the loss fp32 and drops only the matrix products to bf16; it runs (slowly,
    emulated) on a CPU without bf16 kernels too, so the comparison runs everywhere."""
    cfg = tiny_cfg()
    splits = load_splits(cfg.data)
    model = build_model(cfg, splits)
    images = splits.pretrain_images[:32].float() / 255
    index = torch.arange(32)
    losses = {}
    for name in ("fp32", "bf16"):
        torch.manual_seed(0)
        with precision.autocast(name, "cpu"):
            loss, _, _ = model(images, index)
        assert loss.dtype == torch.float32
        losses[name] = loss.item()
    assert losses["bf16"] == pytest.approx(losses["fp32"], rel=2e-2)


def test_channels_last_gives_the_loss_and_gradients_of_contiguous(tiny_cfg):
    """The layout changes only the order of the sums: one step's loss and gradients agree to
    float rounding. (Whole runs are not compared: Adam's first steps move every weight by
    about lr whatever its gradient's size, so a gradient near zero that rounds to the other
    sign sends a weight lr the other way, and the runs drift apart by ~1e-3 in fp32.)"""
    cfg = tiny_cfg()
    splits = load_splits(cfg.data)
    images, index = splits.pretrain_images[:32].float() / 255, torch.arange(32)
    found = {}
    for fmt in ("contiguous", "channels_last"):
        model = build_model(cfg, splits)  # the same initial weights: build_model seeds them
        model.to(memory_format=torch.channels_last if fmt == "channels_last" else torch.contiguous_format)
        torch.manual_seed(1)
        loss, _, _ = model(precision.to_memory_format(images, fmt), index)
        loss.backward()
        found[fmt] = loss.item(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    (loss_a, grads_a), (loss_b, grads_b) = found["contiguous"], found["channels_last"]
    assert loss_b == pytest.approx(loss_a, rel=1e-5) and grads_a.keys() == grads_b.keys()
    for name, grad in grads_a.items():
        assert torch.allclose(grads_b[name], grad, rtol=1e-4, atol=1e-5 * grad.abs().max().item()), name


def test_compiled_run_resumes_exactly(tiny_cfg, tmp_path):
    compiled = {"compile": True, "epochs": 0.5}
    straight = tiny_cfg(run_dir=str(tmp_path / "straight"), train=compiled)
    run_pretraining(straight)
    halted = tiny_cfg(run_dir=str(tmp_path / "halted"), train={**compiled, "halt_after_steps": 3})
    run_pretraining(halted)
    halted.train.halt_after_steps = 0
    run_pretraining(halted, resume=True)
    a = load_file(straight.run_path / "encoder.safetensors")
    b = load_file(halted.run_path / "encoder.safetensors")
    assert a.keys() == b.keys() and not any(k.startswith("_orig_mod") for k in a)
    for key in a:
        assert torch.equal(a[key], b[key]), key
