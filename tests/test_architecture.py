"""The layers of DESIGN.md hold: no import cycle between hepsift's subpackages, and the lower
layers never import the upper ones.

The graph is built from the source text (``ast``), not by importing anything. A node is one
top-level unit under ``src/hepsift``: a subpackage (``features``, ``io``, ``models``...) or a
module (``select``, ``dataset``, ``run``...). Every import counts, wherever it stands: at module
level, inside a function (a lazy import is still a dependency: it only delays it), under
``TYPE_CHECKING``, and ``importlib.import_module("hepsift....")`` calls with a literal name. The
package's own ``hepsift/__init__.py`` (``__version__``, the public API) is left out: it sits on
top of everything by design.
"""

from __future__ import annotations

import ast
import functools
import itertools
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "hepsift"

#: Edges (importer, imported) allowed to close a cycle for now, each with the reason. They
#: belong to parallel work on other areas (train/ is being split into train/ + tuning/) and are
#: removed when that lands; every other cycle fails the test.
ALLOWED_CYCLE_EDGES: dict[tuple[str, str], str] = {}


def _unit(module: str) -> str | None:
    """The top-level unit of a dotted hepsift module name (None for hepsift itself/outside)."""
    parts = module.split(".")
    if parts[0] != "hepsift" or len(parts) < 2:
        return None
    return parts[1]


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported_modules(source: str, here: str, *, is_package: bool) -> Iterable[str]:
    """Every module name the source of module ``here`` imports, wherever the import stands."""
    tree = ast.parse(source)
    package = here if is_package else here.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            yield module
            # ``from hepsift import metrics`` imports the submodule hepsift.metrics
            if module == "hepsift":
                yield from (f"hepsift.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
            if name in ("import_module", "__import__") and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    yield arg.value


def _is_unit(name: str) -> bool:
    return (SRC / name).is_dir() or (SRC / f"{name}.py").is_file()


@functools.cache
def import_graph() -> dict[str, dict[str, set[str]]]:
    """unit -> imported unit -> the files (relative to src/) that make the edge."""
    graph: dict[str, dict[str, set[str]]] = {}
    for path in sorted(SRC.rglob("*.py")):
        here = _module_name(path)
        src_unit = _unit(here)
        if src_unit is None:
            continue  # hepsift/__init__.py
        graph.setdefault(src_unit, {})
        source = path.read_text(encoding="utf-8")
        for module in imported_modules(source, here, is_package=path.name == "__init__.py"):
            dst = _unit(module)
            if dst is None or dst == src_unit or not _is_unit(dst):
                continue
            graph[src_unit].setdefault(dst, set()).add(str(path.relative_to(SRC.parent)))
    return graph


def find_cycles(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """One cycle (as a closed path a -> ... -> a) per strongly connected component of size > 1."""
    return [_cycle_through(comp[0], set(comp), edges) for comp in _components(edges)]


def _components(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node, each sorted (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(v: str) -> None:  # recursive: the graph has a few dozen nodes
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                components.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return components


def _cycle_through(start: str, members: set[str], edges: Mapping[str, Iterable[str]]) -> list[str]:
    """The shortest closed path start -> ... -> start inside ``members`` (breadth first)."""
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(edges.get(v, ())):
                if w == start:
                    return [*paths[v], start]
                if w in members and w not in paths:
                    paths[w] = [*paths[v], w]
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"no cycle through {start} in its component")


def _describe(cycle: list[str], graph: Mapping[str, Mapping[str, set[str]]]) -> str:
    steps = []
    for a, b in itertools.pairwise(cycle):
        files = ", ".join(sorted(graph[a][b]))
        steps.append(f"  {a} -> {b}  ({files})")
    return " -> ".join(cycle) + "\n" + "\n".join(steps)


# -- the checks themselves -------------------------------------------------------------------


def test_cycle_finder_finds_and_prints_a_cycle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert find_cycles(edges) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []
    graph = {"a": {"b": {"x.py"}}, "b": {"a": {"y.py"}}}
    assert _describe(["a", "b", "a"], graph) == "a -> b -> a\n  a -> b  (x.py)\n  b -> a  (y.py)"


def test_every_kind_of_import_is_read() -> None:
    source = """
import hepsift.io
from hepsift.features import names
from hepsift import metrics, __version__
from . import sibling
from ..dataset import Dataset

def lazy():
    from hepsift.models.registry import MODELS
    import importlib
    return importlib.import_module("hepsift.report")

if TYPE_CHECKING:
    from hepsift.plots import roc
"""
    found = set(imported_modules(source, "hepsift.select.inner", is_package=False))
    assert {
        "hepsift.io",
        "hepsift.features",
        "hepsift.metrics",
        "hepsift.select",
        "hepsift.dataset",
        "hepsift.models.registry",
        "hepsift.report",
        "hepsift.plots",
    } <= found
    assert {_unit(m) for m in found} >= {"io", "features", "metrics", "models", "report"}
    # ... and in the real tree: a module-level and a function-level import
    graph = import_graph()
    assert "hepsift/select.py" in graph["select"]["features"]
    assert "hepsift/commands/data.py" in graph["commands"]["prepare"]


def test_no_import_cycle_between_subpackages() -> None:
    graph = import_graph()
    edges = {
        a: {b for b in targets if (a, b) not in ALLOWED_CYCLE_EDGES} for a, targets in graph.items()
    }
    cycles = find_cycles(edges)
    assert not cycles, "import cycles between hepsift's subpackages:\n" + "\n".join(
        _describe(c, graph) for c in cycles
    )


def test_allowed_cycle_edges_still_exist() -> None:
    """An allow-list entry whose edge is gone must be deleted (it would hide a new cycle)."""
    graph = import_graph()
    stale = [edge for edge in ALLOWED_CYCLE_EDGES if edge[1] not in graph.get(edge[0], {})]
    assert not stale, f"remove these entries of ALLOWED_CYCLE_EDGES: {stale}"


#: unit -> units it must never import (DESIGN.md: no package imports from a package above it)
NEVER: dict[str, tuple[str, ...]] = {
    # the bottom: errors and file writing know nothing of hepsift
    "errors": ("*",),
    "_files": ("*",),
    "_interrupt": ("*",),
    # the Dask cluster of --scheduler: errors only (report/provenance and commands use it)
    "cluster": ("_files", "_outputs", "_yaml", "io", "features", "select", "prepare", "dataset",
                "models", "train", "tuning", "evaluate", "report", "plots", "studies", "run",
                "export", "config", "commands", "cli", "generate", "toydata", "unsupervised"),
    # the safe YAML loader and the output-path rules: errors (and _files) only
    "_yaml": ("_files", "_outputs", "io", "features", "select", "prepare", "dataset", "models",
              "train", "tuning", "evaluate", "report", "plots", "studies", "run", "export",
              "config", "commands", "cli"),
    "_outputs": ("_yaml", "io", "features", "select", "prepare", "dataset", "models", "train",
                 "tuning", "evaluate", "report", "plots", "studies", "run", "export", "config",
                 "commands", "cli"),
    # the data layers: events in memory and on disk, below every model
    "io": ("features", "select", "prepare", "dataset", "models", "train", "tuning",
           "evaluate", "report", "plots", "studies", "run", "export", "config", "commands",
           "cli"),
    "features": ("io", "select", "prepare", "models", "train", "tuning", "evaluate",
                 "report", "plots", "studies", "run", "export", "config", "commands", "cli"),
    "select": ("prepare", "io", "dataset", "models", "train", "tuning", "evaluate", "report",
               "plots", "studies", "run", "export", "config", "commands", "cli"),
    "dataset": ("io", "select", "prepare", "models", "train", "tuning", "evaluate", "report",
                "plots", "studies", "run", "export", "config", "commands", "cli"),
    "prepare": ("models", "train", "tuning", "evaluate", "report", "plots", "studies", "run",
                "export", "commands", "cli"),
    "toydata": ("features", "select", "prepare", "dataset", "models", "train", "tuning",
                "evaluate", "report", "plots", "studies", "run", "config", "commands", "cli"),
    # models: the contract and the families, below tuning, evaluation, reports and studies
    "models": ("tuning", "evaluate", "report", "plots", "studies", "run", "prepare", "config",
               "commands", "cli", "pnn_study"),
    "generate": ("features", "select", "prepare", "dataset", "models", "train", "tuning",
                 "evaluate", "report", "plots", "studies", "run", "config", "commands", "cli"),
    "evaluate": ("tuning", "report", "studies", "run", "prepare", "commands", "cli"),
    "plots": ("models", "train", "tuning", "evaluate", "report", "studies", "run", "prepare",
              "commands", "cli"),
    # unsupervised procedures: on models and metrics, below reports, studies and the run
    "unsupervised": ("tuning", "report", "plots", "studies", "run", "prepare", "config",
                     "commands", "cli"),
    # binned likelihood fits of score arrays (pyhf): below the models and everything above
    "inference": ("io", "features", "select", "prepare", "dataset", "models", "train", "tuning",
                  "evaluate", "report", "plots", "studies", "run", "export", "config",
                  "commands", "cli"),
}  # fmt: skip


@pytest.mark.parametrize("unit", sorted(NEVER))
def test_lower_layers_never_import_upper_ones(unit: str) -> None:
    graph = import_graph()
    assert unit in graph, f"{unit} is not a unit of src/hepsift (update NEVER)"
    forbidden = NEVER[unit]
    bad = {
        dst: sorted(files)
        for dst, files in graph[unit].items()
        if forbidden == ("*",) or dst in forbidden
    }
    assert not bad, f"{unit} imports layers above it: {bad}"


def test_only_the_command_line_imports_the_commands() -> None:
    graph = import_graph()
    users = sorted(u for u, targets in graph.items() if {"cli", "commands"} & set(targets))
    assert set(users) <= {"cli", "commands"}, users


#: (importing file, module, private name) still allowed, each with the reason; emptied as the
#: owners of those areas replace them with public names.
#: (file, module, name) -> why; empty: no private name crosses modules
ALLOWED_PRIVATE_IMPORTS: dict[tuple[str, str, str], str] = {}


def test_no_private_name_crosses_modules() -> None:
    """``from hepsift.x import _helper`` in another module: make it public or move it."""
    found = []
    seen = set()
    for path in sorted(SRC.rglob("*.py")):
        rel = str(path.relative_to(SRC.parent))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hepsift"):
                for alias in node.names:
                    key = (rel, node.module or "", alias.name)
                    private = alias.name.startswith("_") and not alias.name.startswith("__")
                    seen.add(key)
                    if private and key not in ALLOWED_PRIVATE_IMPORTS:
                        found.append(key)
    assert not found, f"private names imported across modules: {found}"
    stale = sorted(set(ALLOWED_PRIVATE_IMPORTS) - seen)
    assert not stale, f"remove these entries of ALLOWED_PRIVATE_IMPORTS: {stale}"
