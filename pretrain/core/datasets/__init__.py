"""The built-in datasets, one module each; ``pretrain.core.data.DATASETS`` imports every
module here on its first lookup. A new dataset is a module here with one
``@register_dataset("name")`` function: nothing else names it."""

from pretrain.core.registry import import_plugins

import_plugins(__name__, __path__)
