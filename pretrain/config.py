"""Typed run configuration: dataclasses loaded from YAML, with dotted overrides.

    cfg = load_config("configs/ae_fmnist.yaml", ["optim.lr=3e-4", "tasks.0.decoder=linear"])

Every key is checked against the dataclass it lands in: an unknown key or a value of the
wrong type raises ConfigError naming the full dotted path (e.g. ``optim.lrr``). Task
sections are typed too: each entry of ``tasks`` is parsed into the Config dataclass of
the task its ``name`` selects in the task registry (see ssl_tasks.base).
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class _Loader(yaml.SafeLoader):
    """PyYAML follows YAML 1.1, where ``3e-4`` is a string; read it as YAML 1.2 does, a float."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d[\d_]*)?(?:\.\d*)?(?:[eE][-+]?\d+)$|^[-+]?\d[\d_]*\.\d*$|^[-+]?\.\d+$"),
    list("-+0123456789."),
)


def read_yaml(text: str):
    return yaml.load(text, Loader=_Loader)


class ConfigError(ValueError):
    """A config key or value that does not fit the schema; the message names its path."""


@dataclass
class DataConfig:
    name: str = "fashion_mnist"  # fashion_mnist | synthetic
    root: str = ""  # where the IDX files are; "" searches the usual places (pretrain.data)
    val_size: int = 5000  # carved from the training images, deterministic in split_seed
    split_seed: int = 0
    train_subset: int = 0  # >0: pretrain on only this many training-split images (smoke runs)
    test_subset: int = 0  # >0: evaluate on only this many test images (smoke runs)
    synthetic_size: int = 600  # images per split part when name == synthetic
    # classes left out of pretraining, validation and every labelled subset; their test images
    # are kept apart (Splits.outliers) to measure outlier detection
    holdout_classes: list[int] = field(default_factory=list)


@dataclass
class EncoderConfig:
    name: str = "paper_conv"  # a local encoder (pretrain.encoders) or any timm model name
    code_dim: int = 20  # m, the bottleneck every task and protocol sees


@dataclass
class OptimConfig:
    optimizer: str = "adamw"  # adamw | adam | sgd
    lr: float = 1e-3
    weight_decay: float = 1e-5
    momentum: float = 0.9  # sgd only
    warmup_steps: int = 0
    schedule: str = "cosine"  # cosine | constant
    grad_clip: float = 0.0  # 0 disables


@dataclass
class TrainConfig:
    epochs: float = 3.0
    batch_size: int = 128  # per process
    seed: int = 0
    precision: str = "auto"  # auto (bf16 on a GPU that has it, else fp32) | no | bf16
    log_every: int = 50
    ckpt_every: int = 500
    image_log_every: int = 500
    halt_after_steps: int = 0  # >0: stop this invocation after N steps as if interrupted


@dataclass
class MonitorConfig:
    every: int = 500  # steps between kNN checks on the validation split; 0 disables
    labels_per_class: int = 100  # the labelled memory bank, drawn from the training split
    val_images: int = 2000  # validation images scored each time (0 = all)
    k: int = 20
    temperature: float = 0.07


@dataclass
class HeadConfig:
    """The small MLP head trained on frozen features (early-stopped on validation)."""

    hidden: int = 256
    layers: int = 2  # 1 = linear head
    lr: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 256
    max_steps: int = 1500
    eval_every: int = 50
    patience: int = 5


@dataclass
class FinetuneConfig:
    """Encoder + linear head trained together; supervised-from-scratch uses the same recipe."""

    enabled: bool = True
    max_steps: int = 400
    eval_every: int = 25
    patience: int = 5
    batch_size: int = 64
    lr_head: float = 1e-2
    lr_encoder: float = 3e-4  # lower than the head's: adjust the pretrained weights, do not overwrite them
    weight_decay: float = 1e-4
    shift: int = 2  # augmentation: random translation in pixels
    flip: bool = True  # augmentation: random horizontal flip
    val_images: int = 2000  # validation images scored at each early-stopping check (0 = all)


@dataclass
class EvalConfig:
    labels_per_class: list[int] = field(default_factory=lambda: [1, 10, 100, 0])  # the scarce-label grid; 0 = all
    seeds: int = 3  # labelled subsets (and head/fine-tuning seeds) per budget; "all" runs once
    knn_k: int = 20
    knn_temperature: float = 0.07
    knn_ks: list[int] = field(default_factory=lambda: [1, 5, 20, 50])  # kNN accuracy with all labels
    retrieval_ks: list[int] = field(default_factory=lambda: [1, 5, 10])
    linear_l2: list[float] = field(default_factory=lambda: [1e-5, 1e-4, 1e-3, 1e-2])
    linear_max_iter: int = 200
    head: HeadConfig = field(default_factory=HeadConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    baselines: list[str] = field(default_factory=lambda: ["raw_pixels", "pca", "random_init"])
    layer_probe_labels_per_class: int = 100  # per-layer linear probe budget (0 = all labels, -1 = off)
    clustering_restarts: int = 3
    outlier_knn_k: int = 20
    approx_index: str = ""  # "" | ivf | hnsw: also report an approximate index's recall against exact search
    tsne_points: int = 2000
    projector_points: int = 1000
    batch_size: int = 1024


@dataclass
class Config:
    name: str = "run"
    run_dir: str = ""  # "" -> runs/<name>
    data: DataConfig = field(default_factory=DataConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    tasks: list[Any] = field(default_factory=list)  # parsed by the task registry
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    @property
    def run_path(self) -> Path:
        return Path(self.run_dir or f"runs/{self.name}")


DEFAULT_TASKS = ({"name": "autoencoder"},)

# ----------------------------------------------------------------------------- parsing


def parse_dataclass(cls: type, data: Any, path: str = "") -> Any:
    """Build dataclass ``cls`` from a mapping, checking every key and value type."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path or 'config'}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - known)
    if unknown:
        where = ", ".join(_join(path, k) for k in unknown)
        raise ConfigError(f"unknown config key {where}; {cls.__name__} takes: {', '.join(sorted(known))}")
    kwargs = {k: _coerce(hints[k], v, _join(path, k)) for k, v in data.items()}
    return cls(**kwargs)


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _coerce(tp: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp):
        return parse_dataclass(tp, value, path)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(arg, value, path)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0])
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{path}: expected a list, got {value!r}")
        (item,) = typing.get_args(tp) or (Any,)
        return [_coerce(item, v, f"{path}.{i}") for i, v in enumerate(value)]
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp in (int, str, bool) and type(value) is tp:
        return value
    raise ConfigError(f"{path}: expected {getattr(tp, '__name__', tp)}, got {value!r} ({type(value).__name__})")


def apply_override(data: dict, dotted: str) -> None:
    """Set ``a.b.c=value`` in a nested dict/list; the value is parsed as YAML (1e-3, true, [1,2])."""
    if "=" not in dotted:
        raise ConfigError(f"override {dotted!r} must look like key.sub=value")
    key, raw = dotted.split("=", 1)
    parts = key.strip().split(".")
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        node = _child(node, part, ".".join(parts[: i + 1]))
    last = parts[-1]
    value = read_yaml(raw) if raw.strip() else ""
    if isinstance(node, list):
        node[_list_index(node, last, key)] = value
    else:
        node[last] = value


def _child(node: Any, part: str, path: str) -> Any:
    if isinstance(node, list):
        return node[_list_index(node, part, path)]
    if part not in node or node[part] is None:
        node[part] = {}
    return node[part]


def _list_index(node: list, part: str, path: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(f"override {path}: {part!r} is not an index of a list of {len(node)}")
    return int(part)


def load_config(path: str | Path | None, overrides: list[str] = ()) -> Config:
    """Read YAML (or start from defaults), apply ``key=value`` overrides, type-check all of it."""
    data: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        data = read_yaml(path.read_text()) or {}
    data.setdefault("tasks", [dict(t) for t in DEFAULT_TASKS])  # so tasks.0.x=... overrides work
    for item in overrides:
        apply_override(data, item)
    return config_from_dict(data)


def config_from_dict(data: dict) -> Config:
    """Typed Config from a plain mapping; task entries are parsed by their own Config classes."""
    from ssl_tasks.base import parse_task_config  # late import: ssl_tasks imports this module

    tasks = data.get("tasks", [dict(t) for t in DEFAULT_TASKS])
    cfg = parse_dataclass(Config, {**data, "tasks": []})
    if not isinstance(tasks, list) or not tasks:
        raise ConfigError("tasks: expected a non-empty list of task sections")
    cfg.tasks = [parse_task_config(entry, f"tasks.{i}") for i, entry in enumerate(tasks)]
    return cfg


def config_to_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)


def save_config(cfg: Config, path: Path, extra: dict | None = None) -> None:
    """Write the resolved config (plus provenance such as git commit) as YAML."""
    data = config_to_dict(cfg)
    if extra:
        data["provenance"] = extra
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def load_run_config(run_dir: str | Path, eval_overrides: list[str] = ()) -> Config:
    """The resolved config a pretraining run wrote into its directory, optionally with
    ``eval.*`` overrides (what pretraining did cannot be overridden after the fact)."""
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: is {run_dir} a run directory made by `python -m pretrain`?")
    data = read_yaml(path.read_text()) or {}
    data.pop("provenance", None)
    for item in eval_overrides:
        if not item.startswith("eval."):
            raise ConfigError(f"override {item!r}: only eval.* settings can change after pretraining")
        apply_override(data, item)
    return config_from_dict(data)


def config_hash(cfg: Config) -> str:
    import hashlib
    import json

    return hashlib.sha256(json.dumps(config_to_dict(cfg), sort_keys=True).encode()).hexdigest()[:12]


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists of mappings are indexed (tasks.0.name)."""
    if isinstance(data, dict):
        items = data.items()
    elif isinstance(data, list) and data and all(isinstance(v, dict) for v in data):
        items = enumerate(data)
    else:
        return {prefix: data}
    out: dict[str, Any] = {}
    for key, value in items:
        out.update(flatten(value, _join(prefix, key)))
    return out


def config_changes(old: dict, new: dict, ignore: tuple[str, ...] = ()) -> list[str]:
    """Dotted keys whose values differ between two config mappings, as 'key: old -> new'."""
    a, b = flatten(old), flatten(new)
    keys = sorted((set(a) | set(b)) - set(ignore))
    return [f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in keys if a.get(k) != b.get(k)]
