"""README's generated blocks: the verdict of the shipped `make run` report and the headline
table of the benchmark, written by the code that writes the report and BENCHMARKS.md, so the
README cannot disagree with them, and the shipped report docs/make-run/report.md rendered
from its report.json (``python -m bench --report-only`` rewrites them; a test fails while
they are stale).

A block sits between ``<!-- generated: NAME (SOURCE) -->`` and ``<!-- end generated -->``.
"""

from __future__ import annotations

import re
from pathlib import Path

from bench.interface import load_results
from bench.markdown import wrapped
from bench.summary import headline_lines
from evaluate.report import render_markdown
from evaluate.report_types import Report
from evaluate.verdict import verdict_lines

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"(<!-- generated: (\w+) \([^)]*\) -->\n)(.*?)(<!-- end generated -->)", re.S)


def blocks(root: Path = ROOT) -> dict[str, list[str]]:
    """Each block's lines, from its source."""
    report = Report.from_json((root / "docs" / "make-run" / "report.json").read_text())
    return {
        "verdict": wrapped(verdict_lines(report)[2:]),  # under README's own heading
        "headline": wrapped(headline_lines(load_results(root / "bench" / "results.json"))),
    }


def synced(text: str, found: dict[str, list[str]]) -> str:
    """``text`` with every generated block replaced by its source's lines."""
    return BLOCK.sub(lambda m: m.group(1) + "\n".join(found[m.group(2)]) + "\n" + m.group(4), text)


def shipped_report(root: Path = ROOT) -> str:
    """docs/make-run/report.md as the current renderer writes it from report.json."""
    return render_markdown(Report.from_json((root / "docs" / "make-run" / "report.json").read_text()))


def sync_readme(root: Path = ROOT) -> bool:
    """Rewrite README's generated blocks and docs/make-run/report.md; -> whether anything changed."""
    wanted = {
        root / "README.md": synced((root / "README.md").read_text(), blocks(root)),
        root / "docs" / "make-run" / "report.md": shipped_report(root),
    }
    stale = [path for path, text in wanted.items() if not path.is_file() or path.read_text() != text]
    for path in stale:
        path.write_text(wanted[path])
    return bool(stale)
