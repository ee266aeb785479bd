"""The layers, read from the source: imports run one way and never in a circle.

Ground floor first (docs/architecture.md):

    pretrain.core  ->  ssl_tasks  ->  pretrain (the trainer)  ->  evaluate  ->  bench

A module may import from its own layer or any layer below it. Every import statement
counts, those inside functions too, so no import can hide from a cycle there. A package's
``__init__`` runs whenever anything inside it is imported, so it sits in the lowest layer
it contains (``pretrain/__init__.py`` with the core). Registries find their plugins by
importing the plugin package by name (pretrain.core.registry), which is no import statement.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import ROOT

from pretrain.core.tasks import TASKS

LAYERS = ("pretrain.core", "ssl_tasks", "pretrain", "evaluate", "bench")
PACKAGES = ("pretrain", "ssl_tasks", "evaluate", "bench")


def module_files(root: Path, packages=PACKAGES) -> dict[str, Path]:
    """{dotted module name: file} of every module in ``packages`` under ``root``."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def prefix_layer(module: str, layers=LAYERS) -> int:
    """Index of the longest layer prefix that ``module`` falls under."""
    matches = [(len(p), i) for i, p in enumerate(layers) if module == p or module.startswith(p + ".")]
    return max(matches)[1]


def layer_of(module: str, modules: dict[str, Path], layers=LAYERS) -> int:
    """A plain module's layer is its prefix's; a package's, the lowest of anything inside it."""
    inside = [m for m in modules if m == module or m.startswith(module + ".")]
    return min(prefix_layer(m, layers) for m in inside)


def project_target(name: str, modules: dict[str, Path]) -> str | None:
    """The project module an import of ``name`` loads (its longest known prefix), or None."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> list[tuple[int, str, str]]:
    """[(line, imported project module, the import as written)] for every import statement in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [(alias.name, f"import {alias.name}") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importing package
                package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            written = f"from {'.' * node.level}{node.module or ''} import {', '.join(a.name for a in node.names)}"
            names = [(f"{base}.{alias.name}", written) for alias in node.names]  # a submodule, or a name in base
        else:
            continue
        for name, written in names:
            target = project_target(name, modules)
            if target and target != module and (node.lineno, target, written) not in found:
                found.append((node.lineno, target, written))
    return found


def layer_violations(root: Path, layers=LAYERS, packages=PACKAGES) -> list[str]:
    modules = module_files(root, packages)
    problems = []
    for module, path in modules.items():
        own = layer_of(module, modules, layers)
        for line, target, written in imports_of(module, path, modules):
            if layer_of(target, modules, layers) > own:
                where = f"{path.relative_to(root)}:{line}"
                above = layers[layer_of(target, modules, layers)]
                problems.append(f"{where}: `{written}` reaches up from {layers[own]} into {above}")
    return problems


def import_cycles(root: Path, packages=PACKAGES) -> list[str]:
    modules = module_files(root, packages)
    graph = {m: sorted({t for _, t, _ in imports_of(m, p, modules)}) for m, p in modules.items()}
    state, stack, cycles = {}, [], []

    def visit(module: str) -> None:
        state[module] = "open"
        stack.append(module)
        for target in graph[module]:
            if state.get(target) == "open":
                cycles.append(" -> ".join(stack[stack.index(target) :] + [target]))
            elif target not in state:
                visit(target)
        stack.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module)
    return cycles


def test_every_import_follows_the_layer_order():
    problems = layer_violations(ROOT)
    assert not problems, "imports against the layer order:\n" + "\n".join(problems)


def test_no_import_cycles():
    cycles = import_cycles(ROOT)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def name_clashes(root: Path, packages=PACKAGES) -> dict[str, list[str]]:
    """{file name: the modules that share it}: a module name should say which one is meant
    (``__init__`` and ``__main__`` are the language's, not a clash; a module and a package of
    one name, ``protocol.py`` beside ``protocols/``, clash too)."""
    names: dict[str, list[str]] = {}
    modules = module_files(root, packages)
    for module, path in modules.items():
        if path.stem in ("__init__", "__main__"):
            continue
        names.setdefault(path.stem, []).append(module)
        plural = f"{module}s"
        if plural in modules and modules[plural].stem == "__init__":  # protocol.py beside protocols/
            names[path.stem].append(plural)
    return {name: modules for name, modules in names.items() if len(modules) > 1}


def test_no_two_modules_share_a_name():
    clashes = name_clashes(ROOT)
    assert not clashes, "modules sharing a name:\n" + "\n".join(f"{n}: {', '.join(m)}" for n, m in clashes.items())


def test_the_clash_check_finds_a_pair_and_a_module_beside_its_plural_package(tmp_path):
    root = write_tree(
        tmp_path,
        {
            "evaluate/linear.py": "",
            "evaluate/protocol.py": "",
            "evaluate/protocols/__init__.py": "",
            "evaluate/protocols/linear.py": "",
            "bench/__main__.py": "",
            "evaluate/__main__.py": "",
        },
    )
    assert name_clashes(root) == {
        "linear": ["evaluate.linear", "evaluate.protocols.linear"],
        "protocol": ["evaluate.protocol", "evaluate.protocols"],
    }


def test_every_module_has_a_layer():
    modules = module_files(ROOT)
    examples = (
        "pretrain.core.data",
        "ssl_tasks.autoencoder",
        "pretrain.engine",
        "evaluate.run",
        "bench.sections.speed",
    )
    assert [layer_of(m, modules) for m in examples] == [0, 1, 2, 3, 4]
    assert layer_of("pretrain", modules) == 0  # pretrain/__init__.py runs whenever the core is imported
    assert layer_of("ssl_tasks", modules) == 1


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.mark.parametrize(
    "files, expected",
    [
        (
            {
                "pretrain/core/config.py": "def f():\n    from evaluate.report import x\n",
                "evaluate/report.py": "x = 1\n",
            },
            "pretrain/core/config.py:2: `from evaluate.report import x` reaches up from pretrain.core into evaluate",
        ),
        (
            {
                "pretrain/__init__.py": "from pretrain import engine\n",
                "pretrain/engine.py": "",
                "pretrain/core/a.py": "",
            },
            "pretrain/__init__.py:1: `from pretrain import engine` reaches up from pretrain.core into pretrain",
        ),
        (
            {"ssl_tasks/ae.py": "import bench.speed\n", "bench/speed.py": ""},
            "ssl_tasks/ae.py:1: `import bench.speed` reaches up from ssl_tasks into bench",
        ),
    ],
)
def test_the_checker_names_the_file_and_the_import(tmp_path, files, expected):
    assert layer_violations(write_tree(tmp_path, files)) == [expected]


def test_the_checker_finds_a_cycle_hidden_in_a_function(tmp_path):
    root = write_tree(
        tmp_path,
        {
            "pretrain/core/config.py": "from pretrain.core.tasks import parse\n",
            "pretrain/core/tasks.py": "def parse():\n    from pretrain.core import config\n",
        },
    )
    assert import_cycles(root) == ["pretrain.core.config -> pretrain.core.tasks -> pretrain.core.config"]
    assert layer_violations(root) == []  # same layer: only the cycle is wrong


def test_evaluation_names_no_task_class():
    """Evaluation asks tasks for capabilities; it never names a task class or a task's internals."""
    names = [TASKS.lookup(task).__name__ for task in TASKS.names()] + ["forward_decoder", "ssl_tasks"]
    for path in sorted((ROOT / "evaluate").rglob("*.py")):
        text = path.read_text()
        assert not [n for n in names if n in text], f"{path.relative_to(ROOT)} names {[n for n in names if n in text]}"
