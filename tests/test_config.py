from pathlib import Path

import pytest
import yaml

from pretrain.core.config import (
    ConfigError,
    OptimConfig,
    apply_override,
    config_changes,
    config_from_dict,
    config_to_dict,
    load_config,
    parse_dataclass,
)


def write(tmp_path, data):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_defaults_load_and_overrides_apply(tmp_path):
    cfg = load_config(write(tmp_path, {"name": "x"}), ["optim.lr=3e-4", "train.epochs=2", "tasks.0.decoder=linear"])
    assert cfg.optim.lr == pytest.approx(3e-4)
    assert cfg.train.epochs == 2.0 and isinstance(cfg.train.epochs, float)
    assert cfg.tasks[0].name == "autoencoder" and cfg.tasks[0].decoder == "linear"


@pytest.mark.parametrize(
    "data, path",
    [
        ({"optim": {"lrr": 1}}, "optim.lrr"),
        ({"nonsense": 1}, "nonsense"),
        ({"tasks": [{"name": "autoencoder", "decodr": "linear"}]}, "tasks.0.decodr"),
    ],
)
def test_unknown_key_is_named(data, path):
    with pytest.raises(ConfigError, match=path.replace(".", r"\.")):
        config_from_dict(data)


@pytest.mark.parametrize(
    "data, path",
    [
        ({"optim": {"lr": "fast"}}, "optim.lr"),
        ({"train": {"batch_size": 1.5}}, "train.batch_size"),
        ({"train": {"batch_size": True}}, "train.batch_size"),
        ({"eval": {"linear": {"l2": [1e-3, "x"]}}}, "eval.linear.l2.1"),
        ({"data": 3}, "data"),
    ],
)
def test_wrong_type_is_named(data, path):
    with pytest.raises(ConfigError, match=path.replace(".", r"\.")):
        config_from_dict(data)


def test_unknown_task_lists_registry():
    with pytest.raises(ConfigError, match="autoencoder"):
        config_from_dict({"tasks": [{"name": "no_such_task"}]})


def test_override_errors():
    with pytest.raises(ConfigError, match="key.sub=value"):
        apply_override({}, "optim.lr")
    with pytest.raises(ConfigError, match="index"):
        apply_override({"tasks": [{}]}, "tasks.3.weight=2")


def test_int_accepted_for_float_but_not_reverse():
    assert parse_dataclass(OptimConfig, {"lr": 1}).lr == 1.0


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_shipped_configs_are_valid():
    for path in sorted(Path(__file__).resolve().parents[1].glob("configs/*.yaml")):
        load_config(path)


def test_config_changes_lists_dotted_differences():
    a = config_to_dict(config_from_dict({}))
    b = config_to_dict(
        config_from_dict({"optim": {"lr": 0.5}, "tasks": [{"name": "autoencoder", "decoder": "linear"}]})
    )
    changes = config_changes(a, b)
    assert any(c.startswith("optim.lr:") for c in changes)
    assert any(c.startswith("tasks.0.decoder:") for c in changes)
    assert len(changes) == 2
    assert config_changes(a, a) == []


def test_val_per_class_is_checked_when_the_config_loads():
    with pytest.raises(ConfigError, match="eval.val_per_class: 'tiny'"):
        load_config(None, ["eval.val_per_class=tiny"])


def test_a_run_saved_with_retired_eval_keys_stays_evaluable(tmp_path, capsys):
    """Runs pretrained before the step caps became epoch budgets hold eval.mlp_head.max_steps."""
    from evaluate.settings import load_run_config
    from pretrain.core.config import save_config

    save_config(load_config(None), tmp_path / "config.yaml", {})
    text = (tmp_path / "config.yaml").read_text()
    (tmp_path / "config.yaml").write_text(text.replace("  mlp_head:\n", "  mlp_head:\n    max_steps: 1500\n"))
    cfg = load_run_config(tmp_path)
    assert cfg.eval.settings("mlp_head").min_steps == 1000 and "eval.mlp_head.max_steps" in capsys.readouterr().out


def test_a_run_saved_before_protocols_owned_their_settings_keeps_them(tmp_path, capsys):
    """eval.knn_k, eval.linear_l2, eval.head and eval.finetune.enabled of older runs land where they live now."""
    from evaluate.settings import load_run_config
    from pretrain.core.config import save_config

    save_config(load_config(None), tmp_path / "config.yaml", {})
    data = yaml.safe_load((tmp_path / "config.yaml").read_text())
    for section in ("knn", "linear", "mlp_head"):
        del data["eval"][section]
    data["eval"] |= {"knn_k": 7, "linear_l2": [0.5], "head": {"hidden": 32}}
    data["eval"]["finetune"]["enabled"] = False
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(data))
    e = load_run_config(tmp_path).eval
    assert e.settings("knn").k == 7 and e.settings("linear").l2 == [0.5] and e.settings("mlp_head").hidden == 32
    assert e.skip == ["finetune"] and "eval.knn_k" in capsys.readouterr().out


def test_protocol_settings_are_typed_overridable_and_saved_where_they_are_read(tmp_path):
    from evaluate.settings import typed_config
    from pretrain.core.config import config_to_dict

    plain = load_config(None, ["eval.knn.k=5", "eval.finetune.labels_per_class=[10]"])
    cfg = typed_config(plain)
    assert cfg.eval.settings("knn").k == 5 and cfg.eval.settings("finetune").labels_per_class == [10]
    saved = config_to_dict(cfg)["eval"]
    assert saved["knn"]["k"] == 5 and "sections" not in saved
    assert saved == config_to_dict(plain)["eval"]  # what pretraining records is what evaluation writes back
    with pytest.raises(ConfigError, match=r"eval\.knn\.kk"):
        load_config(None, ["eval.knn.kk=5"])
    with pytest.raises(ConfigError, match=r"eval\.knn\.k"):
        load_config(None, ["eval.knn.k=many"])


def test_datasets_and_encoders_own_their_keys_in_the_flat_section(capsys):
    from pretrain.core.config import config_from_dict, config_to_dict

    cfg = load_config(None, ["data.name=synthetic", "data.synthetic_size=40", "encoder.name=resnet_small"])
    assert cfg.data.settings().synthetic_size == 40 and cfg.encoder.settings().width == 64
    saved = config_to_dict(cfg)
    assert saved["data"]["synthetic_size"] == 40 and "options" not in saved["data"]  # flat, as users write it
    assert saved["encoder"] == {"name": "resnet_small", "code_dim": 20, "width": 64, "blocks": [1, 1, 1]}
    assert config_from_dict(saved) == cfg  # what config.yaml records reads back the same
    with pytest.raises(ConfigError, match=r"data\.synthtic_size; data with name=synthetic takes: .*synthetic_size"):
        load_config(None, ["data.name=synthetic", "data.synthtic_size=40"])
    capsys.readouterr()
    old = load_config(None, ["data.synthetic_size=600", "encoder.width=64", "encoder.small_stem=false"])
    assert old.data.settings() is None and capsys.readouterr().out == ""  # an old config.yaml's defaults: silent
    load_config(None, ["data.synthetic_size=40", "encoder.width=8"])  # set for another plugin: said, not used
    out = capsys.readouterr().out
    assert "data.synthetic_size is a setting of synthetic, not of fashion_mnist; ignored" in out
    assert "encoder.width is a setting of resnet_small, not of paper_conv" in out
    assert load_config(None, ["encoder.name=resnet18", "encoder.small_stem=true"]).encoder.settings().small_stem
