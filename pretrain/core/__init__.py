"""The ground floor every other package stands on: typed config, registries, datasets and
splits, encoders, run-directory formats and the pretext-task contract. Nothing here imports
``ssl_tasks``, the trainer, ``evaluate`` or ``bench`` (tests/test_architecture.py checks it)."""
