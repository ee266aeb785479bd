"""`pip install .` gives console commands (pyproject [project.scripts]) that are the `python -m` entry points.

`make setup` installs the package (editable), so the commands and their entry-point metadata are
the ones a user's `pip install .` writes."""

from __future__ import annotations

import importlib
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

MODULES = {
    "ssl-pretrain": "pretrain",
    "ssl-evaluate": "evaluate",
    "ssl-bench": "bench",
    "ssl-export": "pretrain.export",
}
INSTALLED = {ep.name: ep for ep in entry_points(group="console_scripts") if ep.dist and ep.dist.name == "ssl-transfer"}


def test_every_python_m_entry_point_has_a_command():
    assert sorted(INSTALLED) == sorted(MODULES)


@pytest.mark.parametrize("command", sorted(MODULES))
def test_command_runs_the_modules_main(command, capsys):
    module = MODULES[command] if "." in MODULES[command] else MODULES[command] + ".__main__"
    assert INSTALLED[command].load() is importlib.import_module(module).main
    with pytest.raises(SystemExit) as stop:
        INSTALLED[command].load()(["--help"])
    assert stop.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_the_installed_script_runs():
    script = Path(sys.executable).parent / "ssl-pretrain"
    result = subprocess.run([str(script), "--config", "configs/no-such.yaml"], capture_output=True, text=True)
    assert result.returncode != 0 and "no-such.yaml" in result.stderr
