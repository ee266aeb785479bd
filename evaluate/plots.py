"""PNG figures of an evaluation: label efficiency, a 2-D map of the test features,
reconstructions and a latent walk for tasks with a decoder, and a confusion matrix."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from evaluate.contract import protocol_rank, reference_sources  # noqa: E402


def _budget_x(labels_per_class: int, full: int) -> int:
    return full if labels_per_class == 0 else labels_per_class


# Reference sources are grey and dashed so the learned ones (in colour) stand out; shade, dash
# pattern and marker vary so the references stay distinguishable from each other.
REFERENCE_GREYS = ("0.2", "0.5", "0.35", "0.65")
REFERENCE_DASHES = ("--", "-.", (0, (8, 3)), (0, (3, 1, 1, 1, 1, 1)))
REFERENCE_MARKERS = ("x", "v", "+", "*")


def label_efficiency_plot(
    summary: list, path: Path, title: str, full_per_class: int, prefix: str = "", learned: set[str] | None = None
) -> Path:
    """``label_efficiency_figure`` saved as a PNG at ``path``."""
    return save_figure(label_efficiency_figure(summary, title, full_per_class, prefix, learned), path)


def label_efficiency_figure(
    summary: list,
    title: str,
    full_per_class: int,
    prefix: str = "",
    learned: set[str] | None = None,
    sources: list[str] | None = None,
    panel_titles: dict[str, str] | None = None,
):
    """Test accuracy vs labels per class (log x): one panel per protocol (order of ``PROTOCOLS``,
    unknown names last; two rows past three panels), shared y, one line per source and one legend.
    Learned sources (``learned``, by default every source not in ``reference_sources()``) are solid and
    coloured, the references grey and dashed; colours follow ``sources`` (default: order of
    appearance) so they match across panels. -> the matplotlib Figure."""
    sources = sources or list(dict.fromkeys(r.source for r in summary))
    protocols = sorted({r.protocol for r in summary}, key=protocol_rank)
    cols = len(protocols) if len(protocols) <= 3 else -(-len(protocols) // 2)
    rows = -(-len(protocols) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 4.2 * rows), sharey=True, squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= len(protocols):
            fig.delaxes(ax)  # an odd panel count leaves one empty slot
            continue
        protocol = protocols[i]
        mine = [r for r in summary if r.protocol == protocol]
        draw_label_efficiency(ax, mine, full_per_class, prefix, learned, sources)
        ax.set_title((panel_titles or {}).get(protocol, protocol), fontsize=10)
        if i % cols:
            ax.set_ylabel("")  # the shared y axis is labelled once, on the left
    fig.suptitle(title)
    _shared_legend(fig, cols)
    return fig


def _shared_legend(fig, cols: int) -> None:
    """One legend below the panels; a source drawn in several panels is listed once."""
    handles = {}
    for ax in fig.axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    fig.legend(
        handles.values(),
        handles.keys(),
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),  # below the figure; save_figure's tight bbox keeps it
        ncol=max(1, min(len(handles), 3 * cols)),  # about three entries fit under a panel
        fontsize=7,
        title="source (grey, dashed: reference)",
        title_fontsize=7,
    )


def source_colour(index: int, count: int):
    """Colour of the ``index``-th of ``count`` learned sources: tab10 (tab20 past 9) without its
    greys, which are kept for the references."""
    palette = matplotlib.colormaps["tab10" if count <= 9 else "tab20"].colors
    palette = [c for c in palette if len(set(c)) > 1]
    return palette[index % len(palette)]


def source_style(source: str, sources: list[str], learned: set[str] | None = None) -> dict:
    """Line keywords of ``source``: solid and coloured if learned, else grey and dashed; the
    index among its own kind in ``sources`` picks the style, so it is the same in every panel."""
    references = reference_sources()
    is_learned = (lambda s: s in learned) if learned is not None else (lambda s: s not in references)
    kind = [s for s in sources if is_learned(s) == is_learned(source)]
    i = kind.index(source)
    if is_learned(source):
        return {"color": source_colour(i, len(kind)), "linestyle": "-", "marker": "o"}
    n = len(REFERENCE_GREYS)
    return {"color": REFERENCE_GREYS[i % n], "linestyle": REFERENCE_DASHES[i % n], "marker": REFERENCE_MARKERS[i % n]}


def accuracy_interval(row) -> tuple[float, float]:
    """(low, high) accuracy in % of a summary row: its 95% interval of the mean where it has one,
    else mean ± std over seeds."""
    if row.ci_low is not None and row.ci_high is not None:
        return 100 * row.ci_low, 100 * row.ci_high
    return 100 * (row.mean - row.std), 100 * (row.mean + row.std)


def draw_label_efficiency(
    ax,
    summary: list,
    full_per_class: int,
    prefix: str = "",
    learned: set[str] | None = None,
    sources: list[str] | None = None,
) -> None:
    """One line per source of ``summary`` (normally one protocol's rows) on ``ax``, styled by
    ``source_style``, with its interval as a shaded band (a bar where a line has one point)."""
    lines: dict[str, list] = {}
    for row in summary:
        lines.setdefault(row.source, []).append(row)
    sources = sources or list(lines)
    for source, rows in lines.items():
        rows = sorted(rows, key=lambda r: _budget_x(r.labels_per_class, full_per_class))
        x = [_budget_x(r.labels_per_class, full_per_class) for r in rows]
        style = source_style(source, sources, learned)
        ax.plot(x, [100 * r.mean for r in rows], **style, markersize=4, label=f"{prefix}{source}")
        low, high = zip(*(accuracy_interval(r) for r in rows))
        if len(x) > 1:
            ax.fill_between(x, low, high, color=style["color"], alpha=0.15, linewidth=0)
        else:  # a band of one point has no width
            ax.vlines(x, low, high, color=style["color"], alpha=0.6)
    ax.set_xscale("log")
    budgets = sorted({_budget_x(r.labels_per_class, full_per_class) for r in summary})
    ax.set_xticks(budgets, [("all" if b == full_per_class else str(b)) for b in budgets])
    ax.minorticks_off()  # log minor labels would crowd the budget ticks
    ax.set_xlabel("labelled images per class")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)


def feature_map_coordinates(features: torch.Tensor, labels: torch.Tensor, points: int, seed: int) -> dict:
    """2-D map of (a seeded subset of) the test features: UMAP if it is installed, else t-SNE
    from scikit-learn. -> {"xy": (P, 2), "labels": (P,), "method": name}."""
    gen = torch.Generator().manual_seed(seed)
    pick = torch.randperm(len(features), generator=gen)[:points]
    x, y = features[pick].float().numpy(), labels[pick]
    try:
        import umap

        xy, method = umap.UMAP(random_state=seed).fit_transform(x), "UMAP"
    except ImportError:
        from sklearn.manifold import TSNE

        xy, method = TSNE(init="pca", random_state=seed, perplexity=min(30, len(x) - 1)).fit_transform(x), "t-SNE"
    return {"xy": torch.as_tensor(np.asarray(xy, dtype=np.float32)), "labels": y.clone(), "method": method}


def feature_map_plot(coordinates: dict, class_names, path: Path) -> Path:
    """The map of ``feature_map_coordinates``, coloured by class."""
    xy, y = coordinates["xy"].numpy(), coordinates["labels"].numpy()
    fig, ax = plt.subplots(figsize=(7, 7))
    for c in np.unique(y):
        ax.scatter(*xy[y == c].T, s=4, label=class_names[c])
    ax.set_title(f"{coordinates['method']} of {len(xy)} test features")
    ax.legend(markerscale=4, fontsize=7)
    ax.set_xticks([])
    ax.set_yticks([])
    return save_figure(fig, path)


def image_strip(images: torch.Tensor, slots: int, gap: int = 2) -> np.ndarray:
    """Images (k, C, H, W) in [0, 1], k <= ``slots``, side by side with white gaps ->
    (H, slots·(W + gap) − gap) for one channel, else (H, that, C); a missing image stays white."""
    _, channels, height, width = images.shape
    strip = torch.ones(channels, height, slots * (width + gap) - gap)
    for j, image in enumerate(images.float().clamp(0, 1)):
        strip[:, :, j * (width + gap) : j * (width + gap) + width] = image
    return strip.permute(1, 2, 0).squeeze(-1).numpy()


def image_grid_plot(rows: list[torch.Tensor], row_names: list[str], path: Path, title: str) -> Path:
    """Rows of images (each (n, C, H, W) in [0, 1]) shown one above the other, each row one
    strip: one axes per row, not per image, which is what makes the figure slow to draw."""
    n = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), 1, figsize=(n * 0.9, len(rows) * 1.0), squeeze=False)
    for ax, images, name in zip(axes[:, 0], rows, row_names):
        strip = image_strip(images, n)
        ax.imshow(strip, cmap="gray" if strip.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(name, fontsize=7, loc="left")
        ax.axis("off")
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


def spectrum_plot(curves: dict[str, list[float]], path: Path, title: str) -> Path:
    """Each source's singular values (normalised to sum 1, descending) against their rank, log y:
    a representation that uses few directions falls off early."""
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for source, shares in curves.items():
        ax.plot(range(1, len(shares) + 1), shares, label=source)
    ax.set_yscale("log")
    ax.set_xlabel("singular value rank")
    ax.set_ylabel("share of the spectrum")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def save_figure(fig, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")  # keeps legends placed outside the axes
    plt.close(fig)
    return path
