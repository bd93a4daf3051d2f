"""Optuna tuning from a YAML config, and the model commands of the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

import hepsift.models as models
from hepsift.cli import main
from hepsift.errors import ConfigError, DataError
from hepsift.extras import available
from hepsift.tuning.tune import load_tune_config, tune


def _table(tmp_path: Path, rng: np.random.Generator, n: int = 1200) -> Path:
    X = rng.normal(size=(n, 3))
    y = (X[:, 0] - X[:, 1] + 0.5 * rng.normal(size=n) > 0).astype(np.int64)
    path = tmp_path / "train.parquet"
    pq.write_table(
        pa.table(
            {
                "a": X[:, 0],
                "b": X[:, 1],
                "c": X[:, 2],
                "label": y,
                "weight": rng.uniform(0.5, 1.5, n),
            }
        ),
        path,
    )
    return path


def _config(tmp_path: Path, table: Path, **over: object) -> Path:
    cfg = {
        "model": "bdt",
        "params": {"n_jobs": 1},
        "space": {
            "max_depth": {"type": "int", "low": 1, "high": 4},
            "learning_rate": {"type": "float", "low": 0.01, "high": 0.5, "log": True},
            "n_estimators": {"type": "categorical", "choices": [5, 40]},
        },
        "trials": 6,
        "seed": 3,
        "data": {
            "path": table.name,
            "label": "label",
            "weight": "weight",
            "features": ["a", "b", "c"],
            "validation_fraction": 0.3,
        },
    }
    cfg.update(over)
    path = tmp_path / "tune.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_tune_bdt_is_seeded_and_writes_results(rng: np.random.Generator, tmp_path: Path) -> None:
    cfg = _config(tmp_path, _table(tmp_path, rng))
    a = tune(cfg, out=tmp_path / "a")
    b = tune(
        cfg,
        out=tmp_path / "b",
    )
    assert [t["params"] for t in a.trials] == [t["params"] for t in b.trials]
    assert a.best_value == b.best_value == max(t["value"] for t in a.trials)
    assert a.best_value > 0.8
    best = json.loads((tmp_path / "a" / "best_params.json").read_text())
    assert best["best_params"]["n_jobs"] == 1 and best["best_value"] == a.best_value
    assert set(best["best_params"]) == {"n_jobs", "max_depth", "learning_rate", "n_estimators"}
    trials = json.loads((tmp_path / "a" / "trials.json").read_text())
    assert len(trials) == 6 and all(t["state"] == "COMPLETE" for t in trials)
    model = models.load(tmp_path / "a" / "model")
    assert model.get_params()["max_depth"] == best["best_params"]["max_depth"]


@pytest.mark.slow
def test_tune_mlp_prunes(rng: np.random.Generator, tmp_path: Path) -> None:
    table = _table(tmp_path, rng, 1500)
    space = {
        "lr": {"type": "float", "low": 1e-5, "high": 3e-2, "log": True},
        "hidden": {"type": "categorical", "choices": [[4], [32, 32]]},
    }
    cfg = _config(
        tmp_path,
        table,
        model="mlp",
        space=space,
        trials=10,
        refit=False,
        params={"epochs": 12, "patience": 12, "num_threads": 1, "batch_size": 128},
    )
    res = tune(cfg, out=tmp_path / "o")
    assert res.n_pruned >= 1  # tiny learning rates fall behind the median and get cut
    assert isinstance(res.best_params["hidden"], tuple)
    pruned = [t for t in res.trials if t["state"] == "PRUNED"]
    assert all(t["last_step"] < 11 for t in pruned)
    assert not (tmp_path / "o" / "model").exists()


def test_config_errors(rng: np.random.Generator, tmp_path: Path) -> None:
    table = _table(tmp_path, rng, 100)
    with pytest.raises(ConfigError, match="did you mean 'space'"):
        load_tune_config(_config(tmp_path, table, spaec={}))
    with pytest.raises(ConfigError, match="did you mean 'learning_rate'"):
        load_tune_config(
            _config(
                tmp_path, table, space={"learning_rat": {"type": "float", "low": 0.1, "high": 1}}
            )
        )
    with pytest.raises(ConfigError, match="did you mean 'categorical'"):
        load_tune_config(_config(tmp_path, table, space={"max_depth": {"type": "categorial"}}))
    with pytest.raises(ConfigError, match="low 5 must be < high 1"):
        load_tune_config(
            _config(tmp_path, table, space={"max_depth": {"type": "int", "low": 5, "high": 1}})
        )
    with pytest.raises(ConfigError, match="did you mean 'bdt'"):
        load_tune_config(_config(tmp_path, table, model="bdtt"))
    bad = _config(tmp_path, table)
    cfg = yaml.safe_load(bad.read_text())
    cfg["data"]["features"] = ["a", "bb"]
    bad.write_text(yaml.safe_dump(cfg))
    with pytest.raises(DataError, match=r"no column 'bb'.*'b'"):
        tune(bad)


def test_cli_tune_models_onnx(
    rng: np.random.Generator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _config(tmp_path, _table(tmp_path, rng), trials=2)
    assert main(["tune", str(cfg), "--out", str(tmp_path / "o")]) == 0
    assert "best validation AUC" in capsys.readouterr().out
    assert main(["onnx", str(tmp_path / "o" / "model"), str(tmp_path / "m.onnx")]) == 0
    out = capsys.readouterr().out
    assert "parity" in out and (tmp_path / "m.onnx").is_file()
    assert "10 % of the values missing (NaN)" in out  # a BDT is checked on missing values too
    assert main(["models"]) == 0
    assert "easy-ensemble" in capsys.readouterr().out
    if available("torch"):  # a core-only install lists mlp but cannot describe it
        assert main(["models", "mlp"]) == 0
        assert "weight_decay" in capsys.readouterr().out
    assert main(["models", "mpl"]) == 2
    assert "did you mean 'mlp'" in capsys.readouterr().err
    assert main(["tune", str(tmp_path / "missing.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_config_checked_by_schema(rng: np.random.Generator, tmp_path: Path) -> None:
    """Wrong types and values are one-line ConfigErrors naming the key (not raw ValueErrors)."""
    table = _table(tmp_path, rng, 100)
    good = yaml.safe_load(_config(tmp_path, table).read_text())

    def fails(pattern: str, **over: object) -> None:
        with pytest.raises(ConfigError, match=pattern) as info:
            load_tune_config(_config(tmp_path, table, **over))
        assert "\n" not in str(info.value)

    fails(r"'trials'.*got 'many'", trials="many")
    fails(r"'trials'.*greater than or equal to 1", trials=0)
    fails(r"'timeout_s'.*got 'soon'", timeout_s="soon")
    fails(r"'space\.max_depth\.low'.*got 'one'", space={"max_depth": {"type": "int", "low": "one"}})
    fails(
        r"unknown key 'space\.max_depth\.lw'.*did you mean 'low'",
        space={"max_depth": {"type": "int", "lw": 1, "high": 3}},
    )
    fails(
        r"space 'max_depth': unknown key 'choices'",
        space={"max_depth": {"type": "int", "low": 1, "high": 3, "choices": [1]}},
    )
    fails(
        r"space 'max_depth': categorical needs",
        space={"max_depth": {"type": "categorical", "choices": []}},
    )
    fails(r"whole numbers; low is 1.5", space={"max_depth": {"type": "int", "low": 1.5, "high": 3}})
    data = dict(good["data"])
    fails(r"unknown key 'data\.featurs'.*did you mean 'features'", data={**data, "featurs": ["a"]})
    fails(r"'data\.validation_fraction'.*got 'half'", data={**data, "validation_fraction": "half"})
    fails(r"'data\.validation_fraction'", data={**data, "validation_fraction": 1.5})
    fails(
        r"'data\.negative_weights'.*did you mean 'abs'", data={**data, "negative_weights": "abss"}
    )
    no_label = {k: v for k, v in data.items() if k != "label"}
    fails(r"missing required key 'data\.label'", data=no_label)
    cfg = load_tune_config(_config(tmp_path, table, params=None))
    assert cfg.params == {} and cfg.data.path == table and cfg.space["max_depth"].type == "int"


def test_tune_out_onto_existing_folder(rng: np.random.Generator, tmp_path: Path) -> None:
    """A second tuning into the same --out replaces its results and model, keeps other files."""
    table = _table(tmp_path, rng, 600)
    out = tmp_path / "o"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    tune(_config(tmp_path, table, trials=3), out=out)
    first = json.loads((out / "best_params.json").read_text())
    res = tune(_config(tmp_path, table, trials=2, seed=11), out=out)
    best = json.loads((out / "best_params.json").read_text())
    assert first["n_trials"] == 3 and best["n_trials"] == 2 and best["seed"] == 11
    assert len(json.loads((out / "trials.json").read_text())) == 2
    assert (out / "notes.txt").read_text() == "mine"
    model = models.load(out / "model")
    assert model.get_params()["max_depth"] == res.best_params["max_depth"]
    # no temporary files left behind, nothing else touched
    assert sorted(p.name for p in out.iterdir()) == [
        "best_params.json",
        "model",
        "notes.txt",
        "trials.json",
    ]


def test_trials_without_a_split_are_flagged(rng: np.random.Generator, tmp_path: Path) -> None:
    """Issue 12: a trial whose validation AUC is exactly 0.5 (min_child_weight too large for
    the weights: no split) was recorded as complete; now it is flagged and FAIL."""
    table = _table(tmp_path, rng, n=400)
    space = {
        "min_child_weight": {"type": "categorical", "choices": [1.0, 1.0e9]},
        "max_depth": {"type": "int", "low": 1, "high": 3},
    }
    cfg = _config(tmp_path, table, space=space, trials=8, params={"n_jobs": 1, "n_estimators": 5})
    res = tune(cfg, out=tmp_path / "o")
    flagged = [t for t in res.trials if t["flag"]]
    complete = [t for t in res.trials if t["state"] == "COMPLETE"]
    assert flagged and complete
    assert res.n_flagged == len(flagged)
    for t in flagged:
        assert t["state"] == "FAIL" and t["value"] is None and t["validation_auc"] == 0.5
        assert t["params"]["min_child_weight"] == 1.0e9
    assert all(t["value"] != 0.5 and not t["flag"] for t in complete)
    assert res.best_params["min_child_weight"] == 1.0
    best = json.loads((tmp_path / "o" / "best_params.json").read_text())
    assert best["n_flagged"] == len(flagged)
    # every trial without a split: one line saying why, not a "best" AUC of 0.5
    cfg = _config(
        tmp_path,
        table,
        trials=2,
        params={"n_jobs": 1, "n_estimators": 5, "min_child_weight": 1.0e9},
    )
    with pytest.raises(DataError, match=r"2 of 2 had validation AUC exactly 0\.5"):
        tune(cfg)


def test_tune_help_shows_the_config_format(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 12: the tuning config format was only in a docstring."""
    assert main(["tune", "--help"]) == 0
    out = capsys.readouterr().out
    for key in ("space:", "{type: int, low: 2, high: 8}", "validation_fraction", "refit:"):
        assert key in out, key
    assert '["f0", "f1", "f2"]' in out  # not eaten as rich markup


def test_readme_tuning_config_is_valid(tmp_path: Path) -> None:
    """The README's tuning config (its documented format) loads as written."""
    readme = Path(__file__).resolve().parents[1] / "README.md"
    section = readme.read_text().split("### Tuning hyperparameters", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "tune.yaml"
    path.write_text(block)
    cfg = load_tune_config(path)
    assert cfg.model == "bdt" and cfg.data.path == tmp_path / "train.parquet"
    assert set(cfg.space) == {"max_depth", "learning_rate", "min_child_weight", "n_estimators"}
