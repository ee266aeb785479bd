"""The ``eval`` section crosses from the core to the evaluation layer without an import: the
core checks it against the schema that layer publishes, and pretraining never loads evaluation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evaluate.settings import schema_text, typed_config
from pretrain.__main__ import main as pretrain_main
from pretrain.core.config import ConfigError, load_config
from pretrain.core.eval_section import SCHEMA_PATH

ROOT = Path(__file__).resolve().parents[1]


def test_the_schema_the_core_checks_is_the_one_evaluation_publishes():
    assert SCHEMA_PATH.read_text() == schema_text(), "stale: run `python -m evaluate schema` and commit the file"


def test_pretraining_loads_no_evaluation_module_faiss_or_scipy():
    script = (
        "import sys; import pretrain.__main__; from pretrain.core.config import load_config; "
        "load_config('configs/ae_fmnist.yaml', ['eval.knn.k=5']); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'evaluate', 'faiss', 'scipy', 'matplotlib'}))"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "override, named",
    [
        ("eval.knn.kk=3", "eval.knn.kk"),
        ("eval.seedz=3", "eval.seedz"),
        ("eval.seeds=many", "eval.seeds"),
        ("eval.representation=middle", "eval.representation"),
        ("eval.data.storage=cloud", "data.storage"),
    ],
)
def test_a_wrong_eval_key_stops_pretraining_before_its_first_step(tmp_path, capsys, override, named):
    run_dir = tmp_path / "run"
    assert pretrain_main(["--config", "configs/smoke.yaml", f"run_dir={run_dir}", override]) == 2
    assert named in capsys.readouterr().err and not run_dir.exists()


def test_the_checked_section_is_what_evaluation_types_and_writes_back():
    plain = load_config(None, ["eval.knn.k=5", "eval.data.name=synthetic"])
    assert plain.eval["knn"] == {"k": 5, "temperature": 0.07} and plain.eval["data"]["name"] == "synthetic"
    typed = typed_config(plain)
    assert typed.eval.settings("knn").k == 5 and typed.eval.data.name == "synthetic"
    assert json.dumps(typed.eval.to_dict(), sort_keys=True) == json.dumps(plain.eval, sort_keys=True)
    with pytest.raises(ConfigError, match="eval.finetune.labels_per_class"):
        load_config(None, ["eval.finetune.labels_per_class=ten"])
