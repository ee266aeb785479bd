"""A 2-process CPU run (gloo) completes and the processes read disjoint shards."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, tiny_config_dict


def launch(cmd, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("launcher", ["torchrun", "accelerate"])
def test_two_process_cpu_run(tmp_path, launcher):
    run_dir = tmp_path / "run"
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump(
            tiny_config_dict(run_dir, train={"batch_size": 8, "epochs": 1, "log_every": 4, "ckpt_every": 10})
        )
    )
    bindir = Path(sys.executable).parent
    if launcher == "torchrun":
        cmd = [str(bindir / "torchrun"), "--nproc_per_node", "2", "-m", "pretrain", "--config", str(config)]
    else:
        cmd = [
            str(bindir / "accelerate"),
            "launch",
            "--multi_gpu",
            "--num_processes",
            "2",
            "-m",
            "pretrain",
            "--config",
            str(config),
        ]
    result = launch(cmd, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    shards = json.loads((run_dir / "data_shards.json").read_text())
    assert shards["world"] == 2
    first, second = (set(p) for p in shards["positions"])
    assert len(first) == len(second) == 8
    assert first.isdisjoint(second)
    assert (run_dir / "encoder.safetensors").is_file()
    assert "2 process(es)" in result.stdout
