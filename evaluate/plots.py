"""PNG figures of an evaluation: label efficiency, a 2-D map of the test features,
reconstructions and a latent walk for tasks with a decoder, and a confusion matrix."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from evaluate.baselines import REFERENCE_SOURCES  # noqa: E402
from evaluate.protocols import MARKERS  # noqa: E402


def _budget_x(labels_per_class: int, full: int) -> int:
    return full if labels_per_class == 0 else labels_per_class


def label_efficiency_plot(
    summary: list[dict], path: Path, title: str, full_per_class: int, prefix: str = "", learned: set[str] | None = None
) -> Path:
    """Test accuracy vs labels per class (log x), error bars = std over seeds.
    One line per (source, protocol); learned sources (``learned``, by default every source
    but the baselines and supervised-from-scratch) solid, the others dashed."""
    fig, ax = plt.subplots(figsize=(11, 5.5))
    draw_label_efficiency(ax, summary, full_per_class, prefix, learned)
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="features / protocol", title_fontsize=7)
    return save_figure(fig, path)


def source_colour(index: int, count: int):
    return f"C{index}" if count <= 10 else plt.cm.tab20(index % 20)


def draw_label_efficiency(
    ax,
    summary: list[dict],
    full_per_class: int,
    prefix: str = "",
    learned: set[str] | None = None,
    sources: list[str] | None = None,
) -> None:
    """The lines of ``label_efficiency_plot`` on ``ax``; colour = position in ``sources``
    (default: order of appearance), so several panels can share colours."""
    lines: dict[tuple, list] = {}
    for row in summary:
        lines.setdefault((row["source"], row["protocol"]), []).append(row)
    sources = sources or list(dict.fromkeys(source for source, _ in lines))
    for (source, protocol), rows in sorted(lines.items()):
        rows = sorted(rows, key=lambda r: _budget_x(r["labels_per_class"], full_per_class))
        x = [_budget_x(r["labels_per_class"], full_per_class) for r in rows]
        is_learned = source in learned if learned is not None else source not in REFERENCE_SOURCES
        ax.errorbar(
            x,
            [100 * r["mean"] for r in rows],
            yerr=[100 * r["std"] for r in rows],
            linestyle="-" if is_learned else "--",
            marker=MARKERS.get(protocol, "x"),
            color=source_colour(sources.index(source), len(sources)),
            capsize=3,
            label=f"{prefix}{source} / {protocol}",
        )
    ax.set_xscale("log")
    budgets = sorted({_budget_x(r["labels_per_class"], full_per_class) for r in summary})
    ax.set_xticks(budgets, [("all" if b == full_per_class else str(b)) for b in budgets])
    ax.set_xlabel("labelled images per class")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)


def feature_map_plot(
    features: torch.Tensor, labels: torch.Tensor, class_names, path: Path, points: int, seed: int
) -> Path:
    """2-D map of (a seeded subset of) the test features, coloured by class: UMAP if it is
    installed, else t-SNE from scikit-learn."""
    gen = torch.Generator().manual_seed(seed)
    pick = torch.randperm(len(features), generator=gen)[:points]
    x, y = features[pick].float().numpy(), labels[pick].numpy()
    try:
        import umap

        xy, method = umap.UMAP(random_state=seed).fit_transform(x), "UMAP"
    except ImportError:
        from sklearn.manifold import TSNE

        xy, method = TSNE(init="pca", random_state=seed, perplexity=min(30, len(x) - 1)).fit_transform(x), "t-SNE"
    fig, ax = plt.subplots(figsize=(7, 7))
    for c in np.unique(y):
        ax.scatter(*xy[y == c].T, s=4, label=class_names[c])
    ax.set_title(f"{method} of {len(x)} test features")
    ax.legend(markerscale=4, fontsize=7)
    ax.set_xticks([])
    ax.set_yticks([])
    return save_figure(fig, path)


def image_grid_plot(rows: list[torch.Tensor], row_names: list[str], path: Path, title: str) -> Path:
    """Rows of images (each (n, C, H, W) in [0, 1]) shown one above the other."""
    n = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), n, figsize=(n * 0.9, len(rows) * 1.0), squeeze=False)
    for i, (images, name) in enumerate(zip(rows, row_names)):
        for j in range(n):
            ax = axes[i][j]
            ax.axis("off")
            if j < len(images):
                img = images[j].float().clamp(0, 1).permute(1, 2, 0).squeeze(-1).numpy()
                ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1)
        axes[i][0].set_title(name, fontsize=7, loc="left")
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)


def latent_walk_rows(
    decode, codes: torch.Tensor, dims: int = 8, steps: int = 9
) -> tuple[list[torch.Tensor], list[str]]:
    """For each of the first ``dims`` code units: decode the mean code with that unit swept
    from -2 to +2 standard deviations (others held at the mean)."""
    mean, std = codes.mean(0), codes.std(0)
    rows, names = [], []
    for j in range(min(dims, codes.shape[1])):
        walk = mean.repeat(steps, 1)
        walk[:, j] = mean[j] + torch.linspace(-2, 2, steps) * std[j]
        rows.append(decode(walk))
        names.append(f"unit {j}")
    return rows, names


def confusion_matrix_plot(predictions: torch.Tensor, labels: torch.Tensor, class_names, path: Path, title: str) -> Path:
    """Row-normalised confusion matrix (rows: true class, columns: predicted)."""
    k = len(class_names)
    counts = torch.zeros(k, k)
    counts.index_put_((labels.long(), predictions.long()), torch.ones(len(labels)), accumulate=True)
    rates = counts / counts.sum(1, keepdim=True).clamp_min(1)
    fig, ax = plt.subplots(figsize=(7, 6))
    im = ax.imshow(rates.numpy(), cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(k), class_names, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(k), class_names, fontsize=7)
    for i in range(k):
        for j in range(k):
            if counts[i].sum() > 0:
                ax.text(
                    j,
                    i,
                    f"{100 * rates[i, j]:.0f}",
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if rates[i, j] > 0.5 else "black",
                )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046)
    return save_figure(fig, path)


def save_figure(fig, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")  # keeps legends placed outside the axes
    plt.close(fig)
    return path
