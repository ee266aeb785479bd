"""Pretraining: ``pretrain.core`` is the shared core; the modules beside it are the trainer
(one Accelerate loop for every task: engine, model, monitor, optimisers, logging)."""
