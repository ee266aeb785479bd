"""The transfer report: Markdown tables for people, JSON with every figure for programs."""

from __future__ import annotations

import json
from pathlib import Path

from evaluate.protocols import PROTOCOLS, protocol_rank
from pretrain.core.checkpoint import atomic_write


def pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}"


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def budget_name(per_class: int) -> str:
    return "all" if per_class == 0 else str(per_class)


def mean_std(row: dict | None) -> str:
    """ "mean ± std" over seeds, "⚑" where a flag (evaluate.suite.warning_flags) was raised."""
    if row is None:
        return "—"
    text = pct(row["mean"]) if row["n"] == 1 else f"{pct(row['mean'])} ± {pct(row['std'])}"
    return text + (" ⚑" if row.get("flags") else "")


def signed(x: float) -> str:
    return f"{100 * x:+.1f}"


def difference_cell(row: dict | None) -> str:
    if row is None:
        return "—"
    if row["low"] is None:
        return f"{signed(row['difference'])} ({row['verdict']})"
    said = {"better": "**better**", "worse": "**worse**", "within noise": "within noise"}[row["verdict"]]
    return f"{signed(row['difference'])} [{signed(row['low'])}, {signed(row['high'])}] {said}"


def differences_table(differences: list[dict]) -> str:
    """Rows: protocol, learned − reference; columns: label budgets; cells: difference in points [95% interval]."""
    budgets = sorted({d["labels_per_class"] for d in differences}, key=lambda b: (b == 0, b))
    cells = {(d["protocol"], d["a"], d["b"], d["labels_per_class"]): d for d in differences}
    pairs = sorted({(d["protocol"], d["a"], d["b"]) for d in differences}, key=lambda k: (protocol_rank(k[0]), k[1:]))
    lines = [
        "| protocol | comparison | " + " | ".join(budget_name(b) for b in budgets) + " |",
        "|---|---|" + "---:|" * len(budgets),
    ]
    for protocol, a, b in pairs:
        row = " | ".join(difference_cell(cells.get((protocol, a, b, n))) for n in budgets)
        lines.append(f"| {protocol} | {a} − {b} | {row} |")
    return "\n".join(lines)


def flag_notes(summary: list[dict]) -> list[str]:
    return [
        f"- ⚑ {r['source']} / {r['protocol']} / {budget_name(r['labels_per_class'])}: {', '.join(r['flags'])}"
        for r in summary
        if r.get("flags")
    ]


def source_rank(source: str, sources: list[str]) -> int:
    return sources.index(source) if source in sources else len(sources)


def scarce_label_table(summary: list[dict], sources: list[str]) -> str:
    budgets = sorted({r["labels_per_class"] for r in summary}, key=lambda b: (b == 0, b))
    cells = {(r["source"], r["protocol"], r["labels_per_class"]): r for r in summary}
    keys = sorted(
        {(r["source"], r["protocol"]) for r in summary},
        key=lambda k: (source_rank(k[0], sources), protocol_rank(k[1])),
    )
    lines = [
        "| features | protocol | " + " | ".join(budget_name(b) for b in budgets) + " |",
        "|---|---|" + "---:|" * len(budgets),
    ]
    for source, protocol in keys:
        lines.append(
            f"| {source} | {protocol} | "
            + " | ".join(mean_std(cells.get((source, protocol, b))) for b in budgets)
            + " |"
        )
    return "\n".join(lines)


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


def layer_table(layers: list[dict]) -> str:
    lines = ["| layer | dim | val acc % | test acc % | chosen L2 |", "|---|---:|---:|---:|---:|"]
    lines += [
        f"| {r['layer']} | {r['dim']} | {pct(r['val_accuracy'])} | {pct(r['accuracy'])} | {r['l2']:g}"
        + (" ⚑ edge" if r.get("l2_at_edge") else "")
        + (" ⚑ unconverged" if r.get("converged") is False else "")
        + " |"
        for r in layers
    ]
    return "\n".join(lines)


def outlier_table(outliers: dict) -> str:
    lines = ["| score (higher = more outlying) | AUROC |", "|---|---:|"]
    lines += [f"| {name} | {value:.3f} |" for name, value in outliers["auroc"].items()]
    return "\n".join(lines)


def selection_notes(s: dict) -> list[str]:
    """What chose what: the labelled subsets, each protocol's own line (from the protocol table), clustering."""
    val = (
        "as many validation images per class as labels (at least 5), drawn per seed"
        if s["val_per_class"] == "matched"
        else "the whole validation split at every budget"
    )
    return [
        f"- Labelled subsets: {', '.join(budget_name(b) for b in s['labels_per_class'])} per class, class-balanced "
        f"draws from the training split, {s['seeds']} seeds each (all labels: every seed for what is random, once "
        "for what is not). Validation and test never lend labels.",
        f"- Validation (`eval.val_per_class: {s['val_per_class']}`): {val}.",
        *(protocol.note(s) for protocol in PROTOCOLS),
        f"- random_init: a new draw of weights per seed; scratch: likewise. Intervals: 95%, t over seeds with few "
        f"labels, bootstrap over test images ({s['bootstrap']} resamples) with all labels.",
        f"- Clustering: k-means (k = number of classes) fitted on all training features, {s['clustering_restarts']} "
        "restarts with their own seeds, test features assigned; mean ± std over restarts; labels only score.",
        "- The test split chooses nothing; it is scored once per chosen model.",
    ]


def dataset_line(report: dict) -> str:
    """'Evaluated on X (root), pretrained on Y' for an evaluation on eval.data; else the dataset."""
    evaluated = report["dataset"] + (f" ({report['dataset_root']})" if report.get("dataset_root") else "")
    if not report.get("cross_dataset"):
        return evaluated
    pretrained = report["pretrain_dataset"]
    where = f" ({report['pretrain_root']})" if report.get("pretrain_root") else ""
    return f"Evaluated on {evaluated}, pretrained on {pretrained}{where}. Evaluation images"


def render_markdown(report: dict) -> str:
    s = report["settings"]
    sources = list(report["sources"])
    parts = [
        f"# Transfer report: {report['run']}",
        "",
        f"{dataset_line(report)}: {s['train_size']} training / {s['val_size']} validation / "
        f"{s['test_size']} test images; "
        f"encoder {report['encoder']} (m={report['code_dim']}, weights sha256 {report['encoder_weights_sha256']}, "
        f"{report['pretrain_steps']} pretraining steps). Features: "
        + "; ".join(f"`{k}` = {v}" for k, v in report["sources"].items())
        + "."
        + (f" Evaluation overrides: {' '.join(report['overrides'])}." if report.get("overrides") else ""),
        "",
        "## Scarce labels: test accuracy % (mean ± std over seeds)",
        "",
        scarce_label_table(report["summary"], sources + ["scratch"]),
        *(["", *flag_notes(report["summary"])] if flag_notes(report["summary"]) else []),
        "",
        "## Is it better? Learned minus reference, in accuracy points [95% interval]",
        "",
        "Called better or worse only where the interval excludes zero. Few labels: paired over the shared labelled "
        "subsets (t interval); all labels: paired bootstrap over test images, widened by the spread over seeds where "
        "either side is random.",
        "",
        differences_table(report["differences"]) if report["differences"] else "(no reference to compare with)",
        "",
        "## All labels: kNN, retrieval (test queries, training bank) and clustering",
        "",
        all_label_table(report["all_labels"]),
    ]
    if report["layers"]:
        per_class = budget_name(report["layers"][0]["labels_per_class"])
        parts += [
            "",
            f"## Which layer transfers best (linear probe, {per_class} labels per class)",
            "",
            layer_table(report["layers"]),
        ]
    if report["outliers"]:
        o = report["outliers"]
        parts += [
            "",
            f"## Outlier detection: held-out classes {o['holdout_classes']} ({o['positives']} test images) "
            f"vs seen classes ({o['negatives']})",
            "",
            outlier_table(o),
        ]
    for name, m in report["all_labels"].items():
        if "approximate_index" in m:
            a = m["approximate_index"]
            parts += [
                "",
                f"- {name}: {a['index']} index recall@{a['k']} against exact search: {pct(a['recall_vs_exact'])}%",
            ]
    parts += [
        "",
        "## What was selected on what",
        "",
        *selection_notes(s),
        "",
        f"Plots: {', '.join(report.get('plots', []))}. Git commit {report['git_commit']}, config hash "
        f"{report['config_hash']}.",
        *hardware_lines(report),
        "",
    ]
    return "\n".join(parts)


def hardware_lines(report: dict) -> list[str]:
    """Where and in what precision it ran, and how much finished work a rerun reused."""
    if "precision" not in report:  # reports written before issue 19
        return []
    p, f, c = report["precision"], report["memory_format"], report.get("cells")
    lines = [
        "",
        f"Pretrained in {p['train']} ({f['train']}); evaluated on {report['device']} in {p['eval']} ({f['eval']}).",
    ]
    if c:
        lines[-1] += f" Grid cells: {c['computed']} computed, {c['reused']} reused from {c['directory']}."
        cost = ", ".join(f"{kind} {minutes(s)}" for kind, s in sorted(c["seconds"].items(), key=lambda kv: -kv[1]))
        lines[-1] += f" Computing them took: {cost}; feature extraction {minutes(c['feature_seconds'])} this time."
    return lines


def write_report(run_dir: Path, report: dict) -> str:
    """Write report.md and report.json into ``run_dir``; return the Markdown."""
    text = render_markdown(report)
    atomic_write(run_dir / "report.md", lambda tmp: Path(tmp).write_text(text))
    atomic_write(run_dir / "report.json", lambda tmp: Path(tmp).write_text(json.dumps(report, indent=2)))
    return text
