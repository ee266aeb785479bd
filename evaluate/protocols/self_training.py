"""``self_training``: a teacher fine-tuned on the labelled subset labels every training image,
and a student of the same architecture trains on its soft labels (evaluate.solvers.distillation;
SimCLRv2's third stage, Noisy Student's input noise). The teacher is the ``finetune`` protocol's
own run on that subset and seed, read back with its weights from that protocol's cell (or
computed into it), never fine-tuned a second time. Sources:
``encoder`` (teacher and student start from the pretrained encoder) and ``scratch`` (both start
from fresh weights, at the encoder rate chosen for supervised-from-scratch on validation).

Semi-supervised: it reads the unlabelled training images, never their labels, so its supervised
counterpart, ``finetune`` on the same source, is reported beside it. Not run with all labels.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import partial

from tqdm.auto import tqdm

from evaluate.cells import digest, module_digest
from evaluate.context import EvalContext
from evaluate.contract import Protocol
from evaluate.features import module_code_digest
from evaluate.protocol_registry import PROTOCOLS, register_protocol
from evaluate.protocols.finetune import ENCODER, SCRATCH
from evaluate.results import EarlyStoppedResult, Record
from evaluate.solvers.distillation import SelfTrainingSettings, self_train, soft_labels
from evaluate.solvers.supervised_training import restore_classifier
from evaluate.suite import feature_digest, labelled_subsets, unlabelled_pool


@dataclass(kw_only=True)
class SelfTrainingResult(EarlyStoppedResult):
    teacher_accuracy: float  # test accuracy of the fine-tuned teacher (what the student is compared with)
    teacher_val_accuracy: float | None
    unlabelled_size: int  # training images the teacher labelled


@register_protocol("self_training")
class SelfTraining(Protocol):
    rank = 5
    settings_type = SelfTrainingSettings
    result_type = SelfTrainingResult
    needs = frozenset({"images", "labels", "encoder"})
    stochastic = True
    compares = (ENCODER, SCRATCH)
    references = (SCRATCH,)  # the learned encoder is compared with scratch under the same protocol
    uses_unlabelled = True
    supervised_counterpart = "finetune"

    def runs_at(self, labels_per_class: int) -> bool:
        return labels_per_class != 0  # with all labels nothing is unlabelled

    def budgets(self, wanted: list[int], labels) -> list[int]:
        """The budgets it runs: not all labels, and none above the smallest class (said, not raised:
        its default budget was not the user's choice)."""
        smallest = int(labels.bincount()[labels.unique()].min())
        too_many = [b for b in wanted if b > smallest]
        if too_many:
            print(f"self_training: {too_many} labels per class skipped (the smallest class has {smallest})")
        return [b for b in wanted if self.runs_at(b) and b <= smallest]

    def cell_settings(self, cfg) -> dict:
        own = {k: v for k, v in dataclasses.asdict(cfg.settings(self.name)).items() if k != "labels_per_class"}
        return {"self_training": own, **PROTOCOLS["finetune"].cell_settings(cfg)}

    def cell(self, ctx: EvalContext, kind: str, start, args: tuple, unlabelled, lr, compute, *extra):
        """A teacher or student run from the weights ``start``, from ``ctx.cells`` where it ran before."""
        if ctx.cells is None:
            return compute()
        labelled, val, test, num_classes, _, seed, _ = args
        key = {
            "weights": module_digest(start),
            "code": module_code_digest(start),
            "images": [digest(labelled.x, labelled.y), digest(val.x, val.y), feature_digest(test)],
            "unlabelled": digest(unlabelled.index),
            "settings": self.cell_settings(ctx.cfg.eval),
            "classes": num_classes,
            "seed": seed,
            "lr": lr,
            "extra": list(extra),
        }
        return ctx.cells.get(kind, key, compute)

    def evaluate(self, ctx: EvalContext) -> list[Record]:
        cfg, st, finetune = ctx.cfg.eval, ctx.settings(self.name), PROTOCOLS["finetune"]
        budgets = self.budgets(st.labels_per_class or finetune.budgets(cfg), ctx.splits.train.y)
        unlabelled = unlabelled_pool(ctx.splits.train).subsample(st.unlabelled_images, ctx.base_seed)
        scratch = ctx.scratch if st.scratch else None
        records, chosen = [], {}
        subsets = labelled_subsets(ctx.splits.train.y, budgets, cfg.seeds, ctx.base_seed, ctx.first_seed)
        for per_class, seed, positions in tqdm(subsets, desc="self-training", leave=False):
            args = finetune.subset_args(ctx, per_class, seed, positions)
            if ctx.encoder is not None:
                teacher = partial(finetune.encoder_run, ctx, args)  # the finetune cell: trained there or here
                result = self.teach_and_distil(ctx, ENCODER, ctx.encoder, args, unlabelled, None, teacher)
                records.append(Record(ENCODER, self.name, per_class, seed, result))
            if scratch is not None:
                fresh = scratch(ctx.base_seed + seed)
                teacher = self.scratch_teacher(ctx, fresh, args, per_class, chosen)
                result = self.teach_and_distil(ctx, SCRATCH, fresh, args, unlabelled, chosen[per_class], teacher)
                records.append(Record(SCRATCH, self.name, per_class, seed, result))
        return records

    def scratch_teacher(self, ctx: EvalContext, fresh, args: tuple, per_class: int, chosen: dict):
        """() -> supervised-from-scratch's run on this subset ({"result", "state"}), read when the
        teacher is needed; on a budget's first seed read now, since its search sets ``chosen[per_class]``,
        the rate teacher and student train at."""
        teacher = partial(PROTOCOLS["finetune"].scratch_run, ctx, fresh, args, per_class, chosen)
        if per_class in chosen:
            return teacher
        searched = teacher()
        return lambda: searched

    def teach_and_distil(self, ctx: EvalContext, source: str, start, args: tuple, unlabelled, lr, teacher):
        """The teacher, ``teacher()`` = the ``finetune`` protocol's run from ``start`` on the
        labelled subset ({"result", "state"}; read from its cell, not trained again), labels
        ``unlabelled``; a student from ``start`` learns from its soft labels. ``lr``: both
        encoders' rate (None: the settings')."""
        st, precision, device = ctx.settings(self.name), ctx.cfg.eval.precision, args[-1]

        def teach() -> dict:
            run = teacher()
            model = restore_classifier(start, args[3], run["state"], device)
            return {
                "result": run["result"],
                "soft": soft_labels(model, unlabelled.x, st.temperature, device, precision),
            }

        taught = self.cell(ctx, "self_training_teacher", start, args, unlabelled, lr, teach, source)
        _, val, test, _, _, seed, _ = args
        student_lr = lr if lr is not None else st.lr_encoder
        soft = taught["soft"]
        learn = partial(self_train, start, unlabelled, soft, val, test, st, seed, device, student_lr, precision)
        student = self.cell(ctx, "self_training", start, args, unlabelled, lr, learn, source, digest(soft))
        fields = {f.name: getattr(student, f.name) for f in dataclasses.fields(EarlyStoppedResult)}
        return SelfTrainingResult(
            **fields,
            teacher_accuracy=taught["result"].accuracy,
            teacher_val_accuracy=taught["result"].val_accuracy,
            unlabelled_size=len(unlabelled),
        )

    def note(self, cfg) -> str:
        st = cfg.settings(self.name)
        return (
            "- self_training: a teacher fine-tuned as in `finetune` labels every training image (labels hidden); a "
            f"student of the same architecture learns its soft labels (τ = {st.temperature:g}) under ±{st.shift} px "
            f"shifts{' and flips' if st.flip else ''}, for at most {st.max_epochs:g} epochs over them (at least "
            f"{st.min_steps} steps), its number of steps chosen on validation (early stopping, patience "
            f"{st.patience}); `encoder`: both from the pretrained encoder; `scratch`: both from fresh weights at the "
            "rate chosen for supervised-from-scratch; not run with all labels."
        )
