"""Numeric precision and memory format: what the device can do, what a setting resolves to.

    resolve_precision("auto", device)   -> "bf16" where the device has fast bf16 math, else "fp32"
    resolve_precision("bf16", cpu)      -> ConfigError on a CPU whose oneDNN has no bf16 kernels
    autocast(precision, device)         -> the torch.autocast context for that precision

bf16 runs under autocast only: parameters, optimizer state, BatchNorm running statistics and
every loss stay fp32 (tasks cast losses with ``.float()``), so only the matrix products and
convolutions drop precision. On a CPU, PyTorch reaches bf16 through oneDNN; without native
bf16 instructions (AVX512-BF16 or AMX on x86, the BF16 extension on Arm) oneDNN emulates it,
which is slower than fp32 (measured: BENCHMARKS.md, speed), so ``auto`` asks for the native
instructions and an explicit ``bf16`` only for oneDNN's support.
"""

from __future__ import annotations

import platform
from contextlib import AbstractContextManager

import torch

from pretrain.core.typed_yaml import ConfigError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
ALIASES = {"no": "fp32"}  # Accelerate's name for full precision, kept working as a value
AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
MEMORY_FORMATS = ("auto", "channels_last", "contiguous")


def cpu_bf16_support() -> tuple[bool, bool]:
    """(oneDNN has bf16 kernels on this CPU, the CPU computes bf16 natively). The first is
    PyTorch's own query (torch.ops.mkldnn._is_mkldnn_bf16_supported, which on x86 only asks
    for AVX512 core); the second adds the instructions that make bf16 faster than fp32."""
    kernels = bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    if platform.machine().lower() in ("x86_64", "amd64", "i386", "i686"):
        native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    else:
        native = kernels  # Arm: oneDNN reports bf16 only where the BF16 extension exists
    return kernels, kernels and native


def supported_precisions(device: torch.device | str) -> tuple[str, ...]:
    """The explicit precisions ``device`` can train and infer in."""
    device = torch.device(device)
    if device.type == "cuda":
        bf16 = torch.cuda.is_bf16_supported(including_emulation=False)
        return ("fp32", "fp16", "bf16") if bf16 else ("fp32", "fp16")
    kernels, _ = cpu_bf16_support()
    return ("fp32", "bf16") if kernels else ("fp32",)  # fp16 autocast on a CPU: no fast kernels anywhere


def fast_bf16(device: torch.device | str) -> bool:
    """True where bf16 autocast is faster than fp32: CUDA with native bf16, a CPU with native bf16."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return device.type == "cpu" and cpu_bf16_support()[1]


def describe_device(device: torch.device | str) -> str:
    device = torch.device(device)
    if device.type == "cuda":
        return f"the GPU {torch.cuda.get_device_name(device)}"
    kernels, native = cpu_bf16_support()
    bf16 = "native bf16" if native else ("bf16 by emulation" if kernels else "no bf16 kernels in oneDNN")
    return f"this CPU ({platform.processor() or platform.machine()}, {bf16})"


def resolve_precision(setting: str, device: torch.device | str, key: str = "train.precision") -> str:
    """``auto | fp32 | bf16 | fp16`` (or ``no`` = fp32) -> the precision used on ``device``."""
    setting = ALIASES.get(setting, setting)
    if setting not in PRECISIONS:
        raise ConfigError(f"{key}: {setting!r} is unknown; choose from {', '.join(PRECISIONS)} (or no = fp32)")
    if setting == "auto":
        return "bf16" if fast_bf16(device) else "fp32"
    supported = supported_precisions(device)
    if setting not in supported:
        raise ConfigError(
            f"{key}: {setting} is not available on {describe_device(device)}; it supports {', '.join(supported)} "
            f"(auto picks the fastest)"
        )
    return setting


def autocast(precision: str, device: torch.device | str) -> AbstractContextManager:
    """torch.autocast for a resolved precision (fp32: a disabled context)."""
    device = torch.device(device)
    dtype = AUTOCAST_DTYPES.get(precision, torch.bfloat16)
    return torch.autocast(device.type, dtype=dtype, enabled=precision in AUTOCAST_DTYPES)


def accelerate_precision(precision: str) -> str:
    """Accelerate's ``mixed_precision`` for a resolved precision."""
    return {"fp32": "no"}.get(precision, precision)


def resolve_memory_format(setting: str, channels_last_faster: bool, key: str = "train.memory_format") -> str:
    """``auto`` -> channels_last for encoders measured faster in it (their registry entry says
    so), else contiguous; the explicit values pass through."""
    if setting not in MEMORY_FORMATS:
        raise ConfigError(f"{key}: {setting!r} is unknown; choose from {', '.join(MEMORY_FORMATS)}")
    if setting == "auto":
        return "channels_last" if channels_last_faster else "contiguous"
    return setting


def to_memory_format(x: torch.Tensor, memory_format: str) -> torch.Tensor:
    """A 4-D batch (B, C, H, W) in the resolved memory format (other ranks unchanged)."""
    if memory_format == "channels_last" and x.dim() == 4:
        return x.contiguous(memory_format=torch.channels_last)
    return x
