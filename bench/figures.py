"""The benchmark figures, drawn from bench/results.json."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from bench.rows import summary_of  # noqa: E402
from evaluate import plots  # noqa: E402

# The leaderboard's panel titles, where clearer than the protocol's name (every grid protocol gets a panel).
LEADERBOARD_PANELS = {"linear": "frozen encoder, linear probe", "finetune": "fine-tuned encoder"}


def leaderboard_plot(section: dict, path: Path) -> Path:
    """Label efficiency of every representation, one panel per grid protocol (the registry's order)."""
    rows = [dataclasses.replace(r, source=row["representation"]) for row in section["rows"] for r in summary_of(row)]
    fig = plots.label_efficiency_figure(
        rows,
        "test accuracy vs labels per class",
        section["full_per_class"],
        learned={row["representation"] for row in section["rows"] if row["kind"] == "task"},
        sources=[row["representation"] for row in section["rows"]],
        panel_titles=LEADERBOARD_PANELS,
    )
    return plots.save_figure(fig, path)


def paper_fig2_plot(section: dict, path: Path) -> Path:
    """Like the paper's Fig. 2: errors vs training-set size, the loads, and (beyond the paper) transfer."""
    rows = section["rows"]
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    for model, colour in (("decoder", "C0"), ("autoencoder", "C3")):
        mine = sorted((r for r in rows if r["model"] == model), key=lambda r: r["train_size"])
        sizes = [r["train_size"] for r in mine]
        axes[0].plot(sizes, [r["test_error"] for r in mine], "-o", color=colour, label=f"{model}, test")
        axes[0].plot(sizes, [r["train_error"] for r in mine], "--o", color=colour, label=f"{model}, train")
        axes[2].plot(sizes, [100 * r["knn_accuracy"] for r in mine], "-^", color=colour, label=f"{model}, kNN")
        axes[2].plot(sizes, [100 * r["linear_accuracy"] for r in mine], "--s", color=colour, label=f"{model}, linear")
        if model == "decoder":
            axes[1].plot(sizes, [r["alpha_d"] for r in mine], "-o", label="decoder load α_d")
            axes[1].plot(sizes, [r["alpha_e"] for r in mine], "-o", label="encoder load α_e")
    axes[1].axhline(1.0, color="grey", linestyle=":", label="load = 1")
    axes[1].set_yscale("log")
    titles = (
        "reconstruction error (per-pixel BCE)",
        "loads (paper eqs. 3-4)",
        "transfer: test accuracy % (all subset labels)",
    )
    for ax, title in zip(axes, titles):
        ax.set_xscale("log")
        ax.set_xlabel("training images")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return plots.save_figure(fig, path)


def bottleneck_plot(section: dict, path: Path) -> Path:
    """Test reconstruction error (left axis) and transfer accuracy (right axis) against the code size."""
    fig, left = plt.subplots(figsize=(9, 5))
    right = left.twinx()
    for decoder, colour in (("mirror", "C0"), ("linear", "C1")):
        mine = sorted((r for r in section["rows"] if r["decoder"] == decoder), key=lambda r: r["code_dim"])
        widths = [r["code_dim"] for r in mine]
        left.plot(widths, [r["test_error"] for r in mine], "-o", color=colour, label=f"{decoder} decoder: test BCE")
        right.plot(
            widths,
            [100 * r["linear_scarce"] for r in mine],
            "--s",
            color=colour,
            label=f"{decoder}: linear probe, {section['labels_per_class']} labels/class",
        )
        right.plot(widths, [100 * r["knn_all"] for r in mine], ":^", color=colour, label=f"{decoder}: kNN, all labels")
    left.set_xscale("log", base=2)
    widths = sorted({r["code_dim"] for r in section["rows"]})
    left.set_xticks(widths, [str(w) for w in widths])
    left.set_xlabel("code size m")
    left.set_ylabel("test reconstruction error (per-pixel BCE, solid)")
    right.set_ylabel("test accuracy % (dashed, dotted)")
    left.set_title("reconstruction error and transfer against the code size")
    handles = [h for ax in (left, right) for h in ax.get_legend_handles_labels()[0]]
    fig.legend(handles, [h.get_label() for h in handles], fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 0.9))
    left.grid(alpha=0.3)
    return plots.save_figure(fig, path)


def speed_plot(section: dict, path: Path) -> Path:
    """Training images/s of the toolkit's loop beside the bare loop, per task."""
    rows = section["loop"]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    x = range(len(rows))
    ax.bar([i - 0.2 for i in x], [r["bare_images_per_s"] for r in rows], 0.4, label="bare PyTorch loop")
    ax.bar([i + 0.2 for i in x], [r["toolkit_images_per_s"] for r in rows], 0.4, label="toolkit loop")
    for i, r in zip(x, rows):
        ax.annotate(f"{r['ratio']:.3f}", (i + 0.2, r["toolkit_images_per_s"]), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(list(x), [r["task"] for r in rows], rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(f"training images/s ({section['device']})")
    ax.set_title("training throughput (label: toolkit / bare)")
    ax.legend(fontsize=8)
    return plots.save_figure(fig, path)


def pretrain_length_plot(section: dict, path: Path) -> Path:
    """Test accuracy against pretraining minutes, one line per method with a ± std band over
    labelled subsets (with 2 subsets a 95% t interval spans the whole axis), capacity and views
    variants dashed, the references as horizontal lines."""
    scarce = section["scarce"]
    panels = [("knn", scarce), ("linear", scarce), ("knn", 0), ("linear", 0)]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5), sharex=True)
    methods = list(dict.fromkeys(r["method"] for r in section["rows"]))
    for ax, (protocol, budget) in zip(axes.flat, panels):
        key = f"{protocol} {budget}"
        for i, method in enumerate(methods):
            mine = sorted((r for r in section["rows"] if r["method"] == method and key in r["cells"]),
                          key=lambda r: r["pretrain_seconds"])  # fmt: skip
            x = [r["pretrain_seconds"] / 60 for r in mine]
            mean = [100 * r["cells"][key]["mean"] for r in mine]
            std = [100 * r["cells"][key]["std"] for r in mine]
            variant = any(r.get("variant_of") for r in mine)  # capacity or views: dashed
            ax.plot(x, mean, "--s" if variant else "-o", color=f"C{i % 10}", label=method)
            ax.fill_between(x, [m - s for m, s in zip(mean, std)], [m + s for m, s in zip(mean, std)],
                            color=f"C{i % 10}", alpha=0.15)  # fmt: skip
        for j, (name, cells) in enumerate(section["references"].items()):
            found = cells.get(key.replace("linear", "mlp_head") if "MLP" in name else key)
            if found:
                ax.axhline(100 * found["mean"], color="grey", linestyle=("--", ":", "-.")[j % 3], label=name)
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xticks([1, 2, 5, 10, 20, 50, 100])
        ax.set_title(f"{protocol}, {'all labels' if budget == 0 else f'{budget} labels/class'}", fontsize=10)
        ax.set_xlabel("pretraining minutes")
        ax.set_ylabel("test accuracy % (band: ± std over labelled subsets)", fontsize=8)
        ax.grid(alpha=0.3)
    shown = {label: handle for ax in axes.flat for handle, label in zip(*ax.get_legend_handles_labels())}
    fig.legend(list(shown.values()), list(shown), fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 0.95))
    return plots.save_figure(fig, path)


def monitor_plot(section: dict, path: Path) -> list[Path]:
    """The kNN monitor's validation accuracy during each method's longest monitored run, against
    pretraining minutes: the shape of a curve between section 10's points ([] if none has one)."""
    curves = [r for r in section["rows"] if r.get("monitor")]
    if not curves:
        return []
    fig, ax = plt.subplots(figsize=(8, 5))
    for i, r in enumerate(curves):
        minutes, accuracy = zip(*r["monitor"])
        ax.plot(
            minutes, [100 * a for a in accuracy], "-", color=f"C{i % 10}", label=f"{r['method']}, {r['epochs']:g} ep"
        )
    ax.set_xlabel("pretraining minutes")
    ax.set_ylabel("validation kNN accuracy % (monitor)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return [plots.save_figure(fig, path)]
