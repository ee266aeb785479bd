"""The benchmark's sections, one module each; every module here registers itself
(bench.interface.register_section) when this package is imported."""

from pretrain.core.registry import import_plugins

import_plugins(__name__, __path__)
