"""The package's shape: stages that import one way, and no import cycle."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "keras_facesr"
# Stages in the order data flows; a module may import its own stage, earlier stages and the
# shared modules, never a later stage (edge and cli sit at the end; evaluate measures models).
STAGES = ["face", "data", "recognition", "models", "train", "pipeline", "edge", "export", "evaluate", "cli"]
SHARED = {"config", "errors", "images", "packages", "registry", "templates", "__init__"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(path: Path, modules: dict[str, Path], top_level_only: bool) -> set[str]:
    """keras_facesr modules ``path`` imports (at module level only, or anywhere)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("keras_facesr"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in modules else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("keras_facesr")}
    return found


def test_no_import_cycle_at_module_level():
    modules = _modules()
    graph = {name: _imports(path, modules, True) for name, path in modules.items()}
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt] if nxt in stack else [node, nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def _stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_stages_import_only_earlier_stages():
    modules = _modules()
    wrong = []
    for name, path in modules.items():
        stage = _stage(name)
        if stage not in STAGES:
            continue
        for target in _imports(path, modules, top_level_only=False):
            other = _stage(target)
            if other in STAGES and STAGES.index(other) > STAGES.index(stage):
                wrong.append(f"{name} imports {target}")
    assert not wrong, "a stage imports a later one:\n" + "\n".join(sorted(wrong))


def test_every_module_sits_in_a_stage_or_is_shared():
    loose = sorted(n for n in _modules() if _stage(n) and _stage(n) not in STAGES + sorted(SHARED))
    assert not loose, f"modules outside the stage folders: {loose}"
