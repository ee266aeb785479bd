"""What can I set? ``--print-config`` and ``--list`` of python -m pretrain and python -m evaluate."""

from __future__ import annotations

import pytest

from evaluate.__main__ import main as evaluate_main
from evaluate.protocol_registry import PROTOCOLS
from pretrain.__main__ import main as pretrain_main
from pretrain.core.catalogue import REGISTRIES, config_descriptions
from pretrain.core.config import config_to_dict, load_config, save_config
from pretrain.core.typed_yaml import read_yaml


def printed(main, argv: list[str], capsys) -> str:
    assert main(argv) == 0
    return capsys.readouterr().out


def test_print_config_writes_every_default_and_round_trips(tmp_path, capsys):
    text = printed(pretrain_main, ["--config", "configs/smoke.yaml", "--print-config", "optim.lr=1e-3"], capsys)
    data = read_yaml(text)
    assert data["optim"]["lr"] == 1e-3 and data["eval"]["bootstrap"] == 1000  # a default the YAML never set
    (tmp_path / "resolved.yaml").write_text(text)
    again = printed(pretrain_main, ["--config", str(tmp_path / "resolved.yaml"), "--print-config"], capsys)
    assert again == text
    expected = config_to_dict(load_config("configs/smoke.yaml", ["optim.lr=1e-3"]))
    assert config_to_dict(load_config(tmp_path / "resolved.yaml")) == expected
    assert not (tmp_path / "runs").exists()  # nothing was trained


def test_print_config_refuses_a_bad_key_with_the_error_a_run_gives(capsys):
    assert pretrain_main(["--config", "configs/smoke.yaml", "--print-config", "optim.lrr=1"]) == 2
    shown = capsys.readouterr().err
    assert pretrain_main(["--config", "configs/smoke.yaml", "optim.lrr=1"]) == 2
    assert capsys.readouterr().err == shown and "unknown config key optim.lrr" in shown
    assert pretrain_main(["--config", "configs/smoke.yaml", "--print-config", "optim.lr=fast"]) == 2
    assert "optim.lr: expected float" in capsys.readouterr().err


def test_evaluate_prints_a_runs_config_with_its_overrides(tiny_cfg, tmp_path, capsys):
    cfg = tiny_cfg()
    cfg.run_path.mkdir(parents=True)
    save_config(cfg, cfg.run_path / "config.yaml")
    text = printed(evaluate_main, ["--run", str(cfg.run_path), "--print-config", "eval.seeds=5"], capsys)
    data = read_yaml(text)
    assert data["eval"]["seeds"] == 5 and data["eval"]["knn"]["k"] == 20  # the protocol's own default
    assert evaluate_main(["--run", str(cfg.run_path), "--print-config", "optim.lr=1"]) == 2
    assert "only eval.* settings can change after pretraining" in capsys.readouterr().err


@pytest.mark.parametrize("kind", [*REGISTRIES, "configs"])
def test_list_names_every_entry_with_a_line_of_its_own(kind, capsys):
    text = printed(pretrain_main, ["--list", kind], capsys)
    names = [path for path, _ in config_descriptions()] if kind == "configs" else REGISTRIES[kind].names()
    lines = text.splitlines()
    for name in names:
        (line,) = [x for x in lines if x.split()[0] == name]
        assert len(line.split(maxsplit=1)) == 2  # a description beside the name
    assert printed(evaluate_main, ["--list", kind], capsys) == text


def test_evaluate_lists_the_protocols_and_an_unknown_kind_names_the_kinds(capsys):
    text = printed(evaluate_main, ["--list", "protocols"], capsys)
    assert [line.split()[0] for line in text.splitlines()] == PROTOCOLS.names()
    assert "weighted cosine kNN" in text
    assert pretrain_main(["--list", "protocols"]) == 2
    assert "choose from tasks, encoders, datasets, configs" in capsys.readouterr().err
    assert evaluate_main(["--list", "metrics"]) == 2
    assert "choose from protocols, tasks, encoders, datasets, configs" in capsys.readouterr().err
