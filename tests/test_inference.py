"""hepsift.inference against the counting-experiment formulae of hepsift.metrics and pyhf's own
limit calls; the binning rule; the workspace against pyhf's schema; the fit step of a run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hepsift import inference as inf
from hepsift import metrics
from hepsift.errors import ConfigError


def _one_bin(s: float, b: float, **kw: object) -> dict:
    spec = inf.build_spec(
        {"sig": (np.array([s]), np.array([0.0])), "bkg": (np.array([b]), np.array([0.0]))},
        ["sig"],
        staterror=False,
        **kw,  # type: ignore[arg-type]
    )
    return inf.workspace(spec, [b])


@pytest.mark.parametrize(("s", "b"), [(7.0, 20.0), (3.0, 150.0), (25.0, 4.0)])
def test_one_bin_reproduces_the_asimov_formula(s: float, b: float) -> None:
    z = inf.fit_workspace(_one_bin(s, b)).z_expected
    assert z == pytest.approx(metrics.asimov_significance(s, b), rel=1e-3)


@pytest.mark.parametrize("rel", [0.1, 0.3])
def test_uncorrelated_background_uncertainty_follows_the_formula(rel: float) -> None:
    s, b = 7.0, 20.0
    z = inf.fit_workspace(_one_bin(s, b, shapesys={"u": (rel, {"bkg"})})).z_expected
    expected = metrics.asimov_significance(s, b, sigma_b=rel * b)
    assert z == pytest.approx(expected, rel=1e-3)
    assert z < metrics.asimov_significance(s, b)


def test_expected_limits_match_pyhf_root_finding() -> None:
    import pyhf

    spec = inf.build_spec(
        {"sig": (np.array([2.0, 6.0]), np.zeros(2)), "bkg": (np.array([40.0, 9.0]), np.zeros(2))},
        ["sig"],
        staterror=False,
        normsys={"norm": (0.1, {"bkg"})},
    )
    model = pyhf.Workspace(inf.workspace(spec, [40.0, 9.0])).model()
    pars = model.config.suggested_init()
    pars[model.config.poi_index] = 0.0
    _, ref = pyhf.infer.intervals.upper_limits.upper_limit(model.expected_data(pars), model)
    ours = inf.expected_limits(model)
    assert ours == pytest.approx([float(r) for r in ref], rel=2e-3)


def _toy(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.int64)
    score = np.where(y == 1, rng.beta(4, 2, n), rng.beta(2, 4, n))
    weight = np.where(y == 1, 0.02, 0.5)
    return score, weight, y


def test_nested_finer_binning_never_lowers_z_without_staterror() -> None:
    score, weight, y = _toy(3000, 3)
    coarse = np.array([0.0, 0.5, 1.0])
    z = []
    for edges in (coarse, np.array([0.0, 0.25, 0.5, 0.75, 1.0]), np.linspace(0, 1, 9)):
        r = inf.sensitivity(
            score, weight, y, sample_names=["bkg", "sig"], signal=["sig"],
            staterror=False, edges=edges,
        )  # fmt: skip
        z.append(r.sensitivity.z_expected)
    assert z[0] <= z[1] + 1e-6 and z[1] <= z[2] + 1e-6, z
    assert z[2] > z[0]


def test_binning_rule_holds_in_every_bin() -> None:
    score, weight, y = _toy(4000, 4)
    rule = inf.BinningRule(max_bins=8, min_background_events=25, max_relative_error=0.2)
    bkg = y == 0
    edges = inf.choose_binning(score[bkg], weight[bkg], rule)
    assert edges[0] == 0.0 and edges[-1] == 1.0 and np.all(np.diff(edges) > 0)
    assert 2 <= len(edges) - 1 <= rule.max_bins
    n, _ = np.histogram(score[bkg], bins=edges)
    w, _ = np.histogram(score[bkg], bins=edges, weights=weight[bkg])
    w2, _ = np.histogram(score[bkg], bins=edges, weights=weight[bkg] ** 2)
    assert np.all(n >= rule.min_background_events)
    assert np.all(np.sqrt(w2) <= rule.max_relative_error * w + 1e-12)


def test_workspace_validates_against_pyhf_schema(tmp_path: Path) -> None:
    import pyhf

    score, weight, y = _toy(1500, 5)
    up = np.clip(score * 1.02, 0, 1)
    r = inf.sensitivity(
        score, weight, y, sample_names=["bkg", "sig"], signal=["sig"],
        rule=inf.BinningRule(max_bins=4),
        systematics=[
            inf.Systematic("norm", "normsys", 0.1),
            inf.Systematic("shape", "histosys", 0.02, ("signal", "background"), up, score),
        ],
    )  # fmt: skip
    path = tmp_path / "ws.json"
    path.write_text(json.dumps(r.workspace))
    spec = json.loads(path.read_text())
    pyhf.schema.validate(spec, "workspace.json")
    model = pyhf.Workspace(spec).model()
    assert {"mu", "norm", "shape", "staterror_score"} <= set(model.config.parameters)
    assert r.sensitivity.mu_limit_band[0] < r.sensitivity.mu_limit_expected
    assert r.sensitivity.mu_limit_expected < r.sensitivity.mu_limit_band[3]


def test_bad_systematic_sample_names_the_nearest() -> None:
    score, weight, y = _toy(500, 6)
    with pytest.raises(ConfigError, match="did you mean 'bkg'"):
        inf.sensitivity(
            score, weight, y, sample_names=["bkg", "sig"], signal=["sig"],
            systematics=[inf.Systematic("n", "normsys", 0.1, ("bkgg",))],
        )  # fmt: skip


@pytest.mark.slow
def test_run_fit_step_and_refit(tmp_path: Path) -> None:
    """A run with fit: writes workspaces and metrics.json sensitivities; ``hepsift fit``
    redoes them with another binning from the saved test scores."""
    import pyhf

    from hepsift.cli import main
    from hepsift.run import run

    rng = np.random.default_rng(7)
    n = 1200
    y = (rng.random(n) < 0.4).astype(int)
    X = rng.normal(size=(n, 3)) + y[:, None] * np.array([1.0, 0.5, 0.0])
    cfg = {
        "name": "fit-toy",
        "data": {
            "inline": {
                "X": X.tolist(),
                "y": y.tolist(),
                "feature_names": ["a", "b", "c"],
                "weight": np.where(y == 1, 0.05, 1.0).tolist(),
            }
        },
        "models": [{"name": "logistic", "family": "logistic"}],
        "evaluation": {"bootstrap": 0, "importance": False},
        "output": {"formats": ["png"], "onnx": False},
        "fit": {
            "enabled": True,
            "max_bins": 4,
            "systematics": [
                {"name": "bkg_norm", "type": "normsys", "rel": 0.1},
                {"name": "a_scale", "type": "feature_scale", "rel": 0.05, "feature": "a",
                 "samples": ["signal", "background"]},
            ],
        },
    }  # fmt: skip
    res = run(cfg, out=tmp_path)
    doc = json.loads((res.path / "metrics.json").read_text())
    sens = doc["models"]["logistic"]["sensitivity"]
    assert sens["z_expected"] > 0 and len(sens["mu_limit_band"]) == 4
    spec = json.loads((res.path / "fits" / "logistic.json").read_text())
    model = pyhf.Workspace(spec).model()
    assert "a_scale" in model.config.parameters
    before = json.loads((res.path / "fits" / "summary.json").read_text())["logistic"]["edges"]
    assert main(["fit", str(res.path), "--set", "fit.max_bins=2"]) == 0
    after = json.loads((res.path / "fits" / "summary.json").read_text())["logistic"]["edges"]
    assert len(after) - 1 <= 2 < len(before) - 1
    doc2 = json.loads((res.path / "metrics.json").read_text())
    assert doc2["models"]["logistic"]["sensitivity"] != sens


@pytest.mark.slow
def test_observed_significance_and_limit_with_data() -> None:
    score, weight, y = _toy(2000, 8)
    rng = np.random.default_rng(9)
    # data: background-like scores, as many as the expected background (~700 events)
    data = rng.beta(2, 4, rng.poisson(float(weight[y == 0].sum())))
    r = inf.sensitivity(
        score, weight, y, sample_names=["bkg", "sig"], signal=["sig"],
        staterror=False, edges=np.array([0.0, 0.5, 1.0]), data_score=data,
    )  # fmt: skip
    s = r.sensitivity
    assert s.z_observed is not None and s.mu_limit_observed is not None
    assert s.z_observed < 2.0  # background-only data: no discovery
    assert s.mu_limit_band[0] <= s.mu_limit_observed <= s.mu_limit_band[3]
    assert r.observed is not None and sum(r.observed) == data.size


def test_limits_above_the_first_mu_range_are_found_not_clipped() -> None:
    """A 20 % background uncertainty in each bin pushes the limit far above the one-bin
    estimate of the mu range: the range widens until the limit is inside it (it was returned
    as the range's edge, 10, for every band), and the limit matches pyhf's own search."""
    import pyhf

    score, weight, y = _toy(2000, 3)
    weight = np.where(y == 1, 0.1, 50.0 * weight)  # ~7e4 background events, ~60 signal
    syst = [inf.Systematic(name="unc", kind="shapesys", rel=0.2, samples=("bkg",))]
    r = inf.sensitivity(
        score, weight, y, sample_names=["bkg", "sig"], signal=["sig"], systematics=syst,
        staterror=False, edges=np.array([0.0, 0.5, 1.0]),
    )  # fmt: skip
    mu_max = r.workspace["measurements"][0]["config"]["parameters"][0]["bounds"][0][1]
    s = r.sensitivity
    assert 10.0 < s.mu_limit_expected < 0.99 * mu_max
    assert s.mu_limit_band[0] < s.mu_limit_expected < s.mu_limit_band[3] < 0.99 * mu_max
    model = pyhf.Workspace(r.workspace).model()
    pars = model.config.suggested_init()
    pars[model.config.poi_index] = 0.0
    _, ref = pyhf.infer.intervals.upper_limits.upper_limit(model.expected_data(pars), model)
    assert s.mu_limit_expected == pytest.approx(float(ref[2]), rel=5e-3)
