"""The user documents: nothing of how the work was organised (scripts/check_docs.py, which
`make lint` runs), and README's generated blocks and the shipped `make run` report equal to
what their sources render today."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from bench.readme import ROOT, blocks, shipped_report, synced

spec = importlib.util.spec_from_file_location("check_docs", ROOT / "scripts" / "check_docs.py")
check_docs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_docs)


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
        found += check_docs.offences(name, text) + check_docs.too_wide(name, text)
    assert found == []


def test_the_width_rule_reads_tables_everywhere_and_every_line_of_the_benchmarks():
    row, prose = "| " + "x" * 210 + " |", "y" * 210
    assert check_docs.too_wide("docs/a.md", f"{prose}\n{row}\n") == ["docs/a.md:2: 214 characters, over 200"]
    assert len(check_docs.too_wide("BENCHMARKS.md", f"{prose}\n{row}\n")) == 2
    assert check_docs.too_wide("docs/make-run/report.md", row) == []


def test_readme_blocks_are_what_their_sources_render():
    readme = (ROOT / "README.md").read_text()
    assert synced(readme, blocks()) == readme, "stale: run python -m bench --report-only"
    assert "<!-- generated: verdict" in readme and "<!-- generated: headline" in readme


def test_the_shipped_make_run_report_is_what_its_json_renders():
    shipped = (ROOT / "docs" / "make-run" / "report.md").read_text()
    assert shipped == shipped_report(), "stale: run python -m bench --report-only"
    assert shipped.index("## Verdict") < shipped.index("## Scarce labels")


def test_readme_stays_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 150
    assert Path(ROOT / "docs" / "make-run" / "report.json").is_file()


def test_the_key_reference_is_generated_from_the_dataclasses_as_they_are():
    spec = importlib.util.spec_from_file_location("key_reference", ROOT / "scripts" / "key_reference.py")
    keys = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(keys)
    text = (ROOT / "docs" / "configuration.md").read_text()
    assert keys.synced(text) == text, "stale: run python scripts/key_reference.py"
    for key in ("`train.epochs`", "`data.synthetic_size`", "`tasks.N.beta`", "`eval.knn.k`", "`encoder.width`"):
        assert f"| {key} |" in text
