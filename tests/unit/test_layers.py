"""The package's layering, read from the source: no module-level import cycle, and no module imports
from a layer above its own, not even inside a function (a deferred import is still a dependency)."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "accelctl"

# Lowest first. A module may import its own layer and the ones below, never one above.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"accelctl", "errors", "files", "registry", "schema", "shape", "hardware", "units"}),
    frozenset({"models", "targets"}),
    frozenset({"builds"}),
    frozenset({"bench", "serve", "router", "control", "sim", "deploy"}),
    frozenset({"demo"}),
    frozenset({"cli"}),
)


def _layer(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "accelctl"
    for i, layer in enumerate(LAYERS):
        if top in layer:
            return i
    raise AssertionError(f"{module}: put accelctl.{top} in one of LAYERS")


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


MODULES = _modules()


def _target(module: str, node: ast.ImportFrom, alias: str) -> str:
    """The module a `from X import alias` loads: X.alias where that is a module, else X."""
    base = node.module or ""
    if node.level:
        package = module.split(".")
        is_package = MODULES[module].name == "__init__.py"
        package = package[: len(package) - node.level + (1 if is_package else 0)]
        base = ".".join([*package, *([base] if base else [])])
    return f"{base}.{alias}" if f"{base}.{alias}" in MODULES else base


def _imports(module: str, body: list[ast.stmt], top_level: bool):
    """(imported accelctl module, at module level?) for every import under `body`."""
    for node in body:
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, top_level
        elif isinstance(node, ast.ImportFrom):
            for a in node.names:
                yield _target(module, node, a.name), top_level
        elif isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            continue  # annotations only: never executed
        else:
            deferred = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    yield from _imports(module, [child], top_level and not deferred)
                else:
                    for sub in ast.walk(child):
                        if isinstance(sub, ast.stmt):
                            yield from _imports(module, [sub], False)


def _graph() -> list[tuple[str, str, bool]]:
    edges = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        for target, top_level in _imports(module, tree.body, True):
            if target == "accelctl" or target.startswith("accelctl."):
                edges.append((module, target, top_level))
    return edges


EDGES = _graph()


def test_the_walk_sees_deferred_and_module_level_imports():
    # Guards the walker itself: a known module-level import and a known function-level one.
    assert ("accelctl.units", "accelctl.schema", True) in EDGES
    assert any(src == "accelctl.cli.watch" and not top for src, _, top in EDGES)


def test_no_module_level_import_cycle():
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for src, dst, top_level in EDGES:
        if top_level and dst in MODULES and dst != src:
            graph[src].add(dst)
    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as err:
        pytest.fail(f"module-level import cycle: {' -> '.join(err.args[1])}")


def test_no_lower_layer_imports_a_higher_one_even_inside_a_function():
    upward = sorted(
        f"{src} imports {dst}{'' if top else ' (inside a function)'}"
        for src, dst, top in EDGES
        if dst in MODULES or dst.split(".")[0] == "accelctl"
        if _layer(dst) > _layer(src)
    )
    assert upward == []


def test_targets_never_import_builds():
    assert [(s, d) for s, d, _ in EDGES if s.startswith("accelctl.targets") and d == "accelctl.builds"] == []


def test_the_names_a_fleet_file_accepts_are_the_registered_plugins():
    # units.py (the lowest layer) validates these names without importing the registries above it.
    from typing import get_args

    from accelctl.control.forecast import FORECASTERS
    from accelctl.targets import base
    from accelctl.units import ForecasterName, TargetName

    assert set(get_args(ForecasterName)) == set(FORECASTERS.names())
    assert set(get_args(TargetName)) == set(base.names())
