"""Loading a run for evaluation: one typed object, and the config it read is never changed."""

from __future__ import annotations

import copy

from evaluate import run as run_module
from evaluate.entry import EvaluationSettings, load_run
from pretrain.core.config import config_to_dict
from pretrain.core.run_folder import Run
from pretrain.engine import run_pretraining


def test_the_loaded_config_is_never_changed_and_the_evaluation_is_one_object(tiny_cfg, monkeypatch):
    run_dir = run_pretraining(tiny_cfg(eval={"precision": "auto", "memory_format": "auto"}))
    read = []
    load_run_config = run_module.load_run_config
    monkeypatch.setattr(run_module, "load_run_config", lambda *a: read.append(load_run_config(*a)) or read[-1])
    loaded = run_module.prepare_evaluation(Run.at(run_dir), baselines=["raw_pixels"])
    (cfg,) = read
    before = copy.deepcopy(config_to_dict(cfg))
    assert (cfg.eval.precision, cfg.eval.memory_format) == ("auto", "auto")  # as the run's config.yaml says
    assert loaded.cfg.eval.precision in ("fp32", "bf16") and loaded.cfg.eval.memory_format != "auto"
    assert loaded.cfg.eval.baselines == ["raw_pixels"] and cfg.eval.baselines != ["raw_pixels"]
    assert loaded.cfg.eval.settings("knn") is cfg.eval.settings("knn")  # the protocols' sections carried over
    ctx = load_run(Run.at(run_dir), EvaluationSettings(baselines=["raw_pixels"], write=False))
    assert config_to_dict(cfg) == before  # nothing downstream changed it either
    assert (
        ctx.run_folder.path == run_dir and ctx.outputs.path.parent.name == "evals"
    )  # other baselines: never the full report
    assert ctx.run_encoder is ctx.encoder and len(ctx.tasks) == len(ctx.cfg.tasks)
    assert set(ctx.features) == {"encoder", "raw_pixels"} | {s.name for s in ctx.sources}


def test_an_evaluation_reads_encoder_json_once_and_the_layout_from_the_run(tiny_cfg, monkeypatch):
    from evaluate.entry import evaluate_run
    from pretrain.core import run_folder

    run_dir = run_pretraining(tiny_cfg(eval={"protocols": ["knn", "finetune"], "layer_probe_labels_per_class": -1}))
    reads, loads = [], run_folder.json.loads
    monkeypatch.setattr(run_folder.json, "loads", lambda text: reads.append(text) or loads(text))
    report = evaluate_run(run_dir)
    assert len([t for t in reads if "code_dim" in t]) == 1  # encoder.json: spec, steps, image count: one read
    run = Run.at(run_dir)
    assert run.evaluation().report_json.is_file() and run.features.is_dir()
    assert report.run_dir == str(run.path.resolve())


def test_a_run_is_one_conversion_from_a_path():
    run = Run.at("runs/x")
    assert Run.at(run) is run and str(run) == "runs/x" and run.encoder_weights.name == "encoder.safetensors"
    assert run.evaluation("a").path.parts[-2:] == ("evals", "a") and run.evaluation().path == run.path
