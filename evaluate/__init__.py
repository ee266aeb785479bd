"""Transfer evaluation of pretrained encoders; the entry point is ``evaluate.entry.evaluate_run``.

Kept empty of imports: every ``evaluate.*`` module imports this package first, so an import
here would run the whole evaluation stack (and close import cycles) for any one of them.
"""
