"""Typed run configuration: dataclasses loaded from YAML, with dotted overrides.

    cfg = load_config("configs/ae_fmnist.yaml", ["optim.lr=3e-4", "tasks.0.decoder=linear"])

Every key is checked against the dataclass it lands in: an unknown key or a value of the
wrong type raises ConfigError naming the full dotted path (e.g. ``optim.lrr``). Task
sections are typed too: each entry of ``tasks`` is parsed into the Config dataclass of
the task its ``name`` selects in the task registry (pretrain.core.tasks). The ``eval`` section
belongs to the evaluation layer: the core checks it against the schema that layer publishes
and keeps it as a mapping (pretrain.core.eval_section); evaluate.settings types it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pretrain.core.dataset_registry import all_dataset_settings, dataset_settings
from pretrain.core.encoders import all_backbone_settings, backbone_settings
from pretrain.core.eval_section import check_eval_section
from pretrain.core.plugin_settings import PluginSection
from pretrain.core.run_folder import Run
from pretrain.core.tasks import parse_task_config
from pretrain.core.typed_yaml import (  # noqa: F401  (re-exported: the config API in one place)
    NOT_A_KEY,
    ConfigError,
    apply_override,
    config_changes,
    flatten,
    parse_dataclass,
    read_yaml,
    to_plain,
    yaml_keys,
)

RESIZE_MODES = ("crop", "squash")  # data.resize
STORAGE_MODES = ("auto", "device", "host", "memmap", "stream")  # data.storage


@dataclass
class DataConfig(PluginSection):
    # a registered dataset (pretrain.core.datasets): fashion_mnist | mnist_idx | cifar10 | cifar100 | stl10 |
    # svhn | image_folder | synthetic
    name: str = "fashion_mnist"
    root: str = ""  # where its files are; "" searches the usual places (standard formats only)
    download: bool = False  # standard formats: fetch into data.root (torchvision) when the files are missing
    image_size: int = 0  # >0: every image becomes S x S at decode time; 0 keeps the dataset's own size
    resize: str = "crop"  # crop: shorter side to S, centre crop | squash: straight to S x S
    channels: int = 0  # 1 | 3 converts; 0 keeps the dataset's own (grey stays grey, colour stays RGB)
    val_size: int = 0  # carved from the training images (seeded); 0 = 10% of them, at most 5000
    test_size: int = 0  # image folders without a test/ folder: carved test images; 0 = 10%, at most 10000
    split_seed: int = 0
    train_subset: int = 0  # >0: pretrain on only this many training-split images (smoke runs)
    test_subset: int = 0  # >0: evaluate on only this many test images (smoke runs)
    # classes left out of pretraining, validation and every labelled subset; their test images
    # are kept apart (Splits.outliers) to measure outlier detection
    holdout_classes: list[int] = field(default_factory=list)
    unlabelled: bool = True  # stl10: pretrain on its 100,000 unlabelled images as well as the training split
    cache_dir: str = ""  # "" -> data/cache/ in the repository
    workers: int = 0  # decode processes (cache build, streaming); 0 = one per CPU core
    storage: str = "auto"  # where pretraining reads batches: auto | device | host | memmap | stream
    device_memory_gb: float = 4.0  # auto: training images stay on the device up to this size
    # the settings only the selected dataset reads (data.synthetic_size, data.on_bad_file, ...): its own
    # dataclass (register_dataset(..., settings=)), parsed from the same flat section (pretrain.core.plugin_settings)
    options: Any = field(default=None, repr=False, compare=True, metadata=NOT_A_KEY)

    section = "data"
    plugin_settings = staticmethod(dataset_settings)
    every_plugin_settings = staticmethod(all_dataset_settings)

    def __post_init__(self):
        for key, value, allowed in (("resize", self.resize, RESIZE_MODES), ("storage", self.storage, STORAGE_MODES)):
            if value not in allowed:
                raise ConfigError(f"data.{key}: {value!r} is unknown; choose from {', '.join(allowed)}")
        if self.channels not in (0, 1, 3):
            raise ConfigError(f"data.channels: {self.channels} is not 0 (the dataset's own), 1 or 3")
        if self.image_size < 0:
            raise ConfigError(f"data.image_size: {self.image_size} is negative (0 keeps the native size)")


@dataclass
class EncoderConfig(PluginSection):
    name: str = "paper_conv"  # a local encoder (pretrain.core.backbones) or any timm model name
    code_dim: int = 20  # m, the bottleneck every task and protocol sees
    # the settings only the selected backbone reads (encoder.width, encoder.small_stem, ...): its own dataclass
    # (register_backbone(..., settings=); any timm model: TimmSettings), from the same flat section
    options: Any = field(default=None, repr=False, compare=True, metadata=NOT_A_KEY)

    section = "encoder"
    plugin_settings = staticmethod(backbone_settings)
    every_plugin_settings = staticmethod(all_backbone_settings)


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
    # auto (bf16 where the device computes it natively: most GPUs, CPUs with AMX/AVX512-BF16; else fp32) | fp32 |
    # bf16 | fp16 (GPU only); no = fp32. config.yaml records what auto resolved to (pretrain.core.precision)
    precision: str = "auto"
    memory_format: str = "auto"  # auto (channels_last for conv encoders measured faster) | channels_last | contiguous
    compile: bool = False  # torch.compile the encoder and task heads (off: measured slower here, BENCHMARKS.md speed)
    sync_batchnorm: bool = False  # several CUDA processes: batch norm over the global batch (SyncBatchNorm)
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
class Config:
    name: str = "run"
    run_dir: str = ""  # "" -> runs/<name>
    data: DataConfig = field(default_factory=DataConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    tasks: list[Any] = field(default_factory=list)  # parsed by the task registry
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    # evaluation's settings (evaluate.settings types them): kept as a mapping, checked against the schema that
    # layer publishes (pretrain.core.eval_section) with every default filled in
    eval: dict[str, Any] = field(default_factory=dict)

    @property
    def run_path(self) -> Path:
        return Path(self.run_dir or f"runs/{self.name}")

    @property
    def run(self) -> Run:
        return Run(self.run_path)


DEFAULT_TASKS = ({"name": "autoencoder"},)


def load_config(path: str | Path | None, overrides: list[str] = ()) -> Config:
    """Read YAML (or start from defaults), apply ``key=value`` overrides, type-check all of it."""
    data: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        data = read_yaml(path.read_text()) or {}
        data.pop("provenance", None)  # a run's own config.yaml can be passed back (to resume it)
    data.setdefault("tasks", [dict(t) for t in DEFAULT_TASKS])  # so tasks.0.x=... overrides work
    for item in overrides:
        apply_override(data, item)
    return config_from_dict(data)


def config_from_dict(data: dict, check_eval: bool = True) -> Config:
    """Typed Config from a plain mapping; task entries are parsed by their own Config classes,
    the ``eval`` section checked against the evaluation layer's schema (``check_eval=False``:
    left to that layer, which types it itself)."""
    tasks = data.get("tasks", [dict(t) for t in DEFAULT_TASKS])
    section = data.get("eval") or {}
    checked = check_eval_section(section, {"DataConfig": DataConfig}) if check_eval else dict(section)
    cfg = parse_dataclass(Config, {**data, "tasks": [], "eval": checked})
    if not isinstance(tasks, list) or not tasks:
        raise ConfigError("tasks: expected a non-empty list of task sections")
    cfg.tasks = [parse_task_config(entry, f"tasks.{i}") for i, entry in enumerate(tasks)]
    return cfg


def config_to_dict(cfg: Any) -> dict:
    """Plain mappings of a config (or a section); a section with a ``to_dict`` (the plugins' flat
    settings of data and encoder, evaluation's ``eval``) writes itself."""
    return to_plain(cfg)


def save_config(cfg: Config, path: Path, extra: dict | None = None) -> None:
    """Write the resolved config (plus provenance such as git commit) as YAML."""
    data = config_to_dict(cfg)
    if extra:
        data["provenance"] = extra
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def config_hash(cfg: Config) -> str:
    return hashlib.sha256(json.dumps(config_to_dict(cfg), sort_keys=True).encode()).hexdigest()[:12]
