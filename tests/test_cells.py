"""Evaluation never redoes finished work: cells hit, miss on a changed setting, survive a
crash, and a torn file is recomputed rather than read (the store's machine-wide behaviour:
tests/test_store.py)."""

from __future__ import annotations

import json

import pytest
import torch

from evaluate.__main__ import main
from evaluate.cells import CellStore
from evaluate.entry import EvaluationSettings, evaluate_run
from evaluate.report_types import to_plain
from evaluate.results import LinearResult
from pretrain.engine import run_pretraining


def linear_result(accuracy: float) -> LinearResult:
    return LinearResult(
        accuracy=accuracy,
        balanced_accuracy=accuracy,
        train_size=4,
        val_size=2,
        selected_on="validation",
        val_accuracy=0.5,
        per_class_accuracy=[accuracy, None],
        test_predictions=torch.tensor([0, 1, 1]),
        l2=1e-3,
        l2_at_edge=False,
        iterations=7,
        grad_norm=1e-5,
        converged=True,
        val_accuracy_by_l2={1e-3: 0.5, 1e-2: 0.25},
    )


def test_a_cell_is_computed_once_and_a_changed_part_misses(tmp_path):
    store, calls = CellStore(tmp_path, "cpu", "fp32"), []

    def compute(value):
        calls.append(value)
        return linear_result(value)

    first = store.get("frozen", {"seed": 0}, lambda: compute(0.75))
    again = CellStore(tmp_path, "cpu", "fp32").get("frozen", {"seed": 0}, lambda: compute(0.1))
    assert calls == [0.75] and isinstance(again, LinearResult)
    assert again.metrics() == first.metrics() and torch.equal(again.test_predictions, first.test_predictions)
    store.get("frozen", {"seed": 1}, lambda: compute(0.5))
    CellStore(tmp_path, "cpu", "bf16").get("frozen", {"seed": 0}, lambda: compute(0.25))  # another precision
    assert calls == [0.75, 0.5, 0.25]


@pytest.mark.parametrize("damage", [b"", b"not a torch file", "other-key"])
def test_a_torn_or_foreign_cell_file_is_recomputed(tmp_path, damage):
    store = CellStore(tmp_path, "cpu", "fp32")
    store.get("all_labels", {"k": 1}, lambda: {"accuracy": 0.5})
    (path,) = tmp_path.rglob("*.pt")
    if damage == "other-key":
        torch.save({"key": "another", "kind": "all_labels", "value": {"accuracy": 0.99}}, path)
    else:
        path.write_bytes(damage)
    later = CellStore(tmp_path, "cpu", "fp32")  # another evaluation: nothing remembered in memory
    assert later.get("all_labels", {"k": 1}, lambda: {"accuracy": 0.25}) == {"accuracy": 0.25}
    assert len(later.notes) == 1 and str(path) in later.notes[0] and "recomputed" in later.notes[0]
    assert CellStore(tmp_path, "cpu", "fp32").get("all_labels", {"k": 1}, lambda: {"accuracy": 0.0}) == {
        "accuracy": 0.25
    }  # rewritten, then read


def test_a_rerun_reuses_every_cell_and_a_changed_setting_reruns_only_its_cells(tiny_cfg):
    run_dir = run_pretraining(tiny_cfg())
    first = evaluate_run(run_dir)
    assert first.cells.reused == 0 and first.cells.computed > len(first.records)
    again = evaluate_run(run_dir)
    graphs = first.cells.kinds.pop("label_propagation_graph")  # inside the propagation cells: not asked again
    assert (again.cells.reused, again.cells.computed) == (first.cells.computed - graphs.computed, 0)
    assert all(s.seconds == 0 and s.computed == 0 for s in again.cells.kinds.values())  # nothing computed here
    saved = {kind: s.saved_seconds for kind, s in again.cells.kinds.items()}
    cost = {kind: s.seconds for kind, s in first.cells.kinds.items()}
    cost["label_propagation"] += graphs.seconds  # a stored propagation cell saves its graph's search too
    assert saved == pytest.approx(cost)  # what the reused cells had cost
    for key in ("records", "summary", "differences", "all_labels", "layers", "label_free"):
        assert json.dumps(to_plain(getattr(again, key))) == json.dumps(to_plain(getattr(first, key))), key
    changed = evaluate_run(run_dir, EvaluationSettings(overrides=["eval.knn.k=3"]))
    knn_cells = sum(r.protocol == "knn" for r in changed.records)
    assert changed.cells.computed == knn_cells  # the head, linear, fine-tuning and all-label cells were kept


def test_a_killed_evaluation_resumes_from_its_finished_cells(tiny_cfg, monkeypatch):
    run_dir = run_pretraining(tiny_cfg())

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr("evaluate.protocols.finetune.Finetune.evaluate", killed)
        evaluate_run(run_dir)
    report = evaluate_run(run_dir)
    frozen = sum(r.protocol != "finetune" for r in report.records)
    assert report.cells.reused == frozen  # the frozen grid finished before the kill
    assert report.cells.computed >= sum(r.protocol == "finetune" for r in report.records)


def test_export_features_writes_the_npz_files_without_the_grid(tiny_cfg, tmp_path, monkeypatch, evaluation_store):
    run_dir = run_pretraining(tiny_cfg())

    def no_grid(*args, **kwargs):
        raise AssertionError("the grid ran")

    monkeypatch.setattr("evaluate.contract.frozen_grid", no_grid)
    assert main(["--run", str(run_dir), "--export-features", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["test.npz", "train.npz", "val.npz"]
    assert not (run_dir / "report.json").exists() and not any(evaluation_store.rglob("cells/*/*.pt"))
