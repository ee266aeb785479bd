"""Supervised-from-scratch's learning rate by successive halving: the rule over early-stopping
histories, the search that pauses and resumes real fine-tunings by it, and the rule replayed on
histories recorded on Fashion-MNIST (where it chooses as the full search does)."""

from __future__ import annotations

import torch

from evaluate.solvers.early_stopping import best_score, rung_steps, successive_halving
from evaluate.solvers.supervised_training import FinetuneRun, FinetuneSettings, budget_and_checks, finetune_lr_search
from pretrain.core.datasets.synthetic import synthetic_images
from pretrain.core.encoders import build_encoder

LRS = (3e-4, 1e-3, 3e-3)  # the default eval.finetune.scratch_lr_encoder, the rates of RECORDED


def test_rungs_fall_on_validation_checks():
    assert rung_steps(500, 25, [0.25, 0.5]) == [125, 250]
    assert rung_steps(60, 10, [0.25, 0.5]) == [20, 30]  # 15 moves up to the check at 20
    assert rung_steps(30, 25, [0.9]) == [30]  # never past the budget (its last check)


def test_successive_halving_keeps_the_better_half_so_far_at_each_rung():
    slow_starter = [(0, 0.1), (10, 0.2), (20, 0.3), (30, 0.9), (40, 0.95)]  # best at the end, poor at the rungs
    steady = [(0, 0.1), (10, 0.5), (20, 0.6), (30, 0.7), (40, 0.8)]
    stopped = [(0, 0.1), (10, 0.55), (20, 0.5)]  # early-stopped before the second rung: its best stands
    fading = [(0, 0.1), (10, 0.4), (20, 0.45), (30, 0.4), (40, 0.3)]
    histories = [slow_starter, steady, stopped, fading]
    assert successive_halving(histories, []) == (0, [])  # no rungs: the full search, the best at the end
    chosen, kept = successive_halving(histories, [10, 20])
    assert kept == [[1, 2], [1]] and chosen == 1  # the slow starter is dropped at step 10: the price
    assert successive_halving([steady, steady], [10]) == (0, [[0]])  # ties go to the grid's earlier rate
    trained = {}
    successive_halving(histories, [10, 20], advance=lambda run, until: trained.setdefault(run, []).append(until))
    assert trained == {0: [10], 1: [10, 20, None], 2: [10, 20], 3: [10]}  # a dropped run trains no further
    assert best_score(slow_starter, 20) == 0.3 and best_score(slow_starter) == 0.95


def test_the_search_chooses_as_the_rule_replayed_on_full_runs_and_returns_that_full_run():
    """Runs paused at the rungs and resumed in turns end as runs made straight through."""
    train, val, test = synthetic_images(60, seed=0), synthetic_images(60, seed=1), synthetic_images(60, seed=2)
    torch.manual_seed(0)
    encoder = build_encoder("paper_conv", 8, (1, 28, 28), 0.3, 0.3)
    settings = FinetuneSettings(
        max_epochs=0, min_steps=60, eval_every=10, patience=100, scratch_search_rungs=[0.25, 0.5]
    )
    lrs, args = [1e-4, 1e-3, 1e-2], (encoder, train, val, test, 10, settings, 0)
    full = [FinetuneRun(*args, lr_encoder=lr) for lr in lrs]
    results = [run.finish()[1] for run in full]
    chosen, kept = successive_halving([run.history for run in full], rung_steps(60, 10, [0.25, 0.5]))
    assert [len(k) for k in kept] == [2, 1]
    searched = finetune_lr_search(lrs, *args)
    assert searched.lr == lrs[chosen]
    straight = results[chosen]
    assert (searched.best_step, searched.val_accuracy, searched.accuracy) == (
        straight.best_step,
        straight.val_accuracy,
        straight.accuracy,
    )
    assert torch.equal(searched.test_predictions, straight.test_predictions)


def parse(scores: str) -> list[tuple[int, float]]:
    return [(25 * i, int(v) / 1000) for i, v in enumerate(scores.split())]


def replay(runs: list[list[tuple[int, float]]], rungs: list[int]) -> tuple[int, int]:
    """(the run successive halving chooses, the steps all runs take): a run trains to its rung
    (or its patience stop, if earlier) and only the survivors on."""
    reached = {}

    def advance(run: int, until: int | None) -> None:
        reached[run] = max(step for step, _ in runs[run] if until is None or step <= until)

    chosen, _ = successive_halving(runs, rungs, advance=advance)
    return chosen, sum(reached.values())


def first_best_step(run: list[tuple[int, float]], cap: int) -> int:
    """The step early stopping keeps when ``run`` is cut at ``cap``: the first check of the best score."""
    return -max((score, -step) for step, score in run if step <= cap)[1]


def test_replayed_on_recorded_searches_halving_chooses_as_the_full_search_for_less():
    settings = FinetuneSettings()
    budget, every = budget_and_checks(1000, settings)  # 1, 10 and 100 labels/class all have the floor
    rungs = rung_steps(budget, every, settings.scratch_search_rungs)
    assert (budget, rungs) == (1500, [450, 750])
    chosen, steps, full_steps = {}, 0, 0
    for case, texts in RECORDED.items():
        runs = [parse(text) for text in texts]
        full, searched = replay(runs, []), replay(runs, rungs)
        assert searched[0] == full[0], case
        chosen[case] = LRS[searched[0]]
        steps, full_steps = steps + searched[1], full_steps + full[1]
    assert chosen == {
        (1, 0): 3e-4, (1, 1): 3e-4, (1, 2): 3e-4, (1, 3): 1e-3,
        (10, 0): 3e-3, (10, 1): 1e-3, (10, 2): 1e-3, (10, 3): 3e-4,
        (100, 0): 1e-3, (100, 1): 3e-3, (100, 2): 1e-3, (100, 3): 3e-3,
    }  # fmt: skip
    # patience ends most runs long before the rungs, so the saving is small here (3.5%); its bound,
    # where every rate would run the whole budget, is 3 x 450 + 2 x 300 + 750 = 2700 of 4500 steps
    assert (steps, full_steps) == (12475, 12925)
    # halving earlier saves more but changes a choice: at 100/class, seed 0, the three rates' best
    # validation accuracies lie 14 images of 1000 apart, and 3e-3 leads 1e-3 at step 375
    earlier = rung_steps(budget, every, [0.25, 0.5])
    runs = [parse(text) for text in RECORDED[(100, 0)]]
    assert (LRS[replay(runs, earlier)[0]], LRS[replay(runs, [])[0]]) == (3e-3, 1e-3)


def test_recorded_runs_at_100_labels_per_class_outgrow_the_old_floor_not_the_new():
    runs = [parse(text) for seed in range(4) for text in RECORDED[(100, seed)]] + [parse(t) for t in ENCODER_100]
    assert sum(first_best_step(run, 500) == 500 for run in runs) == 3  # at_cap at the old 500-step floor
    budget = budget_and_checks(1000, FinetuneSettings())[0]
    assert all(run[-1][0] < budget for run in runs)  # patience ends every run before the 1500-step floor
    assert max(first_best_step(run, budget) for run in runs) == 1075  # the encoder's slow climb, seed 1
    for per_class in (1, 10):  # the floor costs the small budgets nothing: they stop before 500 steps
        assert all(parse(text)[-1][0] <= 500 for seed in range(4) for text in RECORDED[(per_class, seed)])


# Validation accuracy (per mille) at every 25th step, from step 0 to the run's patience stop, of
# supervised-from-scratch fine-tuning (paper_conv, m = 20, eval.finetune's defaults but a 2000-step
# floor) on Fashion-MNIST: (labels per class, labelled-subset seed) -> its runs at the rates LRS.
# Recorded with FinetuneRun on 2 CPU cores (AMD EPYC), 2026-12-06; a run under a shorter budget
# is a prefix of these (the same checks), so they replay any budget the runs did not outlast.
RECORDED = {
    (1, 0): (
        "80 400 440 400 380 400 380 360",
        "80 440 440 380 360 380 380",
        "80 340 420 360 400 360 360 380",
    ),
    (1, 1): (
        "100 420 400 420 420 420 420",
        "100 380 360 360 380 340 340",
        "100 320 320 360 380 360 340 340 340 340",
    ),
    (1, 2): (
        "100 340 360 400 420 420 440 440 440 440 440 440",
        "100 340 380 360 380 420 420 420 420 400 420",
        "100 360 360 400 400 400 400 380 420 400 420 440 420 420 420 440 400",
    ),
    (1, 3): (
        "100 460 520 520 540 520 520 520 500 540",
        "100 440 520 520 540 560 540 500 500 500 540",
        "100 440 560 480 540 520 520 500",
    ),
    (10, 0): (
        "100 590 690 660 680 720 700 700 660 680 690",
        "100 560 680 630 690 640 710 690 690 670 690 700",
        "100 570 670 590 700 680 710 700 660 700 730 720 690 730 740 740 690 720 700 730",
    ),
    (10, 1): (
        "100 610 710 690 700 730 750 760 720 730 740 780 720 750 750 750 730",
        "100 680 730 720 710 740 730 740 730 730 770 750 710 760 720 800 690 740 750 790 750",
        "100 660 690 740 700 760 760 750 710 730 750",
    ),
    (10, 2): (
        "100 560 640 680 670 670 670 660 650",
        "100 610 650 710 680 670 640 640 640",
        "100 570 630 700 660 660 590 700 640",
    ),
    (10, 3): (
        "80 560 680 640 710 610 720 640 700 690 640 690",
        "80 540 700 570 570 590 680 620",
        "80 560 670 560 570 560 600 640",
    ),
    (100, 0): (
        "121 619 725 758 753 758 761 758 784 771 766 781 785 785 775 802 792 797 795 797 798",
        "121 639 706 733 746 727 758 765 777 778 776 792 784 793 784 792 805 816 808 790 777 809 813",
        "121 621 681 738 732 755 767 771 787 778 782 770 776 804 788 806 809 813 808 768 789 795 796",
    ),
    (100, 1): (
        "118 622 696 706 730 743 769 776 772 770 757 796 781 759 794 802 795 762 791 782 794",
        "118 607 695 683 745 718 756 759 764 741 747 796 774 756 795 798 784 737 776 790 790",
        "118 561 683 685 727 714 739 737 742 747 745 804 777 761 802 796 796",
    ),
    (100, 2): (
        (
            "100 672 748 744 773 776 741 766 779 761 786 767 807 808 796 784 776 802 819 813 820 814 838 "
            "830 825 820 821 829"
        ),
        (
            "100 672 736 754 763 778 713 756 772 783 789 756 813 805 794 783 758 818 836 822 843 826 844 "
            "834 830 832 842 856 805 839 840 830 842"
        ),
        (
            "100 712 702 761 747 771 685 764 780 803 798 774 811 803 813 770 747 827 818 829 826 815 838 "
            "821 817 828 817 839 835 830 849 813 830 846 828 847"
        ),
    ),
    (100, 3): (
        "55 672 709 720 779 739 770 755 765 778",
        "55 677 669 733 760 747 782 736 785 770 783 786 739 800 799 811 831 785 802 809 814 807",
        (
            "55 719 641 721 749 744 799 739 761 768 801 785 759 796 812 808 815 803 798 816 816 817 818 "
            "819 820 817 817 833 828 840 834 832 811 817 810"
        ),
    ),
}
# the pretrained encoder (AE, m = 20, 3 epochs) fine-tuned at 100 labels/class, seeds 0 and 1, to the same floor
ENCODER_100 = (
    "53 612 703 729 759 753 776 780 780 776 775 777 789 785 784 805 791 802 800 798 806 793 817 806 808 814 807 810",
    (
        "69 660 720 735 751 764 756 771 763 776 751 774 780 784 787 778 786 778 792 793 792 785 791 "
        "779 801 800 796 797 803 800 799 813 801 802 822 803 813 815 820 825 816 818 822 829 821 813 "
        "811 825 822"
    ),
)
