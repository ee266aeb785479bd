"""Markdown table of transfer results over run directories (reads each run's report.json).

    python scripts/results_table.py runs/ae_fmnist runs/dae_fmnist ...
"""

import json
import sys
from pathlib import Path

import yaml


def task_label(run_dir: Path) -> str:
    """'autoencoder(decoder=linear)' from the run's config: the task names plus non-default options."""
    cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    parts = []
    for task in cfg["tasks"]:
        keep = {k: v for k, v in task.items() if k in ("decoder", "sparsity", "contractive_weight", "weight")}
        if task["name"] == "denoising":
            keep["corruption"] = f"{task['corruption']['kind']} {task['corruption']['fraction']}"
        shown = ", ".join(f"{k}={v}" for k, v in keep.items() if not (k == "weight" and v == 1.0))
        shown = shown.replace("contractive_weight=0.0, ", "").replace(", contractive_weight=0.0", "")
        parts.append(f"{task['name']}({shown})" if shown else task["name"])
    return " + ".join(parts) + f", {cfg['train']['epochs']:g} ep"


def main(paths: list[str]) -> None:
    print("| run | task | features | kNN test % | linear test % |")
    print("|---|---|---|---:|---:|")
    for path in map(Path, paths):
        report = json.loads((path / "report.json").read_text())
        for row in report["rows"]:
            label = task_label(path) if row["source"] in ("encoder", "decoder_only_codes") else "baseline"
            knn, lin = 100 * row["knn"]["accuracy"], 100 * row["linear"]["accuracy"]
            print(f"| {path.name} | {label} | {row['source']} | {knn:.1f} | {lin:.1f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
