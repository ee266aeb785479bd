#!/usr/bin/env bash
# Fashion-MNIST: Debian's dataset-fashion-mnist package where apt-get works
# (/usr/share/datasets/fashion-mnist/), else torchvision's download into data/.
set -uo pipefail
py=${1:-.venv/bin/python}
have() { ls "$1"/train-images-idx3-ubyte* "$1"/t10k-labels-idx1-ubyte* >/dev/null 2>&1; }
have /usr/share/datasets/fashion-mnist && exit 0
have data/FashionMNIST/raw && exit 0
if command -v apt-get >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -n"
  echo "data: installing Debian's dataset-fashion-mnist" >&2
  $sudo apt-get update -qq >/dev/null 2>&1 && $sudo apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1
  have /usr/share/datasets/fashion-mnist && exit 0
fi
echo "data: apt-get unavailable or failed; downloading with torchvision into data/" >&2
"$py" -c "import torchvision; torchvision.datasets.FashionMNIST('data', train=True, download=True); torchvision.datasets.FashionMNIST('data', train=False, download=True)" \
  && have data/FashionMNIST/raw && exit 0
echo "data: could not get Fashion-MNIST; put the four IDX files in data/fashion-mnist/" >&2
exit 1
