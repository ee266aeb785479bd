"""Pretext tasks. Importing this package registers every built-in task."""

from ssl_tasks import autoencoder, decoder_only, denoising, relative_position  # noqa: F401
from ssl_tasks.base import TASKS, SSLTask, TaskConfig, TaskOutput, build_task, register_task  # noqa: F401
