"""Typed run configuration: dataclasses loaded from YAML, with dotted overrides.

    cfg = load_config("configs/ae_fmnist.yaml", ["optim.lr=3e-4", "tasks.0.decoder=linear"])

Every key is checked against the dataclass it lands in: an unknown key or a value of the
wrong type raises ConfigError naming the full dotted path (e.g. ``optim.lrr``). Task
sections are typed too: each entry of ``tasks`` is parsed into the Config dataclass of
the task its ``name`` selects in the task registry (pretrain.core.tasks).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pretrain.core.protocol_registry import (
    migrate_moved_keys,
    parse_protocol_sections,
    sections_to_dict,
    settings_types,
)
from pretrain.core.tasks import parse_task_config
from pretrain.core.typed_yaml import (  # noqa: F401  (re-exported: the config API in one place)
    NOT_A_KEY,
    ConfigError,
    apply_override,
    config_changes,
    flatten,
    parse_dataclass,
    read_yaml,
    yaml_keys,
)

RESIZE_MODES = ("crop", "squash")  # data.resize
BAD_FILE_POLICIES = ("skip", "error")  # data.on_bad_file
STORAGE_MODES = ("auto", "device", "host", "memmap", "stream")  # data.storage


@dataclass
class DataConfig:
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
    synthetic_size: int = 600  # images per split part when name == synthetic
    # classes left out of pretraining, validation and every labelled subset; their test images
    # are kept apart (Splits.outliers) to measure outlier detection
    holdout_classes: list[int] = field(default_factory=list)
    unlabelled: bool = True  # stl10: pretrain on its 100,000 unlabelled images as well as the training split
    cache: bool = True  # image folders: decode once into data.cache_dir; false streams files through workers
    cache_dir: str = ""  # "" -> data/cache/ in the repository
    on_bad_file: str = "skip"  # skip (listed in the cache folder) | error (stop at the first)
    workers: int = 0  # decode processes (cache build, streaming); 0 = one per CPU core
    storage: str = "auto"  # where pretraining reads batches: auto | device | host | memmap | stream
    device_memory_gb: float = 4.0  # auto: training images stay on the device up to this size

    def __post_init__(self):
        for key, value, allowed in (
            ("resize", self.resize, RESIZE_MODES),
            ("on_bad_file", self.on_bad_file, BAD_FILE_POLICIES),
            ("storage", self.storage, STORAGE_MODES),
        ):
            if value not in allowed:
                raise ConfigError(f"data.{key}: {value!r} is unknown; choose from {', '.join(allowed)}")
        if self.channels not in (0, 1, 3):
            raise ConfigError(f"data.channels: {self.channels} is not 0 (the dataset's own), 1 or 3")
        if self.image_size < 0:
            raise ConfigError(f"data.image_size: {self.image_size} is negative (0 keeps the native size)")


@dataclass
class EncoderConfig:
    name: str = "paper_conv"  # a local encoder (pretrain.core.encoders) or any timm model name
    code_dim: int = 20  # m, the bottleneck every task and protocol sees
    width: int = 64  # resnet_small: channels of its first stage (doubling per stage)
    blocks: list[int] = field(default_factory=lambda: [1, 1, 1])  # resnet_small: basic blocks per stage
    small_stem: bool = False  # timm ResNets: 3x3 stride-1 stem without max-pool, for small images


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


VAL_PER_CLASS_MODES = ("matched", "full")  # eval.val_per_class
REPRESENTATIONS = ("code", "pooled")  # eval.representation


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
    # each protocol's own settings, eval.<protocol>.* (pretrain.core.protocol_registry); filled by config_from_dict
    # (an init field, so dataclasses.replace keeps it; NOT_A_KEY: never a YAML key of its own)
    sections: dict[str, Any] = field(default_factory=dict, repr=False, metadata=NOT_A_KEY)

    def settings(self, protocol: str) -> Any:
        """The typed settings of ``protocol`` (its ``eval.<protocol>`` section)."""
        if protocol not in self.sections:
            self.sections.update(parse_protocol_sections({})[1])  # an EvalConfig built in code: the defaults
        return self.sections[protocol]

    def __post_init__(self):
        if self.representation not in REPRESENTATIONS:
            raise ConfigError(
                f"eval.representation: {self.representation!r} is unknown; choose from {', '.join(REPRESENTATIONS)}"
            )
        if self.val_per_class not in VAL_PER_CLASS_MODES:
            raise ConfigError(
                f"eval.val_per_class: {self.val_per_class!r} is unknown; choose from {', '.join(VAL_PER_CLASS_MODES)}"
            )


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


def config_from_dict(data: dict) -> Config:
    """Typed Config from a plain mapping; task entries are parsed by their own Config classes."""
    tasks = data.get("tasks", [dict(t) for t in DEFAULT_TASKS])
    eval_section, sections = parse_protocol_sections(data.get("eval") or {})
    cfg = parse_dataclass(Config, {**data, "tasks": [], "eval": eval_section})
    cfg.eval.sections = sections
    if not isinstance(tasks, list) or not tasks:
        raise ConfigError("tasks: expected a non-empty list of task sections")
    cfg.tasks = [parse_task_config(entry, f"tasks.{i}") for i, entry in enumerate(tasks)]
    return cfg


def eval_config_from_dict(data: dict, path: str = "eval") -> EvalConfig:
    """A typed ``eval`` section, the protocols' ``eval.<name>`` sections included."""
    rest, sections = parse_protocol_sections(data, path)
    cfg = parse_dataclass(EvalConfig, rest, path)
    cfg.sections = sections
    return cfg


def config_to_dict(cfg: Any) -> dict:
    """Plain mappings of a config (or a section), the protocols' settings written where they
    are read from: ``eval.<protocol>``."""
    data = dataclasses.asdict(cfg)
    evaluation = data.get("eval") if isinstance(cfg, Config) else data if isinstance(cfg, EvalConfig) else None
    if evaluation is not None:
        evaluation.pop("sections")
        source = cfg.eval if isinstance(cfg, Config) else cfg
        evaluation.update(sections_to_dict(source.sections))
    return data


def save_config(cfg: Config, path: Path, extra: dict | None = None) -> None:
    """Write the resolved config (plus provenance such as git commit) as YAML."""
    data = config_to_dict(cfg)
    if extra:
        data["provenance"] = extra
    path.write_text(yaml.safe_dump(data, sort_keys=False))


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


def load_run_config(run_dir: str | Path, eval_overrides: list[str] = ()) -> Config:
    """The resolved config a pretraining run wrote into its directory, optionally with
    ``eval.*`` overrides (what pretraining did cannot be overridden after the fact)."""
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: is {run_dir} a run directory made by `python -m pretrain`?")
    data = read_yaml(path.read_text()) or {}
    data.pop("provenance", None)
    data["eval"] = current_eval_settings(data.get("eval") or {})
    for item in eval_overrides:
        if not item.startswith("eval."):
            raise ConfigError(f"override {item!r}: only eval.* settings can change after pretraining")
        apply_override(data, item)
    return config_from_dict(data)


def config_hash(cfg: Config) -> str:
    return hashlib.sha256(json.dumps(config_to_dict(cfg), sort_keys=True).encode()).hexdigest()[:12]
