"""Every command README.md, docs/ and the --help texts show runs as written.

Commands are collected from fenced code blocks and inline code. `python -m pretrain`,
`evaluate`, `pretrain.export` and `accelerate launch` commands run for real, in a scratch
folder, on the smoke config's sizes (configs/smoke.yaml: synthetic images, a few steps, a small
evaluation grid; a user's folders become tiny generated ones). `python -m bench` commands
(hours each) are parsed and their sections and sizes checked; `make` commands must name a
Makefile target and variables it reads. A command with a placeholder (RUN, DIR, NAME, ...)
runs with the placeholder filled in, or, where it only shows syntax, is checked to be one.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from imagefiles import write_labelled_folder, write_unlabelled_folder

from bench.__main__ import parse_args as bench_args
from bench.scales import load_scale
from evaluate.__main__ import main as evaluate_main
from pretrain.__main__ import main as pretrain_main
from pretrain.core.typed_yaml import read_yaml

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").glob("*.md"))]
STARTS = ("python -m ", "accelerate launch ", "torchrun ", "make ")
# shows a form and names nothing real: "...", DIR, NAME, FILE, HOST, key=value, <host>
SYNTAX_ONLY = re.compile(r"\.\.\.|…|\b(DIR|NAME|FILE|HOST|PORT)\b|key=value|SECTION\.SIZE|<\w+>|‹")
# commands that write a tracked file: they must leave it as committed (it is current)
WRITES_TRACKED = {"python -m evaluate schema": ROOT / "pretrain" / "core" / "eval_schema.json"}
FOLDERS = {"/data/photos": "photos", "/data/labelled": "labelled"}


def commands_in(text: str) -> list[str]:
    """Each command of a Markdown text: lines of fenced code blocks, then inline code spans."""
    found, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif fenced and line.lstrip().startswith(STARTS):
            found.append(line.split("  #")[0].strip())
    unfenced = re.sub(r"```.*?```", "", text, flags=re.S)
    spans = (" ".join(span.split()) for span in re.findall(r"`([^`]+)`", unfenced))  # a span may wrap
    found += [span for span in spans if span.startswith(STARTS)]
    return list(dict.fromkeys(found))


def help_text(main) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main(["--help"])
    return out.getvalue()


def help_commands() -> list[str]:
    """The example of every --help text ("e.g. ..." names overrides), on the smoke config or run."""
    examples = []
    for module, main, run in (
        ("pretrain", pretrain_main, "--config configs/smoke.yaml name=help_example"),
        ("evaluate", evaluate_main, "--run runs/smoke"),
    ):
        found = re.search(r"e\.g\.((?:\s+\S+=\S+)+)", help_text(main))
        assert found, f"python -m {module} --help shows no example override"
        examples.append(f"python -m {module} {run} {' '.join(found.group(1).split())}")
    return examples


# in the documents' order, so a command runs after the ones its document shows before it
DOCUMENTED = list(dict.fromkeys([c for p in DOCUMENTS for c in commands_in(p.read_text())] + help_commands()))
RUNNABLE = [
    c
    for c in DOCUMENTED
    if not c.startswith(("make ", "python -m bench")) and not SYNTAX_ONLY.search(c) and len(c.split()) > 3
]  # "python -m evaluate" alone names the command in prose


def flattened(data: dict, prefix: str = "") -> list[str]:
    out = []
    for key, value in data.items():
        if isinstance(value, dict):
            out += flattened(value, f"{prefix}{key}.")
        else:
            shown = "[" + ",".join(map(str, value)) + "]" if isinstance(value, list) else value
            out.append(f"{prefix}{key}={shown}")
    return out


def smoke_overrides(own_images: bool) -> list[str]:
    """The smoke config's sizes as overrides (its data too, unless the command names a folder)."""
    smoke = read_yaml((ROOT / "configs" / "smoke.yaml").read_text())
    keep = ("train", "monitor", "eval") if own_images else ("data", "train", "monitor", "eval")
    found = flattened({k: v for k, v in smoke.items() if k in keep})
    # CI time: the slowest protocols have their own tests; here the commands are what is checked
    found += ["eval.skip=[self_training,mlp_head,finetune,label_propagation]", "train.batch_size=16"]
    return found + (["data.image_size=16", "encoder.name=resnet_small", "monitor.every=0"] if own_images else [])


def expanded(command: str) -> list[str]:
    """A command with its alternatives (``a|b``) spelled out."""
    alternatives = re.search(r"(\S+\|\S+)", command)
    if not alternatives:
        return [command]
    return [command.replace(alternatives.group(1), choice) for choice in alternatives.group(1).split("|")]


def argv_of(command: str, workspace: Path) -> list[str]:
    """What the test runs for ``command``: placeholders filled, the smoke sizes appended."""
    for shown, folder in FOLDERS.items():
        command = command.replace(shown, str(workspace / folder))
    # a timm export needs a timm encoder; the toolkit's own encoders export to the other formats
    run_dir = "runs/smoke_timm" if "--format timm" in command else "runs/smoke"
    words = shlex.split(command.replace(" RUN ", f" {run_dir} "))
    if words[0] == "python":
        words = [sys.executable, *words[1:]]
    else:  # accelerate, torchrun: the environment's own launchers
        words = [str(Path(sys.executable).parent / words[0]), *words[1:]]
    if "pretrain" in words and "--config" in words and "--list" not in words:
        own = any(w.startswith("data.root=") for w in words)
        words += smoke_overrides(own) + ([f"data.cache_dir={workspace / 'cache'}"] if own else [])
        fresh_run_folder(words, workspace)
    return words


def prepare_runs(command: str, workspace: Path) -> None:
    """Pretrain the runs a command reads (``--run runs/X``) that no earlier command wrote, on the
    smoke config; evaluate them too where the command compares their reports."""
    for name in re.findall(r"runs/(\w+)", command):
        folder = workspace / "runs" / name
        if not (folder / "config.yaml").is_file():
            run(argv_of(f"python -m pretrain --config configs/smoke.yaml name={name}", workspace), workspace)
        if " compare " in f" {command} " and not (folder / "report.json").is_file():
            run(argv_of(f"python -m evaluate --run runs/{name}", workspace), workspace)


def fresh_run_folder(words: list[str], workspace: Path) -> None:
    """Remove the folder a pretraining command writes, as a user starting a new run would
    (the same command again refuses a finished run without --resume)."""
    names = [w.split("=", 1)[1] for w in words if w.startswith("name=")]
    config = words[words.index("--config") + 1]
    name = names[-1] if names else read_yaml((workspace / config).read_text())["name"]
    shutil.rmtree(workspace / "runs" / name, ignore_errors=True)


def run(words: list[str], workspace: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    result = subprocess.run(words, cwd=workspace, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(words)}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A scratch folder with the repository's configs, a user's two folders and a smoke run."""
    root = tmp_path_factory.mktemp("documented")
    (root / "configs").symlink_to(ROOT / "configs")
    write_unlabelled_folder(root / "photos", n=64, size=16)
    write_labelled_folder(root / "labelled", classes=4, per_class=40, size=16)
    run(argv_of("python -m pretrain --config configs/smoke.yaml", root), root)
    run(argv_of("python -m pretrain --config configs/smoke.yaml name=smoke_timm encoder.name=test_resnet", root), root)
    return root


def test_commands_are_collected_from_every_kind_of_place():
    assert any(c.startswith("python -m pretrain --config configs/image_folder.yaml") for c in RUNNABLE)
    assert any(c.startswith("accelerate launch") for c in RUNNABLE) and any(c.startswith("torchrun") for c in RUNNABLE)
    assert any(c.startswith("python -m pretrain.export") for c in RUNNABLE)
    assert any(c.startswith("python -m bench") for c in DOCUMENTED) and any(c.startswith("make ") for c in DOCUMENTED)
    assert (
        "python -m evaluate --run runs/smoke eval.seeds=5 eval.skip=[finetune,self_training]" in RUNNABLE
    )  # from --help
    assert "python -m evaluate" in DOCUMENTED and "python -m evaluate" not in RUNNABLE


@pytest.mark.parametrize("command", RUNNABLE)
def test_documented_command_runs(command, workspace):
    prepare_runs(command, workspace)
    tracked = WRITES_TRACKED.get(command)
    committed = tracked.read_text() if tracked else None
    for each in expanded(command):
        run(argv_of(each, workspace), workspace)
    if tracked:
        written = tracked.read_text()
        tracked.write_text(committed)
        assert written == committed, f"{command} changed {tracked.name}: it is stale, run the command and commit"


@pytest.mark.parametrize("command", [c for c in DOCUMENTED if c.startswith("python -m bench")])
def test_documented_bench_command_names_real_sections_and_sizes(command):
    words = shlex.split(command.replace("SECTION.SIZE=VALUE", "sweep.tasks=2"))[3:]
    args = bench_args(words)
    load_scale(args.scale, tuple(args.set))


@pytest.mark.parametrize("command", [c for c in DOCUMENTED if c.startswith("make ")])
def test_documented_make_command_names_a_target_and_its_variables(command):
    makefile = (ROOT / "Makefile").read_text()
    words = shlex.split(command)[1:]
    for target in [w for w in words if "=" not in w]:
        assert re.search(rf"^{re.escape(target)}:", makefile, re.M), f"no Makefile target {target}"
    for variable in [w.split("=")[0] for w in words if "=" in w]:
        assert f"$({variable})" in makefile, f"the Makefile does not read {variable}"
