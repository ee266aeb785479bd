"""The one entry point of evaluation: ``evaluate_run(run_dir, settings) -> Report``.

The CLI (``python -m evaluate``) and every bench section call it. Features of every source
(the encoder, what the run's tasks offer, the baselines) are extracted once; each selected
protocol (evaluate.contract, ``eval.protocols`` minus ``eval.skip``) runs on what the
evaluation offers it; a labelled run adds the all-label metrics, the layer probe and the
outlier detection; an unlabelled run gets the label-free protocols, and the report says what
needs labels. Every finished cell is kept in the machine-wide store, ``eval.store`` (evaluate.cells).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from evaluate.baselines import feature_sources, random_encoder
from evaluate.cells import CellStore
from evaluate.collapse import alarm_lines, encoder_collapse
from evaluate.context import EvalContext
from evaluate.contract import reference_sources, run_frozen, selected_protocols, supervised_counterparts
from evaluate.diagnostics import all_label_metrics, layer_probe
from evaluate.features import source_features
from evaluate.outputs import log_tensorboard, write_plots, write_results_csv
from evaluate.report import write_report
from evaluate.report_types import CellStats, LayerRow, Report
from evaluate.run import (
    LABELLED_FOLDER_HINT,
    evaluation_folder,
    feature_splits,
    outliers,
    prepare_evaluation,
    report_header,
    seeded_variants,
    task_scorers,
)
from evaluate.store import open_store
from evaluate.suite import counterpart_differences, paired_differences, summarise
from evaluate.verdict import make_verdict
from pretrain.core.run_folder import EvaluationFolder, Run


@dataclass
class EvaluationSettings:
    """How to evaluate a run, besides its config's ``eval`` section."""

    overrides: list[str] = field(default_factory=list)  # eval.* overrides
    baselines: list[str] | None = None  # None: eval.baselines
    out_dir: Path | None = None  # None: the run directory, or RUN/evals/<settings> with overrides
    run_sources: bool = True  # the encoder and what its tasks offer; False: the baselines only (bench)
    other_readings: bool = True  # the reading beside the headline (encoder_code / encoder_pooled)
    first_seed: int = 0  # first labelled-subset seed (bench pools pretraining runs over disjoint ranges)
    diagnostics: bool = True  # all-label metrics, layer probe, outliers (labelled runs)
    write: bool = True  # report.md, report.json, results.csv, plots and TensorBoard logs
    cells: bool = True  # keep and reuse finished cells in eval.store (False: compute everything, e.g. to time it)


def outputs_of(folder: Run, settings: EvaluationSettings) -> EvaluationFolder:
    """Where this evaluation writes: ``settings.out_dir``, else the run (RUN/evals/<settings> with overrides)."""
    if settings.out_dir is not None:
        return EvaluationFolder(Path(settings.out_dir))
    return evaluation_folder(folder, settings.overrides, settings.baselines)


def load_run(folder: Run, settings: EvaluationSettings) -> EvalContext:
    """The run loaded, every selected source's features extracted (or read from the cache)."""
    loaded = prepare_evaluation(folder, settings.baselines, settings.overrides)
    cfg, splits, device, encoder = loaded.cfg, loaded.splits, loaded.device, loaded.encoder
    store = open_store(cfg.eval.store) if settings.cells else None  # an unwritable store fails before any work
    sources = feature_sources(folder, cfg, splits, cfg.eval.baselines, device, encoder, loaded.tasks)
    if not settings.run_sources:
        sources = [s for s in sources if s.name in cfg.eval.baselines]
    elif not settings.other_readings:
        sources = [s for s in sources if s.name not in ("encoder_code", "encoder_pooled")]
    features = {s.name: source_features(folder, s, splits, feature_splits(splits), store) for s in sources}
    run = EvalContext(
        cfg=cfg,
        splits=splits,
        features=features,
        sources=sources,
        device=device,
        available=frozenset({"features", "images", "encoder", *(["labels"] if splits.labelled else [])}),
        base_seed=cfg.train.seed,
        first_seed=settings.first_seed,
        cells=CellStore(store or folder.cells, device, cfg.eval.precision, enabled=store is not None),
        encoder=encoder if settings.run_sources else None,
        scratch=lambda s: random_encoder(loaded.spec, s, cfg.eval.memory_format),
        run_folder=folder,
        outputs=outputs_of(folder, settings),
        run_encoder=encoder,
        tasks=loaded.tasks,
    )
    run.scorers = task_scorers(run) if settings.run_sources else []
    if splits.labelled:
        run.variants = seeded_variants(folder, cfg, splits, device, list(features), store)
    return run


def run_protocols(ctx: EvalContext, protocols: list) -> tuple[list, list]:
    """(records, measurements): the frozen protocols in one pass over the labelled subsets
    (their records in the order of the pass), then each other protocol in table order."""
    frozen = [p for p in protocols if p.frozen]
    records, measurements = [], []
    if frozen:
        print(f"features ready: {', '.join(ctx.features)}; running the scarce-label grid ...", flush=True)
        records += run_frozen(ctx, frozen)
    for protocol in protocols:
        if protocol in frozen:
            continue
        print(f"{protocol.name} ...", flush=True)
        (measurements if protocol.label_free else records).extend(protocol.evaluate(ctx))
    return records, measurements


def labelled_sections(run: EvalContext, records: list, settings: EvaluationSettings) -> dict:
    """The report's fields that need labels: the grid's summary and differences, the all-label
    metrics, the layer probe and the outliers (the last three where ``settings.diagnostics``)."""
    cfg, splits, cells = run.cfg, run.splits, run.cells
    seed, test_labels, counterparts = cfg.train.seed, splits.test.y, supervised_counterparts()
    out = {
        "summary": summarise(records, test_labels, cfg.eval.bootstrap, seed),
        "differences": paired_differences(records, test_labels, cfg.eval.bootstrap, seed, reference_sources()),
        "semi_supervised": counterpart_differences(records, test_labels, counterparts, cfg.eval.bootstrap, seed),
    }
    if settings.diagnostics:
        print("all-label metrics, layer probe, outliers ...", flush=True)
        metrics = {n: all_label_metrics(p, cfg, splits.num_classes, cells) for n, p in run.features.items()}
        layers = [LayerRow(**row) for row in layer_probe(run.run_encoder, splits, cfg, run.device, cells)]
        out |= {"all_labels": metrics, "layers": layers, "outliers": outliers(run, run.sources)}
    return out


def unavailable_notes(run: EvalContext, left_out: list[str]) -> list[str]:
    notes = [f"{note}: not served by this evaluation" for note in left_out]
    if not run.splits.labelled:
        notes.append(
            "Without labels nothing here measures transfer: the scarce-label grid, kNN/linear accuracy, retrieval, "
            f"clustering and the layer probe all need labelled images. {LABELLED_FOLDER_HINT}."
        )
    return notes


def evaluate_run(run_dir: Run | str | Path, settings: EvaluationSettings | None = None) -> Report:
    """Evaluate the run in ``run_dir``; -> its typed Report (written out where ``settings.write``)."""
    settings, folder = settings or EvaluationSettings(), Run.at(run_dir)
    started = time.perf_counter()
    run = load_run(folder, settings)
    feature_seconds = time.perf_counter() - started
    what = f"the run {folder}" + ("" if run.splits.labelled else " (unlabelled images)")
    collapse = encoder_collapse(run) if settings.run_sources else None
    if alarm_lines(collapse):  # first in the console: everything after it reads a collapsed code
        print("\n".join(alarm_lines(collapse)), flush=True)
    protocols, left_out = selected_protocols(run.cfg.eval, run.available, what)
    records, measurements = run_protocols(run, protocols)
    run.predictions = {r.key: r.result.test_predictions for r in records}
    labelled = labelled_sections(run, records, settings) if run.splits.labelled else {}
    c = run.cells
    report = Report(
        **report_header(run, list(settings.overrides)),
        labelled=run.splits.labelled,
        records=records,
        label_free=measurements,
        sources={s.name: s.description for s in run.sources},
        unavailable=unavailable_notes(run, left_out),
        tasks=" + ".join(t.name for t in run.cfg.tasks),
        collapse=collapse,
        **labelled,
    )
    report.verdict = make_verdict(report)
    report.cells = CellStats(
        reused=c.hits,
        computed=c.misses,
        directory=str(c.directory) if c.enabled else "",
        kinds=c.stats,
        feature_seconds=round(feature_seconds, 2),
        wall_seconds=round(time.perf_counter() - started, 2),
        notes=c.notes,
    )
    if settings.write:
        write_outputs(report, run)
    return report


def write_outputs(report: Report, run: EvalContext) -> None:
    """report.md, report.json, results.csv, plots/ and tb/eval into the evaluation's directory."""
    report.plots = write_plots(report, run)
    if report.labelled:
        write_results_csv(report, run.outputs.results_csv)
        log_tensorboard(report, run)
    write_report(run.outputs, report)
