"""Declarative cuts on awkward event arrays and the weighted cutflow.

A selection is an ordered list of cuts, each a small expression on branch names::

    name: hgamgam
    cuts:
      - {name: trigger, cut: trigP}
      - {name: photon pt, object: photon, cut: pt > 25}
      - {name: two photons, cut: photon_n == 2}
      - {name: mass window, cut: 105 < m_gg < 160}

An *object* cut (``object: photon``) filters the objects of that collection (all its read
branches together, count branch recomputed); inside it bare names are the collection's fields
(``pt`` means ``photon_pt``). An *event* cut filters events. Names are branches (GeV after
reading), collection fields, or derived features of :mod:`hepsift.features.names` (``m_gg``,
``ptt_gg``, ``photon_pt_0``...). ``x[i]`` is the i-th leading object (NaN, so failing any
comparison, when absent).

Expressions are parsed with ``ast.parse(mode="eval")`` and walked with a whitelist: numbers,
booleans, names, ``x[int]``, arithmetic ``+ - * / ** %``, comparisons (chains allowed),
``and or not`` (and ``& | ~``), and the functions in :data:`FUNCTIONS` / :data:`REDUCERS`.
Nothing else is accepted and user text is never evaluated or compiled.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hepsift.errors import ConfigError, DataError, HepsiftError, one_line, suggest
from hepsift.features.columns import cached_flat, cached_starts
from hepsift.features.jagged import collection_fields, collections, filter_collection, slot
from hepsift.features.names import resolve_feature

__all__ = [
    "FUNCTIONS",
    "PRESETS",
    "REDUCERS",
    "Cut",
    "Cutflow",
    "Expr",
    "Selection",
    "compile_expr",
]

#: element-wise functions allowed in cut expressions
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": np.abs,
    "sqrt": np.sqrt,
    "exp": np.exp,
    "log": np.log,
    "cos": np.cos,
    "sin": np.sin,
    "tan": np.tan,
    "cosh": np.cosh,
    "sinh": np.sinh,
    "tanh": np.tanh,
    "arctan2": np.arctan2,
    "minimum": np.minimum,
    "maximum": np.maximum,
}
#: per-event reductions over a collection (``count(photon_pt > 25)``, ``sum(jet_pt)``)
REDUCERS = ("count", "sum", "max", "min", "mean", "any", "all")

_BINOPS: dict[type[ast.operator], Callable[..., Any]] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.true_divide,
    ast.Pow: np.power,
    ast.Mod: np.mod,
    ast.BitAnd: np.logical_and,
    ast.BitOr: np.logical_or,
}
_CMPOPS: dict[type[ast.cmpop], Callable[..., Any]] = {
    ast.Lt: np.less,
    ast.LtE: np.less_equal,
    ast.Gt: np.greater,
    ast.GtE: np.greater_equal,
    ast.Eq: np.equal,
    ast.NotEq: np.not_equal,
}

Resolver = Callable[[str], Any]

#: grammar limits: a cut is one short line, not a program (deep nesting would exhaust the
#: parser's and the compiler's stacks; huge literals and constant powers would overflow)
MAX_EXPR_CHARS = 1000
MAX_EXPR_DEPTH = 50
MAX_INDEX = 9999
#: integer literals beyond this are refused (float64 holds integers exactly up to 2**53)
MAX_INT_LITERAL = 2**53
#: the operators of a foldable constant expression
_ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.Mod)
#: functions of :data:`FUNCTIONS` that take two arguments (every other one takes one)
_TWO_ARGS = frozenset({"arctan2", "minimum", "maximum"})


def _cut(text: object) -> str:
    """User text quoted in a cut error: one line of at most 60 characters."""
    return one_line(text, 60)


def _no_names(name: str) -> Any:  # pragma: no cover - constants read no names
    raise ConfigError(f"a constant expression read the name '{name}'")


def _is_constant(node: ast.AST) -> bool:
    """Whether ``node`` is numbers and arithmetic only (folded once at compile time)."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        return _is_constant(node.operand)
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
        return _is_constant(node.left) and _is_constant(node.right)
    return False


def _depth(tree: ast.AST) -> int:
    """The nesting depth of an AST, walked without recursion."""
    deepest = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > MAX_EXPR_DEPTH:
            break
        stack.extend((child, d + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _reduce(how: str, value: Any) -> Any:
    import awkward as ak

    if not isinstance(value, ak.Array) or value.ndim < 2:
        raise DataError(f"{how}() needs a per-object (jagged) value")
    if how == "count":
        return np.asarray(ak.to_numpy(ak.sum(value, axis=1)))
    func = {"sum": ak.sum, "max": ak.max, "min": ak.min, "mean": ak.mean}.get(how)
    if func is not None:
        return np.asarray(ak.to_numpy(ak.fill_none(func(value, axis=1), np.nan)), dtype=np.float64)
    func = {"any": ak.any, "all": ak.all}[how]
    return np.asarray(ak.to_numpy(func(value, axis=1)), dtype=bool)


@dataclass(frozen=True)
class Expr:
    """A compiled cut expression: ``names`` it reads and ``evaluate(resolve)``."""

    text: str
    names: frozenset[str]
    _fn: Callable[[Resolver], Any] = field(repr=False)

    def evaluate(self, resolve: Resolver) -> Any:
        return self._fn(resolve)


def compile_expr(text: str, *, where: str = "cut") -> Expr:
    """Parse ``text`` with the whitelist grammar (module docstring) into an :class:`Expr`."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{where}: expression must be a non-empty string; got {_cut(repr(text))}")
    if len(text) > MAX_EXPR_CHARS:
        raise ConfigError(
            f"{where}: expression of {len(text):,} characters; a cut takes at most "
            f"{MAX_EXPR_CHARS} (split it into several cuts)"
        )
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ConfigError(f"{where}: cannot parse '{_cut(text)}': {_cut(exc.msg)}") from None
    except (ValueError, MemoryError, RecursionError) as exc:  # digit limit, parser stack
        what = "nested too deeply" if not isinstance(exc, ValueError) else _cut(str(exc))
        raise ConfigError(f"{where}: cannot parse '{_cut(text)}': {what}") from None
    if _depth(tree.body) > MAX_EXPR_DEPTH:
        raise ConfigError(
            f"{where}: '{_cut(text)}' is nested more than {MAX_EXPR_DEPTH} levels deep"
        )
    compiler = _Compiler(where)
    fn = compiler.build(tree.body)
    return Expr(text=text.strip(), names=frozenset(compiler.names), _fn=fn)


_Fn = Callable[[Resolver], Any]


class _Compiler:
    """Walks an expression's AST: one method per allowed node kind, each returning a closure
    of the resolver. ``names`` collects the names the expression reads."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.names: set[str] = set()
        self._handlers: dict[type[ast.AST], Callable[[Any], _Fn]] = {
            ast.Constant: self._constant,
            ast.Name: self._name,
            ast.Subscript: self._subscript,
            ast.BoolOp: self._boolop,
            ast.UnaryOp: self._unaryop,
            ast.BinOp: self._binop,
            ast.Compare: self._compare,
            ast.Call: self._call,
        }

    def bad(self, node: ast.AST, what: str) -> ConfigError:
        return ConfigError(
            f"{self.where}: '{one_line(ast.unparse(node), 40)}' is not allowed in a cut ({what}); "
            "allowed: numbers, names, x[i], + - * / ** %, comparisons, and/or/not, and the "
            "functions abs, sqrt, log, exp, cos, sin, ... count, sum, max, min, mean, any, all"
        )

    def build(self, node: ast.AST) -> _Fn:
        handler = self._handlers.get(type(node))
        if handler is None:
            raise self.bad(node, f"{type(node).__name__} syntax")
        return handler(node)

    def _constant(self, node: ast.Constant) -> _Fn:
        if isinstance(node.value, bool):
            flag = node.value
            return lambda r: flag
        if isinstance(node.value, int) and abs(node.value) > MAX_INT_LITERAL:
            raise self.bad(node, "integers are limited to +-2**53")
        if isinstance(node.value, int | float):
            v = float(node.value)  # arithmetic in float64: no silent int64 wrap-around
            return lambda r: v
        raise self.bad(node, "only numbers and True/False are constants")

    def _name(self, node: ast.Name) -> _Fn:
        if node.id in FUNCTIONS or node.id in REDUCERS:
            raise self.bad(node, "a function must be called")
        name = node.id
        self.names.add(name)
        return lambda r: r(name)

    def _subscript(self, node: ast.Subscript) -> _Fn:
        if not isinstance(node.value, ast.Name):
            raise self.bad(node, "only a branch name can be indexed")
        idx = node.slice
        if not (isinstance(idx, ast.Constant) and type(idx.value) is int and idx.value >= 0):
            raise self.bad(node, "the index must be a non-negative integer")
        if idx.value > MAX_INDEX:
            raise self.bad(node, f"the index must be <= {MAX_INDEX}")
        self.names.add(node.value.id)
        key = f"{node.value.id}[{int(idx.value)}]"
        return lambda r: r(key)

    def _boolop(self, node: ast.BoolOp) -> _Fn:
        parts = [self.build(v) for v in node.values]
        op = np.logical_and if isinstance(node.op, ast.And) else np.logical_or

        def boolop(r: Resolver) -> Any:
            out = parts[0](r)
            for p in parts[1:]:
                out = op(out, p(r))
            return out

        return boolop

    def _unaryop(self, node: ast.UnaryOp) -> _Fn:
        operand = self.build(node.operand)
        if isinstance(node.op, ast.Not | ast.Invert):
            return lambda r: np.logical_not(operand(r))
        if isinstance(node.op, ast.USub):
            return lambda r: np.negative(operand(r))
        if isinstance(node.op, ast.UAdd):
            return operand
        raise self.bad(node, "unknown unary operator")

    def _binop(self, node: ast.BinOp) -> _Fn:
        func = _BINOPS.get(type(node.op))
        if func is None:
            raise self.bad(node, "operator not allowed")
        left, right = self.build(node.left), self.build(node.right)
        if _is_constant(node):
            with np.errstate(all="ignore"):
                value = func(left(_no_names), right(_no_names))
            return self._folded(node, value)
        return lambda r: func(left(r), right(r))

    def _folded(self, node: ast.AST, value: Any) -> _Fn:
        """A constant sub-expression, computed once: refused unless it is a finite number."""
        if not np.isfinite(value):
            raise self.bad(node, "a constant that is not a finite number: overflow, 1/0, ...")
        folded = float(value)
        return lambda r: folded

    def _compare(self, node: ast.Compare) -> _Fn:
        terms = [self.build(node.left), *(self.build(c) for c in node.comparators)]
        ops = []
        for o in node.ops:
            f = _CMPOPS.get(type(o))
            if f is None:
                raise self.bad(node, "only < <= > >= == != comparisons")
            ops.append(f)

        def compare(r: Resolver) -> Any:
            values = [t(r) for t in terms]
            out = ops[0](values[0], values[1])
            for k in range(1, len(ops)):
                out = np.logical_and(out, ops[k](values[k], values[k + 1]))
            return out

        return compare

    def _call(self, node: ast.Call) -> _Fn:
        if not isinstance(node.func, ast.Name) or node.keywords:
            raise self.bad(node, "only plain calls of allowed functions")
        fname = node.func.id
        args = [self.build(a) for a in node.args]
        if fname in FUNCTIONS:
            n_args = 2 if fname in _TWO_ARGS else 1
            if len(args) != n_args:
                raise self.bad(node, f"{fname}() takes {n_args} argument{'s' * (n_args > 1)}")
            f = FUNCTIONS[fname]
            return lambda r: f(*(a(r) for a in args))
        if fname in REDUCERS:
            if len(args) != 1:
                raise self.bad(node, f"{fname}() takes one argument")
            arg = args[0]
            return lambda r: _reduce(fname, arg(r))
        raise ConfigError(
            f"{self.where}: unknown function '{fname}'"
            f"{suggest(fname, [*FUNCTIONS, *REDUCERS])} "
            f"(allowed: {', '.join([*FUNCTIONS, *REDUCERS])})"
        )


# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cut:
    """One step of a selection: an event cut, or an object cut when ``object`` is set."""

    name: str
    expr: Expr
    object: str | None = None

    @property
    def kind(self) -> str:
        return "event" if self.object is None else "object"


_CUT_KEYS = ("name", "cut", "object")
_SEL_KEYS = ("name", "cuts", "description")


@dataclass(frozen=True)
class Cutflow:
    """Per cut: raw events, sum of weights and sum of squared weights after the cut.

    Row 0 is the input (``"all"``). Cutflows of chunks or files add up with ``+``.
    """

    names: tuple[str, ...]
    kinds: tuple[str, ...]
    events: NDArray[np.int64]
    sumw: NDArray[np.float64]
    sumw2: NDArray[np.float64]
    objects: NDArray[np.int64]
    sample: str = ""

    def __add__(self, other: Cutflow) -> Cutflow:
        if self.names != other.names:
            raise DataError("cannot add cutflows of different selections")
        return Cutflow(
            self.names,
            self.kinds,
            self.events + other.events,
            self.sumw + other.sumw,
            self.sumw2 + other.sumw2,
            self.objects + other.objects,
            self.sample or other.sample,
        )

    def with_sample(self, sample: str) -> Cutflow:
        return Cutflow(
            self.names, self.kinds, self.events, self.sumw, self.sumw2, self.objects, sample
        )

    def as_rows(self) -> list[dict[str, Any]]:
        """One dict per row: cut, kind, events, yield, error, relative and cumulative
        efficiencies (raw ``eff_rel``/``eff_cum`` and weighted ``weff_rel``/``weff_cum``),
        and for object cuts the number of surviving objects."""
        rows = []
        n0, w0 = self.events[0], self.sumw[0]
        for i, name in enumerate(self.names):
            prev_n = self.events[i - 1] if i else n0
            prev_w = self.sumw[i - 1] if i else w0
            rows.append(
                {
                    "cut": name,
                    "kind": self.kinds[i],
                    "events": int(self.events[i]),
                    "yield": float(self.sumw[i]),
                    "error": float(np.sqrt(self.sumw2[i])),
                    "eff_rel": _ratio(self.events[i], prev_n),
                    "eff_cum": _ratio(self.events[i], n0),
                    "weff_rel": _ratio(self.sumw[i], prev_w),
                    "weff_cum": _ratio(self.sumw[i], w0),
                    "objects": int(self.objects[i]) if self.kinds[i] == "object" else None,
                }
            )
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {"sample": self.sample, "rows": self.as_rows()}

    def table(self, title: str | None = None) -> Any:
        """A rich Table of the cutflow."""
        from rich.table import Table

        # sample and cut names are user text: print the table with a console whose markup is
        # off (``print`` below), so that '[bold]x[/' is shown as written
        t = Table(title=title or f"cutflow {self.sample}".strip())
        cols = (
            "cut",
            "objects",
            "events",
            "rel. eff",
            "cum. eff",
            "yield",
            "± stat",
            "w. cum. eff",
        )
        for col in cols:
            t.add_column(col, justify="left" if col == "cut" else "right")
        for row in self.as_rows():
            t.add_row(
                row["cut"],
                "" if row["objects"] is None else f"{row['objects']:,}",
                f"{row['events']:,}",
                _pct(row["eff_rel"]),
                _pct(row["eff_cum"]),
                f"{row['yield']:.4g}",
                f"{row['error']:.2g}",
                _pct(row["weff_cum"]),
            )
        return t

    def print(self, console: Any = None) -> None:
        from rich.console import Console

        (console or Console(markup=False)).print(self.table())


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b != 0 else float("nan")


def _pct(x: float) -> str:
    return "-" if not np.isfinite(x) else f"{100 * x:.2f} %"


class Selection:
    """An ordered list of :class:`Cut` applied to awkward events with a weighted cutflow."""

    def __init__(self, cuts: Sequence[Cut], *, name: str = "selection") -> None:
        self.cuts = tuple(cuts)
        self.name = name

    def __repr__(self) -> str:
        return f"Selection({self.name!r}, {len(self.cuts)} cuts)"

    # -- construction --------------------------------------------------------------------
    @classmethod
    def from_config(cls, config: Any) -> Selection:
        """From a preset name (:data:`PRESETS`), a YAML file path, a dict or a list of cuts."""
        if isinstance(config, Selection):
            return config
        mapping = _selection_mapping(config)
        _check_keys(mapping, _SEL_KEYS, "selection")
        raw = mapping.get("cuts")
        if not isinstance(raw, list) or not raw:
            raise ConfigError("selection 'cuts' must be a non-empty list of {name, cut[, object]}")
        cuts = [_parse_cut(i, item) for i, item in enumerate(raw)]
        return cls(cuts, name=str(mapping.get("name", "selection")))

    # -- what to read --------------------------------------------------------------------
    def branches(self, available: Iterable[str]) -> set[str]:
        """Branches (among ``available``) the selection reads, incl. those of derived names."""
        avail = list(available)
        have = set(avail)
        colls = collections(avail)
        need: set[str] = set()
        for cut in self.cuts:
            if cut.object is not None:
                if cut.object not in colls:
                    raise ConfigError(
                        f"selection cut '{cut.name}': unknown object collection '{cut.object}'"
                        f"{suggest(cut.object, colls)} (collections: {', '.join(sorted(colls))})"
                    )
                need.add(colls[cut.object])
            for n in cut.expr.names:
                if cut.object is not None and f"{cut.object}_{n}" in have:
                    need.add(f"{cut.object}_{n}")
                elif n in have:
                    need.add(n)
                else:
                    feat = resolve_feature(n, avail, where=f"selection cut '{cut.name}'")
                    need |= set(feat.requires)
        # object cuts filter every read branch of their collection: read them consistently
        return need

    # -- applying ------------------------------------------------------------------------
    def apply(
        self, events: Any, weight: NDArray[np.float64] | None = None, *, sample: str = ""
    ) -> tuple[Any, Cutflow, NDArray[np.int64]]:
        """(selected events, cutflow, indices of the selected events in the input).

        Event cuts are evaluated on all events and AND-ed into one mask (events are filtered
        once, at the end). Object cuts are evaluated on the flat NumPy content of their
        collection and AND-ed into a pending object mask, applied to the collection's branches
        only when an event cut (or the output) needs them. Both avoid re-slicing jagged records
        after every cut, which dominates the cost otherwise.
        """
        n = len(events)
        w = np.ones(n) if weight is None else np.asarray(weight, dtype=np.float64)
        if w.shape != (n,):
            raise DataError(f"selection weight has shape {w.shape} for {n} events")
        state = _State(events)
        alive = np.ones(n, dtype=bool)
        names = ["all"]
        kinds = ["input"]
        ev_counts = [n]
        sumw = [float(w.sum())]
        sumw2 = [float((w * w).sum())]
        objects = [0]
        for cut in self.cuts:
            resolve = state.resolver(cut, alive)
            try:
                with np.errstate(all="ignore"):
                    value = cut.expr.evaluate(resolve)
            except HepsiftError:
                raise
            except (ValueError, TypeError) as exc:
                raise DataError(
                    f"selection cut '{cut.name}' ({cut.expr.text}) failed on the data: {exc}"
                ) from None
            n_obj = 0
            if cut.object is not None:
                n_obj = state.add_object_mask(cut, value, alive)
            else:
                alive &= _as_event_mask(value, cut, n_events=n)
            names.append(cut.name)
            kinds.append(cut.kind)
            wa = w[alive]
            ev_counts.append(int(alive.sum()))
            sumw.append(float(wa.sum()))
            sumw2.append(float((wa * wa).sum()))
            objects.append(n_obj)
        flow = Cutflow(
            tuple(names),
            tuple(kinds),
            np.asarray(ev_counts, dtype=np.int64),
            np.asarray(sumw),
            np.asarray(sumw2),
            np.asarray(objects, dtype=np.int64),
            sample,
        )
        state.materialize_all()
        index = np.flatnonzero(alive).astype(np.int64)
        selected = state.events if index.size == n else state.events[alive]
        return selected, flow, index


def _selection_mapping(config: Any, *, hops: int = 0) -> Mapping[str, Any]:
    """A selection config (preset name, YAML path, list of cuts or mapping) as a mapping.

    A YAML file may hold just the name of a preset or of another file (``hops`` of them)."""
    if hops > 4:
        raise ConfigError(f"selection '{_cut(str(config))}': more than 4 files name each other")
    if isinstance(config, str | os.PathLike) and not str(config).endswith((".yaml", ".yml")):
        key = str(config)
        if key in PRESETS:
            return {"name": key, **PRESETS[key]}
        raise ConfigError(
            f"unknown selection preset '{key}'{suggest(key, PRESETS)} "
            f"(presets: {', '.join(PRESETS)}; or give a .yaml file)"
        )
    if isinstance(config, str | os.PathLike):
        from hepsift._yaml import load_yaml_file

        path = Path(config)
        if not path.is_file():
            raise ConfigError(f"selection file '{path}' does not exist")
        loaded = load_yaml_file(path, "selection file")
        if isinstance(loaded, str | os.PathLike):  # a file naming a preset or another file
            if (path.parent / str(loaded)).is_file():
                loaded = path.parent / str(loaded)
            return _selection_mapping(loaded, hops=hops + 1)
        config = loaded
    if isinstance(config, list):
        config = {"cuts": config}
    if not isinstance(config, Mapping):
        raise ConfigError(
            f"selection must be a preset name, YAML path, dict or list; got {type(config).__name__}"
        )
    return config


def _check_keys(mapping: Mapping[Any, Any], allowed: tuple[str, ...], what: str) -> None:
    for key in mapping:
        if key not in allowed:
            raise ConfigError(
                f"{what} has unknown key '{_cut(str(key))}'{suggest(str(key), allowed)} "
                f"(allowed: {', '.join(allowed)})"
            )


def _parse_cut(i: int, item: Any) -> Cut:
    """Cut number ``i`` (0-based) of a selection config: a mapping or a bare expression."""
    if isinstance(item, str):
        item = {"name": item, "cut": item}
    if not isinstance(item, Mapping):
        raise ConfigError(f"selection cut #{i + 1} must be a mapping; got {_cut(repr(item))}")
    _check_keys(item, _CUT_KEYS, f"selection cut #{i + 1}")
    if "cut" not in item:
        raise ConfigError(f"selection cut #{i + 1} has no 'cut' expression")
    name = str(item.get("name", item["cut"]))
    if not isinstance(item["cut"], str | int | float | bool):
        raise ConfigError(
            f"selection cut '{_cut(name)}': 'cut' must be an expression string; "
            f"got {type(item['cut']).__name__} {_cut(repr(item['cut']))}"
        )
    expr = compile_expr(str(item["cut"]), where=f"selection cut '{_cut(name)}'")
    obj = item.get("object")
    return Cut(name=name, expr=expr, object=None if obj is None else str(obj))


class _State:
    """Events during a selection: current arrays, a shared cache, pending object masks."""

    def __init__(self, events: Any) -> None:
        self.events = events
        self.cache: dict[Any, Any] = {}
        self.pending: dict[str, NDArray[np.bool_]] = {}

    @property
    def fields(self) -> list[str]:
        return list(self.events.fields)

    def flat(self, branch: str) -> tuple[Any, Any]:
        return cached_flat(self.events, branch, self.cache)

    def members(self, coll: str, cut: Cut) -> list[str]:
        members = collection_fields(self.fields, coll)
        if not members:
            raise ConfigError(f"selection cut '{cut.name}': no branches of '{coll}' were read")
        return members

    def materialize(self, coll: str) -> None:
        if coll in self.pending:
            self.events = filter_collection(self.events, coll, self.pending.pop(coll))
            self.cache.clear()

    def materialize_all(self) -> None:
        for coll in list(self.pending):
            self.materialize(coll)

    def materialize_for(self, name: str) -> None:
        """Apply pending object cuts that the value called ``name`` depends on."""
        if name not in self.events.fields:  # a derived feature: may read any collection
            self.materialize_all()
            return
        for coll in list(self.pending):
            if name.startswith(coll + "_") or name == f"n{coll}":
                self.materialize(coll)

    def add_object_mask(self, cut: Cut, value: Any, alive: NDArray[np.bool_]) -> int:
        """AND the object cut's result into the pending mask; objects left in live events."""
        assert cut.object is not None
        members = self.members(cut.object, cut)
        counts = self.flat(members[0])[1]
        mask = _as_object_mask(value, cut, n_objects=int(counts.sum()))
        if cut.object in self.pending:
            mask = mask & self.pending[cut.object]
        self.pending[cut.object] = mask
        key = ("owner", members[0])
        if key not in self.cache:
            self.cache[key] = np.repeat(np.arange(counts.size), counts)
        # ``alive`` only ever shrinks, so its count identifies it
        akey = ("alive-objects", members[0], int(np.count_nonzero(alive)))
        if akey not in self.cache:
            self.cache[akey] = alive[self.cache[key]]
        return int(np.count_nonzero(mask & self.cache[akey]))

    def derived(self, name: str, cut: Cut, alive: NDArray[np.bool_]) -> Any:
        """Derived feature ``name`` for all events, computed on the live ones only.

        Events already rejected get NaN (they cannot pass again), so a feature such as m_gg
        costs only what the surviving events cost.
        """
        feat = resolve_feature(name, self.fields, where=f"selection cut '{cut.name}'")
        n_alive = int(np.count_nonzero(alive))
        if n_alive > 0.5 * alive.size:
            return feat.compute(self.events, self.cache)
        key = ("subset", n_alive)  # alive only shrinks: its count identifies it
        if key not in self.cache:
            rows = np.flatnonzero(alive)
            self.cache[key] = (rows, self.events[rows], {})
        rows, sub, sub_cache = self.cache[key]
        out = np.full(alive.size, np.nan)
        out[rows] = feat.compute(sub, sub_cache)
        return out

    def resolver(self, cut: Cut, alive: NDArray[np.bool_]) -> Resolver:
        """Names of a cut -> values (see :class:`Selection` for the rules)."""
        import awkward as ak

        obj = cut.object
        if obj is not None:
            # names that are neither the collection's fields nor branches: derived features,
            # which must see every pending object cut applied first
            fset = set(self.fields)
            if any(f"{obj}_{n}" not in fset and n not in fset for n in cut.expr.names):
                self.materialize_all()

        def event_value(name: str) -> Any:
            base, bracket, i = name.partition("[")
            self.materialize_for(base)
            fields = self.fields
            if bracket:
                if base not in fields:
                    raise ConfigError(
                        f"selection cut '{cut.name}': '{base}[...]' needs a per-object branch"
                        f"{suggest(base, fields)}"
                    )
                content, cnt = self.flat(base)
                starts = cached_starts(base, cnt, self.cache)
                return slot(content, cnt, int(i[:-1]), starts=starts)
            if name in fields:
                v = self.events[name]
                return v if v.ndim > 1 else np.asarray(ak.to_numpy(v))
            return self.derived(name, cut, alive)

        def object_value(name: str) -> Any:
            assert obj is not None
            branch = f"{obj}_{name}"
            if branch in self.events.fields:
                return self.flat(branch)[0]
            if "[" in name:
                raise ConfigError(f"object cut '{cut.name}': x[i] is not allowed in an object cut")
            value = event_value(name)
            if isinstance(value, ak.Array):
                raise ConfigError(
                    f"object cut '{cut.name}' on '{obj}' uses '{name}', a per-object value of "
                    "another collection"
                )
            counts = self.flat(self.members(obj, cut)[0])[1]
            return np.repeat(np.asarray(value), counts)

        return event_value if obj is None else object_value


def _as_event_mask(value: Any, cut: Cut, *, n_events: int) -> NDArray[np.bool_]:
    import awkward as ak

    if isinstance(value, ak.Array):
        if value.ndim > 1:
            raise ConfigError(
                f"selection cut '{cut.name}' ({cut.expr.text}) gives one value per object; make it "
                "an object cut (object: <collection>) or reduce it with any()/all()/count()"
            )
        value = ak.to_numpy(ak.fill_none(value, False))
    arr = np.asarray(value)
    if arr.ndim == 0:
        arr = np.full(n_events, bool(arr))
    if arr.shape != (n_events,):
        raise DataError(f"selection cut '{cut.name}' gave shape {arr.shape} for {n_events} events")
    return arr.astype(bool)


def _as_object_mask(value: Any, cut: Cut, *, n_objects: int) -> NDArray[np.bool_]:
    arr = np.asarray(value)
    if arr.ndim == 0:
        raise ConfigError(
            f"object cut '{cut.name}' ({cut.expr.text}) does not depend on any '{cut.object}' "
            "field; use an event cut instead"
        )
    if arr.shape != (n_objects,):
        raise DataError(
            f"object cut '{cut.name}' gave {arr.shape} values for {n_objects} '{cut.object}' objects"
        )
    return arr.astype(bool)


#: Named selections. ``hgamgam``: the ATLAS Open Data 13 TeV H -> gamma gamma selection (the
#: seed's): photon trigger; tight, isolated photons (ptcone30/pT < 0.065, etcone20/pT < 0.065)
#: with pT > 25 GeV, |eta| < 2.37 outside the crack 1.37 < |eta| < 1.52; exactly two; leading
#: (subleading) E_T > 35 (25) GeV and E_T/m_gg > 0.35 (0.25); 105 < m_gg < 160 GeV.
PRESETS: dict[str, dict[str, Any]] = {
    "hgamgam": {
        "description": "ATLAS Open Data 13 TeV H -> gamma gamma selection (GeV)",
        "cuts": [
            {"name": "trigger", "cut": "trigP"},
            {"name": "tight photons", "object": "photon", "cut": "isTightID"},
            {"name": "photon pT > 25 GeV", "object": "photon", "cut": "pt > 25"},
            {
                "name": "photon |eta| < 2.37, not crack",
                "object": "photon",
                "cut": "abs(eta) < 2.37 and not (1.37 < abs(eta) < 1.52)",
            },
            {
                "name": "isolated photons",
                "object": "photon",
                "cut": "ptcone30 < 0.065 * pt and etcone20 < 0.065 * pt",
            },
            {"name": "exactly 2 photons", "cut": "photon_n == 2"},
            {"name": "E_T > 35, 25 GeV", "cut": "photon_pt[0] > 35 and photon_pt[1] > 25"},
            {
                "name": "E_T/m_gg > 0.35, 0.25",
                "cut": "photon_pt[0] > 0.35 * m_gg and photon_pt[1] > 0.25 * m_gg",
            },
            {"name": "105 < m_gg < 160 GeV", "cut": "105 < m_gg < 160"},
        ],
    },
}
