"""How big each benchmark runs.

``full`` is the size the benchmark and the paper ask for; ``small`` is what fits 2 CPU cores in
about an hour (BENCHMARKS.md says which one produced each figure); ``tiny`` runs every code
path on synthetic images in seconds for the test suite.
"""

from __future__ import annotations

from dataclasses import dataclass

# training-step variants of section 4 (bench/variants.py): precision [+channels_last] [+compile]
VARIANTS = (
    "fp32",
    "fp32+channels_last",
    "bf16",
    "bf16+channels_last",
    "bf16+channels_last+compile",
    "fp32+channels_last+compile",
)


@dataclass(frozen=True)
class Scale:
    name: str
    data: tuple[str, ...] = ()  # dotted overrides applied to every pretraining run (the dataset)
    # 1. leaderboard: every task at its config's budget, several pretraining seeds
    leaderboard_epochs: float = 0.0  # 0 = each config's own epochs (tuned on validation, section 7)
    leaderboard_only: tuple[str, ...] = ()  # these names of bench.leaderboard.ENTRIES in sections 1, 4 and 9 (() = all)
    frozen_labels: tuple[int, ...] = (1, 10, 100, 0)  # 0 = all labels
    finetune_labels: tuple[int, ...] = (1, 10, 100)
    seeds: int = 3  # labelled subsets per budget and pretraining run
    pretrain_seeds: int = 3  # pretraining runs per task (their subsets pooled: seeds x pretrain_seeds per cell)
    finetune_max_epochs: float = 4.0  # fine-tuning budget: epochs over the labelled set ...
    finetune_min_steps: int = 500  # ... but at least this many steps
    self_training_max_epochs: float = 1.0  # the self-trained student's budget: epochs over the unlabelled images ...
    self_training_min_steps: int = 200  # ... but at least this many steps
    leaderboard_skip: tuple[str, ...] = ()  # protocols its evaluations leave out (eval.skip)
    # 1b. semi-supervised leaderboard (bench/semi_leaderboard.py): section 1's runs, these protocols
    semi_entries: tuple[str, ...] = ("ae_mirror", "ae_m64", "vae", "contrastive", "vicreg")
    semi_frozen_labels: tuple[int, ...] = (1, 10)
    semi_protocols: tuple[str, ...] = ("knn", "linear", "label_propagation", "finetune", "self_training")
    # 2. decoder-only paper, Fig. 2 (sec. 3.1: 200 epochs, 1000 test images)
    paper_sizes: tuple[int, ...] = (500, 1000, 5000, 15000)
    paper_epochs: float = 200.0
    paper_max_images: int = 0  # >0: at most this many images seen per model (epochs shrink for large N)
    paper_test_images: int = 1000
    paper_infer_steps: int = 200  # test codes: as many SGD steps as a training code gets (one per epoch)
    # 3. bottleneck width sweep, mirror vs linear decoder
    widths: tuple[int, ...] = (2, 8, 32, 128, 512)
    width_train_subset: int = 0  # 0 = the whole training split
    width_epochs: float = 3.0
    width_labels: int = 10  # the scarce-label column of the sweep
    # 4. speed (bench.variants: each variant's segments are timed in turn in one worker per task)
    speed_steps: int = 50  # steps per timed segment (with speed_*_seconds > 0: the most a segment takes)
    speed_repeats: int = 5  # timed segments per variant (median), after two warm-up steps
    speed_segment_seconds: float = 0.0  # >0: a variant's segment takes as many steps as fill this ...
    speed_loop_seconds: float = 0.0  # ... and the toolkit loop's and its bare twin's (the ratio) this
    speed_variants: tuple[str, ...] = VARIANTS  # bare-loop variants, ratios to the first
    speed_variant_tasks: int = 0  # the first N tasks are timed in every variant (0 = all), the rest in auto's only
    roofline_size: int = 2048  # largest square matmul timed per dtype (a GPU: at least 8192) ...
    roofline_seconds: float = 2.0  # ... stopping at the first size whose repeats would take longer
    probe_passes: int = 10  # epochs of the SGD linear probes compared
    extract_images: int = 10000
    suite_overrides: tuple[str, ...] = ()  # eval.* overrides of the timed suite (default: the default eval config)
    # 5. GPU check (bench/gpu_check.py; the speed fields above size its timing)
    agreement_steps: int = 200  # training steps compared in fp32 and bf16 (same seed, same batches)
    # 9. label-free scores against transfer (the leaderboard's first pretraining runs)
    label_free_scarce: int = 10  # the scarce budget the scores are correlated with (and all labels)
    label_free_resamples: int = 2000  # bootstrap resamples of the runs for the correlation's interval
    # 6. your own images: folders written from the dataset, decode / storage / unseen-class transfer
    data_train_per_class: int = 0  # training images per unseen class written as PNG (0 = all)
    data_photo_images: int = 10000  # colour JPEG "photos" decoded in the throughput test ...
    data_photo_side: int = 256  # ... of this side ...
    data_photo_size: int = 64  # ... resized to this
    data_feed_steps: int = 200  # training steps timed per storage mode
    # 7. budgets tuned on validation (bench/sweep.py)
    sweep_tasks: int = 0  # the first N task grids (0 = all)
    sweep_settings: int = 0  # the first N settings of each grid (0 = all)
    sweep_budget_seconds: float = 1200.0  # pretraining time a setting may take on the machine (20 CPU-minutes)
    sweep_overrides: tuple[str, ...] = ()  # applied to every sweep run (tiny: short runs)


SCALES = {
    "full": Scale("full"),
    "small": Scale(
        "small",
        seeds=2,
        pretrain_seeds=2,
        finetune_labels=(100,),
        finetune_min_steps=250,
        semi_entries=("ae_mirror", "ae_m64", "vae"),  # the default AE and section 1's best kNN codes (CPU time)
        paper_max_images=120_000,
        paper_infer_steps=100,
        width_train_subset=20000,
        width_epochs=3.0,
        speed_steps=100,
        speed_repeats=3,
        speed_segment_seconds=1.0,
        speed_loop_seconds=2.0,
        probe_passes=3,
        data_train_per_class=2000,
        data_photo_images=2000,
        data_feed_steps=100,
    ),
    "tiny": Scale(
        "tiny",
        data=("data.name=synthetic", "data.synthetic_size=240", "data.val_size=60", "train.batch_size=32"),
        leaderboard_epochs=1.0,
        # CI time: the default AE, the two-representation decoder-only run and a small-ResNet row
        # (a second architecture); every other task, and task combinations, are tested in their own files
        leaderboard_only=("ae_mirror", "decoder_only", "relpos_resnet"),
        frozen_labels=(2, 0),
        finetune_labels=(2,),
        seeds=2,
        pretrain_seeds=2,
        finetune_max_epochs=0.0,
        finetune_min_steps=10,
        self_training_max_epochs=0.0,
        self_training_min_steps=10,
        leaderboard_skip=("self_training",),  # CI time: tested in tests/test_semi_supervised.py
        semi_entries=("ae_mirror",),
        semi_frozen_labels=(2,),
        paper_sizes=(40, 120),
        paper_epochs=2.0,
        paper_test_images=40,
        paper_infer_steps=5,
        widths=(2, 16),
        width_epochs=1.0,
        width_labels=2,
        speed_steps=3,
        speed_repeats=2,
        speed_variants=("fp32", "fp32+channels_last", "bf16"),
        speed_variant_tasks=1,
        roofline_size=128,
        roofline_seconds=0.5,
        probe_passes=1,
        extract_images=100,
        suite_overrides=(
            "eval.labels_per_class=[2,0]",
            "eval.seeds=1",
            "eval.mlp_head.max_epochs=0",
            "eval.mlp_head.min_steps=20",
        ),
        data_train_per_class=30,
        data_photo_images=24,
        data_photo_side=48,
        data_photo_size=16,
        data_feed_steps=3,
        sweep_tasks=2,
        sweep_settings=2,
        sweep_overrides=("train.epochs=1", "encoder.width=8"),
        agreement_steps=3,
        label_free_scarce=2,
        label_free_resamples=200,
    ),
}
