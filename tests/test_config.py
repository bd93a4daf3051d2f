"""Run configs: shipped ones load; every kind of mistake is a ConfigError naming the key path
and the nearest valid name; overrides; name resolution; the CLI exits 2 and writes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from hepsift.cli import main
from hepsift.config import (
    DEFAULT_CONFIG,
    RunConfig,
    apply_overrides,
    list_configs,
    load_config,
    resolve_config,
)
from hepsift.errors import ConfigError

SHIPPED = ("higgs-diphoton", "higgs-modes", "photon-id", "resonance-pnn", "nand")


def _nand() -> dict[str, Any]:
    raw = yaml.safe_load(resolve_config("nand").read_text())
    assert isinstance(raw, dict)
    return raw


def test_shipped_configs_are_listed_and_valid():
    names = list_configs()
    assert set(SHIPPED) <= set(names)
    assert DEFAULT_CONFIG == "higgs-diphoton"
    for name in SHIPPED:
        cfg = load_config(name)
        assert isinstance(cfg, RunConfig)
        assert cfg.name == name
        assert cfg.models


def test_default_config_is_the_higgs_run():
    cfg = load_config(None)
    assert cfg.data.scenario == "higgs-diphoton"
    assert [m.family for m in cfg.models] == ["logistic", "bdt", "mlp"]
    assert cfg.selection.preset == "hgamgam"
    assert cfg.task.type == "binary"


def test_resolved_config_fills_defaults():
    resolved = load_config("nand").resolved()
    assert resolved["evaluation"]["working_points"] == [0.5, 0.8, 0.9]
    assert resolved["output"]["formats"] == ["png", "pdf"]
    # the resolved form is itself a valid config
    assert load_config(resolved).resolved() == resolved


@pytest.mark.parametrize(
    ("mutate", "needles"),
    [
        (lambda c: c.update(nmae="x"), ["unknown key 'nmae'", "did you mean 'name'"]),
        (
            lambda c: c["evaluation"].update(bootstrp=10),
            ["'evaluation.bootstrp'", "did you mean 'bootstrap'"],
        ),
        (
            lambda c: c["evaluation"].update(bootstrap="many"),
            ["'evaluation.bootstrap'", "'many'"],
        ),
        (
            lambda c: c["models"].append({"name": "b", "family": "bdtt"}),
            ["'models[1].family'", "did you mean 'bdt'"],
        ),
        (
            lambda c: c["models"].append({"name": "b", "family": "bdt", "params": {"max_dpth": 3}}),
            ["'models[1].params.max_dpth'", "did you mean 'max_depth'"],
        ),
        (
            lambda c: c["models"][0].update(familly="logistic"),
            ["'models[0].familly'", "did you mean 'family'"],
        ),
        (
            lambda c: c["split"].update(by="evnt_number"),
            ["'split.by'", "did you mean 'event_number'"],
        ),
        (lambda c: c["split"].update(fractions=[0.5, 0.6]), ["'split'", "sum"]),
        (lambda c: c.update(features=["x3"]), ["'features[0]'", "did you mean 'x2'"]),
        (
            lambda c: c["models"].append({"name": "logistic", "family": "logistic"}),
            ["used twice"],
        ),
        (lambda c: c.pop("models"), ["missing required key 'models'"]),
        (lambda c: c["models"][0].update(name="../../x"), ["'models[0].name'", "pattern"]),
        (lambda c: c.update(name="a/b"), ["'name'", "pattern"]),
        (
            lambda c: c["models"].append({"name": "p", "family": "pnn"}),
            ["'models[1].family' 'pnn' is parametric", "study:"],
        ),
        (
            lambda c: c["models"].append({"name": "r", "family": "bdt-regressor"}),
            ["'models[1].family' 'bdt-regressor' is a regressor", "logistic"],
        ),
    ],
)
def test_mistakes_name_the_key_path_and_nearest(mutate, needles):
    raw = _nand()
    mutate(raw)
    with pytest.raises(ConfigError) as info:
        load_config(raw)
    message = str(info.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message


def test_missing_sample_path_and_unknown_preset_and_feature(tmp_path):
    raw = {
        "name": "x",
        "data": {
            "samples": [{"name": "s", "paths": [str(tmp_path / "nope.root")], "class": "signal"}]
        },
        "models": [{"name": "l", "family": "logistic"}],
    }
    with pytest.raises(ConfigError, match=r"'data\.samples\[0\]\.paths\[0\]'.*does not exist"):
        load_config(raw)
    raw = {
        "name": "x",
        "data": {"scenario": "higgs-diphoton"},
        "selection": {"preset": "hgamgma"},
        "models": [{"name": "l", "family": "logistic"}],
    }
    with pytest.raises(ConfigError, match=r"'selection\.preset'.*did you mean 'hgamgam'"):
        load_config(raw)
    raw["selection"] = {"preset": "hgamgam"}
    raw["features"] = ["ptom_gg_0", "photn_pt_0"]
    with pytest.raises(ConfigError, match=r"'features\[1\]'.*photon_pt_0"):
        load_config(raw)


def test_data_needs_exactly_one_source():
    raw = _nand()
    raw["data"]["scenario"] = "higgs-diphoton"
    with pytest.raises(ConfigError, match="exactly one of"):
        load_config(raw)


def test_overrides_reach_nested_keys_and_are_validated():
    cfg = load_config(
        "higgs-diphoton",
        overrides=["data.events=200", "models[2].params.epochs=2", "evaluation.bootstrap=0"],
    )
    assert cfg.data.events == 200
    assert cfg.models[2].params["epochs"] == 2
    assert cfg.evaluation.bootstrap == 0
    with pytest.raises(ConfigError, match=r"models\[0\]\.params\.max_dpth"):
        load_config("higgs-diphoton", overrides=["models[0].params.max_dpth=3"])
    with pytest.raises(ConfigError, match="has no entry 9"):
        apply_overrides({"models": []}, ["models[9].name=x"])
    with pytest.raises(ConfigError, match=r"key\.path=value"):
        apply_overrides({}, ["nonsense"])


def test_resolve_names_and_paths(tmp_path):
    assert resolve_config("nand").name == "nand.yaml"
    own = tmp_path / "mine.yaml"
    own.write_text(resolve_config("nand").read_text())
    assert resolve_config(own) == own
    with pytest.raises(ConfigError, match="did you mean 'higgs-modes'"):
        resolve_config("higgs-mode")


def test_bad_yaml_is_a_config_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_cli_config_error_exits_2_and_writes_nothing(tmp_path, capsys):
    raw = _nand()
    raw["models"][0]["params"] = {"C": 1.0, "max_itr": 5}
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump(raw))
    out = tmp_path / "runs"
    code = main(["run", str(path), "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.count("\n") == 0
    assert "models[0].params.max_itr" in err and "max_iter" in err
    assert not out.exists()


def test_cli_list(capsys):
    assert main(["run", "--list"]) == 0
    text = capsys.readouterr().out
    for name in SHIPPED:
        assert name in text


def test_packaged_configs_dir_is_configs():
    # pyproject force-includes configs/ as hepsift/_configs; the source tree is found too
    files = list_configs()
    assert all(Path(p).suffix == ".yaml" for p in files.values())


def _sample_config(path: str) -> dict[str, Any]:
    return {
        "name": "x",
        "data": {"samples": [{"name": "s", "paths": [path], "class": "signal"}]},
        "models": [{"name": "l", "family": "logistic"}],
    }


def test_sample_paths_are_relative_to_the_config_file(tmp_path, monkeypatch):
    """Issue 12: `run` resolved sample paths against the current folder, `tune` against the
    config file; both now use the config file's folder (a mapping: the current folder)."""
    cfg_dir = tmp_path / "analysis"
    (cfg_dir / "data").mkdir(parents=True)
    (cfg_dir / "data" / "s.csv").write_text("a,label\n1,1\n")
    path = cfg_dir / "run.yaml"
    path.write_text(yaml.safe_dump(_sample_config("data/s.csv")))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = load_config(path)
    assert cfg.data.samples is not None
    assert cfg.data.samples[0].paths == [str(cfg_dir / "data" / "s.csv")]
    # a path that exists only relative to the current folder is refused with the rule
    monkeypatch.chdir(cfg_dir)
    path.write_text(yaml.safe_dump(_sample_config("s.csv")))
    (tmp_path / "sub").mkdir()
    moved = tmp_path / "sub" / "run.yaml"
    path.rename(moved)
    (cfg_dir / "s.csv").write_text("a,label\n1,1\n")
    with pytest.raises(ConfigError, match="relative to the config file's folder") as info:
        load_config(moved)
    assert "\n" not in str(info.value)
    # a mapping resolves against the current folder
    cfg = load_config(_sample_config("s.csv"))
    assert cfg.data.samples is not None
    assert cfg.data.samples[0].paths == [str(cfg_dir / "s.csv")]


@pytest.mark.parametrize(
    ("key", "value"),
    [("kfactor", -2.0), ("kfactor", 0.0), ("xsec_pb", -1.0), ("sum_weights", 0.0),
     ("kfactor", float("nan")), ("xsec_pb", float("inf"))],
)  # fmt: skip
def test_sample_normalisation_must_be_positive(tmp_path, key, value):
    """Issue 12: kfactor=-2 and xsection_pb=-1 made every weight negative."""
    raw = _sample_config(str(tmp_path))
    raw["data"]["samples"][0][key] = value
    with pytest.raises(ConfigError, match=rf"data\.samples\[0\]\.{key}") as info:
        load_config(raw)
    assert "\n" not in str(info.value)


def test_missing_keep_needs_families_that_take_nan() -> None:
    raw = _nand()
    raw["missing"] = "keep"
    with pytest.raises(ConfigError, match=r"'missing' is 'keep' but 'models\[0\]\.family'") as e:
        load_config(raw)
    assert "bdt" in str(e.value) and "\n" not in str(e.value)
    assert "impute: median" in str(e.value)
    raw["models"] = [{"name": "b", "family": "bdt"}]
    assert load_config(raw).missing == "keep"
    raw["models"] = [{"name": "l", "family": "logistic"}]
    raw["impute"] = "median"
    assert load_config(raw).impute == "median"
