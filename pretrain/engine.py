"""The one pretraining loop, driven by Accelerate, shared by every task.

Each process reads its own shard of a deterministic per-epoch order
(pretrain.core.batches.ShardedBatches) from wherever the images are (pretrain.core.feeds:
device, pinned host memory, a memory map, or files streamed by workers), and every step
reseeds the RNG from (seed, step, rank), so a resumed run repeats an uninterrupted one exactly.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml
from accelerate import Accelerator
from tqdm.auto import tqdm

from pretrain.core.batches import ShardedBatches
from pretrain.core.checkpoint import load_checkpoint, read_progress, save_checkpoint, write_progress
from pretrain.core.config import Config, config_to_dict
from pretrain.core.data import Splits, load_splits
from pretrain.core.encoders import build_encoder, count_parameters
from pretrain.core.feeds import Feed, choose_storage
from pretrain.core.images import to_unit_float
from pretrain.core.precision import to_memory_format
from pretrain.core.provenance import provenance
from pretrain.core.run_folder import Run
from pretrain.core.saved_encoder import export_encoder
from pretrain.core.tasks import TaskContext, TrainingProgress, build_task
from pretrain.hardware import compile_model, make_accelerator
from pretrain.meter import LossMeter, NonFiniteLossError
from pretrain.model import PretrainModel
from pretrain.monitor import TransferMonitor, build_monitor
from pretrain.optim import build_optimizers, build_scheduler
from pretrain.run_dir import prepare_run_dir
from pretrain.tb import RunLogger


def build_model(cfg: Config, splits: Splits) -> PretrainModel:
    """Encoder + tasks with the seed's initial weights and the tasks' data-dependent state."""
    torch.manual_seed(cfg.train.seed)  # identical initial weights on every process
    shape = splits.train.image_shape
    e = cfg.encoder
    options = dataclasses.asdict(e.settings()) if e.settings() is not None else {}
    encoder = build_encoder(e.name, e.code_dim, shape, splits.mean, splits.std, **options)
    ctx = TaskContext(image_shape=shape, num_samples=len(splits.pretrain_images))
    model = PretrainModel(encoder, [build_task(t, encoder, ctx) for t in cfg.tasks])
    for task in model.tasks:
        task.prepare(splits.pretrain_images)  # data-dependent initialisation; a resume overwrites it
    return model


def step_seed(seed: int, step: int, rank: int) -> int:
    return (seed * 1_000_003 + step) * 64 + rank


@dataclass
class LoopParts:
    """Everything the loop body touches, built once by ``run_pretraining``."""

    accelerator: Accelerator
    model: torch.nn.Module
    optimizers: list  # the main optimizer first, then any a task brings for its own parameters
    schedulers: list  # one LambdaLR per optimizer, all on the same schedule
    batches: ShardedBatches
    feed: Feed  # the pretraining images (N, C, H, W) uint8, served a batch at a time to the device
    logger: RunLogger
    monitor: TransferMonitor | None
    run: Run
    total_steps: int


def checkpoint_state(parts: LoopParts, step: int) -> dict:
    return {
        "step": step,
        "model": parts.accelerator.unwrap_model(parts.model).state_dict(),
        "optimizers": [opt.state_dict() for opt in parts.optimizers],
        "schedulers": [sched.state_dict() for sched in parts.schedulers],
    }


def save_if_finite(parts: LoopParts, meter: LossMeter, step: int) -> None:
    if meter.any_nonfinite(parts.accelerator):
        raise NonFiniteLossError(f"the loss became NaN/inf before step {step}")
    if parts.accelerator.is_main_process:
        save_checkpoint(parts.run, checkpoint_state(parts, step))
        write_progress(parts.run, step, parts.total_steps, exported=False)
    parts.accelerator.wait_for_everyone()


def run_monitor(parts: LoopParts, step: int) -> float | None:
    accuracy = None
    if parts.monitor is not None:  # main process only; the others wait
        encoder = parts.accelerator.unwrap_model(parts.model).encoder
        accuracy = parts.monitor(encoder, parts.accelerator.device)
        parts.logger.scalars({"monitor/val_knn_accuracy": accuracy}, step)
    parts.accelerator.wait_for_everyone()
    return accuracy


def train_step(parts: LoopParts, cfg: Config, step: int, meter: LossMeter, batch: tuple):
    acc = parts.accelerator
    torch.manual_seed(step_seed(cfg.train.seed, step, acc.process_index))
    positions, pixels = batch
    images = to_memory_format(to_unit_float(pixels), cfg.train.memory_format)
    unwrapped = acc.unwrap_model(parts.model)
    unwrapped.set_progress(TrainingProgress(step, parts.total_steps))
    with acc.autocast():
        loss, logs, shown = parts.model(images, positions)
    acc.backward(loss)
    if cfg.optim.grad_clip > 0:
        acc.clip_grad_norm_(parts.model.parameters(), cfg.optim.grad_clip)
    for optimizer, scheduler in zip(parts.optimizers, parts.schedulers):
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
    unwrapped.after_step(TrainingProgress(step + 1, parts.total_steps))  # EMA teachers follow the new weights
    meter.add(loss, logs, len(images))
    return shown, positions


def record_shards(parts: LoopParts, positions: torch.Tensor, step: int) -> None:
    """Write which training positions each process read at ``step`` (data_shards.json), so a
    multi-process run can be checked for disjoint shards."""
    gathered = parts.accelerator.gather(positions).view(parts.accelerator.num_processes, -1)
    if parts.accelerator.is_main_process:
        record = {"step": step, "world": parts.accelerator.num_processes, "positions": gathered.tolist()}
        parts.run.data_shards.write_text(json.dumps(record))


def train_loop(parts: LoopParts, cfg: Config, start: int) -> int:
    """Run steps ``start`` .. total (or until train.halt_after_steps); return the last step done."""
    tc, meter, done = cfg.train, LossMeter(), start
    end = parts.total_steps if not tc.halt_after_steps else min(parts.total_steps, start + tc.halt_after_steps)
    quiet = {} if parts.accelerator.is_main_process else {"disable": True}  # main: TQDM_DISABLE=1 still applies
    bar = tqdm(total=parts.total_steps, initial=start, desc="pretrain", **quiet)
    shown_on_bar: dict[str, str] = {}
    for step, batch in zip(range(start, end), parts.feed.batches(parts.batches, start, end), strict=True):
        shown, positions = train_step(parts, cfg, step, meter, batch)
        if step == start:
            record_shards(parts, positions, step)
        done = step + 1
        if done % tc.log_every == 0 or done == end:
            if meter.any_nonfinite(parts.accelerator):
                raise NonFiniteLossError(f"the loss became NaN/inf before step {done}")
            values = meter.flush(parts.accelerator)
            values["lr"] = parts.schedulers[0].get_last_lr()[0]
            parts.logger.scalars({f"pretrain/{k}": v for k, v in values.items()}, done)
            shown_on_bar.update(loss=f"{values['loss']:.4f}", img_s=f"{values['images_per_s']:.0f}")
            bar.set_postfix(shown_on_bar)
        if done % tc.image_log_every == 0 or done == end:
            parts.logger.reconstructions(shown, done)
        paused_from = time.perf_counter()
        if done % tc.ckpt_every == 0 or done == end:
            save_if_finite(parts, meter, done)
        if cfg.monitor.every and (done % cfg.monitor.every == 0 or done == parts.total_steps):
            accuracy = run_monitor(parts, done)
            if accuracy is not None:
                shown_on_bar["val_knn"] = f"{accuracy:.3f}"
                bar.set_postfix(shown_on_bar)
        meter.paused += time.perf_counter() - paused_from  # checkpoint/monitor time is not training
        bar.update(1)
    bar.close()
    return done


def restore(parts: LoopParts) -> int:
    state = load_checkpoint(parts.run)
    if state is None:
        return 0
    parts.accelerator.unwrap_model(parts.model).load_state_dict(state["model"])
    for optimizer, saved in zip(parts.optimizers, state["optimizers"], strict=True):
        optimizer.load_state_dict(saved)
    for scheduler, saved in zip(parts.schedulers, state["schedulers"], strict=True):
        scheduler.load_state_dict(saved)
    return int(state["step"])


def describe(cfg: Config, model: PretrainModel, splits: Splits, total_steps: int, world: int, storage: str) -> str:
    extra = f" + {len(splits.unlabelled)} unlabelled" if splits.unlabelled is not None else ""
    test = len(splits.test) if splits.test is not None else 0
    c, h, w = splits.train.image_shape
    teachers = sum(count_parameters(t) for task in model.tasks for t in task.teachers())
    heads = count_parameters(model.tasks) - teachers
    lines = [
        f"run: {cfg.run_path}   tasks: {', '.join(model.task_keys)}   encoder: {cfg.encoder.name} "
        f"(m={cfg.encoder.code_dim})",
        f"data: {' '.join(filter(None, (cfg.data.name, splits.source)))} {c}x{h}x{w}: "
        f"train {len(splits.train)}{extra} / val {len(splits.val)}"
        f" / test {test}   batches from: {storage}   steps: {total_steps} x {cfg.train.batch_size} images x "
        f"{world} process(es)",
        f"parameters: encoder {count_parameters(model.encoder):,}   task heads {heads:,}"
        + (f"   teachers (EMA, not trained) {teachers:,}" if teachers else ""),
        f"precision: {cfg.train.precision}   memory format: {cfg.train.memory_format}   "
        f"compile: {'on' if cfg.train.compile else 'off'}",
    ]
    for task in model.tasks:
        lines += task.describe(model.encoder)
    return "\n".join(lines)


def build_loop(cfg: Config, accelerator: Accelerator, run: Run, splits: Splits) -> tuple[LoopParts, str]:
    """Model, optimizers, schedulers and batches of a run, prepared by Accelerate (the logger is
    attached by the caller). -> (parts, the summary printed before training)."""
    model = build_model(cfg, splits)
    if cfg.train.memory_format == "channels_last":
        model = model.to(memory_format=torch.channels_last)
    if cfg.train.sync_batchnorm and accelerator.num_processes > 1 and accelerator.device.type == "cuda":
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)  # batch norm over the global batch
    if cfg.train.compile:
        compile_model(model)
    images = splits.pretrain_images
    batches = ShardedBatches(
        len(images), cfg.train.batch_size, cfg.train.seed, accelerator.process_index, accelerator.num_processes
    )
    storage = choose_storage(images, cfg.data.storage, cfg.data.device_memory_gb)
    total_steps = max(1, round(cfg.train.epochs * batches.steps_per_epoch))
    optimizers = build_optimizers(model, cfg.optim)
    schedulers = [build_scheduler(opt, total_steps, cfg.optim) for opt in optimizers]
    summary = describe(cfg, model, splits, total_steps, accelerator.num_processes, storage)
    prepared_model, *optimizers = accelerator.prepare(model, *optimizers)
    main = accelerator.is_main_process
    parts = LoopParts(
        accelerator=accelerator,
        model=prepared_model,
        optimizers=optimizers,
        schedulers=schedulers,
        batches=batches,
        feed=Feed(images, storage, accelerator.device, cfg.data.workers or min(4, os.cpu_count() or 1)),
        logger=None,
        monitor=build_monitor(splits, cfg.monitor, cfg.train.seed) if main else None,
        run=run,
        total_steps=total_steps,
    )
    return parts, summary


def run_pretraining(cfg: Config, resume: bool = False) -> Path:
    """Pretrain per ``cfg``; return the run directory holding the exported encoder."""
    accelerator = make_accelerator(cfg)
    run = prepare_run_dir(cfg, resume, accelerator)
    with accelerator.local_main_process_first():  # one process per machine decodes its cache; the others read it
        splits = load_splits(cfg.data)
    parts, summary = build_loop(cfg, accelerator, run, splits)
    main = accelerator.is_main_process
    if main:
        print(summary, flush=True)
    start = restore(parts) if resume else 0
    parts.logger = RunLogger(run.tb, main, purge_step=start or None)
    parts.logger.text("config", "```\n" + yaml.safe_dump(config_to_dict(cfg), sort_keys=False) + "\n```")
    parts.logger.text("summary", "```\n" + summary + "\n```")  # loads, warnings, sizes
    if main:  # until the export is written, evaluation refuses this run (its config.yaml is already new)
        write_progress(run, start, parts.total_steps, exported=False)
    if start and main:
        print(f"resuming at step {start} of {parts.total_steps} from {run.checkpoint}", flush=True)
    started = time.perf_counter()
    try:
        done = train_loop(parts, cfg, start)
    except NonFiniteLossError as err:
        saved = run.checkpoint.is_file()  # progress.json holds the step of the last one saved
        where = (
            f"the last good checkpoint is {run.checkpoint} (step {read_progress(run)['step']})"
            if saved
            else f"no checkpoint was saved yet (the first comes at step {cfg.train.ckpt_every})"
        )
        raise NonFiniteLossError(f"{err}. Training stopped; {where}") from None
    finally:
        parts.logger.close()
    if done == parts.total_steps and main:
        unwrapped = accelerator.unwrap_model(parts.model)
        info = {
            "steps": done,
            "train_seconds_last_invocation": round(time.perf_counter() - started, 1),
            "pretrain_images": len(parts.feed.images),
            "dataset": cfg.data.name,
        }
        export_encoder(run, unwrapped.encoder, unwrapped.tasks, {**info, **provenance()})
        write_progress(run, done, parts.total_steps, exported=True)
        print(f"exported encoder to {run.encoder_weights}", flush=True)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return run.path
