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
        f"run_dir={run_dir}",
        "data.train_subset=1200",
        "data.test_subset=1000",
        "train.epochs=2",
        "monitor.every=20",
        "monitor.labels_per_class=20",
        "monitor.val_images=500",
        "eval.linear.l2=[1e-3,1e-2]",
        "eval.labels_per_class=[10,0]",
        "eval.seeds=2",
        "eval.finetune.max_epochs=0",
        "eval.finetune.min_steps=60",
        "eval.finetune.scratch_lr_encoder=[1e-3]",
        "eval.mlp_head.max_epochs=0",
        "eval.mlp_head.min_steps=300",
        "eval.self_training.labels_per_class=[10]",  # the teacher is the finetune cell at 10 already run
        "eval.self_training.max_epochs=0",
        "eval.self_training.min_steps=30",
        "eval.tsne_points=300",
        "eval.layer_probe_labels_per_class=10",
    ]
    pre = run(["-m", "pretrain", "--config", "configs/ae_fmnist.yaml", *overrides])
    assert pre.returncode == 0, pre.stderr[-3000:]
    ev = run(["-m", "evaluate", "--run", str(run_dir)])
    assert ev.returncode == 0, ev.stderr[-3000:]

    report = json.loads((run_dir / "report.json").read_text())
    assert list(report["sources"]) == ["encoder", "raw_pixels", "pca", "random_init"]
    assert report["settings"]["test_size"] == 1000 and report["settings"]["train_size"] == 1200
    mean = {(r["source"], r["protocol"], r["labels_per_class"]): r["mean"] for r in report["summary"]}
    for value in mean.values():
        assert 0.1 < value <= 1.0
    # Pixels with 120 labels per class: well above chance; the trained encoder beats an untrained one.
    assert mean[("raw_pixels", "knn", 0)] > 0.6
    assert mean[("encoder", "knn", 0)] > mean[("random_init", "knn", 0)] - 0.05
    assert ("scratch", "finetune", 10) in mean
    assert {("encoder", "self_training", 10), ("encoder", "label_propagation", 10)} <= set(mean)
    markdown = (run_dir / "report.md").read_text()
    assert "| encoder | linear |" in markdown and "| raw_pixels | knn |" in markdown and "| pca |" in markdown
    assert markdown in ev.stdout
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["provenance"]["git_commit"]
    assert list((run_dir / "features").glob("test-*.pt"))  # encoder features cached


def test_cli_reports_config_errors(tmp_path):
    result = run(["-m", "pretrain", "--config", "configs/ae_fmnist.yaml", "optim.lrr=1"])
    assert result.returncode == 2
    assert "optim.lrr" in result.stderr
