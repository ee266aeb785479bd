"""eval.representation: the headline vector (code z or pooled h) and the other one beside it."""

from __future__ import annotations

import pytest
from conftest import tiny_config_dict

from evaluate.entry import EvaluationSettings, evaluate_run
from pretrain.core.config import ConfigError, config_from_dict, load_config
from pretrain.engine import run_pretraining


@pytest.fixture(scope="module")
def pooled_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("repr")
    data = tiny_config_dict(root / "run", encoder={"name": "resnet_small", "code_dim": 8, "width": 8, "blocks": [1, 1]})
    cfg = config_from_dict(data)
    run_pretraining(cfg)
    return cfg.run_path


@pytest.mark.parametrize(("headline", "other", "dim"), [("code", "encoder_pooled", 16), ("pooled", "encoder_code", 8)])
def test_both_representations_are_reported_with_the_headline_named(pooled_run, tmp_path, headline, other, dim):
    overrides = [f"eval.representation={headline}", "eval.skip=[finetune,self_training]", "eval.labels_per_class=[0]"]
    report = evaluate_run(pooled_run, EvaluationSettings(overrides, baselines=[], out_dir=tmp_path))
    assert set(report.sources) == {"encoder", other}
    assert ("pooled features" if headline == "pooled" else "code z") in report.sources["encoder"]
    assert {m.source: m.result.dim for m in report.measurements("rankme")}[other] == dim
    assert {d.a for d in report.differences} <= {"encoder", other}


def test_an_unknown_representation_is_a_config_error():
    with pytest.raises(ConfigError, match="eval.representation: 'h'"):
        load_config(None, ["eval.representation=h"])
