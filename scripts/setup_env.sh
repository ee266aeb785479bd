#!/usr/bin/env bash
# Create the virtualenv and install the toolkit with its test dependencies, then prove that
# torch, torchvision, timm and faiss really import together.
set -euo pipefail
venv=${1:-.venv}
python=${PYTHON:-python3}
if [ ! -x "$venv/bin/python" ]; then
  # torch with torchvision takes about 6 GB on x86_64 (PyPI's build with its CUDA libraries,
  # which torchvision's wheels need even on a CPU); say so before pip runs out of disk midway
  free_gb=$(df -Pk "$(dirname "$venv")" | awk 'NR == 2 { print int($4 / 1048576) }')
  if [ "${free_gb:-0}" -lt 8 ]; then
    echo "setup: only ${free_gb} GB free for $venv; torch and torchvision need about 6 GB (8 GB to be safe)" >&2
  fi
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q -e '.[test]'
if ! "$venv/bin/python" scripts/check_imports.py; then
  # The trap: a `torch==X+cpu` wheel (some machines' pip prefers a local one) breaks
  # `import torchvision`, whose PyPI wheels are built against the CUDA build of torch
  # (which runs fine on a CPU). Reinstall torch from the index, ignoring local wheels.
  echo "setup: import check failed; reinstalling torch/torchvision from the package index" >&2
  PIP_FIND_LINKS= "$venv/bin/python" -m pip install -q --force-reinstall --no-deps \
    "$("$venv/bin/python" -c 'import importlib.metadata as m; print("torch==" + m.version("torch").split("+")[0])')" \
    "$("$venv/bin/python" -c 'import importlib.metadata as m; print("torchvision==" + m.version("torchvision").split("+")[0])')"
  "$venv/bin/python" scripts/check_imports.py
fi
