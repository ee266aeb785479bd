"""The generated blocks of README.md and docs/results.md: the verdict of the shipped `make run`
report, the headline table of the benchmark and each benchmark section's finding and main
table, written by the code that writes the report and BENCHMARKS.md, so the documents cannot
disagree with them; and the shipped report docs/make-run/report.md rendered from its
report.json (``python -m bench --report-only`` rewrites them; a test fails while they are stale).

A block sits between ``<!-- generated: NAME (SOURCE) -->`` and ``<!-- end generated -->``;
NAME is ``verdict``, ``headline``, ``finding_SECTION`` or ``table_SECTION``.
"""

from __future__ import annotations

import re
from pathlib import Path

from bench.interface import SectionResult, load_results, ordered_sections
from bench.markdown import wrapped
from bench.summary import headline_lines
from evaluate.report import render_markdown
from evaluate.report_types import Report
from evaluate.verdict import verdict_lines

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"(<!-- generated: (\w+) \([^)]*\) -->\n)(.*?)(<!-- end generated -->)", re.S)


WITH_BLOCKS = ("README.md", "docs/results.md")  # the documents that hold generated blocks


def main_table(section, result: SectionResult) -> list[str]:
    """The first table of a section as BENCHMARKS.md renders it, with the paragraph above it."""
    lines = wrapped(section.render(result.data, "../bench/plots"))
    start = next((i for i, line in enumerate(lines) if line.startswith("|")), None)
    if start is None:
        return []
    end = next((j for j in range(start, len(lines)) if not lines[j].startswith("|")), len(lines))
    caption = max(start - 1, 0)  # the blank line above the table, then the paragraph above it
    while caption > 0 and lines[caption - 1].strip():
        caption -= 1
    return lines[caption:end]


def section_blocks(results: dict[str, SectionResult]) -> dict[str, list[str]]:
    """``finding_NAME`` and ``table_NAME`` of every section in ``results``."""
    found = {}
    for section in ordered_sections():
        if section.name in results:
            result = results[section.name]
            found[f"finding_{section.name}"] = wrapped([section.finding(result.data)] if section.finding else [])
            found[f"table_{section.name}"] = main_table(section, result)
    return found


def blocks(root: Path = ROOT) -> dict[str, list[str]]:
    """Each block's lines, from its source."""
    report = Report.from_json((root / "docs" / "make-run" / "report.json").read_text())
    results = load_results(root / "bench" / "results.json")
    return {
        "verdict": wrapped(verdict_lines(report)[2:]),  # under README's own heading
        "headline": wrapped(headline_lines(results)),
        **section_blocks(results),
    }


def synced(text: str, found: dict[str, list[str]]) -> str:
    """``text`` with every generated block replaced by its source's lines."""
    missing = sorted({m.group(2) for m in BLOCK.finditer(text)} - found.keys())
    if missing:
        raise KeyError(
            f"generated block(s) {', '.join(missing)} have no source (bench/results.json lacks the section?)"
        )
    return BLOCK.sub(lambda m: m.group(1) + "\n".join(found[m.group(2)]) + "\n" + m.group(4), text)


def shipped_report(root: Path = ROOT) -> str:
    """docs/make-run/report.md as the current renderer writes it from report.json."""
    return render_markdown(Report.from_json((root / "docs" / "make-run" / "report.json").read_text()))


def sync_documents(root: Path = ROOT) -> bool:
    """Rewrite the documents' generated blocks and docs/make-run/report.md; -> whether anything changed."""
    found = blocks(root)
    wanted = {root / name: synced((root / name).read_text(), found) for name in WITH_BLOCKS}
    wanted[root / "docs" / "make-run" / "report.md"] = shipped_report(root)
    stale = [path for path, text in wanted.items() if not path.is_file() or path.read_text() != text]
    for path in stale:
        path.write_text(wanted[path])
    return bool(stale)
