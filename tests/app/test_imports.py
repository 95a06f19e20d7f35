"""The package's import graph: no cycles, and each layer imports only what lies below it.

Every `import` and `from ... import` of followkit modules counts, at module level or inside a
function, since a lazy import that closes a cycle still ties the two modules together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import followkit

ROOT = Path(followkit.__file__).parent

FLOOR = {"core"}
"""followkit.core: what every layer may use; it imports nothing of followkit outside itself."""

OLD_PATHS = {"followkit.records", "followkit.options"}
"""Re-exports of core modules at the paths the README once named, for users; followkit never imports them."""

LAYERS: dict[str, set[str]] = {
    # the floor imports nothing above it
    "core": set(),
    # constraints know nothing of settings, backends, synthesis, training or evaluation
    "constraints": FLOOR,
    # backends know nothing of constraints, synthesis, training or evaluation
    "backends": FLOOR | {"models"},
    # the judge knows the backends it asks, nothing of constraints, synthesis, training or evaluation
    "judges": FLOOR | {"backends", "models"},
    # rewards sit on the checkers and the judge, below synthesis, training, evaluation and CAR
    "rewards": FLOOR | {"constraints", "judges", "backends", "models"},
}
"""Package -> the top-level modules and packages (besides itself) it may import."""


def module_names() -> dict[str, Path]:
    """followkit's modules by dotted name."""
    out = {}
    for f in ROOT.rglob("*.py"):
        parts = ["followkit", *f.relative_to(ROOT).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the followkit modules it imports anywhere in its body."""
    mods = module_names()

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, f in mods.items():
        package = m if f.name == "__init__.py" else m.rpartition(".")[0]
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    head = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(head + ([node.module] if node.module else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            for t in targets:
                r = resolve(t) if t.startswith("followkit") else None
                if r and r != m:
                    graph[m].add(r)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def top(module: str) -> str:
    """The top-level module or package under followkit a module belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_no_import_cycles() -> None:
    assert cycles(import_graph()) == []


def test_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_layers_import_only_what_lies_below() -> None:
    graph = import_graph()
    bad = []
    for m, targets in graph.items():
        layer = top(m)
        allowed = LAYERS.get(layer)
        if allowed is None:
            continue
        bad += [f"{m} -> {t}" for t in sorted(targets) if top(t) != layer and top(t) not in allowed]
    assert bad == []


def test_synth_stages_do_not_import_each_other() -> None:
    stages = {f"followkit.synth.{s}" for s in ("compose", "expand", "respond", "refine", "pairs")}
    graph = import_graph()
    # refine samples the student's answers itself when none exist yet: the one allowed call.
    allowed = {("followkit.synth.refine", "followkit.synth.respond")}
    bad = [(m, t) for m in stages for t in graph[m] if t in stages and (m, t) not in allowed]
    assert bad == []


def test_core_imports_nothing_outside_core() -> None:
    graph = import_graph()
    bad = [f"{m} -> {t}" for m in graph if top(m) == "core" for t in sorted(graph[m]) if top(t) != "core"]
    assert bad == []
    assert any(top(m) == "core" for m in graph)


def test_old_paths_are_for_users_only() -> None:
    graph = import_graph()
    assert [f"{m} -> {t}" for m, ts in graph.items() for t in sorted(ts) if t in OLD_PATHS] == []
    from followkit.core.records import Instruction
    from followkit.records import Instruction as Old

    assert Old is Instruction
