"""The ground floor every other package stands on: typed config, registries, datasets and
splits, encoders, run-directory formats and the pretext-task contract. No import statement
here names ``ssl_tasks``, the trainer, ``evaluate`` or ``bench`` (tests/test_architecture.py
checks it); the task registry finds ``ssl_tasks`` by importing the package by name."""
