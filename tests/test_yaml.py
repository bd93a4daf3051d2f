"""The one YAML loader (hepsift._yaml) and every place that reads YAML a user wrote: duplicate
keys, alias bombs, non-UTF-8 files and over-long errors are refused with one short line."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hepsift._yaml import ALIAS_BUDGET, MAX_MESSAGE, load_yaml_file, load_yaml_text
from hepsift.errors import ConfigError


def _bomb(levels: int, width: int = 9) -> str:
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def _one_line(exc: pytest.ExceptionInfo[ConfigError]) -> str:
    text = str(exc.value)
    assert "\n" not in text
    assert len(text) < 300
    return text


@pytest.mark.parametrize("levels", [6, 9, 30])
def test_alias_bombs_fail_fast_with_one_short_line(levels: int) -> None:
    start = time.perf_counter()
    with pytest.raises(ConfigError) as exc:
        load_yaml_text(_bomb(levels), "run config 'x.yaml'")
    assert time.perf_counter() - start < 0.5
    assert "alias" in _one_line(exc)


def test_a_few_legitimate_anchors_still_work() -> None:
    text = (
        "base: &base {epochs: 2, hidden: [64, 64]}\n"
        "models:\n"
        "  - {<<: *base, name: a}\n"
        "  - {<<: *base, name: b, epochs: 5}\n"
        "again: *base\n"
    )
    data = load_yaml_text(text)
    assert data["models"][1] == {"epochs": 5, "hidden": [64, 64], "name": "b"}
    assert data["again"] == {"epochs": 2, "hidden": [64, 64]}
    # a moderate, honest reuse fits in the budget
    assert len(load_yaml_text(_bomb(2, width=9))["a2"]) == 9
    with pytest.raises(ConfigError):
        load_yaml_text(_bomb(2, width=int(ALIAS_BUDGET**0.5) + 5))


@pytest.mark.parametrize(
    "text",
    ["a: 1\nb: 2\na: 3\n", "m: {x: 1, x: 2}\n", "- {k: 1}\n- {k: 1, k: 1}\n"],
)
def test_duplicate_keys_are_refused_not_last_wins(text: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_yaml_text(text)
    assert "duplicate key" in _one_line(exc)


def test_recursive_alias_and_deep_nesting_are_one_line() -> None:
    for text in ("a: &a [*a]\n", "[" * 50_000, "a: [\n  - b\n c"):
        with pytest.raises(ConfigError) as exc:
            load_yaml_text(text)
        _one_line(exc)


def test_python_tags_are_refused() -> None:
    with pytest.raises(ConfigError) as exc:
        load_yaml_text("x: !!python/object/apply:os.system [echo hi]\n")
    _one_line(exc)


def test_non_utf8_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "cfg.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ConfigError) as exc:
        load_yaml_file(path, "run config")
    assert "not UTF-8" in _one_line(exc)
    path.write_bytes("\ufeffname: café\n".encode())  # a BOM is fine
    assert load_yaml_file(path) == {"name": "café"}


def test_long_error_messages_are_capped(tmp_path: Path) -> None:
    key = "k" * 5000
    with pytest.raises(ConfigError) as exc:
        load_yaml_text(f"{key}: 1\n{key}: 2\n")
    assert len(_one_line(exc)) <= MAX_MESSAGE


def _run_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    return path


def test_run_config_loader_uses_it(tmp_path: Path) -> None:
    from hepsift.config import load_config

    with pytest.raises(ConfigError) as exc:
        load_config(_run_config(tmp_path, "name: a\nname: b\n"))
    assert "duplicate key" in _one_line(exc)
    with pytest.raises(ConfigError) as exc:
        load_config(_run_config(tmp_path, _bomb(9)))
    assert "alias" in _one_line(exc)
    (tmp_path / "cfg.yaml").write_bytes(b"\xff\xfe\x00n")
    with pytest.raises(ConfigError) as exc:
        load_config(tmp_path / "cfg.yaml")
    assert "UTF-8" in _one_line(exc)


def test_tuning_and_selection_loaders_use_it(tmp_path: Path) -> None:
    from hepsift.select import Selection
    from hepsift.tuning.tune import load_tune_config

    path = _run_config(tmp_path, "model: bdt\nmodel: logistic\n")
    with pytest.raises(ConfigError) as exc:
        load_tune_config(path)
    assert "duplicate key" in _one_line(exc)
    sel = tmp_path / "sel.yaml"
    sel.write_text(_bomb(8))
    with pytest.raises(ConfigError) as exc:
        Selection.from_config(sel)
    assert "alias" in _one_line(exc)


_YAML_PIECES = st.sampled_from(
    ["a", "b", ":", " ", "\n", "  ", "- ", "&x ", "*x", "<<: ", "{", "}", "[", "]", ",", "'",
     '"', "!!str ", "!!python/name:os.system", "#", "|", ">", "?", "1", "-1e9", "~", "\t", "\\"]
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_YAML_PIECES, max_size=60).map("".join))
def test_fuzzed_yaml_gives_data_or_one_config_error(text: str) -> None:
    try:
        load_yaml_text(text)
    except ConfigError as exc:
        assert "\n" not in str(exc) and len(str(exc)) <= MAX_MESSAGE


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_fuzzed_bytes_give_data_or_one_config_error(data: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.yaml"
        path.write_bytes(data)
        try:
            load_yaml_file(path)
        except ConfigError as exc:
            assert "\n" not in str(exc) and len(str(exc)) <= MAX_MESSAGE
