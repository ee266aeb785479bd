"""The user documents: nothing of how the work was organised (scripts/check_docs.py, which
`make lint` runs), every figure of README and docs/results.md from its source
(scripts/check_figures.py, also in `make lint`), and their generated blocks and the shipped
`make run` report equal to what their sources render today."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from bench.readme import ROOT, WITH_BLOCKS, blocks, shipped_report, synced


def script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check_docs, check_figures = script("check_docs"), script("check_figures")


def test_the_documentation_check_finds_what_it_forbids():
    text = "as issue 34 asked\nmeasured in this session\nno GPU lent\nsee /tmp/run/report.md\nthe hparams session\n"
    found = check_docs.offences("X.md", text)
    assert found == [
        "X.md:1: an issue number",
        "X.md:2: the word session",
        "X.md:3: lent machines",
        "X.md:4: a path of one machine",
    ]


def test_the_user_documents_pass_the_documentation_check():
    found = []
    for path in check_docs.documents():
        name, text = str(path.relative_to(ROOT)), path.read_text()
        found += check_docs.offences(name, text) + check_docs.too_wide(name, text) + check_docs.broken_links(path, text)
    assert found == []


def test_links_to_missing_files_or_headings_are_found(tmp_path):
    (tmp_path / "b.md").write_text("# Title\n\n## What `make run` costs\n")
    text = (
        "[ok](b.md#what-make-run-costs) [top](#a) [gone](c.md) [bad](b.md#nothing) [web](https://x.org/a.md#z)\n# A\n"
    )
    (tmp_path / "a.md").write_text(text)
    assert check_docs.broken_links(tmp_path / "a.md", text, tmp_path) == [
        "a.md:1: no file c.md",
        "a.md:1: no heading #nothing in b.md",
    ]


def test_the_width_rule_reads_tables_everywhere_and_every_line_of_the_benchmarks():
    row, prose = "| " + "x" * 210 + " |", "y" * 210
    assert check_docs.too_wide("docs/a.md", f"{prose}\n{row}\n") == ["docs/a.md:2: 214 characters, over 200"]
    assert len(check_docs.too_wide("BENCHMARKS.md", f"{prose}\n{row}\n")) == 2
    assert check_docs.too_wide("docs/make-run/report.md", row) == []


@pytest.mark.parametrize("name", WITH_BLOCKS)
def test_generated_blocks_are_what_their_sources_render(name):
    text = (ROOT / name).read_text()
    assert synced(text, blocks()) == text, "stale: run python -m bench --report-only"
    assert "<!-- generated: " in text


def test_readme_carries_the_verdict_and_the_headline():
    readme = (ROOT / "README.md").read_text()
    assert "<!-- generated: verdict" in readme and "<!-- generated: headline" in readme


BENCH = "## 1. Transfer leaderboard\n| VICReg | 72.6 | 86.4 |\n## 10. Time\n| VICReg | 10 | 73.3 |\n"


def test_the_figure_check_finds_figures_without_a_source_or_absent_from_it():
    sections = check_figures.benchmark_sections(BENCH)
    text = (
        "## Leaderboard\n\nSource: BENCHMARKS.md section 1.\n\nVICReg reaches 72.6 and 86.4.\n\n"
        "VICReg reaches 72.7.\n\nAt 10 epochs 73.3 (section 10).\n\n## Other\n\nIt took 12.5 min.\n\n"
        "Published: 91.4 ([SimCLR](https://example.org)).\n\n"
        "<!-- generated: x (y) -->\n99.9\n<!-- end generated -->\n"
    )
    assert check_figures.offences("R.md", text, sections) == [
        "R.md:7: 72.7 is not in BENCHMARKS.md section 1",
        "R.md:13: 12.5 names no BENCHMARKS.md section",
    ]


def test_a_figure_is_matched_whole_and_with_the_sign_the_document_gives():
    sections = check_figures.benchmark_sections("## 2. X\n| a | 172.60 | −0.2 | 0.5 |\n")
    text = "-0.2, 0.2 and +0.2 in section 2; Python 3.11, lr 1.0e-3, 1,172.6 images.\n"
    assert check_figures.offences("R.md", text, sections) == ["R.md:1: +0.2 is not in BENCHMARKS.md section 2"]
    assert len(check_figures.offences("R.md", "72.6 in section 2.\n", sections)) == 1


def test_a_source_holds_down_to_the_next_heading_of_its_level_and_code_is_not_read():
    sections = check_figures.benchmark_sections("## 1. A\n| 1.5 |\n## 2. B\n| 2.5 |\n")
    text = (
        "## One\nSource: BENCHMARKS.md section 1.\n\n### Sub\n1.5 here.\n## Two\n2.5 there.\n\n"
        "```\n9.9 in code\n\n8.8 too\n```\n"
    )
    assert check_figures.offences("R.md", text, sections) == ["R.md:7: 2.5 names no BENCHMARKS.md section"]


def test_every_figure_of_readme_and_the_results_page_is_found_in_its_source():
    assert check_figures.main() == 0


def test_the_shipped_make_run_report_is_what_its_json_renders():
    shipped = (ROOT / "docs" / "make-run" / "report.md").read_text()
    assert shipped == shipped_report(), "stale: run python -m bench --report-only"
    assert shipped.index("## Verdict") < shipped.index("## Scarce labels")


def test_readme_stays_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 150
    assert Path(ROOT / "docs" / "make-run" / "report.json").is_file()


def test_the_key_reference_is_generated_from_the_dataclasses_as_they_are():
    keys = script("key_reference")
    text = (ROOT / "docs" / "configuration.md").read_text()
    assert keys.synced(text) == text, "stale: run python scripts/key_reference.py"
    for key in ("`train.epochs`", "`data.synthetic_size`", "`tasks.N.beta`", "`eval.knn.k`", "`encoder.width`"):
        assert f"| {key} |" in text
