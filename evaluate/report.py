"""The transfer report: Markdown tables for people, JSON with every figure for programs."""

from __future__ import annotations

from pathlib import Path

from evaluate.contract import all_protocols, protocol_rank, reference_sources
from evaluate.report_diagnostics import budget_name, diagnostic_lines, pct, signed
from evaluate.report_types import CellStats, Difference, Report, SummaryRow
from evaluate.settings import EvalConfig, eval_config_from_dict
from evaluate.verdict import verdict_lines
from pretrain.core.checkpoint import atomic_write
from pretrain.core.run_folder import EvaluationFolder


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def mean_std(row: SummaryRow | None) -> str:
    """ "mean ± std" over seeds, "⚑" where a flag (evaluate.suite.warning_flags) was raised."""
    if row is None:
        return "—"
    text = pct(row.mean) if row.n == 1 else f"{pct(row.mean)} ± {pct(row.std)}"
    return text + (" ⚑" if row.flags else "")


def difference_cell(row: Difference | None) -> str:
    if row is None:
        return "—"
    if row.low is None:
        return f"{signed(row.difference)} ({row.verdict})"
    said = {"better": "**better**", "worse": "**worse**", "within noise": "within noise"}[row.verdict]
    return f"{signed(row.difference)} [{signed(row.low)}, {signed(row.high)}] {said}"


def differences_table(differences: list[Difference]) -> str:
    """Rows: protocol, learned − reference; columns: label budgets; cells: difference in points [95% interval]."""
    budgets = sorted({d.labels_per_class for d in differences}, key=lambda b: (b == 0, b))
    cells = {(d.protocol, d.a, d.b, d.labels_per_class): d for d in differences}
    pairs = sorted({(d.protocol, d.a, d.b) for d in differences}, key=lambda k: (protocol_rank(k[0]), k[1:]))
    lines = [
        "| protocol | comparison | " + " | ".join(budget_name(b) for b in budgets) + " |",
        "|---|---|" + "---:|" * len(budgets),
    ]
    for protocol, a, b in pairs:
        row = " | ".join(difference_cell(cells.get((protocol, a, b, n))) for n in budgets)
        lines.append(f"| {protocol} | {a} − {b} | {row} |")
    return "\n".join(lines)


def semi_supervised_table(differences: list[Difference]) -> str:
    """Rows: semi-supervised protocol − its supervised counterpart, per source; columns: label budgets."""
    budgets = sorted({d.labels_per_class for d in differences}, key=lambda b: (b == 0, b))
    cells = {(d.protocol, d.a, d.labels_per_class): d for d in differences}
    pairs = sorted({(d.protocol, d.versus, d.a) for d in differences}, key=lambda k: (protocol_rank(k[0]), k[2]))
    lines = [
        "| protocol | features | " + " | ".join(budget_name(b) for b in budgets) + " |",
        "|---|---|" + "---:|" * len(budgets),
    ]
    for protocol, versus, source in pairs:
        row = " | ".join(difference_cell(cells.get((protocol, source, n))) for n in budgets)
        lines.append(f"| {protocol} − {versus} | {source} | {row} |")
    return "\n".join(lines)


def semi_supervised_lines(report: Report) -> list[str]:
    """What using the unlabelled images adds, source by source (empty where no such protocol ran)."""
    if not report.semi_supervised:
        return []
    return [
        "",
        "### Semi-supervised minus supervised, same features",
        "",
        "What reading the unlabelled training images adds to each source, paired over the shared labelled subsets. "
        "A gain that raw pixels get too is the protocol's, not pretraining's: compare sources under one protocol "
        "in the table above.",
        "",
        semi_supervised_table(report.semi_supervised),
    ]


def flag_notes(summary: list[SummaryRow]) -> list[str]:
    return [
        f"- ⚑ {r.source} / {r.protocol} / {budget_name(r.labels_per_class)}: {', '.join(r.flags)}"
        for r in summary
        if r.flags
    ]


def source_rank(source: str, sources: list[str]) -> int:
    return sources.index(source) if source in sources else len(sources)


def scarce_label_table(summary: list[SummaryRow], sources: list[str]) -> str:
    budgets = sorted({r.labels_per_class for r in summary}, key=lambda b: (b == 0, b))
    cells = {(r.source, r.protocol, r.labels_per_class): r for r in summary}
    keys = sorted(
        {(r.source, r.protocol) for r in summary},
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


def eval_settings(report: Report) -> EvalConfig:
    """The typed eval settings a report was computed with (its ``settings``, split sizes aside)."""
    return eval_config_from_dict({k: v for k, v in report.settings.items() if k not in SPLIT_KEYS})


SPLIT_KEYS = ("train_size", "val_size", "test_size", "classes")


def ran_protocols(report: Report) -> list:
    """The registered protocols this report holds results of, in table order."""
    names = {r.protocol for r in report.records} | {m.protocol for m in report.label_free}
    return [p for p in all_protocols() if p.name in names]


def as_ran(report: Report) -> EvalConfig:
    """The report's eval settings with each label-free protocol's image count as it ran (fewer
    validation images than configured: all of them), not as configured."""
    cfg = eval_settings(report)
    for protocol in ran_protocols(report):
        counts = {getattr(m.result, "images", None) for m in report.measurements(protocol.name)}
        settings = cfg.settings(protocol.name) if protocol.label_free else None
        if len(counts) == 1 and None not in counts and hasattr(settings, "images"):
            settings.images = counts.pop()
    return cfg


def selection_notes(report: Report) -> list[str]:
    """What chose what: the labelled subsets, each protocol's own line, clustering."""
    s, cfg = report.settings, as_ran(report)
    notes = [p.note(cfg) for p in ran_protocols(report)]
    if not report.labelled:
        return [*notes, "- Nothing was selected: without labels there is nothing to choose on."]
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
        *notes,
        f"- random_init: a new draw of weights per seed; scratch: likewise. Intervals: 95%, t over seeds with few "
        f"labels, bootstrap over test images ({s['bootstrap']} resamples) with all labels.",
        f"- Clustering: k-means (k = number of classes) fitted on all training features, {s['clustering_restarts']} "
        "restarts with their own seeds, test features assigned; mean ± std over restarts; labels only score.",
        "- The test split chooses nothing; it is scored once per chosen model.",
    ]


def dataset_line(report: Report) -> str:
    """'Evaluated on X (root), pretrained on Y' for an evaluation on eval.data; else the dataset."""
    evaluated = report.dataset + (f" ({report.dataset_root})" if report.dataset_root else "")
    if not report.cross_dataset:
        return evaluated
    where = f" ({report.pretrain_root})" if report.pretrain_root else ""
    return f"Evaluated on {evaluated}, pretrained on {report.pretrain_dataset}{where}. Evaluation images"


def header_lines(report: Report) -> list[str]:
    s = report.settings
    sizes = f"{s['train_size']} training / {s['val_size']} validation / {s['test_size']} test images"
    if not report.labelled:
        sizes = f"{s['train_size']} training / {s['val_size']} validation images, without labels"
    return [
        f"# Transfer report: {report.run}",
        "",
        f"{dataset_line(report)}: {sizes}; encoder {report.encoder} (m={report.code_dim}, weights sha256 "
        f"{report.encoder_weights_sha256}, {report.pretrain_steps} pretraining steps). Features: "
        + "; ".join(f"`{k}` = {v}" for k, v in report.sources.items())
        + "."
        + (f" Evaluation overrides: {' '.join(report.overrides)}." if report.overrides else ""),
    ]


def labelled_lines(report: Report) -> list[str]:
    """The scarce-label grid, the comparisons and the all-label diagnostics."""
    sources = [*report.sources, *reference_sources()]
    notes = flag_notes(report.summary)
    parts = [
        "",
        "## Scarce labels: test accuracy % (mean ± std over seeds)",
        "",
        scarce_label_table(report.summary, list(dict.fromkeys(sources))),
        *(["", *notes] if notes else []),
        "",
        "## Is it better? Learned minus reference, in accuracy points [95% interval]",
        "",
        "Called better or worse only where the interval excludes zero. Few labels: paired over the shared labelled "
        "subsets (t interval); all labels: paired bootstrap over test images, widened by the spread over seeds where "
        "either side is random.",
        "",
        differences_table(report.differences) if report.differences else "(no reference to compare with)",
        *semi_supervised_lines(report),
    ]
    return parts + diagnostic_lines(report)


def label_free_lines(report: Report) -> list[str]:
    """One section per label-free protocol that ran, then what could not be measured."""
    parts = []
    for protocol in ran_protocols(report):
        measured = report.measurements(protocol.name)
        if protocol.label_free and measured:
            parts += ["", f"## Without labels: {protocol.name}", "", *protocol.render(measured)]
            flagged = [f"- ⚑ {m.source}: {', '.join(m.result.flags())}" for m in measured if m.result.flags()]
            parts += ["", *flagged] if flagged else []
    if report.unavailable:
        parts += ["", "## Not measured", "", *(f"- {note}" for note in report.unavailable)]
    return parts


def render_markdown(report: Report) -> str:
    parts = [*header_lines(report), "", *verdict_lines(report)]
    if report.labelled:
        parts += labelled_lines(report)
    parts += label_free_lines(report)
    parts += [
        "",
        "## What was selected on what",
        "",
        *selection_notes(report),
        "",
        f"Plots: {', '.join(report.plots)}. Git commit {report.git_commit}, config hash {report.config_hash}.",
        *hardware_lines(report),
        "",
    ]
    return "\n".join(parts)


def hardware_lines(report: Report) -> list[str]:
    """Where and in what precision it ran, and what of its work came from the store."""
    p, f = report.precision, report.memory_format
    lines = [
        "",
        f"Pretrained in {p['train']} ({f['train']}); evaluated on {report.device} in {p['eval']} ({f['eval']}).",
    ]
    return lines + cost_lines(report.cells)


def cost_lines(c: CellStats) -> list[str]:
    """What this evaluation cost: per kind of cell, how many it computed (and the time that took)
    and how many it read from the store; a cell used twice in it is counted once."""
    if not c.directory:
        head = f"Evaluation store off: {c.computed} cells computed"
    else:
        head = f"Cells: {c.computed} computed, {c.reused} read from the store ({c.directory})"
    lines = [f"{head}; {minutes(c.wall_seconds)} in all, feature extraction {minutes(c.feature_seconds)}."]
    kinds = sorted(c.kinds.items(), key=lambda kv: (-kv[1].seconds, kv[0]))
    parts = [
        f"{kind} {s.computed} computed in {minutes(s.seconds)}" + (f" + {s.stored} from the store" if s.stored else "")
        if s.computed
        else f"{kind} {s.stored} from the store"
        for kind, s in kinds
    ]
    if parts:
        lines.append("By kind: " + "; ".join(parts) + ".")
    return lines + [f"- {note}" for note in c.notes]


def write_report(folder: EvaluationFolder, report: Report) -> str:
    """Write report.md and report.json into the evaluation's ``folder``; return the Markdown."""
    text = render_markdown(report)
    atomic_write(folder.report_md, lambda tmp: Path(tmp).write_text(text))
    atomic_write(folder.report_json, lambda tmp: Path(tmp).write_text(report.to_json()))
    return text
