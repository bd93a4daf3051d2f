"""A table-driven battery of bad inputs: every one is one line and exit 2, or a HepsiftError.

Command-line cases run the real entry point (:func:`hepsift.cli.main`) in-process with argv and
assert: exit code 2, exactly one stderr line of fewer than 300 characters, no "Traceback", and
nothing changed in the working folder (its files snapshotted before and after). A few run as
real subprocesses too (``python -m hepsift.cli``), to prove the in-process harness gives what a
shell sees. Python API cases assert a :class:`~hepsift.errors.HepsiftError` subclass with a
one-line message under 300 characters.

Every case must fail before any expensive work starts (no generation, no training), so the
whole battery stays fast.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hepsift.cli import main
from hepsift.errors import HepsiftError

SRC = Path(__file__).resolve().parents[1] / "src"
MAX_LINE = 300

DEEP = "(" * 20_000 + "x" + ")" * 20_000
NAND: dict[str, Any] = {
    "name": "nand",
    "seed": 1,
    "data": {
        "inline": {
            "feature_names": ["x1", "x2"],
            "X": [[0, 0], [0, 1], [1, 0], [1, 1]],
            "y": [1, 1, 1, 0],
        }
    },
    "scaling": "none",
    "split": {"fractions": [1.0]},
    "weights": {"balance": False},
    "models": [{"name": "logistic", "family": "logistic", "params": {"C": 10000.0}}],
    "evaluation": {"bootstrap": 5, "importance": False},
}
TUNE: dict[str, Any] = {
    "model": "logistic",
    "space": {"C": {"type": "float", "low": 0.1, "high": 10.0, "log": True}},
    "trials": 2,
    "data": {"path": "toy.csv", "label": "label", "features": ["f0", "f1"]},
}


def _with(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``base`` with ``a.b.c`` set to ``value`` (``...=DELETE`` removes it)."""
    import copy

    out = copy.deepcopy(base)
    node = out
    *parents, last = path.split(".")
    for key in parents:
        node = node[key]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return out


_DELETE = object()

#: YAML files of the workspace: name -> content (str: YAML text of it; bytes: written raw)
RUN_CONFIGS: dict[str, Any] = {
    "cfg-seed-str.yaml": _with(NAND, "seed", "abc"),
    "cfg-seed-neg.yaml": _with(NAND, "seed", -1),
    "cfg-data-list.yaml": _with(NAND, "data", [1, 2]),
    "cfg-models-map.yaml": _with(NAND, "models", {"a": 1}),
    "cfg-models-empty.yaml": _with(NAND, "models", []),
    "cfg-params-list.yaml": _with(
        NAND, "models", [{"name": "m", "family": "logistic", "params": [1]}]
    ),
    "cfg-C-str.yaml": _with(
        NAND, "models", [{"name": "m", "family": "logistic", "params": {"C": "big"}}]
    ),
    "cfg-C-neg.yaml": _with(
        NAND, "models", [{"name": "m", "family": "logistic", "params": {"C": -1.0}}]
    ),
    "cfg-bdt-depth.yaml": _with(
        NAND, "models", [{"name": "m", "family": "bdt", "params": {"max_depth": "abc"}}]
    ),
    "cfg-bdt-nest0.yaml": _with(
        NAND, "models", [{"name": "m", "family": "bdt", "params": {"n_estimators": 0}}]
    ),
    "cfg-mlp-lr-str.yaml": _with(
        NAND, "models", [{"name": "m", "family": "mlp", "params": {"lr": "1e-3"}}]
    ),
    "cfg-mlp-hidden.yaml": _with(
        NAND, "models", [{"name": "m", "family": "mlp", "params": {"hidden": "big"}}]
    ),
    "cfg-family.yaml": _with(NAND, "models", [{"name": "m", "family": "bdtt"}]),
    "cfg-model-name.yaml": _with(NAND, "models", [{"name": "../x", "family": "logistic"}]),
    "cfg-name-markup.yaml": _with(NAND, "name", "[bold]x[/"),
    "cfg-unknown.yaml": _with(NAND, "evalutaion", {}),
    "cfg-split-str.yaml": _with(NAND, "split.fractions", "0.5"),
    "cfg-threshold.yaml": _with(NAND, "evaluation.threshold", 2.0),
    "cfg-bootstrap-str.yaml": _with(NAND, "evaluation.bootstrap", "many"),
    "cfg-lumi.yaml": _with(NAND, "weights.lumi_fb", -1.0),
    "cfg-negative.yaml": _with(NAND, "weights.negative", "flip"),
    "cfg-scaling.yaml": _with(NAND, "scaling", "minmax"),
    "cfg-features-map.yaml": _with(NAND, "features", {"a": 1}),
    "cfg-X-str.yaml": _with(NAND, "data.inline.X", "abc"),
    "cfg-y-str.yaml": _with(NAND, "data.inline.y", ["a", "b", "c", "d"]),
    "cfg-no-data.yaml": _with(NAND, "data", _DELETE),
    "cfg-events-str.yaml": {**NAND, "data": {"scenario": "photon-id", "events": "lots"}},
    "cfg-events-zero.yaml": {**NAND, "data": {"scenario": "photon-id", "events": 0}},
    "cfg-scenario.yaml": {**NAND, "data": {"scenario": "higgs-diphotn", "events": 10}},
    "cfg-sample-missing.yaml": {
        **NAND,
        "data": {"samples": [{"name": "s", "paths": ["nope.root"], "class": "signal"}]},
    },
    "cfg-sample-paths-str.yaml": {
        **NAND,
        "data": {"samples": [{"name": "s", "paths": 3, "class": "signal"}]},
    },
    "cfg-sample-entry-stop.yaml": {
        **NAND,
        "data": {"samples": [{"name": "s", "paths": ["toy.root"], "entry_stop": -1}]},
    },
    "cfg-sample-kfactor.yaml": {
        **NAND,
        "data": {"samples": [{"name": "s", "paths": ["toy.root"], "kfactor": "x"}]},
    },
    "cfg-toplevel-list.yaml": "[1, 2, 3]\n",
    "cfg-empty.yaml": "",
    "cfg-invalid.yaml": "name: [1\n",
    "cfg-tabs.yaml": "name:\n\t- x\n",
}
TUNE_CONFIGS: dict[str, Any] = {
    "tune-trials-str.yaml": _with(TUNE, "trials", "abc"),
    "tune-trials-zero.yaml": _with(TUNE, "trials", 0),
    "tune-space-list.yaml": _with(TUNE, "space", [1, 2]),
    "tune-params-list.yaml": _with(TUNE, "params", [1, 2]),
    "tune-data-list.yaml": _with(TUNE, "data", [1]),
    "tune-features-str.yaml": _with(TUNE, "data.features", "f0"),
    "tune-model-list.yaml": _with(TUNE, "model", ["logistic"]),
    "tune-model-unknown.yaml": _with(TUNE, "model", "logistik"),
    "tune-model-regressor.yaml": _with(TUNE, "model", "bdt-regressor"),
    "tune-params-str.yaml": _with(TUNE, "params", {"max_iter": "abc"}),
    "tune-params-range.yaml": _with(TUNE, "params", {"max_iter": 0}),
    "tune-params-unknown.yaml": _with(TUNE, "params", {"max_itr": 5}),
    "tune-low-str.yaml": _with(TUNE, "space.C.low", "a"),
    "tune-low-high.yaml": _with(TUNE, "space.C.low", 100.0),
    "tune-log-zero.yaml": _with(TUNE, "space.C.low", 0.0),
    "tune-high-inf.yaml": "model: logistic\nspace: {C: {type: float, low: 0.1, high: .inf}}\n"
    "data: {path: toy.csv, label: label, features: [f0, f1]}\n",
    "tune-type.yaml": _with(TUNE, "space.C.type", "number"),
    "tune-space-range.yaml": _with(
        TUNE, "space", {"C": {"type": "float", "low": -2.0, "high": -1.0}}
    ),
    "tune-choices.yaml": {
        **TUNE,
        "model": "mlp",
        "space": {"hidden": {"type": "categorical", "choices": [[0], [8]]}},
    },
    "tune-int-float.yaml": {
        **TUNE,
        "model": "bdt",
        "space": {"max_depth": {"type": "int", "low": 1.5, "high": 4}},
    },
    "tune-seed.yaml": _with(TUNE, "seed", -1),
    "tune-fraction.yaml": _with(TUNE, "data.validation_fraction", 1.5),
    "tune-no-data.yaml": _with(TUNE, "data", _DELETE),
    "tune-data-missing.yaml": _with(TUNE, "data.path", "nope.csv"),
    "tune-label-missing.yaml": _with(TUNE, "data.label", "lable"),
    "tune-toplevel.yaml": "- 1\n- 2\n",
    "tune-invalid.yaml": "model: [\n",
    "tune-feature-strings.yaml": _with(TUNE, "data.path", "strings.csv"),
    "tune-label-strings.yaml": _with(TUNE, "data.path", "label-strings.csv"),
    "tune-label-fraction.yaml": _with(TUNE, "data.path", "label-fraction.csv"),
    "tune-label-empty.yaml": _with(TUNE, "data.path", "label-empty.csv"),
    "tune-weight-strings.yaml": {
        **TUNE,
        "data": {**TUNE["data"], "path": "weight-strings.csv", "weight": "w"},
    },
    "tune-good.yaml": TUNE,  # valid: for the output-path cases
}
SELECTIONS: dict[str, Any] = {
    "sel-deep.yaml": {"cuts": [{"name": "deep", "cut": DEEP}]},
    "sel-unary.yaml": {"cuts": [{"name": "unary", "cut": "-" * 20_000 + "x"}]},
    "sel-pow.yaml": {"cuts": [{"name": "pow", "cut": "photon_pt > 2**99999999"}]},
    "sel-div0.yaml": {"cuts": [{"name": "div", "cut": "photon_n > 1 / 0"}]},
    "sel-bigint.yaml": {"cuts": [{"name": "big", "cut": "photon_n > " + "9" * 40}]},
    "sel-lambda.yaml": {"cuts": [{"name": "l", "cut": "(lambda: 1)()"}]},
    "sel-attr.yaml": {"cuts": [{"name": "a", "cut": "photon_n.__class__"}]},
    "sel-func.yaml": {"cuts": [{"name": "f", "cut": "sqrtt(photon_n) > 1"}]},
    "sel-arity.yaml": {"cuts": [{"name": "f", "cut": "arctan2(photon_n) > 1"}]},
    "sel-index.yaml": {"cuts": [{"name": "i", "cut": "photon_pt[99999999999] > 1"}]},
    "sel-cut-list.yaml": {"cuts": [{"name": "c", "cut": [1, 2]}]},
    "sel-no-cut.yaml": {"cuts": [{"name": "c"}]},
    "sel-empty-cuts.yaml": {"cuts": []},
    "sel-unknown-key.yaml": {"cutz": []},
    "sel-unknown-branch.yaml": {"cuts": [{"name": "b", "cut": "photon_ptt > 1"}]},
    "sel-object.yaml": {"cuts": [{"name": "o", "object": "photn", "cut": "pt > 1"}]},
    "sel-syntax.yaml": {"cuts": [{"name": "s", "cut": "photon_n >"}]},
    "sel-invalid.yaml": "cuts: [\n",
    "sel-self.yaml": "sel-self.yaml\n",
    "sel-str-cut.yaml": {"cuts": ["import os"]},
}
BAD_BYTES = b"\xff\xfe\x00name: \x81\x82\n"


def _write_yaml(path: Path, content: Any) -> None:
    import yaml

    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    else:
        path.write_text(yaml.safe_dump(content, sort_keys=False))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of inputs, good and bad, that every case runs in (and must leave unchanged)."""
    from hepsift.toydata import write_toy_gamgam

    ws = tmp_path_factory.mktemp("battery")
    write_toy_gamgam(ws / "toy.root", 200, seed=3)
    rng = np.random.default_rng(0)
    rows = ["f0,f1,label"] + [f"{a:.3f},{b:.3f},{int(a > 0)}" for a, b in rng.normal(size=(40, 2))]
    (ws / "toy.csv").write_text("\n".join(rows) + "\n")
    (ws / "strings.csv").write_text("f0,f1,label\na,b,0\nc,d,1\n")
    (ws / "label-strings.csv").write_text("f0,f1,label\n1,2,s\n3,4,b\n")
    (ws / "label-fraction.csv").write_text("f0,f1,label\n1,2,0.5\n3,4,1\n5,6,0\n")
    (ws / "label-empty.csv").write_text("f0,f1,label\n1,2,\n3,4,1\n5,6,0\n")
    (ws / "weight-strings.csv").write_text("f0,f1,label,w\n1,2,1,a\n3,4,0,b\n")
    (ws / "empty.root").write_bytes(b"")
    (ws / "garbage.root").write_bytes(b"root" + bytes(range(256)) * 4)
    (ws / "truncated.root").write_bytes((ws / "toy.root").read_bytes()[:3000])
    (ws / "adir").mkdir()
    (ws / "adir.yaml").mkdir()
    (ws / "nonutf8.yaml").write_bytes(BAD_BYTES)
    (ws / "notamodel").mkdir()
    (ws / "notamodel" / "model.json").write_text("{not json")
    for name, content in {**RUN_CONFIGS, **TUNE_CONFIGS, **SELECTIONS}.items():
        _write_yaml(ws / name, content)
    return ws


#: the output path the cases name (``--out o``, ``o.onnx``): what a failed command may touch
OUTPUTS = ("o", "o.onnx")


def _snapshot(root: Path) -> dict[str, tuple[bool, int, int]]:
    """Every path under ``root`` but the cases' output paths: (is folder, size, mtime)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == root:
            dirnames[:] = [d for d in dirnames if d not in OUTPUTS]
            filenames = [f for f in filenames if f not in OUTPUTS]
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            out[str(p.relative_to(root))] = (p.is_dir(), st.st_size, st.st_mtime_ns)
    return out


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``hepsift ARGV`` in-process: (exit code, stdout, stderr), as a shell would see them."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # pragma: no cover - main returns its code
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def _assert_one_line_exit_2(code: int, stdout: str, stderr: str, expect: str) -> None:
    lines = stderr.strip("\n").splitlines()
    assert "Traceback" not in stderr + stdout, stderr
    assert code == 2, f"exit {code}; stderr: {stderr!r}"
    assert len(lines) == 1, f"{len(lines)} stderr lines: {stderr!r}"
    assert len(lines[0]) < MAX_LINE, f"{len(lines[0])} characters: {lines[0]!r}"
    assert expect.lower() in lines[0].lower(), f"{expect!r} not in {lines[0]!r}"


TOY = "toy.root"
#: (id, command line after ``hepsift``, a word the error line contains)
CLI_CASES: list[tuple[str, str, str]] = [
    # -- usage errors (typer/click) -------------------------------------------------------------
    ("unknown-command", "frobnicate", "no such command"),
    ("unknown-command-near", "inspekt toy.root", "no such command"),
    ("unknown-root-option", "--frobnicate", "no such option"),
    ("unknown-option-run", "run --evnts 3", "no such option"),
    ("unknown-option-generate", "generate higgs-diphoton --evnts 3", "no such option"),
    ("unknown-option-inspect", "inspect --verbose toy.root", "no such option"),
    ("unknown-option-tune", "tune TUNE --trials 3", "no such option"),
    ("unknown-subcommand-pnn", "pnn stduy", "no such command"),
    ("events-not-int", "generate higgs-diphoton --events abc --out o", "--events"),
    ("events-float", "generate higgs-diphoton --events 1.5 --out o", "--events"),
    ("seed-not-int", "generate higgs-diphoton --events 10 --seed abc --out o", "--seed"),
    ("workers-not-int", "generate higgs-diphoton --events 10 -j two --out o", "--workers"),
    ("chunk-not-int", "generate higgs-diphoton --events 10 --chunk-size x --out o", "--chunk-size"),
    ("max-entries-lots", "inspect --max-entries lots toy.root", "--max-entries"),
    ("lumi-not-float", "cutflow --lumi-fb much toy.root", "--lumi-fb"),
    ("pnn-events-not-int", "pnn study --generate --events many", "--events"),
    ("pnn-seed-not-int", "pnn study --toy --seed x", "--seed"),
    ("pnn-epochs-not-int", "pnn study --toy --epochs x", "--epochs"),
    ("onnx-events-not-int", "onnx notamodel o.onnx --events x", "--events"),
    ("onnx-atol-not-float", "onnx notamodel o.onnx --atol tiny", "--atol"),
    ("missing-arg-inspect", "inspect", "missing argument"),
    ("missing-arg-cutflow", "cutflow", "missing argument"),
    ("missing-arg-tune", "tune", "missing argument"),
    ("missing-arg-onnx", "onnx", "missing argument"),
    ("missing-arg-onnx-output", "onnx notamodel", "missing argument"),
    ("missing-option-value", "generate higgs-diphoton --events", "requires an argument"),
    ("missing-set-value", "run nand --set", "requires an argument"),
    ("extra-arg-inspect", "inspect toy.root toy.csv", "unexpected extra argument"),
    ("extra-arg-models", "models bdt mlp", "unexpected extra argument"),
    ("extra-arg-example", "example nand metrics", "unexpected extra argument"),
    ("extra-arg-run", "run nand photon-id", "unexpected extra argument"),
    ("extra-arg-tune", "tune a.yaml b.yaml", "unexpected extra argument"),
    ("extra-arg-onnx", "onnx a b c", "unexpected extra argument"),
    ("extra-arg-generate", "generate higgs-diphoton photon-id --events 3 --out o", "unexpected"),
    ("bool-flag-value", "generate higgs-diphoton --images=yes --events 3 --out o", "--images"),
    # -- generate -------------------------------------------------------------------------------
    ("generate-no-scenario", "generate --events 10 --out o", "scenario"),
    ("generate-no-events", "generate higgs-diphoton --out o", "--events"),
    ("generate-no-out", "generate higgs-diphoton --events 10", "--out"),
    ("generate-unknown-scenario", "generate higgs-diphotn --events 10 --out o", "higgs-diphoton"),
    ("generate-events-zero", "generate higgs-diphoton --events 0 --out o", "--events"),
    ("generate-events-negative", "generate higgs-diphoton --events -5 --out o", "--events"),
    ("generate-events-huge", "generate higgs-diphoton --events 1000000000000 --out o", "--events"),
    ("generate-workers-zero", "generate higgs-diphoton --events 10 -j 0 --out o", "--workers"),
    ("generate-chunk-zero", "generate higgs-diphoton --events 10 --chunk-size 0 --out o", "chunk"),
    ("generate-unknown-sample", "generate higgs-diphoton --events 10 --samples gF --out o", "ggF"),
    ("generate-masses-abc", "generate resonance-ttbar --events 10 --masses abc --out o", "masses"),
    ("generate-out-empty", "generate higgs-diphoton --events 10 --out ''", "--out"),
    ("generate-out-blank", "generate higgs-diphoton --events 10 --out '  '", "--out"),
    (
        "generate-scheduler-bad",
        "generate photon-id --events 10 --out o --scheduler x",
        "--scheduler",
    ),
    (
        "generate-scheduler-port",
        "generate photon-id --events 10 --out o --scheduler tcp://h:99999",
        "--scheduler",
    ),
    (
        "generate-scheduler-proto",
        "generate photon-id --events 10 --out o --scheduler ftp://h:1",
        "protocol",
    ),
    (
        "generate-scheduler-down",
        "generate photon-id --events 10 --out o --scheduler tcp://127.0.0.1:1",
        "cannot reach",
    ),
    # -- run ------------------------------------------------------------------------------------
    ("run-unknown-config", "run nand2", "nand"),
    ("run-missing-file", "run missing.yaml", "missing.yaml"),
    ("run-dir-config", "run adir.yaml", "adir.yaml"),
    ("run-set-seed-negative", "run nand --set seed=-1", "seed"),
    ("run-set-seed-str", "run nand --set seed=abc", "seed"),
    ("run-set-no-equals", "run nand --set seed", "key.path=value"),
    ("run-set-unknown-key", "run nand --set sed=3", "seed"),
    ("run-set-unknown-nested", "run nand --set evaluation.treshold=0.3", "threshold"),
    ("run-set-threshold-str", "run nand --set evaluation.threshold=abc", "threshold"),
    ("run-set-models-int", "run nand --set models=3", "models"),
    ("run-set-scaling", "run nand --set scaling=minmax", "scaling"),
    ("run-set-name-markup", "run nand --set 'name=[bold]x[/'", "name"),
    ("run-set-name-slash", "run nand --set name=../x", "name"),
    ("run-set-bootstrap-huge", "run nand --set evaluation.bootstrap=100000000000", "bootstrap"),
    ("run-set-list-index", "run nand --set models.0.params.C=abc", "models.0"),
    ("run-out-empty", "run nand --out ''", "--out"),
    ("run-scheduler-bad", "run nand --scheduler notanaddress", "--scheduler"),
    ("run-scheduler-noport", "run nand --scheduler tcp://127.0.0.1", "--scheduler"),
    ("run-scheduler-down", "run nand --scheduler tcp://127.0.0.1:1", "cannot reach"),
    ("run-scheduler-host", "run nand --scheduler tcp://no-such-host.invalid:8786", "cannot reach"),
    *[(f"run-{name[:-5]}", f"run {name}", "") for name in RUN_CONFIGS],
    # -- inspect / cutflow ------------------------------------------------------------------------
    ("inspect-missing", "inspect missing.root", "does not exist"),
    ("inspect-dir", "inspect adir", "directory"),
    ("inspect-tree", "inspect --tree minni toy.root", "mini"),
    ("inspect-max-entries-zero", "inspect --max-entries 0 toy.root", "--max-entries"),
    ("inspect-max-entries-negative", "inspect --max-entries -1 toy.root", "--max-entries"),
    ("cutflow-missing", "cutflow missing.root", "does not exist"),
    ("cutflow-dir", "cutflow adir", "directory"),
    ("cutflow-preset", "cutflow -s hgamgamm toy.root", "hgamgam"),
    ("cutflow-lumi-negative", "cutflow --lumi-fb -1 toy.root", "lumi"),
    ("cutflow-lumi-zero", "cutflow --lumi-fb 0 toy.root", "lumi"),
    ("cutflow-sel-nonutf8", "cutflow -s nonutf8.yaml toy.root", "UTF-8"),
    ("cutflow-sel-missing", "cutflow -s missing.yaml toy.root", "missing.yaml"),
    *[(f"cutflow-{name[:-5]}", f"cutflow -s {name} toy.root", "") for name in SELECTIONS],
    # -- models / tune / onnx -------------------------------------------------------------------
    ("models-unknown", "models bdtt", "bdt"),
    ("tune-missing", "tune missing.yaml", "does not exist"),
    ("tune-dir", "tune adir.yaml", "folder"),
    ("tune-nonutf8", "tune nonutf8.yaml", "UTF-8"),
    ("tune-out-empty", "tune tune-trials-str.yaml --out ''", "--out"),
    *[
        (f"tune-{name[5:-5]}", f"tune {name}", "")
        for name in TUNE_CONFIGS
        if name != "tune-good.yaml"
    ],
    ("onnx-missing-model", "onnx missing o.onnx", "missing"),
    ("onnx-not-a-model", "onnx adir o.onnx", "model.json"),
    ("onnx-bad-model-json", "onnx notamodel o.onnx", "notamodel"),
    ("onnx-events-zero", "onnx notamodel o.onnx --events 0", "--events"),
    ("onnx-atol-zero", "onnx notamodel o.onnx --atol 0", "--atol"),
    ("onnx-output-empty", "onnx notamodel ''", "OUTPUT"),
    # -- pnn study ------------------------------------------------------------------------------
    ("pnn-no-source", "pnn study", "data source"),
    ("pnn-two-sources", "pnn study --toy --generate", "data source"),
    ("pnn-masses-abc", "pnn study --toy --masses abc", "--masses"),
    ("pnn-masses-nan", "pnn study --toy --masses 500,nan", "--masses"),
    ("pnn-threads-zero", "pnn study --toy --threads 0", "--threads"),
    ("pnn-epochs-zero", "pnn study --toy --epochs 0", "--epochs"),
    ("pnn-batch-zero", "pnn study --toy --batch-size 0", "--batch-size"),
    ("pnn-max-events-zero", "pnn study --toy --max-events 0", "--max-events"),
    ("pnn-entry-stop-zero", "pnn study --data toy.csv --entry-stop 0", "--entry-stop"),
    ("pnn-events-zero", "pnn study --generate --events 0", "--events"),
    ("pnn-events-huge", "pnn study --generate --events 1000000000000", "--events"),
    ("pnn-out-empty", "pnn study --toy --out ''", "--out"),
    ("pnn-cache-empty", "pnn study --generate --cache ''", "--cache"),
    ("pnn-hidden-abc", "pnn study --toy --hidden abc", "--hidden"),
    ("pnn-holdout-abc", "pnn study --toy --holdout middle", "--holdout"),
    ("pnn-data-missing", "pnn study --data missing.csv", "does not exist"),
    ("pnn-config-missing", "pnn study missing.yaml", "missing.yaml"),
    # -- output paths that cannot be written: refused before any work ----------------------------
    ("out-file-generate", "generate photon-id --events 5 --out toy.csv", "is a file"),
    ("out-under-file-generate", "generate photon-id --events 5 --out toy.csv/o", "not a folder"),
    ("out-file-run", "run nand --out toy.csv", "is a file"),
    ("out-under-file-run", "run nand --out toy.csv/o", "not a folder"),
    ("out-file-tune", "tune tune-good.yaml --out toy.csv", "is a file"),
    ("out-under-file-tune", "tune tune-good.yaml --out toy.csv/o", "not a folder"),
    ("out-file-pnn", "pnn study --toy --out toy.csv", "is a file"),
    ("out-under-file-pnn", "pnn study --toy --out toy.csv/o/p", "not a folder"),
    ("cache-under-file-pnn", "pnn study --generate --cache toy.csv/c", "not a folder"),
    ("out-folder-onnx", "onnx notamodel adir", "is a folder"),
    ("out-under-file-onnx", "onnx notamodel toy.csv/o.onnx", "not a folder"),
    # -- example --------------------------------------------------------------------------------
    ("example-unknown", "example nandd", "nand"),
]


@pytest.fixture
def in_workspace(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(workspace)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("NO_COLOR", "1")
    before = _snapshot(workspace)
    yield workspace
    after = _snapshot(workspace)
    changed = sorted(set(before.items()) ^ set(after.items()))
    assert not changed, f"the working folder changed: {changed[:5]}"


@pytest.mark.parametrize(("argv", "expect"), [pytest.param(c, e, id=i) for i, c, e in CLI_CASES])
def test_cli_bad_input_one_line_exit_2(in_workspace: Path, argv: str, expect: str) -> None:
    code, stdout, stderr = run_cli(shlex.split(argv.replace("TUNE", "tune-trials-str.yaml")))
    _assert_one_line_exit_2(code, stdout, stderr, expect)


def test_cli_cases_are_unique() -> None:
    ids = [i for i, _, _ in CLI_CASES]
    assert len(ids) == len(set(ids))
    assert len(CLI_CASES) >= 150


#: a few cases through a real process: the same exit code and the same one line
SUBPROCESS_CASES = [
    "frobnicate",
    "generate higgs-diphoton --events abc --out o",
    "inspect",
    "run nand --set seed=-1",
    "cutflow -s sel-pow.yaml toy.root",
]


@pytest.mark.parametrize("argv", SUBPROCESS_CASES)
def test_subprocess_matches_in_process(in_workspace: Path, argv: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "200", "NO_COLOR": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "hepsift.cli", *shlex.split(argv)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    _assert_one_line_exit_2(proc.returncode, proc.stdout, proc.stderr, "")
    code, _, stderr = run_cli(shlex.split(argv))
    # the command path differs ('python -m hepsift.cli' vs the test runner): compare the rest
    strip = lambda s: s.strip().split(" (see '")[0]  # noqa: E731
    assert (code, strip(stderr)) == (proc.returncode, strip(proc.stderr))


def test_os_errors_become_one_line(in_workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An operating-system error no check foresaw (permissions, disk full) is one line too."""
    import hepsift.io

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise PermissionError(13, "Permission denied", "toy.root")

    monkeypatch.setattr(hepsift.io, "inspect", refuse)
    code, stdout, stderr = run_cli(["inspect", "toy.root"])
    _assert_one_line_exit_2(code, stdout, stderr, "'toy.root': Permission denied")


def test_long_multiline_errors_are_cut_to_one_line(
    in_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever a layer puts in its message (a 3 MB YAML excerpt), the CLI prints one line."""
    import hepsift.io
    from hepsift.errors import DataError

    def huge(*args: Any, **kwargs: Any) -> None:
        raise DataError("start\n" + "x: [a, b]\n" * 300_000 + "; did you mean 'mini'?")

    monkeypatch.setattr(hepsift.io, "inspect", huge)
    code, stdout, stderr = run_cli(["inspect", "toy.root"])
    _assert_one_line_exit_2(code, stdout, stderr, "did you mean 'mini'?")
    assert stderr.startswith("error: start x: [a, b]")


def test_markup_in_names_is_printed_as_written(in_workspace: Path) -> None:
    """Rich markup in user text (--name) is neither interpreted nor an error."""
    for name in ("[bold]x[/", "[/bold]", "[red]sample"):
        code, stdout, stderr = run_cli(["cutflow", "--name", name, "toy.root"])
        assert code == 0, stderr
        assert f"cutflow {name}" in stdout


# -- Python API ---------------------------------------------------------------------------------
def _api_cases(ws: Path) -> list[tuple[str, Callable[[], Any]]]:
    from hepsift import io as hio
    from hepsift.config import load_config
    from hepsift.models import create
    from hepsift.select import Selection, compile_expr
    from hepsift.tuning.tune import load_tune_config

    def tune_cfg(path: str, value: Any) -> Callable[[], Any]:
        cfg = _with({**TUNE, "data": {**TUNE["data"], "path": str(ws / "toy.csv")}}, path, value)
        return lambda: load_tune_config(cfg)

    cases: list[tuple[str, Callable[[], Any]]] = [
        ("create-unknown", lambda: create("bdtt")),
        ("create-unknown-param", lambda: create("bdt", max_dept=3)),
        ("create-bdt-depth-str", lambda: create("bdt", max_depth="abc")),
        ("create-bdt-nest-zero", lambda: create("bdt", n_estimators=0)),
        ("create-bdt-eta-zero", lambda: create("bdt", learning_rate=0.0)),
        ("create-bdt-subsample", lambda: create("bdt", subsample=1.5)),
        ("create-bdt-class-weight", lambda: create("bdt", class_weight="balance")),
        ("create-bdt-negative", lambda: create("bdt", negative_weights="flip")),
        ("create-bdt-seed", lambda: create("bdt", seed=-1)),
        ("create-bdt-njobs", lambda: create("bdt", n_jobs=0)),
        ("create-forest-nest", lambda: create("forest", n_estimators=0)),
        ("create-forest-features", lambda: create("forest", max_features=0.0)),
        ("create-tree-depth-bool", lambda: create("tree", max_depth=True)),
        ("create-tree-criterion", lambda: create("tree", criterion="ginni")),
        ("create-tree-leaf", lambda: create("tree", min_samples_leaf=0)),
        ("create-logistic-C-neg", lambda: create("logistic", C=-1.0)),
        ("create-logistic-C-nan", lambda: create("logistic", C=math.nan)),
        ("create-logistic-solver", lambda: create("logistic", solver="lbfgs")),
        ("create-logistic-iter", lambda: create("logistic", max_iter=0)),
        ("create-mlp-hidden-str", lambda: create("mlp", hidden="64,64")),
        ("create-mlp-hidden-too-deep", lambda: create("mlp", hidden=[8] * 65)),
        ("create-mlp-hidden-zero", lambda: create("mlp", hidden=[0])),
        ("create-mlp-lr-str", lambda: create("mlp", lr="1e-3")),
        ("create-mlp-dropout", lambda: create("mlp", dropout=1.0)),
        ("create-mlp-epochs", lambda: create("mlp", epochs=0)),
        ("create-mlp-batch", lambda: create("mlp", batch_size=0)),
        ("create-mlp-threads", lambda: create("mlp", num_threads=0)),
        ("create-mlp-activation", lambda: create("mlp", activation="rellu")),
        ("create-mlp-clip", lambda: create("mlp", clip_quantile=0.7)),
        ("create-pnn-mechanism", lambda: create("pnn", mechanism="film")),
        ("create-pnn-background", lambda: create("pnn", background_mass="random")),
        ("create-ensemble-subsets", lambda: create("easy-ensemble", n_subsets=0)),
        ("create-ensemble-sampling", lambda: create("bagging", sampling="jackknife")),
        (
            "create-ensemble-base-params",
            lambda: create("bagging", base="bdt", base_params={"max_depth": 0}),
        ),
        ("create-scaled-scaling", lambda: create("scaled", scaling="minmax")),
        (
            "create-bdt-regressor-objective",
            lambda: create("bdt-regressor", objective="binary:logistic"),
        ),
        ("create-mlp-regressor-target", lambda: create("mlp-regressor", target_scaling="yes")),
        ("compile-deep-parens", lambda: compile_expr(DEEP)),
        ("compile-deep-unary", lambda: compile_expr("-" * 20_000 + "x")),
        ("compile-deep-within-length", lambda: compile_expr("-" * 900 + "x")),
        ("compile-deep-binop", lambda: compile_expr("+".join(["x"] * 400))),
        ("compile-huge-power", lambda: compile_expr("x > 2**99999999")),
        ("compile-power-tower", lambda: compile_expr("x > 9**9**9**9")),
        ("compile-float-overflow", lambda: compile_expr("x > 1e308 * 10")),
        ("compile-div-zero", lambda: compile_expr("x > 1 / 0")),
        ("compile-big-int", lambda: compile_expr("x > 123456789012345678901234567890")),
        ("compile-int-digits", lambda: compile_expr("x > " + "9" * 900)),
        ("compile-huge-index", lambda: compile_expr("x[10**30] > 1")),
        ("compile-arity", lambda: compile_expr("sqrt(x, x) > 1")),
        ("compile-not-str", lambda: compile_expr(123)),  # type: ignore[arg-type]
        ("compile-empty", lambda: compile_expr("  ")),
        ("compile-nul", lambda: compile_expr("x\x00 > 1")),
        ("compile-attribute", lambda: compile_expr("x.real > 1")),
        ("compile-import", lambda: compile_expr("__import__('os')")),
        ("compile-string", lambda: compile_expr("x == 'a'")),
        ("selection-not-mapping", lambda: Selection.from_config(3.5)),
        ("selection-cut-int", lambda: Selection.from_config({"cuts": [3]})),
        ("selection-cut-list", lambda: Selection.from_config({"cuts": [{"cut": ["x"]}]})),
        ("selection-self-reference", lambda: Selection.from_config(str(ws / "sel-self.yaml"))),
        ("selection-nonutf8", lambda: Selection.from_config(str(ws / "nonutf8.yaml"))),
        ("load-config-int", lambda: load_config(123)),  # type: ignore[arg-type]
        ("load-config-list-data", lambda: load_config(_with(NAND, "data", [1]))),
        ("load-config-seed-str", lambda: load_config(_with(NAND, "seed", "x"))),
        ("load-config-models-map", lambda: load_config(_with(NAND, "models", {"a": 1}))),
        (
            "load-config-param",
            lambda: load_config(
                _with(
                    NAND, "models", [{"name": "m", "family": "bdt", "params": {"max_depth": "abc"}}]
                )
            ),
        ),
        ("load-config-huge-value", lambda: load_config(_with(NAND, "seed", list(range(100_000))))),
        ("tune-config-trials-str", tune_cfg("trials", "x")),
        ("tune-config-space-list", tune_cfg("space", ["C"])),
        ("tune-config-params-str", tune_cfg("params", {"max_iter": "x"})),
        (
            "tune-config-choice",
            tune_cfg("space", {"solver": {"type": "categorical", "choices": ["lbfgs"]}}),
        ),
        ("tune-config-seed", tune_cfg("seed", -3)),
        ("tune-config-high-inf", tune_cfg("space.C.high", math.inf)),
        ("io-read-missing", lambda: hio.read(str(ws / "missing.root"))),
        ("io-read-dir", lambda: hio.read(str(ws / "adir"))),
        ("io-read-empty", lambda: hio.read(str(ws / "empty.root"))),
        ("io-read-garbage", lambda: hio.read(str(ws / "garbage.root"))),
        ("io-inspect-missing", lambda: hio.inspect(str(ws / "missing.root"))),
    ]
    return cases


def _family_type_cases() -> list[Any]:
    """Every hyperparameter of every family given a value of the wrong type."""
    from hepsift.models.params import PARAMS

    cases = []
    for family, specs in PARAMS.items():
        for name, spec in specs.items():
            wrong: Any = object() if spec.words or spec.allowed.startswith("a classifier") else "x!"
            cases.append(pytest.param(family, name, wrong, id=f"{family}-{name}"))
    return cases


@pytest.fixture(scope="module")
def api_cases(workspace: Path) -> dict[str, Callable[[], Any]]:
    return dict(_api_cases(workspace))


def _assert_one_line_error(call: Callable[[], Any]) -> None:
    with pytest.raises(HepsiftError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message and len(message) < MAX_LINE, message


def _api_ids() -> list[str]:
    return [i for i, _ in _api_cases(Path("/nonexistent"))]


@pytest.mark.parametrize("case", _api_ids())
def test_api_bad_input_raises_hepsift_error(
    api_cases: dict[str, Callable[[], Any]], case: str
) -> None:
    _assert_one_line_error(api_cases[case])


@pytest.mark.parametrize(("family", "name", "wrong"), _family_type_cases())
def test_create_refuses_wrong_types_for_every_family(family: str, name: str, wrong: Any) -> None:
    from hepsift.models import create

    _assert_one_line_error(lambda: create(family, **{name: wrong}))


def test_every_hyperparameter_has_a_spec_and_defaults_pass() -> None:
    """PARAMS lists exactly the hyperparameters of each family, and each default is allowed."""
    from hepsift.models.params import PARAMS, check_params
    from hepsift.models.registry import MODELS, hyperparameters

    assert set(PARAMS) == set(MODELS)
    for family in MODELS:
        defaults = hyperparameters(family)
        assert set(defaults) == set(PARAMS[family]), family
        check_params(family, defaults)


def test_spec_words_match_the_families() -> None:
    """The allowed words spelled in models/params.py are the families' own lists."""
    from typing import get_args

    from hepsift.dataset import NEGATIVE_POLICIES
    from hepsift.features import scaling
    from hepsift.models import ensemble, logistic, nets, pnn, sets
    from hepsift.models.params import ACTIVATIONS, PARAMS, SCHEDULES
    from hepsift.train import torch_loop

    assert PARAMS["logistic"]["solver"].words == tuple(logistic.SOLVERS)
    assert tuple(nets.ACTIVATIONS) == ACTIVATIONS
    assert tuple(torch_loop._SCHEDULES) == SCHEDULES
    assert PARAMS["mlp"]["scaling"].words == get_args(scaling.ScalerKind)
    assert PARAMS["bdt"]["negative_weights"].words == tuple(NEGATIVE_POLICIES)
    assert PARAMS["pnn"]["mechanism"].words == tuple(pnn.MECHANISMS)
    assert PARAMS["pnn"]["background_mass"].words == tuple(pnn.BACKGROUND_MASS_POLICIES)
    assert PARAMS["deepsets"]["pooling"].words == tuple(sets.POOLINGS)
    assert PARAMS["bagging"]["sampling"].words == tuple(ensemble._SAMPLINGS)


def test_valid_values_still_create() -> None:
    """The checks refuse what is wrong, not what is unusual but valid."""
    from hepsift.models import create

    create("bdt", max_depth=np.int64(3), learning_rate=1, n_jobs=-1, early_stopping_rounds=None)
    create("mlp", hidden=(8,), lr=np.float32(1e-3), clip_quantile=0.01, num_threads=1)
    create("forest", max_features=0.5, class_weight={0: 1.0, 1: 2.5}, max_depth=None)
    create("logistic", C=math.inf, solver="gd")
    create("bagging", base="tree", base_params={"max_depth": 3})


def test_a_listening_scheduler_address_passes_the_check() -> None:
    """The --scheduler check refuses what cannot work, not a port that answers."""
    import socket

    from hepsift.commands._checks import check_scheduler

    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        check_scheduler(f"tcp://127.0.0.1:{port}")
        check_scheduler(f"127.0.0.1:{port}")
    with pytest.raises(HepsiftError, match="cannot reach"):
        check_scheduler(f"tcp://127.0.0.1:{port}")


def test_models_name_lists_what_each_hyperparameter_allows(in_workspace: Path) -> None:
    code, stdout, stderr = run_cli(["models", "bdt"])
    assert code == 0, stderr
    row = next(line for line in stdout.splitlines() if " max_depth " in line)
    assert "an integer in [1, 64]" in row
