import dataclasses
import importlib
import pkgutil
import sys

import pytest
import yaml

from evaluate.protocol_registry import PROTOCOLS
from pretrain.core.config import ConfigError
from pretrain.core.data import DATASETS
from pretrain.core.encoders import BACKBONES
from pretrain.core.registry import Registry
from pretrain.core.tasks import TASKS
from pretrain.core.typed_yaml import parse_dataclass
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


PLUGIN_REGISTRIES = {"task": TASKS, "dataset": DATASETS, "encoder": BACKBONES, "protocol": PROTOCOLS}


@pytest.mark.parametrize(
    "registry, name",
    [
        (TASKS, "autoencoder"),
        (DECODERS, "mirror"),
        (BACKBONES, "paper_conv"),
        (DATASETS, "synthetic"),
        (PROTOCOLS, "knn"),
    ],
)
def test_builtin_registries_refuse_duplicates(registry, name):
    with pytest.raises(ValueError, match="already registered"):
        registry.register(name)(object())


def plugin_config(kind: str, entry) -> type | None:
    """The settings dataclass a plugin owns (a task's Config, a protocol's settings_type), or None."""
    return getattr(entry, "Config", None) if kind == "task" else getattr(entry, "settings_type", None)


@pytest.mark.parametrize("kind", PLUGIN_REGISTRIES)
def test_every_plugin_is_found_by_being_there_and_its_settings_round_trip_through_yaml(kind):
    registry = PLUGIN_REGISTRIES[kind]
    package = importlib.import_module(registry.plugins)
    modules = {m.name for m in pkgutil.iter_modules(package.__path__)}
    registered_from = {getattr(registry[name], "__module__", "").rsplit(".", 1)[-1] for name in registry}
    assert registered_from <= modules and len(registry) >= 4  # every entry comes from a module of the package
    for name in registry:
        settings = plugin_config(kind, registry[name])
        if settings is None:
            continue
        defaults = settings(**({"name": name} if kind == "task" else {}))
        text = yaml.safe_dump(dataclasses.asdict(defaults))
        assert parse_dataclass(settings, yaml.safe_load(text), f"{kind}.{name}") == defaults
