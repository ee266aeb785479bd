"""Markdown table of transfer results over evaluated run directories (reads report.json).

    python scripts/results_table.py runs/ae_fmnist runs/dae_fmnist ...

Columns: test accuracy of kNN and of the linear probe with all labels, and of the linear
probe with 10 labels per class where the run's grid has it.
"""

import sys
from pathlib import Path

import yaml

from evaluate.contract import reference_sources
from evaluate.report_types import Report
from pretrain.core.run_folder import Run

OPTION_KEYS = ("decoder", "sparsity", "contractive_weight", "weight")


def task_label(run_dir: Path) -> str:
    """'autoencoder(decoder=linear), 3 ep' from the run's config: task names plus telling options."""
    cfg = yaml.safe_load(Run.at(run_dir).config_file.read_text())
    parts = []
    for task in cfg["tasks"]:
        keep = {k: task[k] for k in OPTION_KEYS if k in task}
        if keep.get("sparsity") == "none":
            del keep["sparsity"]
        if keep.get("contractive_weight") == 0.0:
            del keep["contractive_weight"]
        if keep.get("weight") == 1.0:
            del keep["weight"]
        if task["name"] == "denoising":
            keep["corruption"] = f"{task['corruption']['kind']} {task['corruption']['fraction']}"
        shown = ", ".join(f"{k}={v}" for k, v in keep.items())
        parts.append(f"{task['name']}({shown})" if shown else task["name"])
    return " + ".join(parts) + f", {cfg['train']['epochs']:g} ep"


def main(paths: list[str]) -> None:
    print("| run | task | features | kNN test % | linear test % | linear, 10 labels/class % |")
    print("|---|---|---|---:|---:|---:|")
    for path in map(Path, paths):  # a run directory, or an evaluation of it (RUN/evals/NAME)
        report = Report.from_json((path / "report.json").read_text())
        path = path if (path / "config.yaml").is_file() else path.parent.parent
        for source in report.sources:
            label = "baseline" if source in reference_sources() else task_label(path)
            few = report.summary_cell(source, "linear", 10)
            few_text = f"{100 * few.mean:.1f} ± {100 * few.std:.1f}" if few else "—"
            knn, lin = (100 * report.summary_cell(source, p, 0).mean for p in ("knn", "linear"))
            print(f"| {path.name} | {label} | {source} | {knn:.1f} | {lin:.1f} | {few_text} |")


if __name__ == "__main__":
    main(sys.argv[1:])
