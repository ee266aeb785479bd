"""The dataset registry: ``@register_dataset("name", settings=...)`` functions, found by name.

Apart from pretrain.core.data so that the config (pretrain.core.config) can ask which
settings a dataset owns (``dataset_settings``) without importing the data pipeline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pretrain.core.registry import Registry

DATASETS = Registry("dataset", plugins="pretrain.core.datasets")


def register_dataset(name: str, settings: type | None = None) -> Callable:
    """Decorator adding a dataset function (data config -> Dataset) under ``name``; ``settings``:
    the dataclass of the ``data.*`` keys only this dataset reads (pretrain.core.plugin_settings)."""

    def wrap(fn: Callable) -> Callable:
        fn.settings_type = settings
        return DATASETS.register(name)(fn)

    return wrap


def dataset_settings(name: str) -> type | None:
    return getattr(DATASETS.lookup(name), "settings_type", None)


def all_dataset_settings() -> dict[str, Any]:
    return {name: DATASETS[name].settings_type for name in DATASETS if DATASETS[name].settings_type is not None}
