"""How corpora's modules may depend on each other (issue 13), read from their source.

- No module imports a name starting with `_` from another module.
- No import cycle among corpora's modules, counting imports inside functions too.
- The builder and its executors name no stage: they import nothing from corpora.stages, so what a
  stage needs reaches them only through its declarations (corpora.stage), never its class.
- An executor imports no other executor.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT / "corpora"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in CORPORA.rglob("*.py")}


def imports(path: Path) -> list[tuple[str, str | None]]:
    """(module, imported name or None) for every import in the file, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.extend((node.module, alias.name) for alias in node.names)
    return found


def corpora_targets(path: Path) -> set[str]:
    """The corpora modules a file imports (`from package import module` names the module)."""
    targets = set()
    for module, name in imports(path):
        if name is not None and f"{module}.{name}" in MODULES:
            targets.add(f"{module}.{name}")
        elif module in MODULES:
            targets.add(module)
    return targets


GRAPH = {name: corpora_targets(path) - {name} for name, path in MODULES.items()}


def test_no_module_imports_a_private_name_of_another():
    private = [f"{name}: from {module} import {imported}" for name, path in MODULES.items()
               for module, imported in imports(path) if imported and imported.startswith("_") and imported != "__version__"]
    assert private == []


def test_corpora_has_no_import_cycle():
    state: dict[str, str] = {}
    stack: list[str] = []
    cycles = []

    def visit(module: str) -> None:
        state[module] = "open"
        stack.append(module)
        for target in sorted(GRAPH[module]):
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[module] = "done"

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)
    assert cycles == []


def test_the_checks_see_the_imports():
    # The graph is read correctly: these edges exist, so an empty result above means something.
    assert "corpora.builder.work" in GRAPH["corpora.executors.ray"]
    assert "corpora.stages.dedup" in GRAPH["corpora.stages.registry"]
    assert "corpora.stage" in GRAPH["corpora.stages.dedup"]


def test_the_builder_and_the_executors_name_no_stage():
    for name in MODULES:
        if name.startswith(("corpora.builder", "corpora.executors")):
            stages = sorted(target for target in GRAPH[name] if target.startswith("corpora.stages"))
            assert stages == [], f"{name} imports {stages}: read the stage's declarations instead"


def test_an_executor_imports_no_other_executor():
    for name in MODULES:
        if name.startswith("corpora.executors."):
            others = sorted(target for target in GRAPH[name]
                            if target.startswith("corpora.executors.") and target != name)
            assert others == [], f"{name} imports {others}"
