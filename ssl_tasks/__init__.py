"""Pretext tasks, one module each, plugged into the core's task registry
(pretrain.core.tasks.TASKS), which imports this package on its first lookup. Importing it
registers every built-in task; a new task is a module here, listed below, whose class carries
``@register_task("name")`` and imports nothing but the core."""

from ssl_tasks import (  # noqa: F401
    autoencoder,
    contrastive,
    decoder_only,
    denoising,
    masked_reconstruction,
    relative_position,
)
