"""Benchmarks (``make bench``): transfer leaderboard, the decoder-only paper's Fig. 2, the
bottleneck sweep and speed. Results go to bench/results.json, BENCHMARKS.md and bench/plots/."""
