"""The report's all-label sections: kNN over k, retrieval and clustering per source, the
layer probe, outlier detection on held-out classes, an approximate index's recall."""

from __future__ import annotations

from evaluate.report_types import LayerRow, Report


def pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}"


def signed(x: float) -> str:
    """A difference of two accuracies in points, with its sign."""
    return f"{100 * x:+.1f}"


def budget_name(per_class: int) -> str:
    return "all" if per_class == 0 else str(per_class)


def all_label_table(all_labels: dict) -> str:
    first = next(iter(all_labels.values()))
    ks = list(first["knn_accuracy_by_k"])
    rks = first["retrieval"]["ks"]
    head = (
        ["features"]
        + [f"kNN k={k}" for k in ks]
        + [f"P@{k}" for k in rks]
        + [f"R@{k}" for k in rks]
        + ["mAP@R", "NMI", "ARI", "cluster acc"]
    )
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for source, m in all_labels.items():
        r, c = m["retrieval"], m["clustering"]
        cells = [pct(m["knn_accuracy_by_k"][k]) for k in ks] + [pct(r[f"precision@{k}"]) for k in rks]
        cells += [pct(r[f"recall@{k}"]) for k in rks] + [
            pct(r["map@r"]),
            f"{c['nmi']:.3f} ± {c['nmi_std']:.3f}",
            f"{c['ari']:.3f} ± {c['ari_std']:.3f}",
            f"{pct(c['accuracy'])} ± {pct(c['accuracy_std'])}",
        ]
        lines.append(f"| {source} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def layer_table(layers: list[LayerRow]) -> str:
    lines = ["| layer | dim | val acc % | test acc % | chosen L2 |", "|---|---:|---:|---:|---:|"]
    lines += [
        f"| {r.layer} | {r.dim} | {pct(r.val_accuracy)} | {pct(r.accuracy)} | {r.l2:g}"
        + (" ⚑ edge" if r.l2_at_edge else "")
        + (" ⚑ unconverged" if r.converged is False else "")
        + " |"
        for r in layers
    ]
    return "\n".join(lines)


def outlier_table(outliers: dict) -> str:
    lines = ["| score (higher = more outlying) | AUROC |", "|---|---:|"]
    lines += [f"| {name} | {value:.3f} |" for name, value in outliers["auroc"].items()]
    return "\n".join(lines)


def diagnostic_lines(report: Report) -> list[str]:
    """All-label kNN, retrieval and clustering, the layer probe, the outliers, the approximate index."""
    if not report.all_labels:
        return []
    parts = ["", "## All labels: kNN, retrieval (test queries, training bank) and clustering", ""]
    parts.append(all_label_table(report.all_labels))
    if report.layers:
        per_class = budget_name(report.layers[0].labels_per_class)
        parts += ["", f"## Which layer transfers best (linear probe, {per_class} labels per class)", ""]
        parts.append(layer_table(report.layers))
    if report.outliers:
        o = report.outliers
        parts += [
            "",
            f"## Outlier detection: held-out classes {o['holdout_classes']} ({o['positives']} test images) "
            f"vs seen classes ({o['negatives']})",
            "",
            outlier_table(o),
        ]
    for name, m in report.all_labels.items():
        if "approximate_index" in m:
            a = m["approximate_index"]
            parts += [
                "",
                f"- {name}: {a['index']} index recall@{a['k']} against exact search: {pct(a['recall_vs_exact'])}%",
            ]
    return parts
