"""Take a run's encoder away: timm weights, TorchScript or ONNX, each with its input contract.

    python -m pretrain.export --run runs/ae_fmnist --format onnx          # runs/ae_fmnist/export/encoder.onnx
    python -m pretrain.export --run runs/relpos_resnet_fmnist --format timm --out resnet18.safetensors
    ssl-export --run runs/ae_fmnist --format torchscript                  # the same, once `pip install .`

- ``timm``: the backbone's weights alone, keyed as a plain ``timm.create_model(name, num_classes=0,
  in_chans=C)`` expects them (``load_state_dict`` with no key surgery). It returns pooled features
  (B, d) of *normalised* images; the projection to the code (B, m) is a second file, ``*.proj.safetensors``.
- ``torchscript`` and ``onnx`` (opset ``ONNX_OPSET``): the whole encoder, float images (B, C, S, S)
  in [0, 1] -> codes (B, m), normalisation inside. The batch size is free; C and S are fixed.

Every format carries the input size, channels and normalisation statistics: in the file
(safetensors metadata, a TorchScript extra file ``encoder.json``, ONNX ``metadata_props``) and
in a sidecar ``<file>.json``. Each file is loaded back from its temporary copy and compared with
the run's encoder on random images; only a file that passes is moved into place.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import timm
import torch
from safetensors.torch import load_file, save_file
from torch import nn

try:  # optional (`pip install '.[export]'`, part of the test extras): only --format onnx needs them
    import onnx
    import onnxruntime
    import onnxscript  # noqa: F401  (torch's ONNX exporter imports it; checked here for a clear error)
except ImportError:
    onnx = onnxruntime = None

from pretrain.core.checkpoint import atomic_write
from pretrain.core.encoders import BACKBONES, Encoder, EncoderSpec, use_small_stem
from pretrain.core.registry import Registry
from pretrain.core.run_folder import Run
from pretrain.core.saved_encoder import (
    UnfinishedRunError,
    assert_pretraining_finished,
    export_info,
    load_encoder,
)
from pretrain.core.typed_yaml import ConfigError

ONNX_OPSET = 18  # what the torch.export-based exporter writes natively; documented in docs/export.md
TOLERANCE = 1e-5  # max |exported - encoder| on random images, checked before a file is moved into place
DEFAULT_FILES = {"timm": "encoder.timm.safetensors", "torchscript": "encoder.torchscript.pt", "onnx": "encoder.onnx"}

# name -> fn(encoder, out: Path, meta: dict) -> float, the max |difference| of the loaded-back export
FORMATS = Registry("export format")


class ExportError(RuntimeError):
    """The run's encoder cannot be written in the asked format; the message says what to do instead."""


def metadata(encoder: Encoder, run: Run, fmt: str) -> dict:
    """What a user needs to feed the exported model: shapes, value range and normalisation
    (the statistics the encoder really applies: per channel, std clamped as in ``Encoder``)."""
    s = encoder.spec
    per_channel = lambda t: t.reshape(-1).expand(s.in_chans).tolist()  # noqa: E731  (older runs: one value)
    return {
        "format": fmt,
        "encoder": s.name,
        "input_size": [s.in_chans, s.image_size, s.image_size],
        "input_range": [0.0, 1.0],
        "mean": per_channel(encoder.mean),
        "std": per_channel(encoder.std),
        "normalisation_inside": fmt != "timm",  # timm: the user subtracts mean and divides by std
        "output": "pooled features (B, feature_dim)" if fmt == "timm" else "codes (B, code_dim)",
        "code_dim": s.code_dim,
        "feature_dim": encoder.feature_dim,
        "run": str(run),
        **export_info(run),
        "torch": torch.__version__,
    }


def random_images(encoder: Encoder, n: int = 4, seed: int = 0) -> torch.Tensor:
    """(n, C, S, S) uniform in [0, 1]: the probe every export is checked on."""
    s = encoder.spec
    return torch.rand(n, s.in_chans, s.image_size, s.image_size, generator=torch.Generator().manual_seed(seed))


def max_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| over every element; NaN when either holds a NaN (so it fails ``<= TOLERANCE``)."""
    return float((a.float() - b.float()).abs().max())


def checked(difference: float, what: str) -> float:
    """``difference`` if within TOLERANCE, else ExportError (raised inside a write: nothing is kept)."""
    if not difference <= TOLERANCE:  # also catches NaN
        raise ExportError(f"{what} loaded back differs from the encoder by {difference:.3g} (> {TOLERANCE})")
    return difference


def written_and_checked(out: Path, write: Callable[[str], float]) -> float:
    """``atomic_write(out, write)`` -> the difference ``write`` measured on the temporary copy
    (``write`` raises through ``checked`` when it is too large, and nothing is moved into place)."""
    measured: list[float] = []
    atomic_write(out, lambda tmp: measured.append(write(tmp)))
    return measured[0]


def normalised(images: torch.Tensor, meta: dict) -> torch.Tensor:
    """(B, C, S, S) in [0, 1] -> what a timm backbone takes, with the statistics the metadata publishes."""
    mean, std = (torch.tensor(meta[k]).view(-1, 1, 1) for k in ("mean", "std"))
    return (images - mean) / std


def plain_timm_model(arguments: dict, spec: EncoderSpec) -> nn.Module:
    """``timm.create_model(**arguments)``, with the small stem swapped in where the run used one."""
    model = timm.create_model(pretrained=False, **arguments)
    if spec.options.get("small_stem", False):
        use_small_stem(model, spec)
    return model.eval()


def timm_arguments(encoder: Encoder) -> list[dict]:
    """Candidate ``create_model`` arguments, plainest first; ``img_size`` only for models that need it."""
    s = encoder.spec
    plain = {"model_name": s.name, "num_classes": 0, "in_chans": s.in_chans}
    return [plain, {**plain, "img_size": s.image_size}]


def timm_difference(arguments: dict, spec: EncoderSpec, weights: dict, images, expected, meta) -> float:
    """max |pooled features| difference of a fresh ``create_model(**arguments)`` loaded with
    ``weights`` (strict), on normalised ``images``; inf when it cannot be built or loaded."""
    try:
        model = plain_timm_model(arguments, spec)
        model.load_state_dict(weights, strict=True)
        with torch.no_grad():
            return max_difference(model(normalised(images, meta)), expected)
    except (TypeError, RuntimeError, AssertionError):  # no img_size argument; keys or shapes that differ
        return float("inf")


@FORMATS.register("timm")
def write_timm(encoder: Encoder, out: Path, meta: dict) -> float:
    """Backbone weights for ``timm.create_model``, read back from the written file into a fresh
    model (strict), plus the projection; both are kept only if the codes match the encoder's."""
    if encoder.spec.name in BACKBONES.names():
        raise ExportError(
            f"{encoder.spec.name} is this toolkit's own encoder, not a timm model; "
            "use --format torchscript or --format onnx"
        )
    meta.update(small_stem=bool(encoder.spec.options.get("small_stem", False)), projection=projection_path(out).name)
    images = random_images(encoder)
    with torch.no_grad():
        pooled, codes = encoder.forward_pooled(images), encoder(images)
    weights = {k: v.detach().contiguous() for k, v in encoder.backbone.state_dict().items()}
    reproduces = lambda a: timm_difference(a, encoder.spec, weights, images, pooled, meta) <= TOLERANCE  # noqa: E731
    best = next((arguments for arguments in timm_arguments(encoder) if reproduces(arguments)), None)
    if best is None:
        raise ExportError(f"no plain timm.create_model({encoder.spec.name!r}, ...) reproduces this backbone; "
                          "use --format torchscript or --format onnx")  # fmt: skip
    meta["create_model"] = best
    text = {k: json.dumps(v) for k, v in meta.items()}
    projection = {k: v.detach().contiguous() for k, v in encoder.proj.state_dict().items()}

    def write_pair(proj_tmp: str) -> float:
        save_file(projection, proj_tmp, metadata=text)

        def write_weights(tmp: str) -> float:
            save_file(weights, tmp, metadata=text)
            model, proj = plain_timm_model(best, encoder.spec), nn.Linear(encoder.feature_dim, encoder.code_dim)
            model.load_state_dict(load_file(tmp))
            proj.load_state_dict(load_file(proj_tmp))
            with torch.no_grad():
                return checked(max_difference(proj(model(normalised(images, meta))), codes), str(out))

        return written_and_checked(out, write_weights)

    return written_and_checked(projection_path(out), write_pair)


def projection_path(out: Path) -> Path:
    """``encoder.timm.safetensors`` -> ``encoder.timm.proj.safetensors``: the code projection (m, d) + (m,)."""
    return out.with_name(out.name.removesuffix(".safetensors") + ".proj.safetensors")


@FORMATS.register("torchscript")
def write_torchscript(encoder: Encoder, out: Path, meta: dict) -> float:
    """The encoder traced at batch 2 (batch size stays free), metadata in the extra file ``encoder.json``."""
    images = random_images(encoder)

    def write(tmp: str) -> float:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.filterwarnings("ignore", message=r".*torch\.jit\..* is deprecated")  # still the TorchScript API
            traced = torch.jit.trace(encoder, images[:2], check_trace=False)
            torch.jit.save(traced, tmp, _extra_files={"encoder.json": json.dumps(meta, indent=2)})
            return checked(max_difference(torch.jit.load(tmp)(images), encoder(images)), str(out))

    return written_and_checked(out, write)


@FORMATS.register("onnx")
def write_onnx(encoder: Encoder, out: Path, meta: dict) -> float:
    """The encoder through torch.export to ONNX (opset ``ONNX_OPSET``), batch dimension dynamic,
    run back in onnxruntime."""
    if onnx is None or onnxruntime is None:
        raise ExportError("--format onnx needs onnx, onnxscript and onnxruntime: pip install '.[export]'")
    meta["opset"] = ONNX_OPSET
    images = random_images(encoder)

    def write(tmp: str) -> float:
        batch = {"images": {0: torch.export.Dim("batch")}}
        torch.onnx.export(
            encoder, (images[:2],), tmp, input_names=["images"], output_names=["codes"],
            opset_version=ONNX_OPSET, dynamic_shapes=batch, dynamo=True, external_data=False, verbose=False,
        )  # fmt: skip
        model = onnx.load(tmp)
        onnx.helper.set_model_props(model, {k: json.dumps(v) for k, v in meta.items()})
        onnx.save(model, tmp)
        session = onnxruntime.InferenceSession(tmp, providers=["CPUExecutionProvider"])
        (codes,) = session.run(None, {"images": images.numpy()})
        with torch.no_grad():
            return checked(max_difference(torch.from_numpy(codes), encoder(images)), str(out))

    return written_and_checked(out, write)


def output_path(run: Run, fmt: str, out: str | Path | None) -> Path:
    """``--out`` or RUN/export/<default>; never a folder, never one of the run's own files."""
    path = Path(out) if out else run.export_dir / DEFAULT_FILES[fmt]
    if path.is_dir():
        raise ExportError(f"--out {path} is a folder; give a file name, e.g. {path / DEFAULT_FILES[fmt]}")
    if path.resolve() in {own.resolve() for own in (run.encoder_weights, run.spec_file, run.task_weights)}:
        raise ExportError(f"--out {path} would overwrite the run's own {path.name}; choose another file")
    return path


def export_run(run_dir: str | Path, fmt: str, out: str | Path | None = None) -> tuple[Path, float]:
    """Write the finished run's encoder in ``fmt`` (+ ``<out>.json``) -> (path, max |difference|).

    Raises ExportError, leaving no file, when the loaded-back export differs by more than TOLERANCE."""
    run = Run.at(run_dir)
    write: Callable[[Encoder, Path, dict], float] = FORMATS.lookup(fmt)
    if not run.path.is_dir():
        raise ExportError(f"{run} is not a run directory (python -m pretrain writes runs/<name>/)")
    assert_pretraining_finished(run, then="export")
    encoder = load_encoder(run)
    with torch.no_grad():
        if not torch.isfinite(encoder(random_images(encoder))).all():
            raise ExportError(f"the encoder of {run} outputs NaN or inf on random images: did pretraining diverge?")
    out = output_path(run, fmt, out)
    meta = metadata(encoder, run, fmt)
    try:
        meta["max_difference"] = write(encoder, out, meta)
    except (RuntimeError, ConfigError, TypeError) as err:  # tracing or export failed: say which and why
        if isinstance(err, ExportError):
            raise
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ExportError(f"{fmt} export of {encoder.spec.name} failed: {first}") from err
    atomic_write(Path(f"{out}.json"), lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=2)))
    return out, meta["max_difference"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pretrain.export", description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, type=Path, help="a run directory written by python -m pretrain")
    parser.add_argument("--format", required=True, choices=FORMATS.names(), dest="fmt")
    parser.add_argument("--out", type=Path, default=None, help="the file to write (default: RUN/export/...)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        out, difference = export_run(args.run, args.fmt, args.out)
    except (ExportError, FileNotFoundError, UnfinishedRunError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    meta = json.loads(Path(f"{out}.json").read_text())
    extra = f" and {projection_path(out)}" if args.fmt == "timm" else ""
    print(f"wrote {out}{extra} (+ {out}.json)")
    print(f"  input {meta['input_size']} in [0, 1]; mean {meta['mean']}, std {meta['std']}; output {meta['output']}")
    print(f"  loaded back: max |difference| from the run's encoder on random images {difference:.2g}")
    if args.fmt == "timm" and meta["small_stem"]:
        print("  the run used a small stem: see docs/export.md for the two lines that rebuild it in timm")
    return 0


if __name__ == "__main__":
    sys.exit(main())
