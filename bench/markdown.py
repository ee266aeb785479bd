"""BENCHMARKS.md, written from bench/results.json only: no figure in it is typed by hand."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

from bench.interface import SectionResult, ordered_sections
from bench.scales import load_scale
from bench.summary import headline_lines
from evaluate.report import minutes


def setting(value) -> str:
    return ", ".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value)


def smaller_than_full(section, result: SectionResult) -> list[str]:
    """``name = value (full: value)`` for every size the section ran at below full size (its
    own and those of the sections it uses; results without a record: the scale's sizes now)."""
    ran = result.provenance.sizes or load_scale(result.provenance.scale).sizes_of(section.name)
    full = load_scale("full").sizes_of(section.name)
    found = [f"dataset = {setting(ran['dataset'])}"] if ran.get("dataset") else []
    for name, sizes in ran.items():
        for key, value in sizes.items() if name != "dataset" else ():
            default = full[name].get(key)
            if value != default:
                found.append(f"{name}.{key} = {setting(value) or 'none'} (full: {setting(default) or 'none'})")
    return found


def provenance_lines(section, result: SectionResult) -> list[str]:
    p, m = result.provenance, result.provenance.machine
    where = f"{m.cpu_cores} CPU cores ({m.cpu}), {m.memory_gib} GiB, " + (f"GPU {m.gpu}" if m.gpu else "no GPU")
    lines = [
        f"Measured {p.date} at commit `{p.commit}` on {where}; torch {m.packages.get('torch', '?')}.",
        f"Command: `{p.command}` (scale `{p.scale}`), {minutes(result.wall_seconds)} wall"
        + (" summed over the parts below." if len(result.parts) > 1 else "."),
    ]
    smaller = smaller_than_full(section, result)
    if smaller:
        lines.append(
            f"Settings that differ from full size, to fit 2 CPU cores: {'; '.join(smaller)}. "
            f"Full size: `python -m bench --scale full --sections {section.name}`."
        )
    return lines + parts_lines(result)


def parts_lines(result: SectionResult) -> list[str]:
    """Results an older bench measured in several sittings: which rows each sitting measured."""
    if len(result.parts) < 2:
        return []
    rows = result.data["rows"]
    lines = ["Measured in parts:"]
    for index, part in enumerate(result.parts):
        names = list(dict.fromkeys(r.get("representation") or r["config"] for r in rows if r.get("part", 0) == index))
        if names:
            p, m = part["provenance"], part["provenance"]["machine"]
            entries = f" --entries {','.join(part['entries'])}" if part["entries"] else ""
            lines.append(
                f"- {p['date']}, commit `{p['commit'][:12]}`, {m['cpu']}, `{p['command']}{entries}` "
                f"({minutes(part['wall_seconds'])} wall): {'; '.join(names)}."
            )
    return lines


def anchor(title: str) -> str:
    """The link target a Markdown renderer gives a heading (GitHub's rule)."""
    kept = "".join(c for c in title.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


def write_benchmarks(results: dict[str, SectionResult], path: Path, plot_dir: Path) -> Path:
    parts = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench`) from `bench/results.json`; every figure below comes from that "
        "file, and each section names the command, commit, machine and date that produced it.",
    ]
    plots = os.path.relpath(plot_dir, Path(path).parent)
    parts += ["", "## Summary", "", *headline_lines(results), "", "## Contents", ""]
    parts += [f"- [{s.title}](#{anchor(s.title)})" for s in ordered_sections()]
    for section in ordered_sections():
        parts += ["", f"## {section.title}", ""]
        if section.name not in results:
            parts.append(f"Not run yet: `python -m bench --sections {section.name}`.")
            continue
        result = results[section.name]
        finding = [f"**Finding.** {section.finding(result.data)}", ""] if section.finding else []
        parts += [*finding, *provenance_lines(section, result), "", *section.render(result.data, plots)]
    Path(path).write_text("\n".join(wrapped(parts)) + "\n")
    return Path(path)


def wrapped(lines: list[str], width: int = 110) -> list[str]:
    """Prose and list lines folded at ``width`` (tables, headings and images left whole), so no
    line of BENCHMARKS.md runs on for hundreds of characters."""
    out = []
    for line in lines:
        for part in line.split("\n"):
            if part.startswith(("|", "#", "!", "<")) or len(part) <= width:
                out.append(part)
            else:
                indent = "  " if part.startswith("- ") else ""
                out += textwrap.wrap(
                    part, width, subsequent_indent=indent, break_on_hyphens=False, break_long_words=False
                )
    return out
