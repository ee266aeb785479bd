"""The collapse alarm's scores of finished runs, one line each (the calibration table in
docs/protocols.md comes from this):

    python scripts/collapse_scores.py RUN [RUN ...]

Each run is evaluated with RankMe only and no baseline, so the check draws the random-init
encoder of the run's architecture itself, as it does in every evaluation without that baseline.
"""

from __future__ import annotations

import sys

from evaluate.entry import EvaluationSettings, evaluate_run


def main(runs: list[str]) -> int:
    settings = EvaluationSettings(["eval.protocols=[rankme]"], baselines=[], diagnostics=False, write=False)
    print("| run | images | dim | RankMe (random init) | mean cosine (random init) | constant dims | spread | fired |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for run in runs:
        c = evaluate_run(run, settings).collapse
        print(
            f"| {run} | {c.images} | {c.dim} | {c.rank:.1f} ({c.random_rank:.1f}) | {c.mean_cosine:.3f} "
            f"({c.random_mean_cosine:.3f}) | {100 * c.constant_share:.0f}% | {c.spread:.3f} | "
            f"{'; '.join(f.split(':')[0] for f in c.fired) or 'none'} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]) if sys.argv[1:] else "usage: python scripts/collapse_scores.py RUN [RUN ...]")
