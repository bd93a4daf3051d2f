"""The set-model study (``hepsift study sets``) on a tiny five-mode toy, one seed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hepsift.cli import main
from hepsift.errors import ConfigError, DataError
from hepsift.studies import sets


def _tiny() -> list[sets.Contender]:
    chosen = sets.select_contenders(
        sets.default_contenders(quick=True, kernel_events=150),
        ["bdt", "deepsets-sum", "set-kernel"],
    )
    small: dict[str, dict[str, Any]] = {
        "bdt": {"n_estimators": 10},
        "deepsets": {"epochs": 2, "phi": (8,), "rho": (8,)},
    }
    return [
        sets.Contender(
            c.name,
            c.family,
            {**c.params, **small.get(c.family, {})},
            c.table,
            c.objects,
            c.max_train,
            c.key,
        )
        for c in chosen
    ]


def test_toy_has_the_contract() -> None:
    ds = sets.toy_dataset(40, seed=3)
    assert ds.class_names == sets.MODES and len(ds) == 200
    values, mask = ds.objects  # type: ignore[misc]
    assert values.dtype == np.float32 and mask.dtype == bool and values.shape[:2] == mask.shape
    assert np.all(values[~mask] == 0.0)
    photons = [i for i, c in enumerate(ds.objects.collections) if c == "photon"]  # type: ignore[union-attr]
    assert mask[:, photons].all()  # two photons in every event


def test_study_measures_every_contender() -> None:
    ds = sets.toy_dataset(60, seed=1)
    result = sets.study(ds, contenders=_tiny(), seeds=(5,), rate_events=300)
    assert list(result["summary"]) == ["aggregation + BDT", "DeepSets (sum)", "set kernel"]
    kernel = result["per_seed"]["set kernel"][0]
    assert kernel["n_train"] == 150 and kernel["epochs"] is None  # subsampled, no epochs
    deep = result["per_seed"]["DeepSets (sum)"][0]
    assert deep["epochs"] == 2 and deep["seconds_per_epoch"] > 0
    for rows in result["per_seed"].values():
        row = rows[0]
        assert 0.0 <= row["macro_auc"] <= 1.0
        assert set(row["recall"]) == set(sets.RARE)
        assert all(0.0 <= r <= 1.0 for r in row["recall"].values())
        assert row["inference_rate"] > 0
    # the toy's modes are separable (the 2-epoch DeepSets is only run, not judged)
    assert result["per_seed"]["aggregation + BDT"][0]["macro_auc"] > 0.65
    assert kernel["macro_auc"] > 0.58
    tg = result["targets"]
    assert tg["best_aggregated"] == "aggregation + BDT"
    assert "DeepSets (sum)" in tg["deepsets_minus_best_aggregated"]
    json.dumps(result)  # JSON-able


def test_subsample_keeps_classes_balanced() -> None:
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), [500, 40, 10])
    idx = np.arange(len(y))
    got = sets.balanced_subsample(idx, y, 90, rng)
    assert len(got) == 90 and len(np.unique(got)) == 90
    assert np.bincount(y[got]).tolist() == [40, 40, 10]


def test_bad_requests_are_one_line() -> None:
    ds = sets.toy_dataset(10)
    bare = sets.toy_dataset(10)
    object.__setattr__(bare, "objects", None)
    cases = [
        (ConfigError, lambda: sets.select_contenders(sets.default_contenders(), ["set-kernal"])),
        (ConfigError, lambda: sets.study(ds, contenders=[], seeds=(1,))),
        (ConfigError, lambda: sets.study(ds, contenders=_tiny(), seeds=())),
        (DataError, lambda: sets.study(bare, contenders=_tiny(), seeds=(1,))),
    ]
    for kind, call in cases:
        with pytest.raises(kind) as info:
            call()
        assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="did you mean 'set-kernel'"):
        sets.select_contenders(sets.default_contenders(), ["set-kernal"])


@pytest.mark.slow
def test_cli_writes_json_figures_and_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "study"
    args = ["study", "sets", "--toy", "--toy-events", "40", "--seeds", "2", "--quick"]
    args += ["--models", "bdt,set-kernel", "--kernel-events", "100", "--rate-events", "200"]
    args += ["--out", str(out)]
    assert main(args) == 0, capsys.readouterr()
    printed = capsys.readouterr().out
    assert "macro AUC" in printed and "TOY DATA" in printed
    data = json.loads((out / "sets-study.json").read_text())
    assert data["settings"]["seeds"] == [2] and data["data"]["toy"] is True
    assert (out / "sets_auc.png").is_file() and (out / "sets_recall.png").is_file()
    assert main([*args[:-2], "--out", str(out), "--models", "nope"]) == 2
