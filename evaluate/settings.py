"""Evaluation's settings: a run's ``eval`` section, typed by this layer.

    cfg = load_run_config("runs/ae_fmnist", ["eval.knn.k=5"])   # an EvaluatedConfig
    cfg.eval.labels_per_class, cfg.eval.settings("knn").k

The core keeps the ``eval`` section as a mapping and never imports this package; before
pretraining starts it checks that mapping against ``pretrain/core/eval_schema.json``, the
keys, types, defaults and choices published here (``eval_schema``; ``python -m evaluate
schema`` rewrites the file, and a test fails while it is stale). Here the mapping becomes an
``EvalConfig``, each protocol's ``eval.<name>`` section its own settings dataclass, and a run
written by an older version is migrated: moved keys go where they live now, removed keys are
dropped, each said in one line.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evaluate.protocol_registry import migrate_moved_keys, parse_protocol_sections, sections_to_dict, settings_types
from pretrain.core.config import (
    NOT_A_KEY,
    Config,
    ConfigError,
    DataConfig,
    apply_override,
    config_from_dict,
    parse_dataclass,
    read_yaml,
    to_plain,
    yaml_keys,
)
from pretrain.core.eval_section import SCHEMA_PATH
from pretrain.core.run_folder import Run

VAL_PER_CLASS_MODES = ("matched", "full")  # eval.val_per_class
REPRESENTATIONS = ("code", "pooled")  # eval.representation
CHOICES = {"val_per_class": VAL_PER_CLASS_MODES, "representation": REPRESENTATIONS}  # published in the schema


@dataclass
class EvalConfig:
    labels_per_class: list[int] = field(default_factory=lambda: [1, 10, 100, 0])  # the scarce-label grid; 0 = all
    seeds: int = 3  # labelled subsets (and head/fine-tuning/random-init seeds) per budget; "all" reruns what is random
    val_per_class: str = "matched"  # matched: max(5, labels per class) validation images per class | full
    # the headline vector: code (z, the m-number bottleneck) | pooled (h, the pooled backbone features
    # before the projection, SimCLR's convention); the other is reported beside it where it exists
    representation: str = "code"
    knn_ks: list[int] = field(default_factory=lambda: [1, 5, 20, 50])  # kNN accuracy with all labels
    retrieval_ks: list[int] = field(default_factory=lambda: [1, 5, 10])
    bootstrap: int = 1000  # resamples of the test images for all-label intervals
    baselines: list[str] = field(default_factory=lambda: ["raw_pixels", "pca", "random_init"])
    layer_probe_labels_per_class: int = 100  # per-layer linear probe budget (0 = all labels, -1 = off)
    clustering_restarts: int = 3
    outlier_knn_k: int = 20
    approx_index: str = ""  # "" | ivf | hnsw: also report an approximate index's recall against exact search
    tsne_points: int = 2000
    projector_points: int = 1000
    batch_size: int = 1024
    precision: str = "auto"  # feature extraction, MLP head, fine-tuning: auto | fp32 | bf16 (as train.precision)
    memory_format: str = "auto"  # the encoder's memory format for extraction and fine-tuning (as train.memory_format)
    # another dataset to evaluate on (every data.* key, as eval.data.*); None: the pretraining dataset.
    # Its images are brought to the encoder's input size and channels.
    data: DataConfig | None = None
    # the machine-wide store of finished cells and baseline features, shared by every run and bench:
    # "" = $SSL_EVAL_STORE, else data/cache/eval; none = off (everything computed anew)
    store: str = ""
    protocols: list[str] = field(default_factory=list)  # [] = every registered protocol the run can serve
    skip: list[str] = field(default_factory=list)  # protocols left out (e.g. [finetune], the slow one)
    # each protocol's own settings, eval.<protocol>.* (evaluate.protocol_registry); filled by eval_config_from_dict
    # (an init field, so dataclasses.replace keeps it; NOT_A_KEY: never a YAML key of its own)
    sections: dict[str, Any] = field(default_factory=dict, repr=False, metadata=NOT_A_KEY)

    def settings(self, protocol: str) -> Any:
        """The typed settings of ``protocol`` (its ``eval.<protocol>`` section)."""
        if protocol not in self.sections:
            self.sections.update(parse_protocol_sections({})[1])  # an EvalConfig built in code: the defaults
        return self.sections[protocol]

    def __post_init__(self):
        for key, allowed in CHOICES.items():
            if getattr(self, key) not in allowed:
                raise ConfigError(f"eval.{key}: {getattr(self, key)!r} is unknown; choose from {', '.join(allowed)}")

    def to_dict(self) -> dict:
        """The section as config.yaml writes it: the protocols' settings where they are read from, eval.<protocol>."""
        data = {f.name: to_plain(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name != "sections"}
        return data | sections_to_dict({**parse_protocol_sections({})[1], **self.sections})


@dataclass
class EvaluatedConfig(Config):
    """A run's config with its ``eval`` section typed by the evaluation layer."""

    eval: EvalConfig = field(default_factory=EvalConfig)


def typed_config(cfg: Config) -> EvaluatedConfig:
    """``cfg`` with its ``eval`` mapping parsed into an EvalConfig (an EvaluatedConfig is returned as it is)."""
    if isinstance(cfg, EvaluatedConfig):
        return cfg
    shared = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(Config) if f.name != "eval"}
    return EvaluatedConfig(**shared, eval=eval_config_from_dict(cfg.eval))


def eval_config_from_dict(data: dict, path: str = "eval") -> EvalConfig:
    """A typed ``eval`` section, the protocols' ``eval.<name>`` sections included."""
    rest, sections = parse_protocol_sections(data, path)
    cfg = parse_dataclass(EvalConfig, rest, path)
    cfg.sections = sections
    return cfg


def current_eval_settings(saved: dict, schema: type | None = None, path: str = "eval") -> dict:
    """A run's saved ``eval`` section without the keys this version no longer has (say, the
    step caps that became epoch budgets), each dropped with a notice, and with moved keys
    placed where they live now: evaluation settings are the evaluator's, and a run
    pretrained by an older version must stay evaluable."""
    if schema is None:
        saved = migrate_moved_keys(saved, path)
    keys = yaml_keys(schema or EvalConfig)
    nested = {f.name: f.default_factory for f in dataclasses.fields(schema or EvalConfig) if f.name in keys}
    nested |= settings_types() if schema is None else {}  # eval.<protocol> sections
    kept = {}
    for key, value in saved.items():
        factory = nested.get(key)
        if key not in nested:
            print(f"note: {path}.{key} in the run's config.yaml is no longer a setting; evaluating without it")
        elif isinstance(factory, type) and dataclasses.is_dataclass(factory) and isinstance(value, dict):
            kept[key] = current_eval_settings(value, factory, f"{path}.{key}")  # a nested section
        else:
            kept[key] = value
    return kept


def load_run_config(run_dir: Run | str | Path, eval_overrides: list[str] = ()) -> EvaluatedConfig:
    """The resolved config a pretraining run wrote into its directory (or Run), optionally with
    ``eval.*`` overrides (what pretraining did cannot be overridden after the fact)."""
    path = Run.at(run_dir).config_file
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: is {run_dir} a run directory made by `python -m pretrain`?")
    data = read_yaml(path.read_text()) or {}
    data.pop("provenance", None)
    data["eval"] = current_eval_settings(data.get("eval") or {})
    for item in eval_overrides:
        if not item.startswith("eval."):
            raise ConfigError(f"override {item!r}: only eval.* settings can change after pretraining")
        apply_override(data, item)
    return typed_config(config_from_dict(data, check_eval=False))


def eval_schema() -> dict:
    """What the core checks a pretraining config's ``eval`` section against (pretrain.core.eval_section):
    every key with its type, default and choices, and each protocol's section."""
    schema = section_schema(EvalConfig)
    schema["sections"] = {name: section_schema(settings) for name, settings in settings_types().items()}
    return schema


def section_schema(cls: type) -> dict:
    hints, fields = typing.get_type_hints(cls), {}
    for f in dataclasses.fields(cls):
        if f.name in yaml_keys(cls):
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            fields[f.name] = {"type": type_text(hints[f.name]), "default": default}
            if cls is EvalConfig and f.name in CHOICES:
                fields[f.name]["choices"] = list(CHOICES[f.name])
    return {"class": cls.__name__, "fields": fields}


def type_text(tp: Any) -> str:
    """A field's type as the schema writes it: int, list[float], DataConfig | None."""
    if tp is type(None):
        return "None"
    if tp is Any:
        return "Any"
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return " | ".join(type_text(a) for a in args)
    if args:
        return f"{typing.get_origin(tp).__name__}[{', '.join(type_text(a) for a in args)}]"
    if tp is DataConfig or tp in (int, float, str, bool, list, dict):
        return tp.__name__
    raise TypeError(f"the eval schema cannot describe the type {tp!r}")


def schema_text() -> str:
    return json.dumps(eval_schema(), indent=1) + "\n"


def write_schema(path: Path = SCHEMA_PATH) -> Path:
    """Rewrite the schema the core checks pretraining configs against."""
    path.write_text(schema_text())
    return path
