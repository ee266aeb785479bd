"""Every config key with its default and the comment beside its field, generated from the
dataclasses themselves into the generated block of docs/configuration.md (a test fails while
that block is stale):

    python scripts/key_reference.py          # rewrite the block
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
from pathlib import Path

from bench.readme import synced as generated_blocks
from evaluate.protocol_registry import settings_types
from evaluate.settings import EvalConfig
from pretrain.core.config import Config
from pretrain.core.dataset_registry import DATASETS, dataset_settings
from pretrain.core.encoders import BACKBONES, backbone_settings
from pretrain.core.tasks import TASKS

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "configuration.md"
FIELD = re.compile(r"^\s+(\w+)\s*:[^#]*?(?:#\s*(.*))?$")
SKIPPED = {"tasks", "eval"}  # lists and sections documented apart


def field_comments(cls: type) -> dict[str, str]:
    """{field: the comment beside it, or on the lines just above it} from ``cls``'s source."""
    found, above = {}, []
    for line in inspect.getsource(cls).splitlines()[1:]:
        stripped = line.strip()
        if stripped.startswith("#"):
            above.append(stripped.lstrip("# "))
            continue
        match = FIELD.match(line)
        if match and not stripped.startswith(("def ", "@", '"""')):
            found[match.group(1)] = " ".join([*above, match.group(2) or ""]).strip()
        above = []
    return found


def shown(value) -> str:
    if isinstance(value, str):
        return f'`"{value}"`' if value == "" else f"`{value}`"
    return f"`{value}`".replace("|", "\\|")


def fitted(head: str, text: str, width: int = 200) -> str:
    """A table row of at most ``width`` characters: the comment cut short where it would not fit
    (the whole comment stays beside the field in the source)."""
    room = width - len(head) - 2
    return head + (text if len(text) <= room else text[: room - 1].rstrip() + "…") + " |"


def rows(cls: type, prefix: str) -> list[str]:
    """One table row per key of dataclass ``cls`` (nested dataclasses flattened under their name)."""
    comments, out = field_comments(cls), []
    for f in dataclasses.fields(cls):
        if not f.init or f.name in SKIPPED or not f.metadata.get("key", True):
            continue
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if dataclasses.is_dataclass(default):
            out += rows(type(default), f"{prefix}{f.name}.")
            continue
        out.append(fitted(f"| `{prefix}{f.name}` | {shown(default)} | ", comments.get(f.name, "").replace("|", "/")))
    return out


def table(title: str, cls: type, prefix: str) -> list[str]:
    body = rows(cls, prefix)
    return [f"### {title}", "", "| key | default | what |", "|---|---|---|", *body, ""] if body else []


def reference() -> list[str]:
    """The block's lines: the shared sections, each plugin's own keys, each task's, eval's."""
    lines = table("Shared keys", Config, "")
    for name in DATASETS.names():
        if settings := dataset_settings(name):
            lines += table(f"`data.*` of the `{name}` dataset", settings, "data.")
    for name in BACKBONES.names():
        if settings := backbone_settings(name):
            lines += table(f"`encoder.*` of the `{name}` encoder", settings, "encoder.")
    lines += table("`encoder.*` of a timm model (any other name)", backbone_settings("a timm model"), "encoder.")
    for name in TASKS.names():
        lines += table(f"`tasks.N.*` of `{name}`", TASKS[name].Config, "tasks.N.")
    lines += table("`eval.*`", EvalConfig, "eval.")
    for name, settings in sorted(settings_types().items()):
        lines += table(f"`eval.{name}.*`", settings, f"eval.{name}.")
    return lines


def synced(text: str) -> str:
    """``text`` with its generated ``keys`` block rewritten (the README's block mechanism, bench/readme.py)."""
    return generated_blocks(text, {"keys": reference()})


def main() -> int:
    text = DOC.read_text()
    DOC.write_text(synced(text))
    print(f"{DOC.relative_to(ROOT)}: {'rewritten' if synced(text) != text else 'already current'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
