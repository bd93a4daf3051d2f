"""The one YAML loader for user files (run configs, tuning configs, selection files).

``yaml.safe_load`` never runs code, but it still takes three kinds of input a user should hear
about instead:

- **duplicate keys** (``epochs: 2`` twice in one mapping): PyYAML keeps the last one silently;
  here they are refused, naming the key and its line. Merge keys (``<<: *base``) still override
  as YAML defines.
- **alias bombs** ("billion laughs": nine anchors, each a list of nine aliases of the previous
  one): a few dozen bytes that expand to 10^9 nodes once anything walks the data (validation,
  an error message, ``copy.deepcopy``). The composed node graph is measured before anything is
  built: aliases may add at most :data:`ALIAS_BUDGET` nodes beyond the ones written in the file
  (a few anchors reused a few times fit easily); recursive aliases are refused.
- **non-UTF-8 files** and any other YAML error: one line, at most :data:`MAX_MESSAGE` characters,
  with the line and column, never the multi-line PyYAML report.

Every refusal is a :class:`hepsift.errors.ConfigError`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hepsift.errors import MAX_MESSAGE, ConfigError, one_line

__all__ = [
    "ALIAS_BUDGET",
    "MAX_BYTES",
    "MAX_MESSAGE",
    "load_yaml_file",
    "load_yaml_text",
]

#: nodes that aliases may add to a document beyond the nodes written in it
ALIAS_BUDGET = 10_000
#: the largest YAML file read (configs are a few kB)
MAX_BYTES = 16 * 1024 * 1024

_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Refused(yaml.YAMLError):
    """A document this loader will not build (duplicate key, alias bomb, recursion)."""


def _where(node: Node) -> str:
    mark = node.start_mark
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "?"


class _Measure:
    """The expanded size of a composed node graph, with duplicate-key and recursion checks."""

    def __init__(self) -> None:
        self.size: dict[int, int] = {}
        self.active: set[int] = set()

    def __call__(self, node: Node) -> int:
        key = id(node)
        if key in self.size:
            return self.size[key]
        if key in self.active:
            raise _Refused(f"recursive alias at {_where(node)}")
        self.active.add(key)
        total = 1
        if isinstance(node, SequenceNode):
            total += sum(self(child) for child in node.value)
        elif isinstance(node, MappingNode):
            _check_duplicates(node)
            for k, v in node.value:
                total += self(k) + self(v)
        self.active.discard(key)
        self.size[key] = total
        if total - len(self.size) > ALIAS_BUDGET:
            raise _Refused(
                f"aliases expand the document beyond {ALIAS_BUDGET} extra nodes "
                f"(at {_where(node)}); refused as an alias bomb"
            )
        return total


def _check_duplicates(node: MappingNode) -> None:
    seen: dict[tuple[str, str], Node] = {}
    for k, _ in node.value:
        if not isinstance(k, ScalarNode) or k.tag == _MERGE_TAG:
            continue
        ident = (k.tag, k.value)
        if ident in seen:
            raise _Refused(
                f"duplicate key '{one_line(k.value, 60)}' at {_where(k)} "
                f"(first at {_where(seen[ident])}); each key may appear once"
            )
        seen[ident] = k


class _Loader(yaml.SafeLoader):
    """SafeLoader that measures the composed document before building it."""

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        _Measure()(node)
        return self.construct_document(node)


def _detail(exc: BaseException) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and not isinstance(exc, _Refused):
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        return f"{exc.problem or exc.context or 'syntax error'}{where}"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc)


def load_yaml_text(text: str, where: str = "YAML") -> Any:
    """Parse ``text`` (see the module docstring); ``where`` starts the error message."""
    loader: _Loader | None = None
    try:
        loader = _Loader(text)  # the reader already refuses control characters here
        return loader.get_single_data()
    except (yaml.YAMLError, RecursionError) as exc:
        raise ConfigError(one_line(f"{where} is not valid YAML: {_detail(exc)}")) from None
    finally:
        if loader is not None:
            loader.dispose()


def load_yaml_file(path: str | os.PathLike[str], what: str = "YAML file") -> Any:
    """Read and parse the UTF-8 YAML file ``path``; ``what`` names it in error messages
    (``"run config"``, ``"selection file"``)."""
    p = Path(path)
    where = f"{what} '{p}'"
    try:
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise ConfigError(
                one_line(f"{where} is {size} bytes; YAML files are read up to {MAX_BYTES}")
            )
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(one_line(f"cannot read {where}: {exc.strerror or exc}")) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = data[exc.start : exc.start + 1].hex()
        raise ConfigError(
            one_line(
                f"{where} is not UTF-8 text (byte 0x{bad} at offset {exc.start}); save it as UTF-8"
            )
        ) from None
    return load_yaml_text(text.removeprefix("\ufeff"), where)
