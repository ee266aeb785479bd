"""The user documents speak of the toolkit only: README.md, docs/, BENCHMARKS.md, CHANGELOG.md
and every command's --help carry no issue numbers, no word of sessions or lent machines, and
no path of one machine; they stay readable: no Markdown table row (in BENCHMARKS.md, no line
at all) over 200 characters; and every link to a Markdown file or one of its headings
resolves. Run by `make lint`; prints each offence as FILE:LINE: reason.

    python scripts/check_docs.py
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from bench.markdown import anchor

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    r"\bissues? #?\d+": "an issue number",
    r"\bsessions?\b": "the word session",
    r"\b(lent|lending)\b": "lent machines",
    r"(?<![\w.])/(tmp|work|home|root)/": "a path of one machine",
}
ALLOWED = ("hparams session", "InferenceSession", "session.run", "session = ")  # TensorBoard's and ONNX's own words
COMMANDS = ("pretrain", "evaluate", "bench", "pretrain.export")
WIDTH = 200
VERBATIM = ("docs/make-run/report.md",)  # the report as `make run` writes it: its width is the report's


def too_wide(name: str, text: str) -> list[str]:
    """``name:line: reason`` for every over-long table row (every over-long line of BENCHMARKS.md)."""
    if name in VERBATIM:
        return []
    every = name.endswith("BENCHMARKS.md")
    return [
        f"{name}:{number}: {len(line)} characters, over {WIDTH}"
        for number, line in enumerate(text.splitlines(), 1)
        if len(line) > WIDTH and (every or line.startswith("|"))
    ]


def broken_links(path: Path, text: str, root: Path = ROOT) -> list[str]:
    """``name:line: reason`` for every link to a Markdown file or heading that does not exist."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        for target, heading in re.findall(r"\]\((?!https?:)([^)#\s]*\.md)?#?([\w-]*)\)", line):
            linked = (path.parent / target).resolve() if target else path
            if not linked.is_file():
                found.append(f"{path.relative_to(root)}:{number}: no file {target}")
            elif heading and heading not in {
                anchor(h.strip()) for h in re.findall(r"^#+ (.*)$", linked.read_text(), re.M)
            }:
                found.append(f"{path.relative_to(root)}:{number}: no heading #{heading} in {target or path.name}")
    return found


def documents(root: Path = ROOT) -> list[Path]:
    return [root / "README.md", root / "BENCHMARKS.md", root / "CHANGELOG.md", *sorted((root / "docs").rglob("*.md"))]


def offences(name: str, text: str) -> list[str]:
    """``name:line: reason`` for every forbidden word in ``text``."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        kept = line
        for allowed in ALLOWED:
            kept = kept.replace(allowed, "")
        found += [f"{name}:{number}: {why}" for pattern, why in FORBIDDEN.items() if re.search(pattern, kept, re.I)]
    return found


def help_texts() -> dict[str, str]:
    """Every command's --help output."""
    run = [sys.executable, "-m"]
    return {
        f"python -m {c} --help": subprocess.run([*run, c, "--help"], capture_output=True, text=True, cwd=ROOT).stdout
        for c in COMMANDS
    }


def main() -> int:
    found = []
    for path in documents():
        name, text = str(path.relative_to(ROOT)), path.read_text()
        found += offences(name, text) + too_wide(name, text) + broken_links(path, text)
    found += [line for name, text in help_texts().items() for line in offences(name, text)]
    print("\n".join(found) if found else f"documents and --help texts: clean ({len(documents())} files)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
