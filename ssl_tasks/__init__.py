"""Pretext tasks, one module each, plugged into the core's task registry
(pretrain.core.tasks.TASKS), which imports this package on its first lookup. Importing it
registers every built-in task; a new task is a module here, listed below, whose class carries
``@register_task("name")`` and imports nothing but the core and this package's shared parts
(views and projectors, batch statistics, momentum teachers)."""

from ssl_tasks import (  # noqa: F401
    autoencoder,
    barlow_twins,
    byol,
    contrastive,
    decoder_only,
    denoising,
    dino,
    masked_reconstruction,
    relative_position,
    vicreg,
)
