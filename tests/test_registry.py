import pytest

from pretrain.config import ConfigError
from pretrain.encoders import BACKBONES
from pretrain.registry import Registry
from ssl_tasks.base import TASKS
from ssl_tasks.decoders import DECODERS


def test_registry_registers_once_and_lists_on_miss():
    reg = Registry("widget")
    reg.register("a")(1)
    assert reg.lookup("a") == 1
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a")(2)
    with pytest.raises(ConfigError, match="unknown widget 'b'; registered: a"):
        reg.lookup("b")


@pytest.mark.parametrize("registry, name", [(TASKS, "autoencoder"), (DECODERS, "mirror"), (BACKBONES, "paper_conv")])
def test_builtin_registries_refuse_duplicates(registry, name):
    with pytest.raises(ValueError, match="already registered"):
        registry.register(name)(object())
