"""The evaluation protocols, one module each; importing this package registers them all.

Adding a protocol is one module here (a class under ``@register_protocol("name")``,
evaluate.contract) and its test: every module of this package is imported, so nothing
else names it. The registry (pretrain.core.protocol_registry.PROTOCOLS) imports this package on
its first lookup.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
