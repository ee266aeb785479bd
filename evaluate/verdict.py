"""The verdict atop every report: did pretraining help? Generated from the report's own numbers
and intervals, never written by hand.

With labels it reads the paired differences at the scarce budgets (at most 10 labels per
class): the frozen encoder under kNN and the linear probe against raw pixels, PCA and its
random-init encoder; fine-tuned against supervised-from-scratch; what the semi-supervised
protocols add on the encoder beside what they add on raw pixels; and the flags that limit it.
Without labels it reads the label-free scores against the baselines and says what they
cannot say. Where nothing comparable ran it says why and gives no verdict.
"""

from __future__ import annotations

from evaluate.collapse import alarm_lines
from evaluate.report_diagnostics import budget_name, signed
from evaluate.report_types import Difference, Report, Verdict
from evaluate.run import LABELLED_FOLDER_HINT

FROZEN = ("knn", "linear")
REFERENCES = {"raw_pixels": "raw pixels", "pca": "PCA", "random_init": "its random-init encoder"}
SCARCE = 10  # budgets up to this many labels per class are "scarce"
# Why label-free scores are not a verdict: BENCHMARKS.md section 9 (tests/test_verdict.py checks
# this sentence against bench/results.json).
LABEL_FREE_LIMIT = (
    "In the benchmark (BENCHMARKS.md section 9), none of these scores ranked 11 pretraining runs by their kNN "
    "and linear accuracy reliably: no score's 95% interval lay above zero for all four accuracy targets. A "
    "better score here is not evidence of better transfer."
)


def scarce_budgets(report: Report) -> list[int]:
    budgets = [b for b in report.settings.get("labels_per_class", []) if b]
    return [b for b in budgets if b <= SCARCE] or budgets[:1]


def frozen_comparisons(report: Report) -> list[Difference]:
    budgets = scarce_budgets(report)
    return [
        d
        for d in report.differences
        if d.a == "encoder" and d.protocol in FROZEN and d.b in REFERENCES and d.labels_per_class in budgets
    ]


def per_class(budgets) -> str:
    """ "1 and 10 labels per class", "1 label per class"."""
    names = [budget_name(b) for b in sorted(set(budgets))]
    listed = ", ".join(names[:-1]) + (" and " if len(names) > 1 else "") + names[-1]
    return f"{listed} label{'' if names == ['1'] else 's'} per class"


def answer(found: list[Difference]) -> str:
    """The first sentence: better, worse or mixed, counted over the frozen comparisons, and by reference."""
    better = sum(d.verdict == "better" for d in found)
    worse = sum(d.verdict == "worse" for d in found)
    noise = sum(d.verdict == "within noise" for d in found)  # the rest had too few seeds for an interval
    names = list(dict.fromkeys(REFERENCES[d.b] for d in found))
    against = ", ".join(names[:-1]) + (" and " if len(names) > 1 else "") + names[-1]
    where = f"At {per_class(d.labels_per_class for d in found)}, the frozen encoder against {against}, under kNN "
    where += "and the linear probe"
    by_reference = ", ".join(
        f"{REFERENCES[ref]} {sum(d.verdict == 'better' for d in found if d.b == ref)} of "
        f"{sum(d.b == ref for d in found)}"
        for ref in dict.fromkeys(d.b for d in found)
    )
    if better == len(found):
        return f"Pretraining helped. {where}: better beyond noise in all {len(found)} comparisons."
    if worse and not better:
        return f"Pretraining did not help. {where}: worse in {worse} of {len(found)} comparisons, better in none."
    if not better:
        return f"No sign that pretraining helped. {where}: within noise in {noise} of {len(found)} comparisons."
    return (
        f"Mixed. {where}: better beyond noise in {better} of {len(found)} comparisons ({by_reference}), worse in "
        f"{worse}, within noise in {noise}."
    )


def table(found: list[Difference], tuned: list[Difference]) -> list[str]:
    """References down, protocol and budget across; each cell the verdict and the difference."""
    columns = sorted({(d.protocol, d.labels_per_class) for d in found + tuned}, key=lambda c: (c[0] == "finetune", c))
    cells = {(d.b, d.protocol, d.labels_per_class): d for d in found + tuned}
    names = {**REFERENCES, "random_init": "random init", "scratch": "scratch"}
    lines = [
        "| encoder minus | " + " | ".join(f"{p} {budget_name(b)}" for p, b in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for ref in dict.fromkeys(d.b for d in found + tuned):
        shown = [cells.get((ref, *c)) for c in columns]
        lines.append(f"| {names[ref]} | " + " | ".join(short(d) for d in shown) + " |")
    return lines


def short(d: Difference | None) -> str:
    if d is None:
        return "—"
    said = {"better": "**better**", "worse": "**worse**"}.get(d.verdict, d.verdict)
    return f"{said} {signed(d.difference)}"


def interval(d: Difference) -> str:
    return f"{signed(d.difference)} [{signed(d.low)}, {signed(d.high)}]" if d.low is not None else signed(d.difference)


def finetune_sentence(tuned: list[Difference]) -> list[str]:
    """One sentence per verdict fine-tuning got against scratch, its budgets and differences."""
    said = {"better": "better than", "worse": "worse than", "within noise": "within noise of"}
    lines = []
    for verdict in dict.fromkeys(d.verdict for d in tuned):
        mine = [d for d in tuned if d.verdict == verdict]
        lines.append(
            f"Fine-tuned end to end, the encoder is {said.get(verdict, 'not comparable with')} supervised training "
            f"from scratch at {per_class(d.labels_per_class for d in mine)} "
            f"({'; '.join(interval(d) for d in mine)} points)."
        )
    return lines


def semi_sentences(report: Report) -> list[str]:
    """Per semi-supervised protocol: what it adds on the encoder beside what it adds on the
    reference (raw pixels; scratch for what trains the encoder), at the scarce budgets where it ran."""
    by = {(d.protocol, d.a, d.labels_per_class): d for d in report.semi_supervised}
    lines = []
    for protocol in dict.fromkeys(d.protocol for d in report.semi_supervised):
        ran = sorted(b for p, a, b in by if p == protocol and a == "encoder")
        budgets = [b for b in ran if b in scarce_budgets(report)] or ran
        mine = [by[(protocol, "encoder", b)] for b in budgets]
        refs = [by.get((protocol, "raw_pixels", b)) or by.get((protocol, "scratch", b)) for b in budgets]
        if not mine:
            continue
        beside = (
            f", against {'; '.join(interval(r) for r in refs)} on {refs[0].a.replace('_', ' ')}" if all(refs) else ""
        )
        lines.append(
            f"{protocol} adds {'; '.join(f'{interval(d)} ({d.verdict})' for d in mine)} points to {mine[0].versus} "
            f"on the encoder at {per_class(budgets)}{beside}."
        )
    return lines


def flag_sentence(report: Report) -> list[str]:
    budgets = scarce_budgets(report)
    flagged = [r for r in report.summary if r.source == "encoder" and r.flags and r.labels_per_class in budgets]
    if not flagged:
        return []
    return [
        f"⚑ {len(flagged)} of the encoder's scarce-label cells chose a setting at its grid's edge or cap (notes "
        "under the scarce-label table), which limits how far these comparisons can be read."
    ]


def labelled_verdict(report: Report) -> Verdict:
    found = frozen_comparisons(report)
    tuned = [d for d in report.differences if (d.protocol, d.a, d.b) == ("finetune", "encoder", "scratch")]
    if not found:
        why = (
            "no baseline was evaluated (eval.baselines is empty)"
            if not report.differences
            else ("kNN and the linear probe did not run against the baselines at a scarce budget")
        )
        return Verdict(False, [
            f"No verdict: {why}, so nothing here says whether pretraining helped. Evaluate with "
            "eval.baselines=[raw_pixels,pca,random_init] and eval.protocols including knn and linear.",
            *finetune_sentence(tuned),
        ])  # fmt: skip
    sentences = [answer(found), *finetune_sentence(tuned), *semi_sentences(report), *flag_sentence(report)]
    return Verdict(True, sentences, table(found, tuned))


def scores_of(report: Report) -> dict[str, dict[str, float]]:
    """{source: {score: value}} of every label-free measurement."""
    found: dict[str, dict[str, float]] = {}
    for m in report.label_free:
        found.setdefault(m.source, {}).update(m.result.scores())
    return found


def unlabelled_verdict(report: Report) -> Verdict:
    scores = scores_of(report)
    mine, others = scores.get("encoder", {}), {s: v for s, v in scores.items() if s in REFERENCES}
    if not mine or not others:
        what = "no label-free score was measured" if not mine else "no baseline was scored beside the encoder"
        return Verdict(False, [f"No verdict: {what}. {LABELLED_FOLDER_HINT}."])
    rows = [
        f"{score} {value:.3f} ("
        + ", ".join(f"{REFERENCES[s]} {v[score]:.3f}" for s, v in others.items() if score in v)
        + ")"
        for score, value in mine.items()
    ]
    return Verdict(True, [
        "Without labels nothing here measures transfer. Label-free scores of the encoder against the baselines: "
        + "; ".join(rows) + ".",
        LABEL_FREE_LIMIT,
        f"{LABELLED_FOLDER_HINT}.",
    ])  # fmt: skip


def make_verdict(report: Report) -> Verdict:
    verdict = labelled_verdict(report) if report.labelled else unlabelled_verdict(report)
    if report.collapse is not None and report.collapse.fired:
        verdict.sentences.insert(0, "The collapse alarm fired (above): read what follows with that in mind.")
    return verdict


def verdict_lines(report: Report) -> list[str]:
    """The verdict section of report.md: the alarm first, then the sentences and the table."""
    verdict = report.verdict or make_verdict(report)
    alarm = alarm_lines(report.collapse)
    lead, *rest = verdict.sentences
    more = ["", *(f"- {sentence}" for sentence in rest)] if rest else []
    table = ["", *verdict.table] if verdict.table else []
    return ["## Verdict", "", *([*alarm, ""] if alarm else []), lead, *more, *table]
