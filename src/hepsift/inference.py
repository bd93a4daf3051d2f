"""Binned likelihood fits of classifier-score templates with pyhf (HistFactory).

From score arrays with weights (the test split of a run, or any scored sample) this module
builds a HistFactory model -- one channel, the score histogram of every sample, the signal
samples scaled by the signal strength ``mu`` -- and computes, in the asymptotic approximation
(Cowan, Cranmer, Gross, Vitells, Eur. Phys. J. C 71 (2011) 1554):

* the expected discovery significance ``Z = sqrt(q0)`` on the Asimov data set of ``mu = 1``
  (and the observed one on data);
* the expected 95 % CL upper limit on ``mu`` (CLs) with its -2, -1, +1, +2 sigma band, from the
  Asimov data set of ``mu = 0`` (and the observed limit on data).

The model is written as a pyhf JSON workspace (:func:`workspace`), so any HistFactory tool can
redo the fit.

**Binning** (:func:`choose_binning`): the score range is cut into ``fine_bins`` equal-width
bins; walking down from the highest score, fine bins are merged until the merged bin holds at
least ``min_background_events`` raw background MC events, at least ``min_background`` weighted
background and a relative background MC error ``sqrt(sum w^2) / sum w`` of at most
``max_relative_error``; then a new bin starts. What is left at the low-score end joins the
lowest closed bin. While that gives more than ``max_bins`` bins, the minimum event count is
doubled and the walk redone. The search is a few histogram passes: it costs nothing next to the fits.

**Systematics** (:class:`Systematic`): ``normsys`` (a relative normalisation uncertainty,
correlated across bins, Gaussian constraint), ``shapesys`` (a relative uncertainty uncorrelated
between bins, Poisson constraint: the counting-experiment model behind the Asimov formula with
uncertainty of :func:`hepsift.metrics.asimov_significance`) and ``histosys`` (a shape
variation: the scores of every event under an up and a down variation, e.g. a feature scale).
MC statistical uncertainties enter as pyhf ``staterror`` (Barlow-Beeston lite).

Templates of negative total weight (negative MC weights) are clipped to a tiny positive count:
a Poisson mean cannot be negative.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hepsift.errors import ConfigError, DataError

__all__ = [
    "BinningRule",
    "FitResult",
    "Sensitivity",
    "Systematic",
    "build_spec",
    "choose_binning",
    "expected_limits",
    "expected_z",
    "fit_workspace",
    "sensitivity",
    "workspace",
]

FloatArray = NDArray[np.float64]

#: the smallest expected count of a bin (clipped templates; a Poisson mean must be positive)
TINY = 1e-6
#: the name of the signal-strength parameter
POI = "mu"
SystKind = Literal["normsys", "shapesys", "histosys"]


@dataclass(frozen=True)
class BinningRule:
    """The bin-merging rule of :func:`choose_binning` (see the module docstring)."""

    max_bins: int = 20
    fine_bins: int = 200
    min_background_events: int = 10
    min_background: float = 0.0
    max_relative_error: float = 0.3
    lo: float = 0.0
    hi: float = 1.0

    def __post_init__(self) -> None:
        if self.max_bins < 1 or self.fine_bins < 1:
            raise ConfigError(
                f"fit binning: max_bins and fine_bins must be >= 1; got {self.max_bins}, "
                f"{self.fine_bins}"
            )
        if not (np.isfinite(self.lo) and np.isfinite(self.hi) and self.hi > self.lo):
            raise ConfigError(f"fit binning: need lo < hi; got lo={self.lo}, hi={self.hi}")
        if self.max_relative_error <= 0:
            raise ConfigError(
                f"fit binning: max_relative_error must be > 0; got {self.max_relative_error}"
            )


@dataclass(frozen=True)
class Systematic:
    """One systematic uncertainty of the fit.

    ``samples``: the sample names it acts on; ``"signal"`` and ``"background"`` stand for every
    sample of that class. ``rel``: the relative size (``normsys``, ``shapesys``). ``histosys``
    takes the per-event scores of the up and down variations (``scores_up``/``scores_down``,
    aligned with the events given to :func:`sensitivity`).
    """

    name: str
    kind: SystKind
    rel: float = 0.0
    samples: tuple[str, ...] = ("background",)
    scores_up: FloatArray | None = None
    scores_down: FloatArray | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("normsys", "shapesys", "histosys"):
            raise ConfigError(
                f"systematic '{self.name}': type {self.kind!r} is not one of normsys, "
                "shapesys, histosys"
            )
        if self.kind != "histosys" and not (np.isfinite(self.rel) and 0 < self.rel < 1):
            raise ConfigError(f"systematic '{self.name}': rel must be in (0, 1); got {self.rel!r}")
        if self.kind == "histosys" and (self.scores_up is None or self.scores_down is None):
            raise ConfigError(f"systematic '{self.name}': histosys needs scores_up/scores_down")


@dataclass(frozen=True)
class Sensitivity:
    """Expected (and, with data, observed) significance and 95 % CL upper limit on ``mu``."""

    z_expected: float
    mu_limit_expected: float
    #: the expected limit at -2, -1, +1, +2 sigma
    mu_limit_band: tuple[float, float, float, float]
    z_observed: float | None = None
    mu_limit_observed: float | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "z_expected": self.z_expected,
            "mu_limit_expected": self.mu_limit_expected,
            "mu_limit_band": list(self.mu_limit_band),
        }
        if self.z_observed is not None:
            out["z_observed"] = self.z_observed
            out["mu_limit_observed"] = self.mu_limit_observed
        return out


@dataclass(frozen=True)
class FitResult:
    """A fitted score model: binning, pyhf workspace, sensitivity and yields per sample."""

    edges: FloatArray
    workspace: dict[str, Any]
    sensitivity: Sensitivity
    #: sample -> pre-fit expected counts per bin
    prefit: dict[str, list[float]]
    #: sample -> post-fit counts per bin (fit to data, or to the Asimov data of mu = 1)
    postfit: dict[str, list[float]]
    observed: list[float] | None = None
    mu_hat: float = float("nan")
    notes: list[str] = field(default_factory=list)


# -- binning ---------------------------------------------------------------------------------
def choose_binning(
    score_bkg: ArrayLike, weight_bkg: ArrayLike, rule: BinningRule = BinningRule()
) -> FloatArray:
    """Bin edges for the background scores under ``rule`` (algorithm: module docstring)."""
    s = np.asarray(score_bkg, dtype=np.float64)
    w = np.asarray(weight_bkg, dtype=np.float64)
    fine = np.linspace(rule.lo, rule.hi, rule.fine_bins + 1)
    clipped = np.clip(s, rule.lo, rule.hi)
    n, _ = np.histogram(clipped, bins=fine)
    b, _ = np.histogram(clipped, bins=fine, weights=w)
    v, _ = np.histogram(clipped, bins=fine, weights=w * w)
    cut_at = _merge_from_top(n, b, v, rule, rule.min_background_events)
    need = max(rule.min_background_events, 1)
    while len(cut_at) > rule.max_bins + 1:  # too many bins: ask for more events per bin
        need *= 2
        cut_at = _merge_from_top(n, b, v, rule, need)
    return np.asarray(fine[sorted(cut_at)], dtype=np.float64)


def _merge_from_top(
    n: NDArray[np.int64], b: FloatArray, v: FloatArray, rule: BinningRule, min_events: int
) -> list[int]:
    """Indices into the fine edges where merged bins start, from the top edge down."""
    top = len(n)
    cut_at = [top]
    acc_n, acc_b, acc_v = 0, 0.0, 0.0
    for i in range(top - 1, -1, -1):
        acc_n += int(n[i])
        acc_b += float(b[i])
        acc_v += float(v[i])
        ok = (
            acc_n >= min_events
            and acc_b >= max(rule.min_background, 1e-300)
            and np.sqrt(acc_v) <= rule.max_relative_error * acc_b
        )
        if ok and i > 0:
            cut_at.append(i)
            acc_n, acc_b, acc_v = 0, 0.0, 0.0
    if len(cut_at) > 1 and (acc_n or acc_b):
        cut_at.pop()  # the unfinished low-score rest joins the lowest closed bin
    cut_at.append(0)
    return cut_at


# -- the HistFactory model -------------------------------------------------------------------
def _hist(score: FloatArray, weight: FloatArray | None, edges: FloatArray) -> FloatArray:
    x = np.clip(score, edges[0], edges[-1])
    h, _ = np.histogram(x, bins=edges, weights=weight)
    return np.asarray(h, dtype=np.float64)


def _members(names: Sequence[str], signal: Sequence[str], which: Sequence[str]) -> set[str]:
    out: set[str] = set()
    for w in which:
        if w == "signal":
            out |= set(signal)
        elif w == "background":
            out |= set(names) - set(signal)
        elif w in names:
            out.add(w)
        else:
            import difflib

            near = difflib.get_close_matches(w, list(names), n=1)
            hint = f" (did you mean '{near[0]}'?)" if near else ""
            raise ConfigError(
                f"systematic sample '{w}' is not one of signal, background, "
                f"{', '.join(names)}{hint}"
            )
    return out


def build_spec(
    templates: Mapping[str, tuple[FloatArray, FloatArray]],
    signal: Sequence[str],
    *,
    normsys: Mapping[str, tuple[float, set[str]]] | None = None,
    shapesys: Mapping[str, tuple[float, set[str]]] | None = None,
    histosys: Mapping[str, Mapping[str, tuple[FloatArray, FloatArray]]] | None = None,
    staterror: bool = True,
    channel: str = "score",
) -> dict[str, Any]:
    """The pyhf model specification (``channels``) of the templates.

    ``templates``: sample -> (counts, sum of squared weights) per bin. ``normsys``/``shapesys``:
    name -> (relative size, samples). ``histosys``: name -> sample -> (up counts, down counts).
    """
    samples = []
    for name, (counts, sumw2) in templates.items():
        data = np.maximum(counts, TINY)
        mods: list[dict[str, Any]] = []
        if name in signal:
            mods.append({"name": POI, "type": "normfactor", "data": None})
        if staterror:
            err = np.sqrt(np.maximum(sumw2, 0.0))
            mods.append({"name": f"staterror_{channel}", "type": "staterror", "data": list(err)})
        for sname, (rel, who) in (normsys or {}).items():
            if name in who:
                mods.append(
                    {"name": sname, "type": "normsys", "data": {"hi": 1 + rel, "lo": 1 - rel}}
                )
        for sname, (rel, who) in (shapesys or {}).items():
            if name in who:
                mods.append({"name": sname, "type": "shapesys", "data": list(rel * data)})
        for sname, per_sample in (histosys or {}).items():
            if name in per_sample:
                up, down = per_sample[name]
                mods.append(
                    {
                        "name": sname,
                        "type": "histosys",
                        "data": {
                            "hi_data": list(np.maximum(up, TINY)),
                            "lo_data": list(np.maximum(down, TINY)),
                        },
                    }
                )
        samples.append({"name": name, "data": list(map(float, data)), "modifiers": mods})
    return {"channels": [{"name": channel, "samples": samples}]}


def workspace(
    spec: Mapping[str, Any],
    observed: Sequence[float],
    *,
    mu_max: float = 10.0,
    measurement: str = "hepsift",
) -> dict[str, Any]:
    """A complete pyhf workspace (JSON-ready ``dict``) from a model spec and observed counts."""
    channel = spec["channels"][0]["name"]
    return {
        "channels": spec["channels"],
        "observations": [{"name": channel, "data": [float(x) for x in observed]}],
        "measurements": [
            {
                "name": measurement,
                "config": {
                    "poi": POI,
                    "parameters": [{"name": POI, "bounds": [[0.0, float(mu_max)]]}],
                },
            }
        ],
        "version": "1.0.0",
    }


def fit_workspace(ws: Mapping[str, Any], *, observed: bool = False) -> Sensitivity:
    """Expected (and with ``observed``, observed) significance and CLs limit of a workspace.

    The pyhf calls are the plain ones (:func:`pyhf.infer.test_statistics.q0` on the Asimov
    data of ``mu = 1``; :func:`pyhf.infer.intervals.upper_limits.upper_limit` on the Asimov
    data of ``mu = 0``), so the cost is pyhf's.
    """
    import pyhf

    w = pyhf.Workspace(dict(ws))
    model = w.model()
    return _fit_model(model, w.data(model) if observed else None)


def _asimov(model: Any, mu: float) -> Any:
    pars = model.config.suggested_init()
    pars[model.config.poi_index] = mu
    return model.expected_data(pars)


def _twice_nll_nominal(model: Any, data: Any, mu: float) -> float:
    """``-2 ln L`` at the nominal parameters with ``mu``: the best fit of the Asimov data of
    that ``mu``, so no fit is needed."""
    pars = model.config.suggested_init()
    pars[model.config.poi_index] = mu
    return -2.0 * float(model.logpdf(pars, data)[0])


def _twice_nll_fixed(model: Any, data: Any, mu: float, init: Any = None) -> tuple[float, Any]:
    """``-2 ln L`` of the fit with ``mu`` fixed, and the fitted parameters."""
    import pyhf

    pars, twice_nll = pyhf.infer.mle.fixed_poi_fit(
        mu, data, model, init_pars=init, return_fitted_val=True
    )
    return float(twice_nll), pars


def expected_z(model: Any) -> float:
    """Median discovery significance: ``sqrt(q0)`` on the Asimov data of ``mu = 1`` (one fit:
    the unconditional best fit of Asimov data is its own nominal point)."""
    data = _asimov(model, 1.0)
    q0 = _twice_nll_fixed(model, data, 0.0)[0] - _twice_nll_nominal(model, data, 1.0)
    return float(np.sqrt(max(q0, 0.0)))


def expected_limits(model: Any, *, alpha: float = 0.05, tol: float = 1e-4) -> list[float]:
    """Expected CLs upper limits on ``mu`` at -2, -1, 0, +1, +2 sigma (asymptotic formulae).

    On the Asimov data of ``mu = 0``, ``sigma(mu) = mu / sqrt(q_mu,A)`` and the limit of band
    ``N`` solves ``mu = sigma(mu) (Phi^-1(1 - alpha Phi(N)) + N)`` (Cowan et al. 2011,
    eq. 89); the fixed point is found by iteration, one conditional fit per step. The same
    equations as pyhf's root finding on ``hypotest``'s expected set, with a few fits instead
    of hundreds.
    """
    from scipy.stats import norm

    data = _asimov(model, 0.0)
    nll0 = _twice_nll_nominal(model, data, 0.0)
    hi = float(model.config.suggested_bounds()[model.config.poi_index][1])
    out: list[float] = []
    mu, sigma, init = 1.0, None, None
    for n_sigma in (-2.0, -1.0, 0.0, 1.0, 2.0):
        k = float(norm.ppf(1.0 - alpha * norm.cdf(n_sigma)) + n_sigma)
        if sigma is not None:
            mu = min(k * sigma, hi)  # sigma(mu) varies slowly: start at the last one
        for _ in range(30):
            twice_nll, pars = _twice_nll_fixed(model, data, mu, init)
            init = [float(x) for x in pars]
            sigma = mu / np.sqrt(max(twice_nll - nll0, 1e-12))
            new = min(k * sigma, hi)
            done = abs(new - mu) <= tol * max(mu, 1e-9)
            mu = new
            if done:
                break
        out.append(float(mu))
    return out


def _observed(data: Any, model: Any) -> tuple[float, float]:
    """Observed Z (``q0``) and CLs limit with pyhf's own calls."""
    import pyhf

    init, bounds = model.config.suggested_init(), model.config.suggested_bounds()
    q0 = pyhf.infer.test_statistics.q0(
        0.0, data, model, init, bounds, model.config.suggested_fixed()
    )
    obs, _ = pyhf.infer.intervals.upper_limits.upper_limit(data, model, level=0.05)
    return float(np.sqrt(max(float(q0), 0.0))), float(obs)


def _fit_model(model: Any, data: Any | None) -> Sensitivity:
    z_exp = expected_z(model)
    exp = expected_limits(model)
    band = (exp[0], exp[1], exp[3], exp[4])
    if data is None:
        return Sensitivity(z_exp, exp[2], band)
    z_obs, obs = _observed(data, model)
    return Sensitivity(z_exp, exp[2], band, z_observed=z_obs, mu_limit_observed=obs)


def _mu_max(templates: Mapping[str, tuple[FloatArray, FloatArray]], signal: Sequence[str]) -> float:
    """An upper bound of the mu range safely above the limit (a one-bin estimate, x5)."""
    s = sum(float(np.sum(templates[k][0])) for k in signal)
    b = sum(float(np.sum(c)) for k, (c, _) in templates.items() if k not in signal)
    if s <= 0:
        raise DataError("fit: the signal templates are empty (no signal in the test split?)")
    return float(max(10.0, 5.0 * (2.0 * np.sqrt(max(b, 1.0)) + 3.0) / s))


# -- the whole chain -------------------------------------------------------------------------
def sensitivity(
    score: ArrayLike,
    weight: ArrayLike,
    sample: ArrayLike,
    *,
    sample_names: Sequence[str],
    signal: Sequence[str],
    systematics: Sequence[Systematic] = (),
    staterror: bool = True,
    rule: BinningRule = BinningRule(),
    edges: ArrayLike | None = None,
    data_score: ArrayLike | None = None,
) -> FitResult:
    """Build, write and fit the HistFactory model of scored events.

    ``score``/``weight``/``sample``: per event, the classifier score, the expected-yield weight
    and the sample id (index into ``sample_names``); ``signal``: the names of the signal
    samples (scaled by ``mu``). ``edges`` overrides :func:`choose_binning`. ``data_score``: the
    scores of data events (observed significance and limit); without it the observation
    written into the workspace is the Asimov data of ``mu = 0`` (rounded up to nothing: the
    expected background itself).
    """
    sc = np.asarray(score, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    ids = np.asarray(sample, dtype=np.int64)
    names = list(sample_names)
    unknown = [s for s in signal if s not in names]
    if unknown or not signal:
        raise ConfigError(f"fit: signal samples {list(signal)} must be among {names}")
    is_sig = np.isin(ids, [names.index(s) for s in signal])
    if edges is None:
        e = choose_binning(sc[~is_sig], w[~is_sig], rule)
    else:
        e = np.asarray(edges, dtype=np.float64)
    templates = {
        n: (_hist(sc[ids == i], w[ids == i], e), _hist(sc[ids == i], w[ids == i] ** 2, e))
        for i, n in enumerate(names)
        if np.any(ids == i)
    }
    spec = _spec_with_systematics(templates, signal, systematics, sc, w, ids, names, e, staterror)
    bkg = sum(np.maximum(c, TINY) for k, (c, _) in templates.items() if k not in signal)
    observed = None if data_score is None else _hist(np.asarray(data_score, float), None, e)
    obs = observed if observed is not None else np.asarray(bkg, dtype=np.float64)
    mu_max = _mu_max(templates, signal)
    for _ in range(MU_MAX_WIDENINGS):
        ws = workspace(spec, list(obs), mu_max=mu_max)
        result = _fit(ws, templates, e, observed)
        if _highest_limit(result.sensitivity) < LIMIT_AT_BOUND * mu_max:
            return result
        mu_max *= 10.0  # a limit at the edge of the mu range is the range, not a limit
    return _limits_beyond(result, mu_max / 10.0)


#: the mu range is widened (x10) at most this many times while a limit sits at its edge
MU_MAX_WIDENINGS = 4
#: a limit above this fraction of the upper bound of mu counts as "at the bound"
LIMIT_AT_BOUND = 0.99


def _highest_limit(sens: Sensitivity) -> float:
    limits = [sens.mu_limit_expected, *sens.mu_limit_band]
    if sens.mu_limit_observed is not None:
        limits.append(sens.mu_limit_observed)
    return max(limits)


def _limits_beyond(result: FitResult, mu_max: float) -> FitResult:
    """Limits still at the edge of the widest mu range become ``inf`` (no limit below it)."""
    sens = result.sensitivity

    def cap(x: float) -> float:
        return math.inf if x >= LIMIT_AT_BOUND * mu_max else x

    band = sens.mu_limit_band
    obs = sens.mu_limit_observed
    capped = replace(
        sens,
        mu_limit_expected=cap(sens.mu_limit_expected),
        mu_limit_band=(cap(band[0]), cap(band[1]), cap(band[2]), cap(band[3])),
        mu_limit_observed=None if obs is None else cap(obs),
    )
    note = f"some limits lie above mu = {mu_max:g}, the widest range tried: inf"
    return replace(result, sensitivity=capped, notes=[*result.notes, note])


def _spec_with_systematics(
    templates: Mapping[str, tuple[FloatArray, FloatArray]],
    signal: Sequence[str],
    systematics: Sequence[Systematic],
    sc: FloatArray,
    w: FloatArray,
    ids: NDArray[np.int64],
    names: Sequence[str],
    e: FloatArray,
    staterror: bool,
) -> dict[str, Any]:
    present = list(templates)
    normsys: dict[str, tuple[float, set[str]]] = {}
    shapesys: dict[str, tuple[float, set[str]]] = {}
    histosys: dict[str, dict[str, tuple[FloatArray, FloatArray]]] = {}
    for syst in systematics:
        who = _members(present, signal, syst.samples)
        if syst.kind == "normsys":
            normsys[syst.name] = (syst.rel, who)
        elif syst.kind == "shapesys":
            shapesys[syst.name] = (syst.rel, who)
        else:
            up = np.asarray(syst.scores_up, dtype=np.float64)
            down = np.asarray(syst.scores_down, dtype=np.float64)
            if up.shape != sc.shape or down.shape != sc.shape:
                raise DataError(
                    f"systematic '{syst.name}': {up.shape[0]} up / {down.shape[0]} down scores "
                    f"for {sc.shape[0]} events"
                )
            histosys[syst.name] = {
                n: (_hist(up[ids == names.index(n)], w[ids == names.index(n)], e),
                    _hist(down[ids == names.index(n)], w[ids == names.index(n)], e))
                for n in who
            }  # fmt: skip
    return build_spec(
        templates,
        signal,
        normsys=normsys,
        shapesys=shapesys,
        histosys=histosys,
        staterror=staterror,
    )


def _fit(
    ws: dict[str, Any],
    templates: Mapping[str, tuple[FloatArray, FloatArray]],
    edges: FloatArray,
    observed: FloatArray | None,
) -> FitResult:
    import pyhf

    w = pyhf.Workspace(ws)
    model = w.model()
    data = w.data(model) if observed is not None else None
    sens = _fit_model(model, data)
    fit_data = data if data is not None else _asimov(model, 1.0)
    pars = pyhf.infer.mle.fit(fit_data, model)
    by_sample = model.main_model.expected_data(pars, return_by_sample=True)
    post = {
        n: [float(x) for x in row] for n, row in zip(model.config.samples, by_sample, strict=True)
    }
    pre = {n: [float(x) for x in c] for n, (c, _) in templates.items()}
    return FitResult(
        edges=edges,
        workspace=ws,
        sensitivity=sens,
        prefit=pre,
        postfit=post,
        observed=None if observed is None else [float(x) for x in observed],
        mu_hat=float(pars[model.config.poi_index]),
    )
