"""The house's shape, checked: imports only go down the layers of docs/ARCHITECTURE.md, no module imports itself
through a circle, the backend never imports gradio, and no module outside backend/tasks/ spells a task kind's
name or compares a task (`task == ...`): that would be a missing method of the task-kind interface."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from backend import tasks

ROOT = Path(__file__).resolve().parent.parent
# Lower first: a module may import modules of its own layer and of the layers before it.
LAYERS = ("schemas", "models", "data", "tasks", "training", "jobs", "serving", "access", "")
OUTSIDE_TASKS = [*sorted((ROOT / "backend").rglob("*.py")), *sorted((ROOT / "ui").rglob("*.py")), ROOT / "app.py"]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def backend_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted((ROOT / "backend").rglob("*.py"))}


def imported(path: Path, modules: dict[str, Path]) -> set[str]:
    """The backend modules `path` imports anywhere in it (inside functions too: a lazy import is still a
    dependency). `from backend.tasks import metrics` names the submodule when there is one."""
    found = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in modules else base)
    return {name for name in found if name in modules}


def layer(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else ""
    return LAYERS.index(top) if top in LAYERS else len(LAYERS) - 1


def test_imports_only_go_down_the_layers():
    modules = backend_modules()
    upward = [f"{name} imports {other}" for name, path in modules.items() for other in sorted(imported(path, modules))
              if layer(other) > layer(name)]
    assert upward == []


def test_no_import_circles():
    modules = backend_modules()
    graph = {name: imported(path, modules) - {name} for name, path in modules.items()}
    # A package's __init__ is imported whenever one of its modules is; that is Python's doing, not a circle of ours.
    for name in graph:
        graph[name] = {other for other in graph[name] if not name.startswith(other + ".")}
    state, circles = {}, []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for other in sorted(graph[node]):
            if state.get(other) == "open":
                circles.append(" -> ".join(trail[trail.index(other):] + [node, other]) if other in trail
                               else f"{node} -> {other}")
            elif other not in state:
                visit(other, trail + [node])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
    assert circles == []


def test_the_backend_never_imports_gradio():
    modules = backend_modules()
    users = []
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            users += [name for imported_name in names if imported_name.split(".")[0] in ("gradio", "gradio_client")]
    assert users == []


def task_name_uses(path: Path) -> list[str]:
    """Where `path` spells a task kind's name as a string, or compares something called task with anything."""
    names, uses = set(tasks.names()), []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and node.value in names:
            uses.append(f"{path.relative_to(ROOT)}:{node.lineno} spells {node.value!r}")
        elif isinstance(node, ast.Compare):
            # Two runs' tasks may be compared with each other (are they the same kind?), never with a given kind.
            taskish = [_called_task(side) for side in (node.left, *node.comparators)]
            if any(taskish) and not all(taskish):
                uses.append(f"{path.relative_to(ROOT)}:{node.lineno} compares a task")
    return uses


def _called_task(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return node.id == "task"
    if isinstance(node, ast.Attribute):
        return node.attr == "task"
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return node.slice.value == "task"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
        return bool(node.args) and isinstance(node.args[0], ast.Constant) and node.args[0].value == "task"
    return False


@pytest.mark.parametrize("path", [p for p in OUTSIDE_TASKS if "tasks" not in p.relative_to(ROOT).parts[:2]],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_no_task_name_outside_the_task_kinds(path):
    assert task_name_uses(path) == []


def test_the_checks_would_catch_a_task_name(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('def f(spec, report, other):\n    if spec.task == "regression":\n        return 1\n'
                      '    if report["task"] != other["task"]:\n        return 2\n'
                      '    return report["task"] in ("x",)\n', encoding="utf-8")
    original = globals()["ROOT"]
    try:
        globals()["ROOT"] = tmp_path
        assert len(task_name_uses(sample)) == 3
    finally:
        globals()["ROOT"] = original
