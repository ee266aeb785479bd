"""`python -m pretrain.export`: every format loads back with the tools a user would use and
computes what the run's encoder computes (to 1e-5), carrying its input size and normalisation."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime
import pytest
import timm
import torch
from safetensors import safe_open
from safetensors.torch import load_file
from torch import nn

from pretrain.core.encoders import build_encoder
from pretrain.core.run_folder import Run
from pretrain.core.saved_encoder import export_encoder, load_encoder
from pretrain.export import FORMATS, ExportError, export_run, main, projection_path

MEAN, STD = [0.25, 0.5, 0.75], [0.2, 0.3, 0.4]


def finished_run(tmp_path, name: str, shape: tuple[int, int, int], **options):
    """A run directory as pretraining leaves it, around a freshly initialised encoder."""
    torch.manual_seed(0)
    c = shape[0]
    encoder = build_encoder(name, 8, shape, MEAN[:c], STD[:c], **options)
    run = tmp_path / f"run_{name}"
    run.mkdir()
    export_encoder(Run.at(run), encoder, nn.ModuleList(), {"steps": 3})
    return run, load_encoder(run)


def images(shape, n=5):
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(1))


def sidecar(path):
    return json.loads(path.with_name(path.name + ".json").read_text())


def test_registry_names_the_three_formats():
    assert sorted(FORMATS.names()) == ["onnx", "timm", "torchscript"]


@pytest.mark.parametrize(
    ("name", "shape", "options"),
    [
        ("resnet18", (1, 28, 28), {}),
        ("resnet18", (3, 32, 32), {"small_stem": True}),
        ("vit_tiny_patch16_224", (1, 32, 32), {}),  # a fixed grid: create_model must be told img_size
    ],
)
def test_timm_weights_load_into_plain_create_model(tmp_path, name, shape, options):
    run, encoder = finished_run(tmp_path, name, shape, **options)
    assert main(["--run", str(run), "--format", "timm"]) == 0
    path = run / "export" / "encoder.timm.safetensors"
    meta = sidecar(path)
    assert meta["input_size"] == list(shape)
    assert meta["mean"] == pytest.approx(MEAN[: shape[0]]) and meta["std"] == pytest.approx(STD[: shape[0]])
    assert meta["normalisation_inside"] is False
    expected_args = {"model_name": name, "num_classes": 0, "in_chans": shape[0]}
    if name.startswith("vit"):
        expected_args["img_size"] = shape[1]
    assert meta["create_model"] == expected_args
    with safe_open(str(path), "pt") as f:  # the statistics travel inside the weights file too
        assert json.loads(f.metadata()["mean"]) == pytest.approx(MEAN[: shape[0]])

    model = timm.create_model(**meta["create_model"])  # what a new user types
    if meta["small_stem"]:  # the two lines docs/export.md gives
        model.conv1 = nn.Conv2d(shape[0], model.conv1.out_channels, 3, 1, 1, bias=False)
        model.maxpool = nn.Identity()
    model.load_state_dict(load_file(path))  # strict: no missing or unexpected key
    projection = nn.Linear(encoder.feature_dim, 8)
    projection.load_state_dict(load_file(projection_path(path)))
    x = images(shape)
    mean, std = (torch.tensor(meta[k]).view(-1, 1, 1) for k in ("mean", "std"))
    with torch.no_grad():
        codes = projection(model.eval()((x - mean) / std))
        torch.testing.assert_close(codes, encoder(x), atol=1e-5, rtol=0)


@pytest.mark.parametrize(("name", "shape"), [("paper_conv", (1, 28, 28)), ("resnet_small", (3, 32, 32))])
def test_torchscript_round_trip(tmp_path, name, shape):
    run, encoder = finished_run(tmp_path, name, shape)
    assert main(["--run", str(run), "--format", "torchscript"]) == 0
    path = run / "export" / "encoder.torchscript.pt"
    files = {"encoder.json": ""}
    loaded = torch.jit.load(str(path), _extra_files=files)
    meta = json.loads(files["encoder.json"])
    assert meta == {k: v for k, v in sidecar(path).items() if k != "max_difference"}
    assert meta["input_size"] == list(shape) and meta["normalisation_inside"] is True
    x = images(shape, n=7)  # another batch size than the one traced
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), encoder(x), atol=1e-5, rtol=0)


@pytest.mark.parametrize(("name", "shape"), [("paper_conv", (1, 28, 28)), ("resnet_small", (3, 32, 32))])
def test_onnx_round_trip_in_onnxruntime(tmp_path, name, shape):
    run, encoder = finished_run(tmp_path, name, shape)
    out = tmp_path / "mine.onnx"
    assert main(["--run", str(run), "--format", "onnx", "--out", str(out)]) == 0
    model = onnx.load(str(out))
    props = {p.key: json.loads(p.value) for p in model.metadata_props}
    assert props["opset"] == 18 and any(o.version == 18 for o in model.opset_import if o.domain in ("", "ai.onnx"))
    assert props["input_size"] == list(shape)
    assert props["std"] == pytest.approx(STD[: shape[0]]) and props["mean"] == pytest.approx(MEAN[: shape[0]])
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = images(shape, n=3)
    (codes,) = session.run(None, {"images": x.numpy()})
    with torch.no_grad():
        np.testing.assert_allclose(codes, encoder(x).numpy(), atol=1e-5, rtol=0)


def test_timm_format_of_a_local_encoder_is_refused_with_the_way_out(tmp_path, capsys):
    run, _ = finished_run(tmp_path, "paper_conv", (1, 28, 28))
    assert main(["--run", str(run), "--format", "timm"]) == 1
    assert "not a timm model; use --format torchscript or --format onnx" in capsys.readouterr().err
    assert not (run / "export" / "encoder.timm.safetensors").exists()


def test_a_run_without_an_encoder_is_an_error(tmp_path, capsys):
    assert main(["--run", str(tmp_path), "--format", "onnx"]) == 1  # a folder, but nothing pretrained
    assert "has pretraining of this run finished?" in capsys.readouterr().err


def test_a_run_that_stopped_early_is_refused_with_the_resume_command(tmp_path, capsys):
    run, _ = finished_run(tmp_path, "paper_conv", (1, 28, 28))
    (run / "progress.json").write_text(json.dumps({"step": 5, "total_steps": 9, "exported": False}))
    (run / "config.yaml").write_text("train: {}\n")
    assert main(["--run", str(run), "--format", "torchscript"]) == 1
    assert "stopped at step 5 of 9" in (err := capsys.readouterr().err) and "--resume`, then export" in err


@pytest.mark.parametrize("fmt", ["torchscript", "onnx", "timm"])
def test_an_export_that_fails_its_check_leaves_no_file(tmp_path, monkeypatch, fmt):
    run, _ = finished_run(tmp_path, "resnet18" if fmt == "timm" else "paper_conv", (1, 28, 28))

    def differs(difference, what):  # the check of the file read back from its temporary copy fails
        raise ExportError(f"{what} loaded back differs from the encoder")

    monkeypatch.setattr("pretrain.export.checked", differs)
    with pytest.raises(ExportError, match="differs from the encoder"):
        export_run(run, fmt)
    assert not (run / "export").exists() or not any((run / "export").iterdir())


def test_older_runs_with_one_statistic_publish_it_per_channel(tmp_path):
    torch.manual_seed(0)
    encoder = build_encoder("paper_conv", 8, (3, 28, 28), 0.4, 0.0)  # one value for all channels; a flat std
    export_encoder(Run.at(tmp_path), encoder, nn.ModuleList(), {"steps": 1})
    out, _ = export_run(tmp_path, "torchscript")
    meta = sidecar(out)
    assert meta["mean"] == pytest.approx([0.4] * 3) and meta["std"] == pytest.approx([1e-6] * 3)  # as applied


def test_bad_destinations_and_runs_are_clear_errors(tmp_path, capsys):
    run, _ = finished_run(tmp_path, "paper_conv", (1, 28, 28))
    for out, message in [(run / "encoder.safetensors", "would overwrite the run's own"), (run, "is a folder")]:
        assert main(["--run", str(run), "--format", "torchscript", "--out", str(out)]) == 1
        assert message in capsys.readouterr().err
    assert main(["--run", str(tmp_path / "no_such_run"), "--format", "onnx"]) == 1
    assert "is not a run directory" in capsys.readouterr().err
    load_encoder(run)  # the run's own export is untouched
