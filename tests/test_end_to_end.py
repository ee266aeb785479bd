"""pretrain -> evaluate on a small Fashion-MNIST subset, checked through the report it writes."""

import json
import subprocess
import sys

import yaml

from conftest import ROOT


def run(args):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=900)


def test_pretrain_then_evaluate_fashion_mnist_subset(tmp_path):
    run_dir = tmp_path / "fm"
    overrides = [
        f"run_dir={run_dir}", "data.train_subset=2000", "data.test_subset=1000", "train.epochs=2",
        "monitor.every=20", "monitor.labels_per_class=20", "monitor.val_images=500", "eval.linear_l2=[1e-3,1e-2]",
    ]  # fmt: skip
    pre = run(["-m", "pretrain", "--config", "configs/ae_fmnist.yaml", *overrides])
    assert pre.returncode == 0, pre.stderr[-3000:]
    ev = run(["-m", "evaluate", "--run", str(run_dir)])
    assert ev.returncode == 0, ev.stderr[-3000:]

    report = json.loads((run_dir / "report.json").read_text())
    rows = {row["source"]: row for row in report["rows"]}
    assert list(rows) == ["encoder", "raw_pixels", "random_init"]
    assert report["settings"]["test_size"] == 1000 and report["settings"]["train_size"] == 2000
    for row in rows.values():
        for protocol in ("knn", "linear"):
            assert 0.1 < row[protocol]["accuracy"] <= 1.0
    assert rows["encoder"]["dim"] == 20 and rows["raw_pixels"]["dim"] == 784
    # Pixels on 2000 images: well above chance, and trained encoder beats an untrained one on kNN.
    assert rows["raw_pixels"]["knn"]["accuracy"] > 0.6
    assert rows["encoder"]["knn"]["accuracy"] > rows["random_init"]["knn"]["accuracy"] - 0.05
    markdown = (run_dir / "report.md").read_text()
    assert "| encoder | 20 |" in markdown and "raw_pixels" in markdown and "random_init" in markdown
    assert markdown in ev.stdout
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["provenance"]["git_commit"]
    assert list((run_dir / "features").glob("test-*.pt"))  # encoder features cached


def test_cli_reports_config_errors(tmp_path):
    result = run(["-m", "pretrain", "--config", "configs/ae_fmnist.yaml", "optim.lrr=1"])
    assert result.returncode == 2
    assert "optim.lrr" in result.stderr
