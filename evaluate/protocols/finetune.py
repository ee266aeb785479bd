"""``finetune``: the pretrained encoder and a linear head trained together on the labelled
subset (evaluate.solvers.supervised_training), beside supervised-from-scratch: the same recipe from freshly
initialised weights per seed, its encoder learning rate chosen on validation. The two
sources it compares, ``encoder`` and ``scratch``, are declared here. A run's cell keeps the
fine-tuned weights beside the result: self-training's teacher is that run."""

from __future__ import annotations

import dataclasses
from functools import partial

import torch
from tqdm.auto import tqdm

from evaluate.cells import CellStore, digest, module_digest
from evaluate.context import EvalContext
from evaluate.contract import Protocol
from evaluate.features import module_code_digest
from evaluate.protocol_registry import register_protocol
from evaluate.protocols.mlp_head import budget_note
from evaluate.results import EarlyStoppedResult, Record
from evaluate.solvers.supervised_training import FinetuneSettings, finetune, finetune_lr_search, lr_at_edge
from evaluate.suite import feature_digest, labelled_subsets, validation_subset

ENCODER, SCRATCH = "encoder", "scratch"


@register_protocol("finetune")
class Finetune(Protocol):
    rank = 4
    settings_type = FinetuneSettings
    result_type = EarlyStoppedResult
    needs = frozenset({"images", "labels", "encoder"})
    stochastic = True
    compares = (ENCODER, SCRATCH)
    references = (SCRATCH,)  # what the learned encoder is compared against

    def cell_settings(self, cfg) -> dict:
        """The settings a run's cell is keyed on: all but which budgets run (a run's own is in its images)."""
        own = {k: v for k, v in dataclasses.asdict(cfg.settings(self.name)).items() if k != "labels_per_class"}
        return {"finetune": own, "memory_format": cfg.memory_format}

    def cell(self, cells: CellStore | None, kind: str, model: torch.nn.Module, args: tuple, cfg, compute):
        """A run (``kind``: finetune | scratch_search | scratch_lr<rate>) of ``model`` on ``args`` =
        (labelled, val, test, classes, settings, seed, device), from ``cells`` where it ran before."""
        if cells is None:
            return compute()
        labelled, val, test, num_classes, _, seed, _ = args
        key = {
            "weights": module_digest(model),
            "code": module_code_digest(model),
            "images": [digest(labelled.x, labelled.y), digest(val.x, val.y), feature_digest(test)],
            "settings": self.cell_settings(cfg),
            "classes": num_classes,
            "seed": seed,
        }
        return cells.get(kind, key, compute)

    def budgets(self, cfg) -> list[int]:
        """Its labels per class: ``eval.finetune.labels_per_class``, or ``eval.labels_per_class``
        without all labels (0), which costs most and is not the scarce-label question."""
        return cfg.settings(self.name).labels_per_class or [b for b in cfg.labels_per_class if b != 0]

    def evaluate(self, ctx: EvalContext) -> list[Record]:
        """Fine-tuning of ``ctx.encoder`` and, where ``scratch`` is on and ``ctx.scratch`` given,
        supervised-from-scratch with its encoder lr chosen on each budget's first seed."""
        cfg, ft = ctx.cfg.eval, ctx.settings(self.name)
        scratch = ctx.scratch if ft.scratch else None
        records, chosen = [], {}
        subsets = labelled_subsets(ctx.splits.train.y, self.budgets(cfg), cfg.seeds, ctx.base_seed, ctx.first_seed)
        for per_class, seed, positions in tqdm(subsets, desc="fine-tuning", leave=False):
            args = self.subset_args(ctx, per_class, seed, positions)
            if ctx.encoder is not None:
                result = self.encoder_run(ctx, args)["result"]
                records.append(Record(ENCODER, self.name, per_class, seed, result))
            if scratch is not None:
                result = self.scratch_run(ctx, scratch(ctx.base_seed + seed), args, per_class, chosen)["result"]
                records.append(Record(SCRATCH, self.name, per_class, seed, result))
        return records

    def subset_args(self, ctx: EvalContext, per_class: int, seed: int, positions: torch.Tensor) -> tuple:
        """(labelled, val, test, classes, settings, seed, device) of one labelled subset: its
        validation images as scarce as its labels, capped at ``eval.finetune.val_images``."""
        cfg, ft, splits = ctx.cfg.eval, ctx.settings(self.name), ctx.splits
        val = validation_subset(splits.val, per_class, cfg.val_per_class, ctx.base_seed + seed)
        val = val.subsample(ft.val_images, ctx.base_seed)
        return (splits.train.take(positions), val, splits.test, splits.num_classes, ft, seed, ctx.device)

    def kept_run(self, ctx: EvalContext, kind: str, model: torch.nn.Module, args: tuple, fit) -> dict:
        """{"result": EarlyStoppedResult, "state": the fine-tuned classifier's weights (CPU)} of
        ``fit(keep=...)`` (``finetune`` or ``finetune_lr_search``), from ``ctx.cells`` where it ran
        before: self-training's teacher is this run, read back rather than trained again."""

        def compute() -> dict:
            kept = {}
            return {"result": fit(keep=kept), "state": kept.get("state")}

        return self.cell(ctx.cells, kind, model, args, ctx.cfg.eval, compute)

    def encoder_run(self, ctx: EvalContext, args: tuple) -> dict:
        """``kept_run`` of the pretrained encoder fine-tuned on one subset."""
        fit = partial(finetune, ctx.encoder, *args, precision=ctx.cfg.eval.precision)
        return self.kept_run(ctx, "finetune", ctx.encoder, args, fit)

    def scratch_run(self, ctx: EvalContext, fresh, args: tuple, per_class: int, chosen: dict) -> dict:
        """``kept_run`` of supervised-from-scratch from ``fresh`` on one subset: on a budget's first
        seed the lr search (its rate recorded in ``chosen[per_class]``), that rate on later seeds."""
        precision, lrs = ctx.cfg.eval.precision, args[4].scratch_lr_encoder
        if per_class not in chosen:
            search = partial(finetune_lr_search, lrs, fresh, *args, precision=precision)
            run = self.kept_run(ctx, "scratch_search", fresh, args, search)
            chosen[per_class] = run["result"].lr
            return run
        lr = chosen[per_class]
        fit = partial(finetune, fresh, *args, lr_encoder=lr, precision=precision)
        run = self.kept_run(ctx, f"scratch_lr{lr:g}", fresh, args, fit)
        result = run["result"]
        result.selected_on = "validation split (number of steps); learning rate chosen on this budget's first seed"
        result.lr_at_edge = lr_at_edge(lr, lrs)  # every seed at an edge rate is flagged, not the search's alone
        return run

    def note(self, cfg) -> str:
        ft = cfg.settings(self.name)
        halving = f", by successive halving at {ft.scratch_search_rungs} of the step budget"
        return (
            f"- finetune: encoder (lr {ft.lr_encoder:g}) + linear head (lr {ft.lr_head:g}), shift ±{ft.shift} px"
            f"{' and flips' if ft.flip else ''}; number of steps chosen on validation (early stopping, "
            f"{budget_note(ft)}; at most {ft.val_images or 'all'} validation images); `scratch` = the same recipe "
            "from freshly initialised weights per seed, its encoder lr chosen on validation from "
            f"{ft.scratch_lr_encoder} (on each budget's first seed{halving if ft.scratch_search_rungs else ''}); "
            f"labels per class: {', '.join(str(b or 'all') for b in self.budgets(cfg))}."
        )
