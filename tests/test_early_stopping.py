import torch

from evaluate.solvers.early_stopping import train_with_early_stopping


def test_returns_the_validation_best_step_and_restores_its_weights():
    """A constructed case: the validation score rises to a peak at step 30, then falls."""
    model = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.zero_()

    def train_step(step):
        with torch.no_grad():
            model.weight += 1.0  # the weight counts the steps taken

    def validate():
        return -abs(model.weight.item() - 30.0)

    result = train_with_early_stopping(model, train_step, validate, max_steps=200, eval_every=10, patience=3)
    assert result.best_step == 30
    assert model.weight.item() == 30.0  # best weights restored, not the last
    assert result.steps_run == 60  # three checks without improvement after the peak
    assert result.history[0] == (0, -30.0)


def test_runs_to_the_end_while_still_improving():
    model = torch.nn.Linear(1, 1, bias=False)
    calls = []
    result = train_with_early_stopping(
        model, calls.append, lambda: float(len(calls)), max_steps=25, eval_every=10, patience=2
    )
    assert result.steps_run == 25 and result.best_step == 25 and len(calls) == 25


def test_budget_is_epochs_over_the_labelled_set_with_a_floor():
    from evaluate.solvers.early_stopping import check_interval, step_budget

    # all 55,000 labels at batch 64: 4 epochs are 3438 steps, not a cap of 400 (under half an epoch)
    assert step_budget(55_000, 64, max_epochs=4, min_steps=300) == 3438
    assert step_budget(10, 64, max_epochs=4, min_steps=300) == 300  # 1 label per class: the floor
    assert check_interval(3438, eval_every=25, max_checks=20) == 172  # long budgets: at most 20 checks
    assert check_interval(300, eval_every=25, max_checks=20) == 25


def test_a_best_step_at_the_budget_is_flagged():
    model = torch.nn.Linear(1, 1)
    calls = []
    still_improving = train_with_early_stopping(
        model, calls.append, lambda: float(len(calls)), max_steps=30, eval_every=10, patience=2
    )
    assert still_improving.best_step == 30 and still_improving.at_cap
    peaked = train_with_early_stopping(model, lambda step: None, lambda: 0.0, max_steps=30, eval_every=10, patience=2)
    assert peaked.best_step == 0 and not peaked.at_cap


def test_fine_tuning_budget_leaves_room_at_100_labels_per_class_and_checks_small_sets_as_often():
    from evaluate.solvers.supervised_training import FinetuneSettings, budget_and_checks

    settings = FinetuneSettings()  # batch 64, 4 epochs, at least 1500 steps, a check every 25 steps
    # 100 labels/class (1000 images): the floor, not 63 steps of 4 epochs (tests/test_scratch_search.py: why 1500)
    assert budget_and_checks(1000, settings) == (1500, 25)
    assert budget_and_checks(10, settings) == budget_and_checks(100, settings) == (1500, 25)  # 1 and 10: as often
    assert budget_and_checks(55_000, settings) == (3438, 172)  # all labels: 4 epochs, at most 20 checks, as before


def test_a_paused_run_takes_the_steps_and_checks_of_an_unpaused_one():
    from evaluate.solvers.early_stopping import EarlyStopping

    def trained(pauses: list[int]):
        model = torch.nn.Linear(1, 1, bias=False)
        with torch.no_grad():
            model.weight.zero_()

        def train_step(step):
            with torch.no_grad():
                model.weight += 1.0

        stopping = EarlyStopping(model, train_step, lambda: -abs(model.weight.item() - 47.0), 100, 10, 3)
        for until in pauses:
            stopping.advance(until)  # 35 trains on to the check at 40: a pause never adds a check
        return stopping.finish(), model.weight.item()

    straight = trained([100])
    assert trained([20, 20, 35, 100]) == straight
    assert (straight[0].best_step, straight[0].steps_run, straight[1]) == (50, 80, 50.0)
    assert [step for step, _ in straight[0].history] == list(range(0, 90, 10))
