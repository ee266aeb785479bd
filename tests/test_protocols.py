"""Every registered evaluation protocol, run on a tiny run: its result type, its row in the
report and its round trip through report.json (parametrized over the registry)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from conftest import tiny_config_dict

from evaluate.contract import all_protocols, selected_protocols
from evaluate.entry import EvaluationSettings, load_run
from evaluate.protocol_registry import PROTOCOLS, register_protocol
from evaluate.protocols.rankme import measure_rank
from evaluate.report import render_markdown
from evaluate.report_types import Report, ReportVersionError
from evaluate.settings import EvalConfig
from evaluate.suite import summarise
from pretrain.core.config import ConfigError, config_from_dict, config_to_dict
from pretrain.engine import run_pretraining

PROTOCOL_NAMES = [p.name for p in all_protocols()]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    cfg = config_from_dict(tiny_config_dict(tmp_path_factory.mktemp("protocols") / "run"))
    run_pretraining(cfg)
    return load_run(cfg.run, EvaluationSettings(baselines=["raw_pixels"], write=False))


def report_of(run, records, measurements) -> Report:
    return Report(
        **{k: "" for k in ("run", "run_dir", "dataset", "dataset_root", "pretrain_dataset", "pretrain_root")},
        **{k: "" for k in ("encoder", "encoder_weights_sha256", "config_hash", "git_commit", "device")},
        cross_dataset=False,
        code_dim=8,
        pretrain_steps=1,
        overrides=[],
        precision={"train": "fp32", "eval": "fp32"},
        memory_format={"train": "contiguous", "eval": "contiguous"},
        settings={"train_size": 1, "val_size": 1, "test_size": 1, "classes": [], **config_to_dict(run.cfg.eval)},
        records=records,
        summary=summarise(records, run.splits.test.y, 50) if records else [],
        label_free=measurements,
        sources={name: name for name in run.features},
    )


@pytest.mark.parametrize("name", PROTOCOL_NAMES)
def test_every_protocol_runs_renders_and_round_trips(tiny_run, name):
    protocol = PROTOCOLS[name]
    assert protocol.name == name and (
        protocol.settings_type is None or dataclasses.is_dataclass(protocol.settings_type)
    )
    out = protocol.evaluate(tiny_run)
    assert out and all(isinstance(row.result, protocol.result_type) for row in out)
    assert all(row.protocol == name for row in out)
    records, measurements = ([], out) if protocol.label_free else (out, [])
    report = report_of(tiny_run, records, measurements)
    markdown = render_markdown(report)
    if protocol.label_free:
        rendered = protocol.render(out)
        assert len(rendered) >= 2 + len({m.source for m in out}) and f"## Without labels: {name}" in markdown
    else:
        assert f"| encoder | {name} |" in markdown
    assert protocol.note(tiny_run.cfg.eval).startswith(f"- {name}")
    again = Report.from_json(report.to_json())
    assert again.to_json() == report.to_json()
    assert [type(r.result) for r in again.records + again.label_free] == [type(r.result) for r in out]


def test_a_name_is_registered_once():
    with pytest.raises(ValueError, match="already registered"):
        register_protocol("knn")(type("Again", (), {"settings_type": None}))


def test_a_protocol_the_evaluation_cannot_serve_is_a_config_error_naming_both():
    cfg = EvalConfig(protocols=["finetune"])
    with pytest.raises(ConfigError, match="finetune needs images and encoder, but exported features has features"):
        selected_protocols(cfg, frozenset({"features", "labels"}), "exported features")
    chosen, notes = selected_protocols(EvalConfig(skip=["anomaly"]), frozenset({"features"}), "x")
    assert {p.name for p in chosen} == {"rankme"} and any("finetune" in n for n in notes)
    with pytest.raises(ConfigError, match="'knnn' unknown"):
        selected_protocols(EvalConfig(protocols=["knnn"]), frozenset({"features"}), "x")


def test_label_free_scores_on_tiny_sets_are_flagged_never_nan(tiny_run):
    one = measure_rank(torch.randn(1, 8, dtype=torch.float64))
    assert one.rankme is None and one.flags() and one.scores() == {}
    few = measure_rank(torch.randn(3, 8, dtype=torch.float64))
    assert 1 <= few.rankme <= 3 and "fewer images than dimensions" in few.flags()[0]
    ctx = dataclasses.replace(tiny_run, memo={})
    ctx.cfg = dataclasses.replace(tiny_run.cfg, eval=dataclasses.replace(tiny_run.cfg.eval))
    ctx.cfg.eval.sections = {**tiny_run.cfg.eval.sections}
    for name in ("alignment_uniformity", "view_retrieval"):
        ctx.cfg.eval.sections[name] = dataclasses.replace(ctx.cfg.eval.sections[name], images=1)
        results = [m.result for m in PROTOCOLS[name].evaluate(ctx)]
        assert results and all(r.flags() == ["fewer than 2 images"] and r.scores() == {} for r in results)
    assert "NaN" not in report_of(tiny_run, [], PROTOCOLS["view_retrieval"].evaluate(ctx)).to_json()


def test_a_report_json_of_another_version_is_refused_with_its_version_named():
    with pytest.raises(ReportVersionError, match="version 1 cannot be read"):
        Report.from_json('{"run": "old", "summary": []}')  # issue 19's layout had no version
    with pytest.raises(ReportVersionError, match="version 7"):
        Report.from_json('{"version": 7}')
