#!/usr/bin/env bash
# Pretrain and evaluate every task config on Fashion-MNIST, then print the results table.
#   bash scripts/run_tasks.sh                 # all task configs
#   bash scripts/run_tasks.sh configs/dae_fmnist.yaml ...
# Baselines (raw pixels, random init) are evaluated once, with the default config's run.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s setup
py=.venv/bin/python
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(configs/ae_fmnist.yaml configs/ae_linear_fmnist.yaml configs/ae_tied_fmnist.yaml
  configs/ae_sparse_fmnist.yaml configs/ae_contractive_fmnist.yaml configs/dae_fmnist.yaml
  configs/decoder_only_fmnist.yaml configs/relpos_fmnist.yaml configs/ae_relpos_fmnist.yaml)
runs=()
for config in "${configs[@]}"; do
  run_dir=$($py -c "from pretrain.config import load_config; print(load_config('$config').run_path)")
  baselines=(--baselines none); [ "$config" = configs/ae_fmnist.yaml ] && baselines=()
  start=$(date +%s)
  TQDM_DISABLE=1 $py -m pretrain --config "$config" --resume
  $py -m evaluate --run "$run_dir" "${baselines[@]}" > /dev/null
  echo "$config: $(( $(date +%s) - start )) s wall (pretrain + evaluate)" | tee -a runs/timings.txt
  runs+=("$run_dir")
done
$py scripts/results_table.py "${runs[@]}"
