"""Every measured figure in README.md and docs/results.md comes from one source: either it sits
in a generated block (written from bench/results.json or the report's JSON by the renderer of
BENCHMARKS.md), or the paragraph quoting it names the BENCHMARKS.md section it comes from and
the figure is found in that section. Run by `make lint`; prints each offence as FILE:LINE.

A figure is a decimal number (``87.9``, ``−0.2``, ``10.4``): integers (epochs, label budgets,
image sizes), versions (``Python 3.11``) and settings in code or exponent form (``1.0e-3``) are
not measurements. A signed figure must appear with its sign. A paragraph names its source with
"section N" (or "sections N and M"); a heading's ``Source: BENCHMARKS.md section N`` line names
it for every paragraph under that heading, down to the next heading of the same or a higher
level. Code blocks are not read. A paragraph that links a published source (http) quotes
figures of published work and is not checked.

    python scripts/check_figures.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ("README.md", "docs/results.md")
GENERATED = re.compile(r"<!-- generated: .*?<!-- end generated -->", re.S)
FENCED = re.compile(r"^```.*?^```", re.S | re.M)
FIGURE = re.compile(r"(?<![\w.,])(?<!Python )([−+-]?)(\d+\.\d+)(?![\w.]*\d|e-)")
CITED = re.compile(r"sections? ((?:\d+b?(?:, | and | or |–))*\d+b?)", re.I)
SCOPE_SOURCE = re.compile(r"^Source: .*$", re.M)
EXTERNAL = re.compile(r"\]\(https?://")


def benchmark_sections(text: str) -> dict[str, str]:
    """{"1": text of BENCHMARKS.md's "## 1. ..." section, "1b": ..., ...}."""
    found = {}
    for block in re.split(r"^## ", text, flags=re.M)[1:]:
        number = re.match(r"(\d+b?)\.", block)
        if number:
            found[number.group(1)] = block
    return found


def cited(text: str) -> set[str]:
    """The section numbers ``text`` names ("section 10", "sections 1 and 1b")."""
    return {n for group in CITED.findall(text) for n in re.findall(r"\d+b?", group)}


def blanked(pattern: re.Pattern, text: str) -> str:
    """``text`` with every match of ``pattern`` replaced by as many empty lines."""
    return pattern.sub(lambda m: "\n" * m.group(0).count("\n"), text)


def paragraphs(text: str) -> list[tuple[int, str, set[str]]]:
    """(first line, paragraph, sources of its heading scope), generated blocks and code blanked
    out; every heading starts a paragraph of its own."""
    text = blanked(FENCED, blanked(GENERATED, text))
    found, scopes, line = [], [], 1  # scopes: (heading level, sources) from the outermost in
    for chunk in re.split(r"(\n\s*\n|\n(?=#+ ))", text):  # a heading right under a line opens a scope too
        heading = re.match(r"(#+) ", chunk)
        if heading:
            scopes = [s for s in scopes if s[0] < len(heading.group(1))] + [(len(heading.group(1)), set())]
        if scopes:
            scopes[-1][1].update(n for source in SCOPE_SOURCE.findall(chunk) for n in cited(source))
        if chunk.strip():
            found.append((line, chunk, set().union(*(s[1] for s in scopes))))
        line += chunk.count("\n")
    return found


def normal(text: str) -> str:
    return text.replace("−", "-")


def present(sign: str, figure: str, section: str) -> bool:
    """``figure`` as a whole number in ``section``, with ``sign`` where the document gave one."""
    before = re.escape(normal(sign)) if sign else r"(?<![\d.])"
    return re.search(rf"{before}{re.escape(figure)}(?![\d])", normal(section)) is not None


def offences(name: str, text: str, sections: dict[str, str]) -> list[str]:
    """``name:line: reason`` for each figure without a source or absent from its source."""
    found = []
    for line, paragraph, scope in paragraphs(text):
        if EXTERNAL.search(paragraph):
            continue
        sources = (cited(paragraph) | scope) & sections.keys()
        for m in FIGURE.finditer(paragraph):
            sign, figure, at = m.group(1), m.group(2), line + paragraph[: m.start()].count("\n")
            if not sources:
                found.append(f"{name}:{at}: {sign}{figure} names no BENCHMARKS.md section")
            elif not any(present(sign, figure, sections[s]) for s in sources):
                where = ", ".join(sorted(sources))
                found.append(f"{name}:{at}: {sign}{figure} is not in BENCHMARKS.md section {where}")
    return found


def main(root: Path = ROOT) -> int:
    sections = benchmark_sections((root / "BENCHMARKS.md").read_text())
    found = [line for name in CHECKED for line in offences(name, (root / name).read_text(), sections)]
    print("\n".join(found) if found else f"figures: each from its source ({', '.join(CHECKED)})")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
