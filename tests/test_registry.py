import importlib
import sys

import pytest

from pretrain.core.config import ConfigError
from pretrain.core.data import DATASETS
from pretrain.core.encoders import BACKBONES
from pretrain.core.registry import Registry
from pretrain.core.tasks import TASKS
from ssl_tasks.decoders import DECODERS


def test_registry_registers_once_and_lists_on_miss():
    reg = Registry("widget")
    reg.register("a")(1)
    assert reg.lookup("a") == 1 and reg["a"] == 1 and "a" in reg and list(reg) == ["a"]
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a")(2)
    with pytest.raises(ConfigError, match="unknown widget 'b'; registered: a"):
        reg.lookup("b")


def test_plugins_are_imported_on_first_lookup(tmp_path, monkeypatch):
    """As the core's task and dataset registries do: the registry module names its plugin
    package and never imports it; the first lookup imports the package, which registers its entries."""
    (tmp_path / "widget_registry.py").write_text(
        "from pretrain.core.registry import Registry\n\nWIDGETS = Registry('widget', plugins='widget_plugins')\n"
    )
    (tmp_path / "widget_plugins").mkdir()
    (tmp_path / "widget_plugins" / "__init__.py").write_text("from widget_plugins import round_one  # noqa: F401\n")
    (tmp_path / "widget_plugins" / "round_one.py").write_text(
        "from widget_registry import WIDGETS\n\nWIDGETS.register('round')(1)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("widget_registry", "widget_plugins", "widget_plugins.round_one"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    widgets = importlib.import_module("widget_registry").WIDGETS
    assert "widget_plugins" not in sys.modules
    assert widgets.lookup("round") == 1 and "widget_plugins" in sys.modules
    assert widgets.names() == ["round"]  # imported once: a second import would raise "already registered"


@pytest.mark.parametrize(
    "registry, name", [(TASKS, "autoencoder"), (DECODERS, "mirror"), (BACKBONES, "paper_conv"), (DATASETS, "synthetic")]
)
def test_builtin_registries_refuse_duplicates(registry, name):
    with pytest.raises(ValueError, match="already registered"):
        registry.register(name)(object())
