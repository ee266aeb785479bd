#!/usr/bin/env bash
# Pretrain and evaluate every task config on Fashion-MNIST, then print the results table.
#   bash scripts/run_tasks.sh                 # all task configs
#   bash scripts/run_tasks.sh configs/dae_fmnist.yaml ...
# Evaluation here is the frozen part of the suite at 10 labels per class and all labels
# (EVAL_OVERRIDES changes that; empty = the full suite). Baselines are evaluated once,
# with the default config's run. Wall times are appended to runs/timings.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s setup
py=.venv/bin/python
read -r -a eval_overrides <<< "${EVAL_OVERRIDES-eval.labels_per_class=[10,0] eval.skip=[finetune] eval.layer_probe_labels_per_class=-1}"
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(configs/ae_fmnist.yaml configs/ae_linear_fmnist.yaml configs/ae_tied_fmnist.yaml
  configs/ae_sparse_fmnist.yaml configs/ae_contractive_fmnist.yaml configs/dae_fmnist.yaml
  configs/decoder_only_fmnist.yaml configs/relpos_fmnist.yaml configs/ae_relpos_fmnist.yaml)
runs=()
mkdir -p runs
for config in "${configs[@]}"; do
  run_dir=$($py -c "from pretrain.core.config import load_config; print(load_config('$config').run_path)")
  baselines=(--baselines none); [ "$config" = configs/ae_fmnist.yaml ] && baselines=()
  start=$(date +%s)
  TQDM_DISABLE=1 $py -m pretrain --config "$config" --resume
  mid=$(date +%s)
  $py -m evaluate --run "$run_dir" --out "$run_dir/evals/tasks" "${baselines[@]}" "${eval_overrides[@]}" > /dev/null
  echo "$config: pretrain $(( mid - start )) s, evaluate $(( $(date +%s) - mid )) s (wall)" | tee -a runs/timings.txt
  runs+=("$run_dir/evals/tasks")
done
$py scripts/results_table.py "${runs[@]}"
