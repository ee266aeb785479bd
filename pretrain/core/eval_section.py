"""The ``eval`` section, handed from the core to the evaluation layer without an import.

Evaluation's settings belong to ``evaluate`` (evaluate.settings), which the core never imports.
A pretraining config still carries them, and a typo there must stop ``python -m pretrain``
before its first step: the core checks the section against ``eval_schema.json``, the keys,
types, defaults and choices that the evaluation layer publishes (``python -m evaluate schema``
writes it; a test fails while it is stale). The checked section is kept as a plain mapping
with every default filled in, which is what the run's config.yaml records; evaluation types it.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
from pathlib import Path
from typing import Any

from pretrain.core.typed_yaml import ConfigError, parse_dataclass, to_plain

SCHEMA_PATH = Path(__file__).with_name("eval_schema.json")
BUILTIN_TYPES = {"int": int, "float": float, "str": str, "bool": bool, "list": list, "dict": dict, "Any": Any}


def check_eval_section(data: Any, types: dict[str, type]) -> dict:
    """``data`` (the ``eval`` mapping), every key, type and choice checked against the schema
    and every default filled in. ``types``: the core's dataclasses the schema names (DataConfig)."""
    section = schema_class(tuple(sorted(types.items())))
    return to_plain(parse_dataclass(section, data, "eval"))


@functools.lru_cache
def schema_class(types: tuple[tuple[str, type], ...]) -> type:
    """The schema as dataclasses (the eval section and one nested class per protocol section)."""
    schema = json.loads(SCHEMA_PATH.read_text())
    return section_class(schema, {**BUILTIN_TYPES, "None": None, **dict(types)}, "eval")


def section_class(spec: dict, names: dict[str, Any], path: str) -> type:
    """A dataclass named ``spec["class"]`` with ``spec["fields"]`` (type text, default, choices)
    and ``spec["sections"]`` (nested sections, each a field of its own class)."""
    fields: list[tuple] = []
    for key, declared in spec["fields"].items():
        annotation = eval(declared["type"], {"__builtins__": {}}, names)  # type text over known names only
        default = functools.partial(copy.deepcopy, declared["default"])
        fields.append((key, annotation, dataclasses.field(default_factory=default)))
    for key, nested in spec.get("sections", {}).items():
        cls = section_class(nested, names, f"{path}.{key}")
        fields.append((key, cls, dataclasses.field(default_factory=cls)))
    choices = {key: declared["choices"] for key, declared in spec["fields"].items() if "choices" in declared}
    return dataclasses.make_dataclass(spec["class"], fields, namespace={"__post_init__": choice_check(path, choices)})


def choice_check(path: str, choices: dict[str, list]):
    """A __post_init__ refusing a value outside its field's published choices, as the section's own class does."""

    def check(self) -> None:
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise ConfigError(
                    f"{path}.{key}: {getattr(self, key)!r} is unknown; choose from {', '.join(map(str, allowed))}"
                )

    return check
