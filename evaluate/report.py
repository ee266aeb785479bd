"""The transfer report: one row per feature source, written as Markdown and JSON."""

from __future__ import annotations

import json
from pathlib import Path

from pretrain.checkpoint import atomic_write


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}"


def markdown_table(rows: list[dict]) -> str:
    head = "| features | dim | kNN test acc % | linear test acc % | linear val acc % | chosen L2 |"
    lines = [head, "|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        knn, lin = row["knn"], row["linear"]
        lines.append(
            f"| {row['source']} | {row['dim']} | {_pct(knn['accuracy'])} | {_pct(lin['accuracy'])} "
            f"| {_pct(lin['val_accuracy'])} | {lin['l2']:g} |"
        )
    return "\n".join(lines)


def render_markdown(report: dict) -> str:
    s = report["settings"]
    return "\n".join([
        f"# Transfer report: {report['run']}",
        "",
        f"Dataset {report['dataset']}: {s['train_size']} labelled training images (bank / probe training set), "
        f"{s['val_size']} validation, {s['test_size']} test. Encoder {report['encoder']} (m={report['code_dim']}).",
        "",
        markdown_table(report["rows"]),
        "",
        f"- kNN: cosine similarity, k={s['knn_k']}, votes weighted exp(s/T) with T={s['knn_temperature']}, "
        "memory bank = all training-split images with labels; nothing selected.",
        f"- Linear probe: multinomial logistic regression on standardised features; L2 strength chosen on the "
        f"validation split from {s['linear_l2']}; the test split scores only the chosen probe.",
        "- Baselines: raw_pixels = flattened pixels; random_init = the same encoder architecture, untrained.",
        f"- Git commit {report['git_commit']}, config hash {report['config_hash']}.",
        "",
    ])  # fmt: skip


def write_report(run_dir: Path, report: dict) -> str:
    """Write report.md and report.json into ``run_dir``; return the Markdown."""
    text = render_markdown(report)
    atomic_write(run_dir / "report.md", lambda tmp: Path(tmp).write_text(text))
    atomic_write(run_dir / "report.json", lambda tmp: Path(tmp).write_text(json.dumps(report, indent=2)))
    return text
