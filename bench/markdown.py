"""BENCHMARKS.md, written from bench/results.json only: no figure in it is typed by hand."""

from __future__ import annotations

import os
from pathlib import Path

from bench.data_bench import data_section
from bench.make_run import make_run_section
from bench.paper_fig2 import verdict
from bench.parts import parts_lines
from bench.rows import leaderboard_table
from bench.scales import SCALES
from bench.score_correlation import label_free_section
from bench.semi_leaderboard import semi_section
from bench.speed_report import gpu_section, speed_section
from bench.sweep import sweep_section
from bench.targets import TARGET_FILE, targets_section
from bench.verdicts import baseline_table, highest_line, protocol_budget
from evaluate.report import minutes, pct

SECTION_FIELDS = {  # the Scale fields each section depends on, for "smaller than full" notes
    "leaderboard": (
        "data",
        "leaderboard_epochs",
        "frozen_labels",
        "finetune_labels",
        "seeds",
        "pretrain_seeds",
        "finetune_max_epochs",
        "finetune_min_steps",
    ),
    "semi": ("data", "semi_entries", "semi_frozen_labels", "finetune_labels", "seeds", "pretrain_seeds",
             "finetune_max_epochs", "finetune_min_steps", "self_training_max_epochs", "self_training_min_steps"),
    "paper": ("data", "paper_sizes", "paper_epochs", "paper_max_images", "paper_test_images", "paper_infer_steps"),
    "bottleneck": ("data", "widths", "width_train_subset", "width_epochs", "width_labels", "seeds"),
    "speed": ("data", "speed_steps", "speed_repeats", "speed_segment_seconds", "speed_loop_seconds", "speed_variants",
              "speed_variant_tasks", "roofline_size", "roofline_seconds", "probe_passes", "extract_images",
              "suite_overrides"),
    "gpu": ("data", "speed_steps", "speed_repeats", "speed_segment_seconds", "speed_loop_seconds", "agreement_steps"),
    "sweep": ("data", "sweep_tasks", "sweep_settings", "sweep_budget_seconds", "sweep_overrides", "width_labels"),
    "data": ("data", "leaderboard_epochs", "frozen_labels", "seeds", "data_train_per_class", "data_photo_images",
             "data_feed_steps"),
    "label_free": ("data", "leaderboard_epochs", "seeds", "label_free_scarce", "label_free_resamples"),
}  # fmt: skip
TITLES = {
    "leaderboard": "1. Transfer leaderboard",
    "semi": "1b. Semi-supervised leaderboard: the unlabelled images used",
    "paper": "2. The decoder-only paper's experiment (Fig. 2)",
    "bottleneck": "3. The seeds' claims: bottleneck width and decoder capacity",
    "speed": "4. Speed (CPU)",
    "gpu": "5. GPU",
    "data": "6. Your own images: decoding, storage modes, transfer to unseen classes",
    "sweep": "7. Budgets tuned on validation",
    "make_run": "8. make run: wall time, evaluation time by protocol, a rerun",
    "label_free": "9. Do label-free scores predict transfer?",
}


def setting(value) -> str:
    return ", ".join(map(str, value)) if isinstance(value, tuple) else str(value)


def provenance_lines(section: str, result: dict) -> list[str]:
    p, m = result["provenance"], result["provenance"]["machine"]
    where = f"{m['cpu_cores']} CPU cores ({m['cpu']}), {m['memory_gib']} GiB, " + (
        f"GPU {m['gpu']}" if m["gpu"] else "no GPU"
    )
    lines = [
        f"Measured {p['date']} at commit `{p['commit']}` on {where}; torch {m['packages']['torch']}.",
        f"Command: `{p['command']}` (scale `{p['scale']}`), {minutes(result['wall_seconds'])} wall"
        + (" summed over the parts below." if len(result.get("parts", [])) > 1 else "."),
    ]
    scale, full = SCALES[p["scale"]], SCALES["full"]
    smaller = [
        f"{f} = {setting(getattr(scale, f)) or 'none'} (full: {setting(getattr(full, f)) or 'none'})"
        for f in SECTION_FIELDS.get(section, ())
        if getattr(scale, f) != getattr(full, f)
    ]
    if smaller:
        lines.append(
            f"Settings that differ from full size, to fit 2 CPU cores: {'; '.join(smaller)}. "
            f"Full size: `python -m bench --scale full --sections {section}`."
        )
    return lines


def epochs_text(epochs: float) -> str:
    return f"{epochs:g} epochs" if epochs else "its config's epochs (tuned on validation for the new tasks, section 7)"


def evaluation_share(rows: list[dict]) -> str:
    """Evaluation's share of the pretraining + evaluation time of the rows (a run's readings share
    one evaluation), against the target of at most a third, with the commits that measured it."""
    runs = {(r["run"], r["kind"]): r for r in rows}.values()
    evaluation = sum(r["eval_seconds"] for r in runs)
    total = evaluation + sum(sum(r.get("run_seconds", [])) for r in runs)
    share, bar = evaluation / max(total, 1e-9), TARGET_FILE["leaderboard_evaluation_share"]
    return (
        f" Evaluation took {minutes(evaluation)} of that, {100 * share:.0f}% (target ≤ {100 * bar:.0f}%: "
        f"{'met' if share <= bar else 'missed'}, as measured by the parts listed above)."
    )


def leaderboard_section(data: dict, plots: str) -> list[str]:
    tuned = data["finetune_labels"]
    budget = 10 if 10 in data["frozen_labels"] else data["frozen_labels"][0]
    runs, subsets = data.get("pretrain_seeds", 1), data["seeds"]
    highest = [
        highest_line(data, "linear", budget),
        highest_line(data, "knn", budget),
        highest_line(data, "finetune", tuned[len(tuned) // 2]),
    ]
    return [
        f"Every task pretrains its config's encoder (the paper's conv net with m = 20 unless the name says small "
        f"ResNet) for {epochs_text(data['epochs'])}, in {runs} pretraining run(s) with their own seeds (the pretrain "
        "column: mean minutes per run, epochs); test accuracy % as mean ± std over "
        f"{runs} × {subsets} labelled subsets per budget, each pretraining run with its own {subsets} ('all': over "
        "runs and seeds where something is random); the headline representation of each task is its config's "
        "`eval.representation` (the other reading, the row marked code or pooled, from the first pretraining run "
        "only); random-init and supervised-from-scratch baselines use the architecture named in brackets. Frozen "
        "protocols run on cached "
        "features with validation images as scarce as the labels; fine-tuning runs for at most "
        f"{data['finetune_max_epochs']:g} epochs (at least {data['finetune_min_steps']} steps) with the step chosen "
        "on validation; ⚑ marks a cell with a choice at its budget's cap or grid's edge; NMI and cluster accuracy "
        "from k-means fitted on the training features, scored on the test features (mean over pretraining runs)."
        + (
            f" Pretraining and evaluation took {minutes(data['compute_seconds'])} summed over runs (what a resumed "
            "bench reused is counted at the time it first took)." + evaluation_share(data["rows"])
            if "compute_seconds" in data
            else ""
        ),
        "",
        leaderboard_table(data),
        "",
        f"![label efficiency]({plots}/leaderboard_label_efficiency.png)",
        "",
        "Highest means (not a verdict: the best of several means is biased upward): "
        + "; ".join(h for h in highest if h)
        + ".",
        "",
        *targets_section(data),
        "",
        f"Is each representation better than the baselines? In accuracy points, paired over the {runs * subsets} "
        "shared labelled subsets (with all labels: over the pretraining runs, against a reference measured once) "
        "[95% t interval]; called better or worse only where the interval excludes zero. "
        f"At {budget} labels per class (fine-tuning: {protocol_budget(data, 'finetune', budget)}):",
        "",
        baseline_table(data, budget),
        "",
        "With all labels:",
        "",
        baseline_table(data, 0),
    ]


def paper_section(data: dict, plots: str) -> list[str]:
    head = "| model | training images | epochs | train BCE | test BCE | α_d | α_e | kNN % | linear % | pretrain |"
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in sorted(data["rows"], key=lambda r: (r["train_size"], r["model"])):
        loads = [f"{r['alpha_d']:.2f}", f"{r['alpha_e']:.3f}"] if "alpha_d" in r else ["—", "—"]
        lines.append(
            f"| {r['model']} | {r['train_size']} | {r['epochs']:g} | {r['train_error']:.4f} | {r['test_error']:.4f} | "
            + " | ".join(loads)
            + f" | {pct(r['knn_accuracy'])} | {pct(r['linear_accuracy'])} | {minutes(r['pretrain_seconds'])} |"
        )
    return [
        "Schuster & Krogh (2021), sec. 3.1, on Fashion-MNIST: the appendix's conv decoder, m = 20, BCE, Adam 1e-3 "
        "with weight decay 1e-5, codes by SGD 0.02 with momentum 0.9. The decoder trains alone (no encoder, no "
        f"distillation); its test codes come from {data['infer_steps']} SGD steps from zero with the decoder frozen. "
        f"Errors are per-pixel BCE on the training subset and on the same {data['test_images']} test images; kNN "
        "(k = 20) and linear probe use the subset's labels as the labelled set (probe strength chosen on "
        f"{data['test_images']} validation images). Loads are those of the decoder-only setting at each size.",
        "",
        *lines,
        "",
        f"![Fig. 2]({plots}/paper_fig2.png)",
        "",
        verdict(data["rows"]),
    ]


def bottleneck_section(data: dict, plots: str) -> list[str]:
    n = data["labels_per_class"]
    lines = [
        f"| decoder | m | test BCE | linear {n}/class | kNN {n}/class | linear all | kNN all | pretrain |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in data["rows"]:
        lines.append(
            f"| {r['decoder']} | {r['code_dim']} | {r['test_error']:.4f} | {pct(r['linear_scarce'])} | "
            f"{pct(r['knn_scarce'])} | "
            f"{pct(r['linear_all'])} | {pct(r['knn_all'])} | {minutes(r['pretrain_seconds'])} |"
        )
    lowest = min(data["rows"], key=lambda r: r["test_error"])
    best = max(data["rows"], key=lambda r: r["linear_scarce"])
    subset = f"{data['train_subset']} training images" if data["train_subset"] else "the whole training split"
    return [
        "The default autoencoder at code sizes m = "
        f"{', '.join(str(w) for w in sorted({r['code_dim'] for r in data['rows']}))}, "
        f"with the mirror and the linear decoder, {data['epochs']} epochs on {subset}; scarce-label columns are means "
        f"over {data['seeds']} labelled subsets.",
        "",
        *lines,
        "",
        f"![bottleneck sweep]({plots}/bottleneck.png)",
        "",
        f"Lowest test reconstruction error: {lowest['decoder']} decoder, m = {lowest['code_dim']} "
        f"({lowest['test_error']:.4f}); "
        f"highest mean linear probe at {n} labels/class (a description, not a verdict: no interval): "
        f"{best['decoder']} decoder, m = {best['code_dim']} "
        f"({pct(best['linear_scarce'])}).",
    ]


WRITERS = {
    "leaderboard": leaderboard_section,
    "semi": semi_section,
    "paper": paper_section,
    "bottleneck": bottleneck_section,
    "speed": speed_section,
    "gpu": gpu_section,
    "data": data_section,
    "sweep": sweep_section,
    "make_run": make_run_section,
    "label_free": label_free_section,
}


def write_benchmarks(results: dict, path: Path, plot_dir: Path) -> Path:
    parts = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench`) from `bench/results.json`; every figure below comes from that "
        "file, and each section names the command, commit, machine and date that produced it.",
    ]
    for section, title in TITLES.items():
        parts += ["", f"## {title}", ""]
        if section not in results:
            parts.append(f"Not run yet: `python -m bench --sections {section}`.")
            continue
        result = results[section]
        plots = os.path.relpath(plot_dir, Path(path).parent)
        parts += [
            *provenance_lines(section, result),
            *parts_lines(result),
            "",
            *WRITERS[section](result["data"], plots),
        ]
    Path(path).write_text("\n".join(parts) + "\n")
    return Path(path)
