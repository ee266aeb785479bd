"""Run the benchmarks and write BENCHMARKS.md, bench/results.json and bench/plots/.

    python -m bench                                   # every section, scale small (2 CPU cores)
    python -m bench --scale full                      # the sizes the benchmark and the paper ask for
    python -m bench --sections paper,speed            # some sections; the others keep their results
    python -m bench --report-only                     # rewrite BENCHMARKS.md and plots from results.json
    python -m bench --sections leaderboard --entries vicreg,dino   # those rows, merged into the stored section
    python -m bench --sections sweep --entries byol_fmnist         # that config's grid, merged likewise

Each section's result is saved as soon as it finishes, and finished pretraining runs under
runs/bench/<scale>/ are reused, so an interrupted benchmark restarts where it stopped
(``make bench`` deletes them first, to measure from scratch).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench import figures
from bench.leaderboard_parts import check_entries, merged_section
from bench.markdown import TITLES, write_benchmarks
from bench.parts import MergeError
from bench.runs import provenance
from bench.scales import SCALES
from bench.sweep import check_sweep_entries, merged_sweep
from pretrain.core.checkpoint import atomic_write


def section_runners() -> dict:
    from bench.bottleneck import run_bottleneck
    from bench.data_bench import run_data
    from bench.gpu_check import run_gpu_check
    from bench.leaderboard import run_leaderboard
    from bench.make_run import run_make_run
    from bench.paper_fig2 import run_paper_fig2
    from bench.score_correlation import run_label_free
    from bench.semi_leaderboard import run_semi_leaderboard
    from bench.speed import run_speed
    from bench.sweep import run_sweep

    return {
        "leaderboard": run_leaderboard,
        "semi": run_semi_leaderboard,
        "paper": run_paper_fig2,
        "bottleneck": run_bottleneck,
        "speed": run_speed,
        "gpu": run_gpu_check,  # {"skipped": ...} without CUDA
        "data": run_data,
        "sweep": run_sweep,
        "make_run": run_make_run,
        "label_free": run_label_free,
    }


# the sections ``--entries`` can measure in parts: how each checks its entry names, and merges
ENTRY_CHECKS = {"leaderboard": check_entries, "sweep": check_sweep_entries}
MERGERS = {"leaderboard": merged_section, "sweep": merged_sweep}


def draw_plots(results: dict, plot_dir: Path) -> list[Path]:
    drawn = []
    if "leaderboard" in results:
        drawn.append(
            figures.leaderboard_plot(results["leaderboard"]["data"], plot_dir / "leaderboard_label_efficiency.png")
        )
    if "paper" in results:
        drawn.append(figures.paper_fig2_plot(results["paper"]["data"], plot_dir / "paper_fig2.png"))
    if "bottleneck" in results:
        drawn.append(figures.bottleneck_plot(results["bottleneck"]["data"], plot_dir / "bottleneck.png"))
    for key in ("speed", "gpu"):
        if key in results and "loop" in results[key]["data"]:
            drawn.append(figures.speed_plot(results[key]["data"], plot_dir / f"{key}.png"))
    return drawn


def load_results(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def save_results(results: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=1, default=float)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--sections", default=",".join(TITLES), help=f"comma-separated, from {', '.join(TITLES)}")
    parser.add_argument("--out", type=Path, default=Path("bench"), help="results.json and plots/ go here")
    parser.add_argument("--markdown", type=Path, default=Path("BENCHMARKS.md"))
    parser.add_argument("--runs", type=Path, default=Path("runs/bench"), help="pretraining runs go to RUNS/<scale>/")
    parser.add_argument("--report-only", action="store_true", help="only rewrite the Markdown and plots")
    parser.add_argument(
        "--entries",
        default="",
        help="leaderboard or sweep alone: run these entries and merge their rows into the stored section",
    )
    args = parser.parse_args(argv)
    args.sections = [s for s in args.sections.split(",") if s]
    args.entries = [e for e in args.entries.split(",") if e]
    unknown = [s for s in args.sections if s not in TITLES]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(TITLES)}")
    if not args.entries:
        return args
    if len(args.sections) != 1 or args.sections[0] not in MERGERS:
        parser.error("--entries goes with --sections leaderboard or --sections sweep alone")
    try:
        ENTRY_CHECKS[args.sections[0]](args.entries)
    except MergeError as error:
        parser.error(str(error))
    return args


def run_section(section: str, scale, args, results: dict, source: dict) -> dict:
    """The section's result as results.json holds it (with ``--entries``: merged into the stored one)."""
    started = time.perf_counter()
    if args.entries:
        wall = lambda: time.perf_counter() - started  # noqa: E731
        merge = MERGERS[section]
        return merge(results.get(section), scale, args.entries, args.runs / scale.name, source, wall)
    data = section_runners()[section](scale, args.runs / scale.name)
    return {"provenance": source, "wall_seconds": time.perf_counter() - started, "data": data}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scale, results_path = SCALES[args.scale], args.out / "results.json"
    results = load_results(results_path)
    for section in [] if args.report_only else args.sections:
        print(f"== bench: {TITLES[section]} (scale {scale.name})", flush=True)
        outputs = (str(results_path), str(args.out / "plots"), str(args.markdown))
        source = provenance(scale, section, outputs)  # the code as it was when the section started
        try:
            results[section] = run_section(section, scale, args, results, source)
        except MergeError as error:  # a stored section the merge cannot join (checked before anything runs)
            print(f"bench: {error}", file=sys.stderr)
            return 2
        save_results(results, results_path)  # a later section's crash loses nothing done before it
    draw_plots(results, args.out / "plots")
    written = [str(write_benchmarks(results, args.markdown, args.out / "plots")), f"{args.out / 'plots'}/"]
    print(f"wrote {', '.join(written + ([] if args.report_only else [str(results_path)]))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
