"""hepsift.prepare: a run config's data, from generated samples, without running Pythia.

The generator is replaced by a stand-in that checks its arguments against the real
``hepsift.generate.generate`` signature (prepare_data calls it directly, with no filtering of
keywords) and writes seeded toy ntuples plus a manifest in the generator's layout.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import hepsift.prepare.run_data as run_data
from hepsift.config import load_config
from hepsift.errors import ConfigError
from hepsift.generate import generate as real_generate
from hepsift.prepare import PreparedData, build_dataset, cache_folder, finalise, prepare_data
from hepsift.toydata import write_toy_gamgam

SIGNALS = ("ggF", "VBF", "WH", "ZH", "ttH")


def _fake_generate(calls: list[dict[str, Any]]) -> Any:
    def generate(*args: Any, **kwargs: Any) -> dict[str, Any]:
        bound = inspect.signature(real_generate).bind(*args, **kwargs)  # TypeError if not
        arguments = dict(bound.arguments)
        calls.append(arguments)
        out = Path(arguments["out"])
        out.mkdir(parents=True, exist_ok=True)
        entries = []
        for k, name in enumerate(arguments["samples"]):
            write_toy_gamgam(
                out / f"{name}.root",
                arguments["events"],
                seed=arguments["seed"] + k,
                signal_fraction=0.9 if name in SIGNALS else 0.1,
            )
            entries.append(
                {
                    "name": name,
                    "file": f"{name}.root",
                    "is_signal": name in SIGNALS,
                    "xsection_pb": 2.0,
                    "sum_weights": float(arguments["events"]),
                }
            )
        manifest = {"scenario": args[0], "samples": entries}
        (out / "manifest.json").write_text(json.dumps(manifest))
        return manifest

    return generate


def test_generated_scenario_is_prepared_with_the_real_generate_signature(
    tmp_path: Path, monkeypatch: Any
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(run_data, "generate", _fake_generate(calls))
    cfg = load_config(
        "higgs-diphoton",
        overrides=[
            f"data.cache={tmp_path}",
            "data.events=400",
            "data.events_per_sample={}",
            "data.events_per_sample.diphoton=800",
        ],
        check_models=False,
    )
    prepared = prepare_data(cfg)
    # one call per events-per-sample group, the task's samples only
    assert [(c["events"], c["samples"]) for c in calls] == [
        (400, ["ggF", "VBF", "WH", "ZH", "ttH"]),
        (800, ["diphoton"]),
    ]
    for c in calls:
        assert c["seed"] == cfg.seed and c["workers"] == cfg.data.workers
        assert c["scheduler"] is None and c["progress"] is False
        assert Path(c["out"]) == cache_folder(cfg, c["events"])
    ds = prepared.dataset
    assert ds.class_names == ("background", "signal")
    assert ds.feature_names == tuple(cfg.features)
    assert set(np.unique(ds.y)) == {0, 1}
    assert prepared.data_files == [cache_folder(cfg, n) / "manifest.json" for n in (400, 800)]
    # weights: the manifest's cross section x lumi / sum of weights, per selected event
    rows = {r["sample"]: r for r in prepared.samples}
    assert rows["diphoton"]["xsection_pb"] == 2.0 and rows["diphoton"]["sum_weights"] == 800.0
    assert rows["ggF"]["class"] == "signal" and rows["diphoton"]["class"] == "background"

    # the same samples read directly give the same events (prepare adds no hidden step)
    specs = [
        {
            "name": name,
            "files": str(cache_folder(cfg, 800 if name == "diphoton" else 400) / f"{name}.root"),
            "label": "background" if name == "diphoton" else "signal",
            "xsection_pb": 2.0,
            "sum_weights": 800.0 if name == "diphoton" else 400.0,
        }
        for name in (*SIGNALS, "diphoton")
    ]
    direct, _ = build_dataset(
        specs, features=list(cfg.features), selection="hgamgam", lumi_fb=cfg.weights.lumi_fb
    )
    assert ds.event_number is not None and ds.sample is not None
    assert direct.event_number is not None and direct.sample is not None
    order = np.lexsort((ds.event_number, ds.sample))
    d_order = np.lexsort((direct.event_number, direct.sample))
    assert np.array_equal(ds.X[order], direct.X[d_order])
    assert np.allclose(ds.weight[order], direct.weight[d_order], rtol=1e-12)

    # a rerun reuses the cache: generate is called again (it is the one that skips work) with
    # the same arguments, and finalise on already prepared data changes nothing
    again = prepare_data(cfg)
    assert len(calls) == 4 and calls[2:] == calls[:2]
    assert np.array_equal(again.dataset.X, ds.X)
    same = finalise(PreparedData(dataset=ds, source="test"), cfg)
    assert np.array_equal(same.dataset.y, ds.y)


@pytest.mark.parametrize(
    ("key", "value"),
    [("kfactor", -2.0), ("kfactor", float("nan")), ("xsection_pb", -1.0), ("sum_weights", 0.0)],
)
def test_sample_spec_normalisation_must_be_positive(key: str, value: float) -> None:
    """Issue 12: kfactor=-2 and xsection_pb=-1 made every weight negative, no error."""
    from hepsift.prepare import SampleSpec

    with pytest.raises(ConfigError, match=f"{key} must be a finite number > 0"):
        SampleSpec.from_dict({"name": "s", "files": "x.root", "label": "signal", key: value})
