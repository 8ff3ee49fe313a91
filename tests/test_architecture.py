"""The package's import graph follows the data flow (docs/architecture.md, "Layers").

Every module under ``src/sqlr1x`` is parsed with :mod:`ast`; every import of our own code counts,
including imports inside functions (that is where an upward import or a circle hides). Two checks:

- each edge goes from a layer to a layer it may use (``ALLOWED``);
- no two modules import each other, directly or through others (no cycle in the module graph).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "sqlr1x"

# layer -> the layers it may import (besides itself). `commands` and `cli` sit on top of everything.
ALLOWED: dict[str, set[str]] = {
    "sql": set(),
    "db": {"sql"},
    "rewards": {"sql", "db"},
    "data": {"sql", "db"},
    "integrations": {"rewards", "sql", "db", "data"},
    "config": {"rewards"},  # the reward section is rewards.config.RewardConfig
    "models": {"sql", "db", "data", "config"},
    "eval": {"sql", "db", "rewards", "data", "integrations", "models", "config"},
    "train": {"sql", "db", "rewards", "data", "integrations", "models", "config", "eval"},
    "experiments": {"sql", "db", "rewards", "data", "integrations", "models", "config", "eval", "train"},
}
TOP = {"commands", "cli", "__main__", "__init__"}
# modules that sit in a layer of another name
LAYER_OF = {"config_doc": "config"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((SRC / PACKAGE).rglob("*.py"))}


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The module an import refers to: the longest prefix of ``name`` that is one of ours."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def _imports(module: str, path: Path, modules: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """(imported module of ours, line) for every import statement anywhere in the file."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: anchor at this module's package
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            # `from pkg import mod` imports the submodule when there is one, else a name of pkg
            names = [f"{base}.{alias.name}" for alias in node.names] or [base]
            names = [n if _resolve(n, modules) == n else base for n in names]
        else:
            continue
        for name in names:
            if name == PACKAGE or name.startswith(PACKAGE + "."):
                target = _resolve(name, modules)
                if target is not None and target != module:
                    yield target, node.lineno


def _layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "__init__"
    return LAYER_OF.get(parts[1], parts[1])


def _graph() -> dict[str, dict[str, int]]:
    modules = _modules()
    graph: dict[str, dict[str, int]] = {}
    for module, path in modules.items():
        edges: dict[str, int] = {}
        for target, line in _imports(module, path, modules):
            edges.setdefault(target, line)
        graph[module] = edges
    return graph


def test_the_graph_is_read():
    graph = _graph()
    assert "sqlr1x.rewards.computer" in graph
    # a known edge, so that a parser that sees nothing cannot pass the checks below
    assert any(t.startswith("sqlr1x.sql") for t in graph["sqlr1x.rewards.computer"])


def test_layers_import_only_what_the_data_flow_allows():
    violations = []
    for module, edges in _graph().items():
        src = _layer(module)
        if src in TOP:
            continue
        assert src in ALLOWED, (
            f"{module}: layer {src!r} is not in the layer table; add it to ALLOWED and docs"
        )
        for target, line in edges.items():
            dst = _layer(target)
            if dst == src or dst in ALLOWED[src]:
                continue
            if dst == "__init__":
                violations.append(f"{module}:{line} imports the top-level package {target}")
            else:
                violations.append(f"{module}:{line} ({src}) imports {target} ({dst})")
    assert not violations, "upward or sideways imports:\n" + "\n".join(violations)


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph.get(child, {}))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_no_two_modules_import_each_other():
    graph = _graph()
    # a package __init__ that re-exports its submodules is a facade: importing it from one of those
    # submodules would be a real circle, so packages stay in the graph.
    cycles = _cycles(graph)
    assert not cycles, "import circles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b": 1}, "b": {"a": 1}}, [["a", "b"]]),
        ({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}, [["a", "b", "c"]]),
        ({"a": {"b": 1}, "b": {}, "c": {"b": 1}}, []),
    ],
)
def test_the_cycle_finder_finds_circles(graph, expected):
    assert _cycles(graph) == expected


def test_the_layer_check_would_see_an_import_inside_a_function(tmp_path):
    modules = {"sqlr1x.db.executor": tmp_path / "executor.py", "sqlr1x.db.compare": tmp_path / "c.py"}
    modules["sqlr1x.db.executor"].write_text("def f():\n    from sqlr1x.db.compare import x\n    return x\n")
    assert list(_imports("sqlr1x.db.executor", modules["sqlr1x.db.executor"], modules)) == [
        ("sqlr1x.db.compare", 2)
    ]
    rel = tmp_path / "r.py"
    rel.write_text("from .compare import x\nfrom . import compare\n")
    assert [t for t, _ in _imports("sqlr1x.db.executor", rel, modules)] == [
        "sqlr1x.db.compare",
        "sqlr1x.db.compare",
    ]
