"""Section 8: what `make run` costs: its wall time in a fresh clone, the default evaluation's
time split by protocol, and the time of the same evaluation run a second time.

The clone is of the committed HEAD (``git clone`` of this checkout) and reuses this checkout's
virtualenv, so setup is excluded ("setup done"); it runs the two commands `make run` runs
(python -m pretrain --config CONFIG --resume, python -m evaluate --run RUN), each as its own
process as `make` would, then the evaluation once more. The fresh evaluation's report, its
store folder named relative to the clone as a user's would be, is kept as
runs/bench/<scale>/make_run/report.json: copied to docs/make-run/report.json it is the shipped
report README's verdict comes from (the rerun's report, in the clone, reads every cell back).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.interface import Section, register_section
from bench.scales import Scale
from bench.targets import TARGET_FILE
from evaluate.report import minutes
from evaluate.report_types import Report, to_plain
from evaluate.run import evaluation_folder
from pretrain.core.config import load_config
from pretrain.core.run_folder import Run


@dataclass(frozen=True)
class MakeRunSettings:
    config: str = "configs/ae_m64_fmnist.yaml"  # the Makefile's CONFIG
    eval_overrides: tuple[str, ...] = ()
    # a second run on the same data with the same encoder shape: every baseline cell (raw pixels, PCA,
    # random init, supervised from scratch) comes from the machine-wide store the first one filled
    second_config: str = "configs/dae_fmnist.yaml"
    second_overrides: tuple[str, ...] = ("encoder.code_dim=64", "name=dae_m64_fmnist")


BARS = TARGET_FILE["make_run"]
TARGETS = {
    "native_bf16": BARS["minutes_native_bf16"] * 60,
    "fp32": BARS["minutes_fp32"] * 60,
}  # make run's wall-time target by what the CPU trains in


def timed(command: list[str], cwd: Path) -> float:
    """Seconds ``command`` took in ``cwd``; its output is kept for the error if it fails."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"})
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed in {cwd}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def fresh_clone(root: Path) -> Path:
    repo = Path(__file__).resolve().parents[2]
    clone = (root / "make_run" / "clone").resolve()
    shutil.rmtree(clone, ignore_errors=True)
    clone.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    return clone


def run_make_run(scale: Scale, root: Path) -> dict:
    sizes = scale.of("make_run")
    config, eval_overrides = sizes.config, sizes.eval_overrides
    clone = fresh_clone(root)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=clone, capture_output=True, text=True)
    python, run_dir = sys.executable, clone / load_config(clone / config).run_path
    pretrain_s = timed([python, "-m", "pretrain", "--config", config, "--resume"], clone)
    evaluate = [python, "-m", "evaluate", "--run", str(run_dir), *eval_overrides]
    evaluate_s = timed(evaluate, clone)
    first = Report.from_json(report_file(run_dir, eval_overrides).read_text())
    (root / "make_run" / "report.json").write_text(shippable(first, clone).to_json())
    rerun_s = timed(evaluate, clone)
    again = Report.from_json(report_file(run_dir, eval_overrides).read_text())
    second = second_run(sizes, clone)
    return {
        "config": config,
        "eval_overrides": list(eval_overrides),
        "commit": commit.stdout.strip(),
        "clone": str(clone),
        "pretrain_seconds": pretrain_s,
        "evaluate_seconds": evaluate_s,
        "make_run_seconds": pretrain_s + evaluate_s,
        "precision": first.precision,
        "memory_format": first.memory_format,
        "evaluation": to_plain(first.cells),
        "rerun_seconds": rerun_s,
        "rerun": to_plain(again.cells),
        "same_records": to_plain(again.records) == to_plain(first.records),
        **second,
    }


def shippable(report: Report, clone: Path) -> Report:
    """``report`` with its store folder relative to the clone: what `make run` in a checkout shows."""
    folder = Path(report.cells.directory)
    relative = folder.relative_to(clone) if folder.is_relative_to(clone) else folder
    return dataclasses.replace(report, cells=dataclasses.replace(report.cells, directory=str(relative)))


def second_run(sizes: MakeRunSettings, clone: Path) -> dict:
    """Another config on the same data, pretrained and evaluated after the first (its baselines
    from the store): the evaluation time a user's second experiment pays."""
    config, overrides, eval_overrides = sizes.second_config, list(sizes.second_overrides), sizes.eval_overrides
    python, run_dir = sys.executable, clone / load_config(clone / config, overrides).run_path
    pretrain_s = timed([python, "-m", "pretrain", "--config", config, "--resume", *overrides], clone)
    evaluate_s = timed([python, "-m", "evaluate", "--run", str(run_dir), *eval_overrides], clone)
    report = Report.from_json(report_file(run_dir, eval_overrides).read_text())
    return {
        "second_config": config,
        "second_pretrain_seconds": pretrain_s,
        "second_evaluate_seconds": evaluate_s,
        "second": to_plain(report.cells),
    }


def report_file(run_dir: Path, overrides: tuple[str, ...]) -> Path:
    """report.json of the clone's evaluation of ``run_dir`` (a path in the clone) with ``overrides``."""
    return evaluation_folder(Run.at(run_dir), list(overrides), None).report_json


def make_run_section(data: dict, plots: str) -> list[str]:
    e = data["evaluation"]
    split = sorted(((kind, k["seconds"]) for kind, k in e["kinds"].items()), key=lambda kv: -kv[1])
    lines = [
        "| part | time |",
        "|---|---:|",
        f"| pretraining (`python -m pretrain`) | {minutes(data['pretrain_seconds'])} |",
    ]
    lines += [f"| evaluation: feature extraction | {minutes(e['feature_seconds'])} |"]
    lines += [f"| evaluation: {kind} cells | {minutes(s)} |" for kind, s in split]
    lines += [f"| evaluation, whole process (`python -m evaluate`) | {minutes(data['evaluate_seconds'])} |"]
    p, f = data["precision"], data["memory_format"]
    return [
        f"`make run` without its setup, in a fresh clone of commit `{data['commit']}` ({data['config']}"
        + (f", {' '.join(data['eval_overrides'])}" if data["eval_overrides"] else "")
        + f"): pretraining in {p['train']} ({f['train']}), evaluation in {p['eval']} ({f['eval']}).",
        "",
        *lines,
        "",
        *target_lines(data),
    ]


def target_lines(data: dict) -> list[str]:
    """The section's targets, each measured here: make run's wall time (by what the CPU trains
    in), evaluation against pretraining time, a rerun, and a second run on the same data."""
    r, p = data["rerun"], data["precision"]
    limit = TARGETS["native_bf16" if p["train"] == "bf16" else "fp32"]
    ratio = data["evaluate_seconds"] / max(data["pretrain_seconds"], 1e-9)
    met = "met" if data["make_run_seconds"] <= limit else "missed"
    lines = [
        f"- `make run` (pretraining + evaluation): **{minutes(data['make_run_seconds'])}** (target ≤ "
        f"{minutes(limit)} where pretraining runs in {p['train']}: {met}).",
        f"- Evaluation / pretraining time: **{ratio:.1f}x** (target ≤ {BARS['evaluation_over_pretraining']}x: "
        f"{'met' if ratio <= BARS['evaluation_over_pretraining'] else 'missed'}).",
        f"- The same `python -m evaluate --run` a second time: **{minutes(data['rerun_seconds'])}** "
        f"({r['reused']} cells reused, {r['computed']} computed); identical records: {data['same_records']}.",
    ]
    kinds = sorted(data["evaluation"]["kinds"].items(), key=lambda kv: -kv[1]["seconds"])[:3]
    total = max(data["evaluate_seconds"], 1e-9)
    costliest = ", ".join(f"{kind} {100 * k['seconds'] / total:.0f}%" for kind, k in kinds)
    lines.append(f"- Where a fresh clone's evaluation goes (share of its wall time): {costliest}.")
    if "second" in data:
        s, second = data["second"], BARS["second_evaluation_minutes"]
        lines.append(
            f"- A second config on the same data (`{data['second_config']}`), evaluated after it: "
            f"**{minutes(data['second_evaluate_seconds'])}** ({s['reused']} cells from the store, {s['computed']} "
            f"computed; target ≤ {second} min: {'met' if data['second_evaluate_seconds'] <= 60 * second else 'missed'}"
            ")."
        )
        lines.append(once_per_machine_line(data))
    return lines


def once_per_machine_line(data: dict) -> str:
    """What a fresh clone pays once per machine (the cells the second config read back: they do
    not depend on an encoder), and what a run costs once they are stored."""
    shared = sum(k["saved_seconds"] for k in data["second"]["kinds"].values())
    pretrain, evaluate = data["second_pretrain_seconds"], data["second_evaluate_seconds"]
    return (
        f"- Paid once per machine: {minutes(shared)} of the fresh clone's evaluation is work that does not depend on "
        f"the encoder (baselines, supervised from scratch, its learning-rate search), which the second config read "
        f"back. A run after it: pretraining {minutes(pretrain)} + evaluation {minutes(evaluate)} = "
        f"{minutes(pretrain + evaluate)}, evaluation / pretraining {evaluate / max(pretrain, 1e-9):.1f}x."
    )


def make_run_finding(data: dict) -> str:
    limit = TARGETS["native_bf16" if data["precision"]["train"] == "bf16" else "fp32"]
    met = "within" if data["make_run_seconds"] <= limit else "over"
    second = (
        f"; a second config on the same data evaluates in {minutes(data['second_evaluate_seconds'])}"
        if "second" in data
        else ""
    )
    return (
        f"`make run` takes {minutes(data['make_run_seconds'])} in a fresh clone, {met} its {minutes(limit)} target "
        f"(pretraining {minutes(data['pretrain_seconds'])}, evaluation {minutes(data['evaluate_seconds'])}){second}."
    )


SECTION = register_section(
    Section("make_run", "8. make run: wall time, evaluation time by protocol, a rerun", MakeRunSettings,
            run_make_run, make_run_section, finding=make_run_finding)
)  # fmt: skip
