"""The machine-wide evaluation store: shared across runs, never reused across machines or code
that computes differently, safe under two processes, loud about what it cannot use."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from evaluate import identity
from evaluate.__main__ import main
from evaluate.cells import CellStore
from evaluate.entry import EvaluationSettings, evaluate_run
from evaluate.protocols.linear import Linear
from evaluate.report import cost_lines
from evaluate.report_types import Report
from evaluate.store import describe, prune, survey
from pretrain.core.config import ConfigError
from pretrain.engine import run_pretraining

ROOT = Path(__file__).resolve().parents[1]


def counting(calls: list, value):
    def compute():
        calls.append(value)
        return {"accuracy": value}

    return compute


LIGHT = {"protocols": ["knn", "linear", "finetune"], "layer_probe_labels_per_class": -1}  # CI time


def test_baseline_cells_are_shared_by_two_runs(tiny_cfg, tmp_path):
    first = evaluate_run(run_pretraining(tiny_cfg(tmp_path / "a", eval=LIGHT)))
    second = evaluate_run(run_pretraining(tiny_cfg(tmp_path / "b", eval=LIGHT, optim={"lr": 1e-3})))  # same data
    baselines = ("raw_pixels", "pca", "scratch")
    shared = [r for r in second.records if r.source in baselines and r.protocol in ("knn", "linear", "finetune")]
    assert shared and second.cells.reused >= len(shared)  # every baseline cell came from the store
    assert second.cells.kinds["scratch"].computed == 0 and second.cells.kinds["scratch_search"].computed == 0
    before = {r.key: r.result.accuracy for r in first.records if r.source in baselines}
    assert all(before[r.key] == r.result.accuracy for r in shared)
    assert any(r.source == "encoder" for r in second.records)  # the new encoder's own cells were computed
    assert second.cells.kinds["knn"].computed > 0


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m.setattr(identity, "cpu_model", lambda: "Another CPU"),
        lambda m: m.setattr(torch, "get_num_threads", lambda: 97),
        lambda m: m.setattr(torch, "__version__", "0.0.1"),
        lambda m: m.setattr(identity.faiss, "__version__", "0.0.1"),
    ],
    ids=["cpu_model", "threads", "torch_version", "faiss_version"],
)
def test_an_entry_of_another_machine_is_a_miss(tmp_path, monkeypatch, change):
    calls = []
    CellStore(tmp_path, "cpu", "fp32").get("knn", {"seed": 0}, counting(calls, 0.5))
    with monkeypatch.context() as m:
        change(m)
        assert CellStore(tmp_path, "cpu", "fp32").get("knn", {"seed": 0}, counting(calls, 0.25)) == {"accuracy": 0.25}
        (stale,) = [s for s in survey(tmp_path, check=True).values() if s.entries == 2]
        assert stale.stale == 1  # the other machine's entry is what --prune would remove there
    assert CellStore(tmp_path, "cpu", "fp32").get("knn", {"seed": 0}, counting(calls, 0.1)) == {"accuracy": 0.5}
    assert calls == [0.5, 0.25]


def edited(monkeypatch, path: str) -> None:
    """Pretend the source file ``path`` was edited: its digest changes."""
    real = identity._file_digest  # the digests this process already read (another editor may be at work)
    monkeypatch.setattr(identity, "_file_digest", lambda p: "edited" if p == ROOT / path else real(p))
    identity.code_identity.cache_clear()


def test_a_renderer_edit_keeps_cells_and_a_solver_edit_misses(tmp_path, monkeypatch):
    calls, protocol = [], Linear()
    CellStore(tmp_path, "cpu", "fp32").get("linear", {"seed": 0}, counting(calls, 0.5), code=protocol)
    for path, expected in (("evaluate/report.py", [0.5]), ("evaluate/solvers/logistic_regression.py", [0.5, 0.25])):
        with monkeypatch.context() as m:
            edited(m, path)
            CellStore(tmp_path, "cpu", "fp32").get("linear", {"seed": 0}, counting(calls, 0.25), code=protocol)
        identity.code_identity.cache_clear()
        assert calls == expected, path


def test_a_cell_used_twice_in_one_evaluation_is_counted_once(tmp_path):
    store, calls = CellStore(tmp_path, "cpu", "fp32"), []
    store.get("scratch_search", {"seed": 0}, counting(calls, 0.5))
    again = store.get("scratch_search", {"seed": 0}, counting(calls, 0.25))
    assert again == {"accuracy": 0.5} and calls == [0.5]
    assert (store.stats["scratch_search"].computed, store.stats["scratch_search"].stored) == (1, 0)
    store.stats["scratch_search"].seconds = 90.0
    stats = type("Stats", (), {"directory": "s", "computed": 1, "reused": 0, "wall_seconds": 100.0})
    stats.feature_seconds, stats.kinds, stats.notes = 3.0, store.stats, []
    assert "scratch_search 1 computed in 1.5 min" in "\n".join(cost_lines(stats))


CONCURRENT = textwrap.dedent(
    """
    import sys, time
    from evaluate.cells import CellStore
    def compute():
        time.sleep(1.0)
        return {"value": float(sys.argv[2])}
    print(CellStore(sys.argv[1], "cpu", "fp32").get("knn", {"seed": 0}, compute)["value"])
    """
)


def test_two_processes_compute_a_cell_once_and_read_the_same_value(tmp_path):
    script = tmp_path / "cell.py"
    script.write_text(CONCURRENT)
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(tmp_path / "store"), str(v)], stdout=subprocess.PIPE, env=env
        )
        for v in (1, 2)
    ]
    values = {p.communicate(timeout=300)[0].decode().strip().splitlines()[-1] for p in procs}
    assert len(values) == 1 and all(p.returncode == 0 for p in procs)
    assert len(list((tmp_path / "store").rglob("*.pt"))) == 1 and not list((tmp_path / "store").rglob("*.tmp"))


def test_two_concurrent_evaluations_of_one_run_give_identical_cells(tiny_cfg, tmp_path, evaluation_store):
    run_dir = run_pretraining(tiny_cfg())
    light = ["eval.protocols=[knn,linear]", "eval.layer_probe_labels_per_class=-1", "eval.clustering_restarts=1"]
    args = [sys.executable, "-m", "evaluate", "--run", str(run_dir), *light, "--out"]
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "SSL_EVAL_STORE": str(evaluation_store)}
    env["TQDM_DISABLE"] = "1"
    procs = [subprocess.Popen([*args, str(tmp_path / f"out{i}")], cwd=ROOT, env=env) for i in range(2)]
    assert all(p.wait(timeout=600) == 0 for p in procs)
    reports = [(tmp_path / f"out{i}" / "report.json").read_text() for i in range(2)]
    records = [Report.from_json(r).records for r in reports]
    assert [(r.key, r.result.accuracy) for r in records[0]] == [(r.key, r.result.accuracy) for r in records[1]]
    assert not list(evaluation_store.rglob("*.tmp"))


def test_an_unwritable_store_is_one_error_before_any_work(tiny_cfg, tmp_path, capsys):
    run_dir = run_pretraining(tiny_cfg())
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match=r"eval\.store: cannot write to .*a_file"):
        evaluate_run(run_dir, EvaluationSettings(overrides=[f"eval.store={blocker}/x"]))
    assert not (run_dir / "features").exists()  # no work started
    assert main(["--run", str(run_dir), f"eval.store={blocker}/x"]) == 2
    assert "eval.store" in capsys.readouterr().err


def test_store_off_computes_everything_and_says_so(tiny_cfg, evaluation_store):
    run_dir = run_pretraining(tiny_cfg(eval={"store": "none", "protocols": ["knn"]}))
    report = evaluate_run(run_dir)
    assert report.cells.reused == 0 and report.cells.directory == ""
    assert not any(evaluation_store.rglob("*.pt"))
    assert cost_lines(report.cells)[0].startswith("Evaluation store off")


def test_store_command_lists_kinds_and_prunes_stale_entries(tmp_path, monkeypatch, capsys):
    CellStore(tmp_path, "cpu", "fp32").get("knn", {"seed": 0}, counting([], 0.5))
    CellStore(tmp_path, "cpu", "fp32").get("linear", {"seed": 0}, counting([], 0.5), code=Linear())
    torn = tmp_path / "cells" / "knn" / "knn-torn.pt"
    torn.write_bytes(b"torn")
    assert "| knn | 2 |" in describe(tmp_path, survey(tmp_path), checked=False)
    with monkeypatch.context() as m:
        edited(m, "evaluate/solvers/logistic_regression.py")
        assert main(["store", "--store", str(tmp_path), "--prune"]) == 0
    identity.code_identity.cache_clear()
    out = capsys.readouterr().out
    assert "removed 2 entries" in out
    assert sorted(p.name.split("-")[0] for p in tmp_path.rglob("*.pt")) == ["knn"]
    assert prune(tmp_path) == (0, 0)
