"""Where the default data lives: ``data/`` of the source checkout this package runs from (``make
setup`` installs it editable), or of the working directory for a copy installed with ``pip install .``,
whose files sit in site-packages, where no data belongs."""

from __future__ import annotations

from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    """The folder ``data/``: Fashion-MNIST downloads, the decoded-image cache (``data/cache``)."""
    return CHECKOUT / "data" if (CHECKOUT / "pyproject.toml").is_file() else Path.cwd() / "data"
