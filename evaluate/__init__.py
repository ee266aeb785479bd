"""Transfer evaluation of pretrained encoders: ``evaluate_run(run_dir, settings) -> Report``."""

from evaluate.entry import EvaluationSettings, evaluate_run

__all__ = ["EvaluationSettings", "evaluate_run"]
