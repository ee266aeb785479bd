"""The built-in backbones, one module each; ``pretrain.core.encoders.BACKBONES`` imports
every module here on its first lookup. A new backbone is a module here with one
``@register_backbone("name")`` function: spec -> (module mapping images to (B, d) features, d)."""

from pretrain.core.registry import import_plugins

import_plugins(__name__, __path__)
