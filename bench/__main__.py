"""Run the benchmarks and write BENCHMARKS.md, bench/results.json and bench/plots/.

    python -m bench                              # every section, scale small (2 CPU cores)
    python -m bench --scale full                 # the sizes the benchmark and the paper ask for
    python -m bench --sections paper,speed       # some sections; the others keep their results
    python -m bench --report-only                # rewrite BENCHMARKS.md and plots from results.json
    python -m bench --sections leaderboard --set leaderboard.only=[vicreg,lejepa]   # a size changed

Each section's result is saved as soon as it finishes. Its pretraining runs (under
runs/bench/<scale>/) are reused once finished and its evaluation cells are read back from
the machine-wide store, so the same command run again after a crash, or after a new entry
was added, computes only what is missing (``make bench`` deletes the runs first, to measure
from scratch).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bench.interface import SectionResult, load_results, ordered_sections, save_results
from bench.markdown import write_benchmarks
from bench.readme import sync_documents
from bench.runs import provenance
from bench.scales import SCALE_NAMES, load_scale
from pretrain.core.typed_yaml import ConfigError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    names = [s.name for s in ordered_sections()]
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=SCALE_NAMES, default="small")
    parser.add_argument("--sections", default=",".join(names), help=f"comma-separated, from {', '.join(names)}")
    parser.add_argument("--out", type=Path, default=Path("bench"), help="results.json and plots/ go here")
    parser.add_argument("--markdown", type=Path, default=Path("BENCHMARKS.md"))
    parser.add_argument("--runs", type=Path, default=Path("runs/bench"), help="pretraining runs go to RUNS/<scale>/")
    parser.add_argument("--report-only", action="store_true", help="only rewrite the Markdown and plots")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.SIZE=VALUE",
        help="change one of a section's sizes on this scale (bench/scales.yaml), e.g. sweep.tasks=2; repeatable",
    )
    args = parser.parse_args(argv)
    args.sections = [s for s in args.sections.split(",") if s]
    unknown = [s for s in args.sections if s not in names]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(names)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        scale = load_scale(args.scale, tuple(args.set))
    except ConfigError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 2
    results_path, plot_dir = args.out / "results.json", args.out / "plots"
    results = load_results(results_path)
    chosen = [] if args.report_only else [s for s in ordered_sections() if s.name in args.sections]
    for section in chosen:
        print(f"== bench: {section.title} (scale {scale.name})", flush=True)
        source = provenance(scale, section.name, (str(results_path), str(plot_dir), str(args.markdown)))
        started = time.perf_counter()
        data = section.measure(scale, args.runs / scale.name)
        results[section.name] = SectionResult(source, time.perf_counter() - started, data)
        save_results(results, results_path)  # a later section's crash loses nothing done before it
    for section in ordered_sections():
        if section.name in results:
            section.plots(results[section.name].data, plot_dir)
    written = [str(write_benchmarks(results, args.markdown, plot_dir)), f"{plot_dir}/"]
    if args.markdown == Path("BENCHMARKS.md") and args.out == Path("bench") and sync_documents():
        written.append("README.md, docs/results.md and docs/make-run/report.md")  # generated blocks (bench/readme.py)
    print(f"wrote {', '.join(written + ([] if args.report_only else [str(results_path)]))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
