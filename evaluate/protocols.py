"""The evaluation protocols, in one table.

The scarce-label grid runs the frozen ones on cached features and fine-tunes for the
other; the report orders its rows and writes its "what was selected on what" notes from
it; results.csv takes its columns from the protocols' result types; plots take their
markers. A new protocol is one row here (and the function it runs).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from evaluate.head import mlp_head_probe
from evaluate.knn import knn_classifier
from evaluate.linear import linear_probe
from evaluate.results import EarlyStoppedResult, KnnResult, LinearResult, ProtocolResult, table_columns
from pretrain.core.config import EvalConfig
from pretrain.core.samples import Features

# (train, val, test, eval settings, number of classes, seed) -> result, on frozen features
FrozenRun = Callable[[Features, Features, Features, EvalConfig, int, int], ProtocolResult]


@dataclass(frozen=True)
class Protocol:
    name: str
    result_type: type[ProtocolResult]
    marker: str  # its marker in label-efficiency plots
    note: Callable[[dict], str]  # its line in the report's selection notes, from the eval settings
    stochastic: bool  # its result depends on a seed beyond the labelled draw (initialisation, batches)
    settings: Callable[[EvalConfig], dict]  # the eval settings its result depends on (its cells' key)
    run: FrozenRun | None = None  # None: the protocol needs images, not cached features (fine-tuning)

    @property
    def frozen(self) -> bool:
        return self.run is not None


def run_linear(train, val, test, cfg: EvalConfig, num_classes: int, seed: int) -> LinearResult:
    return linear_probe(train, val, test, cfg.linear_l2, cfg.linear_max_iter, num_classes)


def run_mlp_head(train, val, test, cfg: EvalConfig, num_classes: int, seed: int) -> EarlyStoppedResult:
    return mlp_head_probe(train, val, test, cfg.head, num_classes, seed, precision=cfg.precision)


def run_knn(train, val, test, cfg: EvalConfig, num_classes: int, seed: int) -> KnnResult:
    k = min(cfg.knn_k, len(train))
    return knn_classifier(train.x, train.y, test.x, test.y, k, cfg.knn_temperature, num_classes)


def linear_note(s: dict) -> str:
    return (
        "- linear: logistic regression on standardised features (a dimension constant on the labelled set keeps "
        f"scale 1); L-BFGS to a largest gradient entry of 1e-4 or {s['linear_max_iter']} iterations (fits that end "
        f"above it are flagged unconverged); L2 strength chosen on validation from {s['linear_l2']} (a choice at "
        "either end is flagged)."
    )


def budget_note(b: dict) -> str:
    return (
        f"at most {b['max_epochs']:g} epochs over the labelled set (at least {b['min_steps']} steps), validation "
        f"checked every {b['eval_every']} steps or more (at most {b['max_checks']} checks), patience "
        f"{b['patience']} checks; a best step equal to the budget is flagged `at_cap`"
    )


def mlp_head_note(s: dict) -> str:
    h = s["head"]
    return (
        f"- mlp_head: {h['layers']}-layer head ({h['hidden']} hidden) on frozen features; number of steps chosen on "
        f"validation (early stopping, {budget_note(h)}), best weights restored."
    )


def knn_note(s: dict) -> str:
    return (
        f"- knn: cosine, k={s['knn_k']} (capped at the bank size), T={s['knn_temperature']}; "
        "the labelled subset is the bank; nothing selected."
    )


def finetune_note(s: dict) -> str:
    ft = s["finetune"]
    return (
        f"- finetune: encoder (lr {ft['lr_encoder']:g}) + linear head (lr {ft['lr_head']:g}), shift ±{ft['shift']} px"
        f"{' and flips' if ft['flip'] else ''}; number of steps chosen on validation (early stopping, "
        f"{budget_note(ft)}; at most {ft['val_images'] or 'all'} validation images); `scratch` = the same recipe from "
        f"freshly initialised weights per seed, its encoder lr chosen on validation from {ft['scratch_lr_encoder']} "
        "(on each budget's first seed)."
    )


def linear_settings(cfg: EvalConfig) -> dict:
    return {"l2": cfg.linear_l2, "max_iter": cfg.linear_max_iter}


def mlp_head_settings(cfg: EvalConfig) -> dict:
    return {"head": dataclasses.asdict(cfg.head)}


def knn_settings(cfg: EvalConfig) -> dict:
    return {"k": cfg.knn_k, "temperature": cfg.knn_temperature}


def finetune_settings(cfg: EvalConfig) -> dict:
    return {"finetune": dataclasses.asdict(cfg.finetune), "memory_format": cfg.memory_format}


PROTOCOLS = (
    Protocol("linear", LinearResult, "o", linear_note, stochastic=False, settings=linear_settings, run=run_linear),
    Protocol(
        "mlp_head",
        EarlyStoppedResult,
        "s",
        mlp_head_note,
        stochastic=True,
        settings=mlp_head_settings,
        run=run_mlp_head,
    ),
    Protocol("knn", KnnResult, "^", knn_note, stochastic=False, settings=knn_settings, run=run_knn),
    Protocol("finetune", EarlyStoppedResult, "D", finetune_note, stochastic=True, settings=finetune_settings),
)
FROZEN_PROTOCOLS = tuple(p for p in PROTOCOLS if p.frozen)
FINETUNE = next(p for p in PROTOCOLS if p.name == "finetune")
RESULTS_CSV_COLUMNS = table_columns([p.result_type for p in PROTOCOLS])
MARKERS = {p.name: p.marker for p in PROTOCOLS}


def protocol_rank(name: str) -> int:
    """Position of a protocol in the table (unknown names last): the order rows are shown in."""
    names = [p.name for p in PROTOCOLS]
    return names.index(name) if name in names else len(names)
