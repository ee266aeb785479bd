"""How sure a comparison is: 95% intervals of accuracies and of paired differences.

Two sources of noise, two intervals (Dietterich 1998; Bouthillier et al. 2021):
- with a few labels, which labelled subset was drawn dominates: a t interval over the seeds,
  paired where two sources share the subsets (the same positions, so the difference
  cancels the subset's own luck);
- with all labels, every seed sees the same images: a bootstrap over the test images of the
  per-image correctness (averaged over the seeds that ran), paired image by image.
A comparison is called better or worse only where its interval excludes zero.
"""

from __future__ import annotations

import statistics

import torch
from scipy.stats import t as student_t

LEVEL = 0.95


def t_interval(values: list[float]) -> tuple[float, float]:
    """95% interval of the mean of ``values`` (at least two) under a t distribution."""
    mean, half = statistics.fmean(values), 0.0
    if len(values) > 1:
        half = student_t.ppf(0.5 + LEVEL / 2, len(values) - 1) * statistics.stdev(values) / len(values) ** 0.5
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
    if all_labels or len(results) < 2:
        per_image = correctness([r.test_predictions for r in results.values()], labels)
        return (*bootstrap_interval(per_image, resamples, seed), "bootstrap over test images")
    return (*t_interval([r.accuracy for r in results.values()]), "t over seeds")


def paired_difference(a: dict, b: dict, labels: torch.Tensor, all_labels: bool, resamples: int, seed: int) -> dict:
    """Accuracy of ``a`` minus ``b`` ({seed: ProtocolResult} each) with its 95% interval:
    over the shared seeds with few labels, over test images with all labels (or one shared seed)."""
    shared = sorted(set(a) & set(b))
    if all_labels or len(shared) < 2:
        a_seeds, b_seeds = (shared, shared) if shared and not all_labels else (sorted(a), sorted(b))
        diff = correctness([a[s].test_predictions for s in a_seeds], labels) - correctness(
            [b[s].test_predictions for s in b_seeds], labels
        )
        mean, (low, high) = diff.mean().item(), bootstrap_interval(diff, resamples, seed)
        how, n = "paired bootstrap over test images", len(labels)
    else:
        diffs = [a[s].accuracy - b[s].accuracy for s in shared]
        mean, (low, high), how, n = (
            statistics.fmean(diffs),
            t_interval(diffs),
            "paired t over shared subsets",
            len(shared),
        )
    return {"difference": mean, "low": low, "high": high, "interval": how, "n": n, "verdict": verdict(low, high)}
