"""Pretext tasks, one module each, plugged into the core's task registry
(pretrain.core.tasks.TASKS), which imports every module of this package on its first lookup.
A new task is a module here whose class carries ``@register_task("name")`` and imports
nothing but the core and this package's shared parts (views and projectors, batch
statistics, momentum teachers): nothing else names it."""

from pretrain.core.registry import import_plugins

import_plugins(__name__, __path__)
