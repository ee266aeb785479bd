"""``finetune``: the pretrained encoder and a linear head trained together on the labelled
subset (evaluate.finetune), beside supervised-from-scratch: the same recipe from freshly
initialised weights per seed, its encoder learning rate chosen on validation. The two
sources it compares, ``encoder`` and ``scratch``, are declared here."""

from __future__ import annotations

import dataclasses
from functools import partial

import torch
from tqdm.auto import tqdm

from evaluate.cells import CellStore, digest, module_digest
from evaluate.context import EvalContext
from evaluate.features import module_code_digest
from evaluate.finetune import FinetuneSettings, finetune, finetune_lr_search
from evaluate.protocol import Protocol
from evaluate.protocols.mlp_head import budget_note
from evaluate.results import EarlyStoppedResult, Record
from evaluate.suite import feature_digest, labelled_subsets, validation_subset
from pretrain.core.protocols import register_protocol

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
        return {"finetune": dataclasses.asdict(cfg.settings(self.name)), "memory_format": cfg.memory_format}

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

    def evaluate(self, ctx: EvalContext) -> list[Record]:
        """Fine-tuning of ``ctx.encoder`` and, where ``scratch`` is on and ``ctx.scratch`` given,
        supervised-from-scratch with its encoder lr chosen on each budget's first seed."""
        cfg, ft, splits = ctx.cfg.eval, ctx.settings(self.name), ctx.splits
        scratch = ctx.scratch if ft.scratch else None
        budgets = ft.labels_per_class or cfg.labels_per_class
        records, scratch_lr, precision = [], {}, {"precision": cfg.precision}
        subsets = labelled_subsets(splits.train.y, budgets, cfg.seeds, ctx.base_seed, ctx.first_seed)
        for per_class, seed, positions in tqdm(subsets, desc="fine-tuning", leave=False):
            args = self.subset_args(ctx, per_class, seed, positions)
            if ctx.encoder is not None:
                run = partial(finetune, ctx.encoder, *args, **precision)
                result = self.cell(ctx.cells, "finetune", ctx.encoder, args, cfg, run)
                records.append(Record(ENCODER, self.name, per_class, seed, result))
            if scratch is not None:
                result = self.scratch_run(ctx, scratch(ctx.base_seed + seed), args, per_class, scratch_lr)
                records.append(Record(SCRATCH, self.name, per_class, seed, result))
        return records

    def subset_args(self, ctx: EvalContext, per_class: int, seed: int, positions: torch.Tensor) -> tuple:
        """(labelled, val, test, classes, settings, seed, device) of one labelled subset: its
        validation images as scarce as its labels, capped at ``eval.finetune.val_images``."""
        cfg, ft, splits = ctx.cfg.eval, ctx.settings(self.name), ctx.splits
        val = validation_subset(splits.val, per_class, cfg.val_per_class, ctx.base_seed + seed)
        val = val.subsample(ft.val_images, ctx.base_seed)
        return (splits.train.take(positions), val, splits.test, splits.num_classes, ft, seed, ctx.device)

    def scratch_search(self, ctx: EvalContext, fresh, args: tuple) -> EarlyStoppedResult:
        """Supervised-from-scratch at each rate of ``scratch_lr_encoder``, the best on validation
        (its ``lr``); self-training reads the same cell for its scratch teacher's rate."""
        search = partial(finetune_lr_search, args[4].scratch_lr_encoder, fresh, *args, precision=ctx.cfg.eval.precision)
        return self.cell(ctx.cells, "scratch_search", fresh, args, ctx.cfg.eval, search)

    def scratch_run(self, ctx: EvalContext, fresh, args: tuple, per_class: int, scratch_lr: dict):
        """Supervised-from-scratch on one subset: the lr search on a budget's first seed, that lr after."""
        cfg, precision = ctx.cfg.eval, {"precision": ctx.cfg.eval.precision}
        if per_class not in scratch_lr:
            result = self.scratch_search(ctx, fresh, args)
            scratch_lr[per_class] = result.lr
            return result
        lr = scratch_lr[per_class]
        run = partial(finetune, fresh, *args, lr_encoder=lr, **precision)
        result = self.cell(ctx.cells, f"scratch_lr{lr:g}", fresh, args, cfg, run)
        result.selected_on = "validation split (number of steps); learning rate chosen on this budget's first seed"
        return result

    def note(self, cfg) -> str:
        ft = cfg.settings(self.name)
        return (
            f"- finetune: encoder (lr {ft.lr_encoder:g}) + linear head (lr {ft.lr_head:g}), shift ±{ft.shift} px"
            f"{' and flips' if ft.flip else ''}; number of steps chosen on validation (early stopping, "
            f"{budget_note(ft)}; at most {ft.val_images or 'all'} validation images); `scratch` = the same recipe "
            "from freshly initialised weights per seed, its encoder lr chosen on validation from "
            f"{ft.scratch_lr_encoder} (on each budget's first seed)."
        )
