"""How sure a comparison is: 95% intervals of accuracies and of paired differences.

Two sources of noise, two intervals (Dietterich 1998; Bouthillier et al. 2021):
- with a few labels, which labelled subset was drawn dominates: a t interval over the seeds,
  paired where two sources share the subsets (the same positions, so the difference
  cancels the subset's own luck);
- with all labels, every seed sees the same images: a bootstrap over the test images of the
  per-image correctness (averaged over the seeds that ran), paired image by image, widened
  by the spread between seeds where a protocol or source is random (the two half-widths
  add in quadrature).
A comparison is called better or worse only where its interval excludes zero; with one
labelled subset and few labels, the subset's luck is unmeasured and no verdict is given.
"""

from __future__ import annotations

import statistics

import torch
from scipy.special import stdtrit  # Student's t quantile; scipy.stats would add ~0.7 s to every start

LEVEL = 0.95


def t_quantile(dof: int) -> float:
    """The two-sided ``LEVEL`` quantile of Student's t with ``dof`` degrees of freedom."""
    return float(stdtrit(dof, 0.5 + LEVEL / 2))


def t_interval(values: list[float]) -> tuple[float, float]:
    """95% interval of the mean of ``values`` (at least two) under a t distribution."""
    mean, half = statistics.fmean(values), 0.0
    if len(values) > 1:
        half = t_quantile(len(values) - 1) * statistics.stdev(values) / len(values) ** 0.5
    return mean - half, mean + half


def prediction_interval(values: list[float], centre: float | None = None) -> tuple[float, float]:
    """95% interval for one more draw like ``values`` (at least two): mean ± t(n − 1) · sd · √(1 + 1/n).
    Where a single run of another method falls inside it, one run cannot tell the two apart.
    ``centre``: one draw to centre on instead of the mean (the sd of ``values`` as its noise too),
    so the difference of two single draws: centre ± t(n − 1) · sd · √2."""
    n, sd = len(values), statistics.stdev(values)
    mean, spread = (statistics.fmean(values), (1 + 1 / n) ** 0.5) if centre is None else (centre, 2**0.5)
    half = t_quantile(n - 1) * sd * spread
    return mean - half, mean + half


def bootstrap_interval(per_image: torch.Tensor, resamples: int, seed: int) -> tuple[float, float]:
    """95% percentile interval of the mean of ``per_image`` (Q,) over test images drawn with replacement."""
    gen = torch.Generator().manual_seed(seed)
    means = torch.empty(resamples, dtype=torch.float64)
    for start in range(0, resamples, 100):  # 100 resamples at a time keeps the index matrix small
        rows = min(100, resamples - start)
        picks = torch.randint(0, len(per_image), (rows, len(per_image)), generator=gen)
        means[start : start + rows] = per_image.double()[picks].mean(1)
    tail = (1 - LEVEL) / 2
    low, high = torch.quantile(means, torch.tensor([tail, 1 - tail], dtype=torch.float64)).tolist()
    return low, high


def widened(low: float, high: float, centre: float, seed_values: list[float]) -> tuple[float, float]:
    """The bootstrap interval (low, high) around ``centre``, its half-widths combined in
    quadrature with the t half-width of ``seed_values`` (per-seed results; none: unchanged)."""
    if len(seed_values) < 2:
        return low, high
    seed_low, seed_high = t_interval(seed_values)
    seed_half = (seed_high - seed_low) / 2
    return (
        centre - ((centre - low) ** 2 + seed_half**2) ** 0.5,
        centre + ((high - centre) ** 2 + seed_half**2) ** 0.5,
    )


def verdict(low: float, high: float) -> str:
    if low > 0:
        return "better"
    if high < 0:
        return "worse"
    return "within noise"


def correctness(predictions: list[torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
    """Per-image correctness (Q,) averaged over the seeds' predictions [(Q,), ...]."""
    return torch.stack([(p.cpu() == labels.cpu()).double() for p in predictions]).mean(0)


def accuracy_interval(results: dict[int, object], labels: torch.Tensor, all_labels: bool, resamples: int, seed: int):
    """(low, high, how) for the mean accuracy of ``results`` {seed: ProtocolResult} of one cell."""
    accuracies = [r.accuracy for r in results.values()]
    if all_labels or len(results) < 2:
        per_image = correctness([r.test_predictions for r in results.values()], labels)
        low, high = bootstrap_interval(per_image, resamples, seed)
        if not all_labels:
            return low, high, "bootstrap over test images (one labelled subset: its own luck not included)"
        low, high = widened(low, high, per_image.mean().item(), accuracies if len(accuracies) > 1 else [])
        return (
            low,
            high,
            "bootstrap over test images" + (", widened by the seeds' spread" if len(accuracies) > 1 else ""),
        )
    return (*t_interval(accuracies), "t over seeds")


def paired_difference(a: dict, b: dict, labels: torch.Tensor, all_labels: bool, resamples: int, seed: int) -> dict:
    """Accuracy of ``a`` minus ``b`` ({seed: ProtocolResult} each) with its 95% interval:
    over the shared seeds with few labels, over test images with all labels (widened by the
    seeds' spread where either side ran several). With few labels and fewer than two shared
    seeds there is no verdict: the subsets' luck cannot be measured."""
    shared = sorted(set(a) & set(b))
    if not all_labels:
        diffs = [a[s].accuracy - b[s].accuracy for s in shared]
        if len(diffs) < 2:
            mean = statistics.fmean(diffs) if diffs else float("nan")
            return {
                "difference": mean,
                "low": None,
                "high": None,
                "interval": "none: fewer than 2 shared subsets",
                "n": len(diffs),
                "verdict": "too few seeds",
            }
        low, high = t_interval(diffs)
        return {
            "difference": statistics.fmean(diffs),
            "low": low,
            "high": high,
            "interval": "paired t over shared subsets",
            "n": len(diffs),
            "verdict": verdict(low, high),
        }
    diff = correctness([r.test_predictions for r in a.values()], labels) - correctness(
        [r.test_predictions for r in b.values()], labels
    )
    mean = diff.mean().item()
    low, high = bootstrap_interval(diff, resamples, seed)
    spread = (
        [a[s].accuracy - b[s].accuracy for s in shared]
        if len(shared) > 1
        else ([r.accuracy for r in a.values()] if len(a) > 1 else [r.accuracy for r in b.values()])
    )
    low, high = widened(low, high, mean, spread)
    how = "paired bootstrap over test images" + (", widened by the seeds' spread" if len(spread) > 1 else "")
    return {
        "difference": mean,
        "low": low,
        "high": high,
        "interval": how,
        "n": len(labels),
        "verdict": verdict(low, high),
    }
