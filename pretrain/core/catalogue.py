"""What there is to choose from, one line each: the registered tasks, encoders and datasets
and the shipped configs (``python -m pretrain --list KIND``; ``python -m evaluate --list``
adds the protocols), and a config resolved to the YAML with every default
(``--print-config``).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from pretrain.core.config import Config, config_to_dict
from pretrain.core.dataset_registry import DATASETS
from pretrain.core.encoders import BACKBONES
from pretrain.core.registry import Registry, first_sentence
from pretrain.core.tasks import TASKS
from pretrain.core.typed_yaml import ConfigError

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
REGISTRIES: dict[str, Registry] = {"tasks": TASKS, "encoders": BACKBONES, "datasets": DATASETS}
NOTES = {"encoders": "any other name: a timm model (timm.list_models()), built with the code size asked for"}


def config_descriptions(folder: Path = CONFIGS) -> list[tuple[str, str]]:
    """(config path, the first sentence of its opening comment) for every shipped YAML."""
    found = []
    for path in sorted(folder.glob("*.yaml")):
        lines = path.read_text().splitlines()
        opening = [
            line.lstrip("#").strip()
            for line in lines[: next((i for i, x in enumerate(lines) if not x.startswith("#")), len(lines))]
        ]
        found.append((f"configs/{path.name}", first_sentence("\n".join(opening))))
    return found


def catalogue(kind: str, registries: dict[str, Registry] = REGISTRIES) -> list[str]:
    """One aligned line per entry of ``kind`` (configs or a registry); an unknown kind is a
    ConfigError naming the kinds."""
    kinds = [*registries, "configs"]
    if kind not in kinds:
        raise ConfigError(f"--list {kind!r}: choose from {', '.join(kinds)}")
    rows = config_descriptions() if kind == "configs" else registries[kind].describe()
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {text}".rstrip() for name, text in rows]
    return lines + ([f"({NOTES[kind]})"] if kind in NOTES else [])


def resolved_yaml(cfg: Config) -> str:
    """``cfg`` as YAML with every default written out: loaded back, it gives the same config."""
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False)
