"""The evaluation protocols, one module each. Adding a protocol is one module here (a class
under ``@register_protocol("name")``, evaluate.contract) and its test: the registry
(evaluate.protocol_registry.PROTOCOLS) imports every module of this package on its
first lookup, so nothing else names it."""

from pretrain.core.registry import import_plugins

import_plugins(__name__, __path__)
