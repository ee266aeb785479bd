import torch

from evaluate.early_stopping import train_with_early_stopping


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
