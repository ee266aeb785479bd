"""The scarce-label grid: realistic validation, seeds at every budget, fresh baselines per seed."""

import pytest
import torch

import evaluate.protocols.finetune as finetune_protocol
import evaluate.suite as suite
from evaluate.context import EvalContext
from evaluate.contract import FrozenProtocol, all_protocols
from evaluate.protocol_registry import PROTOCOLS
from evaluate.settings import EvalConfig, EvaluatedConfig, eval_config_from_dict
from pretrain.core.config import ConfigError
from pretrain.core.samples import Features

FROZEN = [p for p in all_protocols() if p.frozen]


def labelled(n: int, classes: int, d: int = 4, seed: int = 0, offset: int = 0) -> Features:
    y = torch.arange(n) % classes
    x = torch.nn.functional.one_hot(y, d).float() * 3 + torch.randn(n, d, generator=torch.Generator().manual_seed(seed))
    return Features(x, y, torch.arange(offset, offset + n))


def test_matched_validation_is_as_scarce_as_the_labels():
    val = labelled(500, 4)
    assert len(suite.validation_subset(val, 1, "matched", 0)) == 4 * 5  # at least 5 per class
    assert len(suite.validation_subset(val, 10, "matched", 0)) == 4 * 10
    assert torch.bincount(suite.validation_subset(val, 10, "matched", 0).y).tolist() == [10] * 4
    assert len(suite.validation_subset(val, 10, "full", 0)) == 500
    assert len(suite.validation_subset(val, 0, "matched", 0)) == 500  # all labels: all validation images
    assert len(suite.validation_subset(labelled(12, 4), 10, "matched", 0)) == 12  # never more than there is
    with pytest.raises(ConfigError, match="val_per_class"):
        suite.validation_subset(val, 1, "tiny", 0)


def test_every_seed_runs_at_all_labels():
    subsets = suite.labelled_subsets(torch.arange(40) % 4, [2, 0], seeds=3, base_seed=0)
    assert [(n, s) for n, s, _ in subsets] == [(2, 0), (2, 1), (2, 2), (0, 0), (0, 1), (0, 2)]
    assert all(len(p) == 40 for n, _, p in subsets if n == 0)


def grid_config(mode: str) -> EvalConfig:
    head = {"max_epochs": 0, "min_steps": 20, "eval_every": 10}
    return eval_config_from_dict(
        {"labels_per_class": [2, 0], "seeds": 2, "linear": {"l2": [1e-3]}, "mlp_head": head, "val_per_class": mode}
    )


def test_frozen_grid_matches_validation_and_reruns_only_what_is_random():
    parts = {"train": labelled(80, 4), "val": labelled(200, 4, seed=1, offset=80), "test": labelled(40, 4, seed=2)}
    fresh = [{**parts, "train": labelled(80, 4, seed=10 + s)} for s in range(2)]
    records = suite.frozen_grid(
        {"encoder": parts, "random_init": parts}, grid_config("matched"), 4, 0, FROZEN, {"random_init": fresh}
    )
    count = {}
    for r in records:
        count[(r.source, r.protocol, r.labels_per_class)] = count.get((r.source, r.protocol, r.labels_per_class), 0) + 1
        if not r.result.selected_on.startswith("nothing"):  # kNN, prototype: nothing chosen, no validation read
            assert r.result.val_size == (20 if r.labels_per_class == 2 else 200)  # 5 per class, or all with all labels
    assert count[("encoder", "linear", 0)] == 1 and count[("encoder", "knn", 0)] == 1  # deterministic: once
    assert count[("encoder", "mlp_head", 0)] == 2  # the head's initialisation is random: every seed
    assert count[("random_init", "linear", 0)] == 2  # a fresh random encoder per seed
    full = suite.frozen_grid({"encoder": parts}, grid_config("full"), 4, 0, FROZEN)
    assert all(r.result.val_size == 200 for r in full if not r.result.selected_on.startswith("nothing"))


def test_frozen_grid_uses_each_seeds_random_draw(monkeypatch):
    seen = []
    parts = {"train": labelled(80, 4), "val": labelled(40, 4, seed=1, offset=80), "test": labelled(40, 4, seed=2)}
    fresh = [
        {**parts, "train": Features(torch.full((80, 4), float(s)), parts["train"].y, parts["train"].index)}
        for s in range(2)
    ]

    class Spy(FrozenProtocol):
        name = "spy"

        def fit(self, train, *rest):
            seen.append(train.x[0, 0].item())

    suite.frozen_grid({"random_init": parts}, grid_config("matched"), 4, 0, [Spy()], {"random_init": fresh})
    assert seen == [0.0, 1.0, 0.0, 1.0]  # budget 2: seeds 0, 1; all labels: seeds 0, 1


def test_scratch_starts_from_fresh_weights_each_seed_and_searches_its_rate_once_per_budget(monkeypatch):
    calls = []

    def fake_finetune(encoder, *args, lr_encoder=None, **kwargs):
        calls.append(("finetune", encoder, lr_encoder))
        return type("R", (), {"lr": lr_encoder, "val_accuracy": 0.5})()

    def fake_search(lrs, encoder, *args, **kwargs):
        calls.append(("search", encoder, None))
        return type("R", (), {"lr": 1e-3, "val_accuracy": 0.5})()

    monkeypatch.setattr(finetune_protocol, "finetune", fake_finetune)
    monkeypatch.setattr(finetune_protocol, "finetune_lr_search", fake_search)
    splits = type(
        "S", (), {"train": labelled(40, 4), "val": labelled(40, 4, offset=40), "test": None, "num_classes": 4}
    )()
    cfg = EvaluatedConfig(eval=EvalConfig(labels_per_class=[2, 0], seeds=2))
    cfg.eval.settings("finetune").labels_per_class = [2, 0]  # all labels too (not fine-tuned by default)
    ctx = EvalContext(cfg, splits, {}, [], "cpu", frozenset(), base_seed=5, encoder="pretrained")
    ctx.scratch = lambda seed: f"random{seed}"
    PROTOCOLS["finetune"].evaluate(ctx)
    scratch = [c for c in calls if c[1] != "pretrained"]
    assert [c[1] for c in scratch] == ["random5", "random6", "random5", "random6"]  # one draw per seed
    assert [c[0] for c in scratch] == ["search", "finetune", "search", "finetune"]
    assert scratch[1][2] == 1e-3  # later seeds reuse the rate validation chose
