"""Property-based fuzzing (Hypothesis): loaders and the cut grammar raise only HepsiftErrors.

Random YAML mappings and random text for the run-config and tuning-config loaders, random
expression strings (free text and token soups) for the selection grammar, compiled and applied
to a few events, and random bytes and truncations of real and generated files for the readers.
Whatever the input, the result is a value or a :class:`~hepsift.errors.HepsiftError` with a
one-line message: never another exception type. Seeded (``derandomize``), no example database,
no deadline, few examples: the whole module runs in well under a minute.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hepsift.errors import HepsiftError

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
_counter = itertools.count()


def only_hepsift_errors(call: Callable[[], Any]) -> None:
    """Run ``call``: a value, or a HepsiftError with one line; anything else fails the test."""
    try:
        call()
    except HepsiftError as exc:
        assert "\n" not in str(exc), str(exc)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _new_file(folder: Path, suffix: str, data: bytes) -> Path:
    path = folder / f"f{next(_counter)}{suffix}"
    path.write_bytes(data)
    return path


# -- run and tuning configs ----------------------------------------------------------------------
RUN_KEYS = ["name", "seed", "data", "selection", "features", "scaling", "split", "weights",
            "task", "models", "evaluation", "output", "study", "inline", "samples", "family",
            "params", "X", "y", "feature_names", "cuts", "fractions", "threshold", "paths"]  # fmt: skip
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["logistic", "bdt", "nand", "higgs-diphoton", "toy.csv", "1e-3", "[bold]"]),
)
keys = st.one_of(st.sampled_from(RUN_KEYS), st.text(max_size=8))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=20,
)
NAND = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs" / "nand.yaml").read_text())


def _mutated(base: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    import copy

    out = copy.deepcopy(base)
    node: Any = out
    for key in path[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            return out
    node[path[-1]] = value
    return out


NAND_PATHS = [["seed"], ["data"], ["data", "inline"], ["data", "inline", "X"],
              ["data", "inline", "y"], ["models"], ["split"], ["split", "fractions"],
              ["evaluation"], ["evaluation", "bootstrap"], ["weights"], ["task"],
              ["scaling"], ["name"], ["output"], ["selection"], ["features"]]  # fmt: skip


@settings(FUZZ, max_examples=30)
@given(mapping=st.dictionaries(keys, values, max_size=6))
def test_run_config_random_mappings(mapping: dict[str, Any]) -> None:
    from hepsift.config import load_config

    only_hepsift_errors(lambda: load_config(mapping))


@settings(FUZZ, max_examples=40)
@given(path=st.sampled_from(NAND_PATHS), value=values)
def test_run_config_one_value_changed(path: list[str], value: Any) -> None:
    """The shipped nand config with one value replaced by a random one."""
    from hepsift.config import load_config

    only_hepsift_errors(lambda: load_config(_mutated(NAND, path, value)))


@FUZZ
@given(text=st.one_of(st.text(max_size=200), values.map(yaml.safe_dump)))
def test_run_config_random_yaml_text(scratch: Path, text: str) -> None:
    """Random (UTF-8) text as a YAML config file. (Non-UTF-8 bytes: the YAML loader's area.)"""
    from hepsift.config import load_config

    path = _new_file(scratch, ".yaml", text.encode("utf-8", "surrogatepass"))
    if not _is_utf8(path):
        return
    only_hepsift_errors(lambda: load_config(path))


def _is_utf8(path: Path) -> bool:
    try:
        path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


TUNE = {
    "model": "logistic",
    "space": {"C": {"type": "float", "low": 0.1, "high": 10.0}},
    "data": {"path": "toy.csv", "label": "label", "features": ["f0"]},
}
TUNE_PATHS = [["model"], ["params"], ["space"], ["space", "C"], ["space", "C", "low"],
              ["space", "C", "type"], ["trials"], ["seed"], ["timeout_s"], ["data"],
              ["data", "features"], ["data", "validation_fraction"], ["refit"]]  # fmt: skip


@FUZZ
@given(path=st.sampled_from(TUNE_PATHS), value=values)
def test_tune_config_one_value_changed(path: list[str], value: Any) -> None:
    from hepsift.tuning.tune import load_tune_config

    only_hepsift_errors(lambda: load_tune_config(_mutated(TUNE, path, value)))


@FUZZ
@given(data=st.binary(max_size=300))
def test_tune_config_random_bytes(scratch: Path, data: bytes) -> None:
    from hepsift.tuning.tune import load_tune_config

    path = _new_file(scratch, ".yaml", data)
    only_hepsift_errors(lambda: load_tune_config(path))


# -- the selection grammar -----------------------------------------------------------------------
TOKENS = ["x", "y", "jet_pt", "jet_n", "1", "0", "2.5", "-", "+", "*", "/", "**", "%", "(", ")",
          "<", ">", "<=", "==", "!=", "and", "or", "not", "&", "|", "~", "abs(", "sqrt(", "log(",
          "arctan2(", "count(", "sum(", "max(", "mean(", "any(", "[0]", "[3]", ",", "1e308",
          "99999999999999999999", "1/0", "2**99999", "lambda", ".", "__class__", "'a'", "x[",
          "True", "nan", "inf", ":=", "if", "else", "[", "]", "{", "}"]  # fmt: skip
expressions = st.one_of(
    st.text(max_size=60),
    st.lists(st.sampled_from(TOKENS), min_size=1, max_size=14).map(" ".join),
    st.lists(st.sampled_from(TOKENS), min_size=1, max_size=14).map("".join),
)


def _events() -> Any:
    import awkward as ak

    return ak.Array(
        {
            "x": [1.0, -2.0, np.nan, 0.0],
            "y": [0, 1, 2, 3],
            "jet_pt": [[30.0, 20.0], [], [50.0], [np.inf, 1.0, 2.0]],
            "jet_n": [2, 0, 1, 3],
        }
    )


@FUZZ
@given(text=expressions)
def test_cut_expressions_compile_or_config_error(text: str) -> None:
    from hepsift.select import compile_expr

    only_hepsift_errors(lambda: compile_expr(text))


@settings(FUZZ, max_examples=150)
@given(text=st.lists(st.sampled_from(TOKENS), min_size=1, max_size=10).map(" ".join))
def test_cut_expressions_applied_to_events(text: str) -> None:
    """What compiles is applied as an event cut and as a jet cut: a mask or a HepsiftError."""
    from hepsift.select import Cut, Selection, compile_expr

    try:
        expr = compile_expr(text)
    except HepsiftError:
        return
    for obj in (None, "jet"):
        selection = Selection([Cut(name="c", expr=expr, object=obj)])
        only_hepsift_errors(lambda sel=selection: sel.apply(_events()))  # type: ignore[misc]


@FUZZ
@given(content=values)
def test_selection_configs(content: Any) -> None:
    from hepsift.select import Selection

    only_hepsift_errors(lambda: Selection.from_config({"cuts": content}))


# -- the readers ---------------------------------------------------------------------------------
def _real_root_files() -> list[Path]:
    return sorted(REALDATA.glob("*.root")) if REALDATA.is_dir() else []


@pytest.fixture(scope="module")
def sources(scratch: Path) -> dict[str, bytes]:
    """Whole files to cut short: a real Open Data file when present, generated CSV/Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from hepsift.toydata import write_toy_gamgam

    rng = np.random.default_rng(1)
    table = {"f0": rng.normal(size=50), "f1": rng.normal(size=50), "label": rng.integers(0, 2, 50)}
    csv = "f0,f1,label\n" + "".join(
        f"{a:.4f},{b:.4f},{c}\n" for a, b, c in zip(*table.values(), strict=True)
    )
    pq.write_table(pa.table(table), scratch / "whole.parquet")
    write_toy_gamgam(scratch / "whole.root", 100, seed=2)
    out = {
        ".csv": csv.encode(),
        ".parquet": (scratch / "whole.parquet").read_bytes(),
        ".root": (scratch / "whole.root").read_bytes(),
    }
    real = _real_root_files()
    if real:
        out["real.root"] = min(real, key=lambda p: p.stat().st_size).read_bytes()
    return out


def _read_all(path: Path) -> None:
    from hepsift import io as hio

    hio.read(path)
    hio.inspect(path, max_entries=50)


@FUZZ
@given(data=st.binary(max_size=2000), suffix=st.sampled_from([".root", ".csv", ".parquet"]))
def test_readers_random_bytes(scratch: Path, data: bytes, suffix: str) -> None:
    path = _new_file(scratch, suffix, data)
    only_hepsift_errors(lambda: _read_all(path))


@settings(FUZZ, max_examples=80)
@given(which=st.sampled_from([".csv", ".parquet", ".root", "real.root"]), cut=st.floats(0, 1))
def test_readers_truncated_files(
    scratch: Path, sources: dict[str, bytes], which: str, cut: float
) -> None:
    if which not in sources:
        pytest.skip("no real Open Data file (../shared/realdata absent)")
    whole = sources[which]
    path = _new_file(scratch, "." + which.rsplit(".", 1)[-1], whole[: int(cut * len(whole))])
    only_hepsift_errors(lambda: _read_all(path))


@settings(FUZZ, max_examples=25)
@given(
    which=st.sampled_from([".parquet", ".root", "real.root"]),
    at=st.floats(0, 1),
    byte=st.integers(0, 255),
)
def test_readers_one_byte_changed(
    scratch: Path, sources: dict[str, bytes], which: str, at: float, byte: int
) -> None:
    if which not in sources:
        pytest.skip("no real Open Data file (../shared/realdata absent)")
    data = bytearray(sources[which])
    data[min(int(at * len(data)), len(data) - 1)] = byte
    path = _new_file(scratch, "." + which.rsplit(".", 1)[-1], bytes(data))
    only_hepsift_errors(lambda: _read_all(path))


def test_the_harness_sees_errors(scratch: Path, sources: dict[str, bytes]) -> None:
    """The properties are not vacuous: a truncated file and a bad cut do raise HepsiftErrors."""
    from hepsift.select import compile_expr

    for which in (".root", ".parquet"):
        path = _new_file(scratch, which, sources[which][: len(sources[which]) // 2])
        with pytest.raises(HepsiftError):
            _read_all(path)
    with pytest.raises(HepsiftError):
        compile_expr("x > 2**99999")
