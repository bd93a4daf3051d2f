"""The YAML run configuration of ``hepsift run``: pydantic models, loading and checking.

Every section rejects unknown keys. A mistake (unknown key, wrong type, unknown model family,
hyperparameter or feature name, missing path) raises :class:`~hepsift.errors.ConfigError` whose
one-line message names the key path (``models[1].params.max_dpth``), what was given, what is
allowed and the nearest valid name. Nothing is written before the config has been checked.

Shipped configs live in ``configs/`` of the source tree and are packaged as
``hepsift/_configs``; :func:`resolve_config` turns a bare name such as ``higgs-diphoton`` into the
shipped file and a path into itself.
"""

from __future__ import annotations

import inspect
import os
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hepsift.errors import ConfigError, one_line, suggest
from hepsift.features.names import resolve_feature
from hepsift.generate import SCENARIOS, samples_for
from hepsift.io.schema import HEPMASS_COLUMNS
from hepsift.select import PRESETS

__all__ = [
    "DEFAULT_CONFIG",
    "DataConfig",
    "EvaluationConfig",
    "InlineData",
    "ModelConfig",
    "OutputConfig",
    "RunConfig",
    "SampleConfig",
    "SelectionConfig",
    "SplitConfig",
    "TaskConfig",
    "WeightsConfig",
    "apply_overrides",
    "config_dirs",
    "list_configs",
    "load_config",
    "resolve_config",
]

#: The config ``hepsift run`` uses without an argument.
DEFAULT_CONFIG = "higgs-diphoton"


#: names that become folder names: letters, digits, "_", ".", "+", "-"; no leading dot
SAFE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, validate_default=True)


class SampleConfig(_Section):
    """One input sample read from files (ROOT, Parquet or CSV); see
    :class:`hepsift.prepare.SampleSpec` for the meaning of each field."""

    name: str
    paths: list[str] = Field(min_length=1)
    tree: str | None = None
    class_: str | None = Field(default=None, alias="class")
    schema_: str | None = Field(default=None, alias="schema")
    kind: Literal["auto", "mc", "data"] = "auto"
    kfactor: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    xsec_pb: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    sum_weights: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    label_branch: str | None = None
    labels: dict[str | int | float, str | int] | None = None
    weight_branch: str | None = None
    param: float | None = None
    param_branch: str | None = None
    entry_stop: int | None = Field(default=None, gt=0)


class InlineData(_Section):
    """A tiny table written in the config itself (e.g. the NAND truth table)."""

    feature_names: list[str] = Field(min_length=1)
    X: list[list[float]] = Field(min_length=1)
    y: list[int]
    weight: list[float] | None = None
    class_names: list[str] = Field(default_factory=lambda: ["background", "signal"])

    @model_validator(mode="after")
    def _shapes(self) -> InlineData:
        if len(self.y) != len(self.X):
            raise ValueError(f"y has {len(self.y)} entries for {len(self.X)} rows of X")
        widths = {len(r) for r in self.X}
        if widths != {len(self.feature_names)}:
            raise ValueError(
                f"every row of X needs {len(self.feature_names)} values; got widths {sorted(widths)}"
            )
        if self.weight is not None and len(self.weight) != len(self.X):
            raise ValueError(f"weight has {len(self.weight)} entries for {len(self.X)} rows")
        return self


class DataConfig(_Section):
    """Where events come from: a generated ``scenario``, files (``samples``) or ``inline`` rows."""

    scenario: str | None = None
    events: int = Field(default=20000, gt=0, description="events generated per sample")
    events_per_sample: dict[str, int] = Field(
        default_factory=dict, description="sample name -> events, overriding 'events'"
    )
    cache: str = ".hepsift-cache"
    workers: int = Field(default=1, ge=1)
    samples: list[SampleConfig] | None = None
    inline: InlineData | None = None

    @model_validator(mode="after")
    def _one_source(self) -> DataConfig:
        given = [k for k in ("scenario", "samples", "inline") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of 'scenario', 'samples' or 'inline'"
                + (f" (got {given})" if given else "")
            )
        return self


class SelectionConfig(_Section):
    """A named selection preset (e.g. ``hgamgam``) and/or extra cuts on feature columns."""

    preset: str | None = None
    cuts: list[str | dict[str, str]] = Field(default_factory=list)


class SplitConfig(_Section):
    """Train/validation/test fractions; ``[1.0]`` trains and tests on the same events."""

    fractions: list[float] = Field(default_factory=lambda: [0.6, 0.2, 0.2])
    by: Literal["random", "event_number"] = "random"

    @model_validator(mode="after")
    def _fractions(self) -> SplitConfig:
        f = self.fractions
        if len(f) not in (1, 2, 3) or any(x <= 0 for x in f) or abs(sum(f) - 1.0) > 1e-6:
            raise ValueError(
                f"fractions must be 1 to 3 positive numbers (train, [validation], test) summing "
                f"to 1; got {f}"
            )
        return self


class ReweightConfig(_Section):
    """Training-only reweighting of ``variable`` (a column or feature name) so that every
    other class has the spectrum of class ``to`` in ``bins`` (edges); see
    :mod:`hepsift.prepare.reweight`."""

    variable: str
    to: str = "signal"
    bins: list[float] = Field(min_length=2)


class WeightsConfig(_Section):
    """Event weights: luminosity (fb^-1), and for *training* only the negative-weight policy
    (``abs`` by default: gradient boosting rejects negative weights), class balancing and an
    optional spectrum reweighting. Evaluation always uses the signed physics weights."""

    lumi_fb: float = Field(default=36.1, gt=0)
    negative: Literal["keep", "abs", "drop"] = "abs"
    balance: bool = True
    reweight: ReweightConfig | None = None


class TaskConfig(_Section):
    """``binary`` (the last class is the signal) or ``multiclass``; ``classes`` maps class name
    to the sample names (or sample-name prefixes) it holds, in order.

    ``regression``: the models (regressor families) learn the calibration factor
    ``target / reference`` (e.g. truth_pt / pt) from the features; the run reports the
    resolution (sigma_68 of reference/target) before and after and the response vs ``bins``
    (column -> bin edges). ``classes`` may then name a single class (the samples to use)."""

    type: Literal["binary", "multiclass", "regression"] = "binary"
    classes: dict[str, list[str]] | None = None
    target: str | None = None
    reference: str | None = None
    bins: dict[str, list[float]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _classes(self) -> TaskConfig:
        if self.type == "regression" and (self.target is None or self.reference is None):
            raise ValueError(
                "a regression task needs 'target' (the true value, e.g. truth_pt) and "
                "'reference' (its uncalibrated measurement, e.g. pt)"
            )
        if self.type != "regression" and (self.target or self.reference or self.bins):
            raise ValueError("'target', 'reference' and 'bins' belong to task type regression")
        if self.classes is not None:
            if len(self.classes) < (1 if self.type == "regression" else 2):
                raise ValueError(f"needs at least two classes; got {list(self.classes)}")
            if self.type == "binary" and len(self.classes) != 2:
                raise ValueError(
                    f"a binary task has exactly two classes (background, signal); got "
                    f"{list(self.classes)}"
                )
        return self


class ModelConfig(_Section):
    """One model to train: a unique ``name``, a registry ``family`` and its hyperparameters."""

    name: str = Field(pattern=SAFE_NAME)  # becomes models/<name>/: no path separators
    family: str
    params: dict[str, Any] = Field(default_factory=dict)


class EvaluationConfig(_Section):
    """How the models are judged on the test split."""

    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    bootstrap: int = Field(default=200, ge=0, le=100_000)  # resamples; more is a typo
    working_points: list[float] = Field(default_factory=lambda: [0.5, 0.8, 0.9])
    ks_alpha: float = Field(default=0.05, gt=0.0, lt=1.0)
    importance: bool = True
    importance_repeats: int = Field(default=2, ge=1)
    importance_events: int = Field(default=5000, ge=10)
    significance_bins: int = Field(default=100, ge=2)

    @model_validator(mode="after")
    def _wps(self) -> EvaluationConfig:
        bad = [w for w in self.working_points if not 0.0 < w <= 1.0]
        if bad:
            raise ValueError(f"working_points are signal efficiencies in (0, 1]; got {bad}")
        return self


PlotFormat = Literal["png", "pdf", "svg"]


def _default_formats() -> list[PlotFormat]:
    return ["png", "pdf"]


class OutputConfig(_Section):
    """Where the run folder goes and what it holds."""

    dir: str = "runs"
    formats: list[PlotFormat] = Field(default_factory=_default_formats)
    onnx: bool = True
    dpi: int = Field(default=100, ge=30, le=600)
    # 1 by default: spawned workers pay ~4 s start-up (torch/XGBoost re-imported) and drew a
    # run's figures no faster than one process on 2 cores (report/figures.py)
    workers: int = Field(default=1, ge=1, description="processes drawing the figures")


class StudyConfig(_Section):
    """An optional study run after training (``pnn``: parametric NN, AUC vs mass)."""

    kind: Literal["pnn"]
    masses_gev: list[float] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)


class ObjectsConfig(_Section):
    """Object inputs of set models (:func:`hepsift.features.objects.build_objects`):
    ``collections`` name -> slots (photon, jet, lep, met), optional per-collection ``fields``
    and the ``reference`` collection eta/phi are taken relative to (null: absolute)."""

    collections: dict[str, int] = Field(min_length=1)
    fields: dict[str, list[str]] = Field(default_factory=dict)
    reference: str | None = "photon"

    @model_validator(mode="after")
    def _known(self) -> ObjectsConfig:
        from hepsift.features.objects import check_object_spec

        check_object_spec(self.collections, self.fields or None)
        return self


class RunConfig(_Section):
    """A full ``hepsift run`` configuration (see the shipped ``configs/*.yaml``)."""

    name: str = Field(pattern=SAFE_NAME)  # becomes runs/<name>-<time>/
    description: str = ""
    seed: int = Field(default=42, ge=0, le=2**32 - 1)  # NumPy seeds are non-negative
    data: DataConfig
    selection: SelectionConfig = Field(default_factory=SelectionConfig)
    features: list[str] = Field(default_factory=list)
    objects: ObjectsConfig | None = None  # object inputs for set models (deepsets)
    scaling: Literal["standard", "robust", "none"] = "standard"
    #: missing feature values (absent objects, NaN, the -999 sentinel): ``fill`` with 0, or
    #: ``keep`` them as NaN for models that take missing values (bdt; not scaled)
    missing: Literal["fill", "keep"] = "fill"
    #: with ``missing: keep``: how the other families get values (per column, learned on the
    #: training split, saved in the model and its ONNX graph); None: only bdt is allowed
    impute: Literal["median", "mean", "zero"] | None = None
    split: SplitConfig = Field(default_factory=SplitConfig)
    weights: WeightsConfig = Field(default_factory=WeightsConfig)
    task: TaskConfig = Field(default_factory=TaskConfig)
    models: list[ModelConfig] = Field(min_length=1)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    study: StudyConfig | None = None

    @model_validator(mode="after")
    def _unique_names(self) -> RunConfig:
        seen: set[str] = set()
        for m in self.models:
            if m.name in seen:
                raise ValueError(f"model name '{m.name}' is used twice; names must be unique")
            seen.add(m.name)
        return self

    def resolved(self) -> dict[str, Any]:
        """The fully resolved config (every default filled in) as plain YAML-able data."""
        return self.model_dump(mode="json", by_alias=True)


# -- locating configs ------------------------------------------------------------------------


def config_dirs() -> list[Path]:
    """Where shipped configs live: the source tree's ``configs/`` and the packaged copy."""
    here = Path(__file__).resolve().parent
    dirs = [here / "_configs", here.parents[1] / "configs"]
    return [d for d in dirs if d.is_dir()]


def list_configs() -> dict[str, Path]:
    """Shipped config names -> files."""
    found: dict[str, Path] = {}
    for d in config_dirs():
        for p in sorted(d.glob("*.yaml")):
            found.setdefault(p.stem, p)
    return dict(sorted(found.items()))


def resolve_config(name_or_path: str | os.PathLike[str] | None) -> Path:
    """A config file from a shipped name (``higgs-diphoton``) or a path; ConfigError otherwise."""
    if name_or_path is None:
        name_or_path = DEFAULT_CONFIG
    if not isinstance(name_or_path, str | os.PathLike):
        raise ConfigError(
            f"config must be a shipped name, a YAML path or a mapping; got "
            f"{type(name_or_path).__name__}"
        )
    text = os.fspath(name_or_path)
    path = Path(text)
    if path.is_file():
        return path
    shipped = list_configs()
    stem = path.name.removesuffix(".yaml").removesuffix(".yml")
    if (os.sep not in text and "/" not in text) and stem in shipped:
        return shipped[stem]
    raise ConfigError(
        f"config '{text}' is neither a file nor a shipped config{suggest(stem, shipped)} "
        f"(shipped: {', '.join(shipped) or 'none'})"
    )


# -- overrides -------------------------------------------------------------------------------


def _parse_scalar(text: str) -> Any:
    from hepsift._yaml import load_yaml_text

    try:
        return load_yaml_text(text)
    except ConfigError:
        return text


def apply_overrides(raw: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``key.path=value`` overrides (``models[0].params.epochs=2``) to raw config data.

    Values are parsed as YAML scalars/flow collections. The key path must lead into existing
    sections or list entries; a new leaf key is allowed (validation then judges it).
    """
    import copy
    import re

    out = copy.deepcopy(raw)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override '{item}' is not of the form key.path=value")
        tokens: list[str | int] = []
        for part in key.strip().split("."):
            m = re.fullmatch(r"([A-Za-z_][\w-]*)((?:\[\d+\])*)", part)
            if not m:
                raise ConfigError(f"override key '{key}' has an invalid part '{part}'")
            tokens.append(m.group(1))
            tokens.extend(int(i) for i in re.findall(r"\[(\d+)\]", m.group(2)))
        node: Any = out
        for i, tok in enumerate(tokens[:-1]):
            where = _format_loc(tokens[: i + 1])
            if isinstance(tok, int):
                if not isinstance(node, list) or tok >= len(node):
                    size = len(node) if isinstance(node, list) else 0
                    raise ConfigError(
                        f"override '{key}': '{where}' has no entry {tok} (size {size})"
                    )
                node = node[tok]
            else:
                if not isinstance(node, dict):
                    raise ConfigError(
                        f"override '{key}': '{_format_loc(tokens[:i])}' is not a section"
                    )
                node = node.setdefault(tok, {})
        last = tokens[-1]
        if isinstance(last, int):
            if not isinstance(node, list) or last >= len(node):
                raise ConfigError(f"override '{key}': no list entry {last}")
            node[last] = _parse_scalar(value)
        else:
            if not isinstance(node, dict):
                raise ConfigError(
                    f"override '{key}': '{_format_loc(tokens[:-1])}' is not a section"
                )
            node[last] = _parse_scalar(value)
    return out


# -- validation errors -> ConfigError ----------------------------------------------------------


def _format_loc(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "<top level>"


def _unwrap(annotation: Any) -> list[Any]:
    """The candidate types inside Optional/Union/list/dict annotations."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        out: list[Any] = []
        for a in typing.get_args(annotation):
            if a is not type(None):
                out.extend(_unwrap(a))
        return out
    return [annotation]


def _fields_at(loc: Sequence[str | int], root: type[BaseModel] = RunConfig) -> list[str] | None:
    """Allowed keys of the section at ``loc`` of ``root`` (aliases where they exist), or None."""
    current: Any = root
    for part in loc:
        candidates = _unwrap(current)
        nxt: Any = None
        for cand in candidates:
            origin = typing.get_origin(cand)
            if isinstance(part, int) and origin in (list, tuple, Sequence):
                nxt = typing.get_args(cand)[0]
                break
            if isinstance(part, str) and origin in (dict, Mapping):
                nxt = typing.get_args(cand)[1]
                break
            if isinstance(part, str) and isinstance(cand, type) and issubclass(cand, BaseModel):
                for fname, field in cand.model_fields.items():
                    if part in (fname, field.alias):
                        nxt = field.annotation
                        break
                if nxt is not None:
                    break
        if nxt is None:
            return None
        current = nxt
    for cand in _unwrap(current):
        if isinstance(cand, type) and issubclass(cand, BaseModel):
            return [f.alias or n for n, f in cand.model_fields.items()]
    return None


def config_error(
    exc: ValidationError, source: str, *, root: type[BaseModel] = RunConfig
) -> ConfigError:
    """The first problem of a pydantic validation of ``root`` as one line, with the nearest key."""
    err = exc.errors()[0]
    given = one_line(repr(err.get("input")), 83)  # bounded: the input may be a huge value
    loc = [p for p in err["loc"] if isinstance(p, str | int)]
    where = _format_loc(loc)
    etype = err["type"]
    if etype == "extra_forbidden":
        allowed = _fields_at(loc[:-1], root) or []
        key = str(loc[-1])
        msg = (
            f"unknown key '{where}'{suggest(key, allowed)} "
            f"(allowed here: {', '.join(allowed) or 'none'})"
        )
    elif etype == "missing":
        msg = f"missing required key '{where}'"
    elif etype == "literal_error":
        msg = f"'{where}': {err['msg']}; got {given}"
        given = err.get("input")
        expected = (err.get("ctx") or {}).get("expected", "")
        choices = [c.strip().strip("'") for c in str(expected).replace(" or ", ",").split(",")]
        if isinstance(given, str):
            msg += suggest(given, [c for c in choices if c])
    else:
        msg = f"'{where}': {err['msg']}; got {given}"
    more = len(exc.errors()) - 1
    if more:
        msg += f" (and {more} more problem{'s' if more > 1 else ''})"
    return ConfigError(f"{source}: {msg}")


# -- semantic checks ---------------------------------------------------------------------------


def _safe_class(name: str) -> Any:
    """The class of a registered family, or None when its optional extra is not installed."""
    from hepsift.models.registry import model_class

    try:
        return model_class(name)
    except ImportError:
        return None


def _check_models(cfg: RunConfig, source: str) -> None:
    from hepsift.models.base import Classifier
    from hepsift.models.params import check_params
    from hepsift.models.registry import MODELS, hyperparameters, model_class

    for i, m in enumerate(cfg.models):
        if m.family not in MODELS:
            raise ConfigError(
                f"{source}: 'models[{i}].family' is '{m.family}'{suggest(m.family, MODELS)} "
                f"(known families: {', '.join(sorted(MODELS))})"
            )
        try:
            allowed = hyperparameters(m.family)
            cls = model_class(m.family)
        except ImportError as exc:  # a family whose optional dependency is absent
            raise ConfigError(
                f"{source}: 'models[{i}].family' '{m.family}' cannot be imported: {exc}"
            ) from None
        if cfg.task.type == "regression":
            if issubclass(cls, Classifier):
                regressors = [n for n in MODELS if n.endswith("-regressor")]
                raise ConfigError(
                    f"{source}: 'models[{i}].family' '{m.family}' is a classifier; a regression "
                    f"task trains regressors (families: {', '.join(sorted(regressors))})"
                )
        elif not issubclass(cls, Classifier):
            classifiers = [n for n in MODELS if not n.endswith("-regressor") and n != "pnn"]
            raise ConfigError(
                f"{source}: 'models[{i}].family' '{m.family}' is a regressor; a run trains "
                f"classifiers (families: {', '.join(sorted(classifiers))})"
            )
        if cfg.missing == "keep" and cfg.impute is None and not getattr(cls, "allows_nan", False):
            takers = sorted(n for n in MODELS if getattr(_safe_class(n), "allows_nan", False))
            raise ConfigError(
                f"{source}: 'missing' is 'keep' but 'models[{i}].family' '{m.family}' cannot "
                f"take missing values (families that can: {', '.join(takers)}); set "
                "'impute: median' (or mean, zero) or use 'missing: fill' (0 for missing values)"
            )
        if getattr(cls, "parametric", False):
            raise ConfigError(
                f"{source}: 'models[{i}].family' '{m.family}' is parametric (it needs the mass "
                "of every event); run it through the 'study:' section (kind: pnn), as "
                "configs/resonance-pnn.yaml does"
            )
        for key in m.params:
            if key not in allowed:
                raise ConfigError(
                    f"{source}: unknown key 'models[{i}].params.{key}'{suggest(key, allowed)} "
                    f"(hyperparameters of '{m.family}': {', '.join(allowed)})"
                )
        check_params(m.family, m.params, where=f"{source}: 'models[{i}]' ({m.family})")


def _resolve_paths(cfg: RunConfig, source: str, base: Path) -> RunConfig:
    """Sample paths made absolute: a relative one is relative to ``base``, the config file's
    folder (the current folder for a mapping), as in ``hepsift tune``; missing files are a
    ConfigError (globs and URLs are checked when read)."""
    if cfg.data.samples is None:
        return cfg
    samples = []
    for i, s in enumerate(cfg.data.samples):
        resolved = []
        for j, p in enumerate(s.paths):
            remote = "://" in p
            path = Path(p) if remote or Path(p).is_absolute() else base / p
            if not path.exists() and not any(ch in p for ch in "*?[") and not remote:
                hint = ""
                if (Path.cwd() / p).exists() and base != Path.cwd():
                    hint = (
                        f"; paths are relative to the config file's folder, and '{p}' exists "
                        "only relative to the current folder: give it relative to the config "
                        "or absolute"
                    )
                raise ConfigError(
                    f"{source}: 'data.samples[{i}].paths[{j}]' '{p}' does not exist "
                    f"(resolved to {path}){hint}"
                )
            resolved.append(p if remote else str(path))
        samples.append(s.model_copy(update={"paths": resolved}))
    data = cfg.data.model_copy(update={"samples": samples})
    return cfg.model_copy(update={"data": data})


def _check_task(cfg: RunConfig, source: str) -> None:
    if cfg.data.inline is not None:
        names = cfg.data.inline.class_names
        if cfg.task.type == "binary" and len(names) != 2:
            raise ConfigError(
                f"{source}: 'data.inline.class_names' needs 2 names for a binary task; got {names}"
            )


def _check_selection(cfg: RunConfig, source: str) -> None:
    preset = cfg.selection.preset
    if preset is None:
        return
    if preset not in PRESETS and not preset.endswith((".yaml", ".yml")):
        raise ConfigError(
            f"{source}: 'selection.preset' is '{preset}'{suggest(preset, PRESETS)} "
            f"(presets: {', '.join(PRESETS)})"
        )


#: Branches (columns) each generated scenario writes (docs: SCENARIOS.md), for checking
#: feature names before anything runs. Scenarios not listed are checked when read.
SCENARIO_BRANCHES: dict[str, tuple[str, ...]] = {
    "higgs-diphoton": (
        "runNumber", "eventNumber", "channelNumber", "mcWeight", "scaleFactor_PHOTON",
        "scaleFactor_PhotonTRIGGER", "scaleFactor_PILEUP", "XSection", "SumWeights", "trigP",
        "photon_n", "photon_pt", "photon_eta", "photon_phi", "photon_E", "photon_isTightID",
        "photon_ptcone30", "photon_etcone20", "jet_n", "jet_pt", "jet_eta", "jet_phi", "jet_E",
        "jet_MV2c10", "lep_n", "lep_pt", "lep_eta", "lep_phi", "lep_E", "lep_charge",
        "lep_type", "lep_ptcone30", "lep_etcone20", "met_et", "met_phi",
        "photon_convType", "jet_trueflav", "lep_isTightID",
    ),
    "photon-id": (
        "pt", "eta", "phi", "Rhad", "weta2", "etcone20", "ptcone20", "ptcone30",
        "n_tracks_in_cone", "isTightID", "convType", "label", "weight", "event_number", "sample",
        "truth_pt", "truth_E",
    ),
}  # fmt: skip


def _scenario_branches(scenario: str) -> tuple[str, ...] | None:
    if scenario in SCENARIO_BRANCHES:
        return SCENARIO_BRANCHES[scenario]
    if scenario == "resonance-ttbar":
        return tuple(HEPMASS_COLUMNS)
    return None


def _columns_read(cfg: RunConfig) -> list[tuple[str, str]]:
    """(key path, column) of every column the run reads: features, and for a regression task
    its target, reference and binned columns."""
    out = [(f"features[{i}]", f) for i, f in enumerate(cfg.features)]
    if cfg.task.type == "regression":
        out += [
            ("task.target", cfg.task.target or ""),
            ("task.reference", cfg.task.reference or ""),
        ]
        out += [(f"task.bins.{k}", k) for k in cfg.task.bins]
    return out


def _check_features(cfg: RunConfig, source: str) -> None:
    """Check feature names against what the data source provides, when that is known now."""
    if cfg.data.inline is not None:
        known = list(cfg.data.inline.feature_names)
        for key, f in _columns_read(cfg):
            if f not in known:
                raise ConfigError(
                    f"{source}: unknown feature '{key}' '{f}'{suggest(f, known)} "
                    f"(available: {', '.join(known)})"
                )
        return
    branches = None if cfg.data.scenario is None else _scenario_branches(cfg.data.scenario)
    if branches is None:
        return
    for key, f in _columns_read(cfg):
        try:
            resolve_feature(f, branches, where=key)
        except ConfigError as exc:
            msg = str(exc).removeprefix(f"{key}: ").removeprefix("features: ")
            raise ConfigError(f"{source}: '{key}': {msg}") from None


def _check_generated_samples(cfg: RunConfig, source: str) -> None:
    if cfg.data.scenario is None:
        return
    if cfg.data.scenario not in SCENARIOS:
        raise ConfigError(
            f"{source}: 'data.scenario' is '{cfg.data.scenario}'"
            f"{suggest(cfg.data.scenario, SCENARIOS)} (scenarios: {', '.join(SCENARIOS)})"
        )
    masses = cfg.study.masses_gev if cfg.study is not None and cfg.study.masses_gev else None
    names = [s.name for s in samples_for(cfg.data.scenario, masses)]
    for key, n in cfg.data.events_per_sample.items():
        if key not in names:
            raise ConfigError(
                f"{source}: unknown key 'data.events_per_sample.{key}'{suggest(key, names)} "
                f"(samples of '{cfg.data.scenario}': {', '.join(names)})"
            )
        if n <= 0:
            raise ConfigError(f"{source}: 'data.events_per_sample.{key}' must be > 0; got {n}")


def _check_study(cfg: RunConfig, source: str) -> None:
    if cfg.study is None or not cfg.study.params:
        return
    from hepsift.studies.pnn import study

    allowed = [
        p.name
        for p in inspect.signature(study).parameters.values()
        if p.kind is p.KEYWORD_ONLY and p.name not in ("masses", "seed", "out", "log")
    ]
    for key in cfg.study.params:
        if key not in allowed:
            raise ConfigError(
                f"{source}: unknown key 'study.params.{key}'{suggest(key, allowed)} "
                f"(allowed: {', '.join(allowed)})"
            )


def load_config(
    name_or_path: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    *,
    overrides: Sequence[str] = (),
    check_models: bool = True,
) -> RunConfig:
    """Read, override (``key.path=value``) and fully check a run config.

    ``name_or_path`` is a shipped config name, a YAML file, a mapping, or None (the default
    config). Raises :class:`ConfigError` naming the offending key path on any mistake.
    """
    from hepsift._yaml import load_yaml_file

    base = Path.cwd()
    if isinstance(name_or_path, Mapping):
        raw: Any = dict(name_or_path)
        source = "config"
    else:
        path = resolve_config(name_or_path)
        source = str(path)
        base = path.resolve().parent
        raw = load_yaml_file(path, "run config")
        if not isinstance(raw, dict):
            raise ConfigError(f"{source}: the top level must be a mapping of sections")
        raw.setdefault("name", path.stem)
    raw = apply_overrides(raw, overrides)
    try:
        cfg = RunConfig.model_validate(raw)
    except ValidationError as exc:
        raise config_error(exc, source) from None
    cfg = _resolve_paths(cfg, source, base)
    _check_task(cfg, source)
    _check_selection(cfg, source)
    _check_features(cfg, source)
    if check_models:
        _check_models(cfg, source)
    _check_study(cfg, source)
    _check_generated_samples(cfg, source)
    return cfg
