"""The ``hepsift`` command line: version, light imports, ``hepsift example``, error handling."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hepsift import __version__
from hepsift.cli import main
from hepsift.commands.example import EXAMPLES

HEAVY_MODULES = ("torch", "xgboost", "uproot", "sklearn", "awkward", "pythia8", "fastjet")


def _hepsift_command() -> list[str]:
    """The installed console script next to the interpreter, else an equivalent call."""
    script = Path(sys.executable).with_name("hepsift")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from hepsift.cli import main; sys.exit(main())"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_hepsift_command(), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": str(Path(sys.executable).parent), "COLUMNS": "120", "NO_COLOR": "1"},
    )


def test_version_answers() -> None:
    proc = _run("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"hepsift {__version__}"
    assert proc.stderr == ""


def test_cli_import_stays_light() -> None:
    """Importing the CLI (all command modules registered) must not import heavy libraries."""
    code = (
        "import sys, hepsift.cli; "
        f"print(','.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert proc.stdout.strip() == "", f"imported at CLI start-up: {proc.stdout.strip()}"


def test_help_names_no_issue_numbers(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The product speaks about itself, not about its tracker ("pnn ... (issue 6)")."""
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("NO_COLOR", "1")
    commands = [
        [],
        ["pnn"],
        ["pnn", "study"],
        ["study", "sets"],
        ["run"],
        ["tune"],
        ["models"],
        ["generate"],
    ]
    for command in commands:
        assert main([*command, "--help"]) == 0
        text = capsys.readouterr().out
        assert "Usage" in text and not re.search(r"\bissue\b", text, re.IGNORECASE), text
        if not command:
            assert "pnn" in text and "dedicated per-mass networks" in text


def _row(out: str, name: str) -> str:
    lines = [ln for ln in out.splitlines() if re.match(rf"^\W*{re.escape(name)}\s", ln)]
    assert lines, f"no table row '{name}' in output:\n{out}"
    return lines[0]


def test_example_nand_reproduces_truth_table(capsys: pytest.CaptureFixture[str]) -> None:
    from hepsift.models.logistic import LogisticRegression

    assert main(["example", "nand"]) == 0
    out = capsys.readouterr().out
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    model = LogisticRegression(C=1e4).fit(X, [1, 1, 1, 0])
    assert f"w1 = {model.coef_[0, 0]:+.3f}" in out
    assert f"b = {model.intercept_[0]:+.3f}" in out
    rows = [ln for ln in out.splitlines() if re.match(r"^\W*[01]\W+[01]\W+[01]\W+[01]\.\d{4}", ln)]
    assert len(rows) == 4, out
    proba = model.predict_proba(X)[:, 1]
    for (x1, x2), p, line in zip(X, proba, rows, strict=True):
        cells = re.findall(r"[\w.]+", line)
        nand = int(not (x1 and x2))
        assert cells == [f"{x1:.0f}", f"{x2:.0f}", str(nand), f"{p:.4f}", str(nand), "yes"]
    for name in ("accuracy", "precision", "recall", "F1"):
        assert "100 %" in _row(out, name)


def test_example_metrics_worked_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["example", "metrics"]) == 0
    out = capsys.readouterr().out
    assert "TP = 3" in out and "TN = 0" in out and "FP = 3" in out and "FN = 0" in out
    expected = {"accuracy": "50 %", "precision": "50 %", "recall": "100 %", "F1": "67 %"}
    for name, value in expected.items():
        row = _row(out, name)
        assert re.search(rf"\b{value}", row), row
    assert " 0 %" in _row(out, "specificity")
    assert "purity" in out and "signal efficiency" in out


@pytest.mark.parametrize("args", [["example"], ["example", "--list"]])
def test_example_lists_examples(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    assert main(args) == 0
    out = capsys.readouterr().out
    for name in EXAMPLES:
        assert _row(out, name)


def test_unknown_example_is_one_line_exit_2() -> None:
    proc = _run("example", "nnad")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: unknown example 'nnad'")
    assert "did you mean 'nand'" in lines[0]
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("run", "--sett", "x=1"), "No such option: --sett"),
        (("nosuch",), "No such command 'nosuch'"),
        (("onnx",), "Missing argument"),
        (("generate", "higgs-diphoton", "--events", "abc"), "Invalid value for '--events'"),
    ],
)
def test_usage_errors_are_one_line_exit_2(args: tuple[str, ...], expected: str) -> None:
    """Command-line usage errors (click's, including typer's own copy of click) are one line."""
    proc = _run(*args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and expected in lines[0]
    assert "--help" in lines[0]
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_ctrl_c_exits_130_with_one_line(tmp_path: Path) -> None:
    """SIGINT during a long command: exit 130 (so `&&` chains stop), one line, no manifest."""
    import signal
    import time

    from hepsift.extras import available

    if not available("generate"):
        pytest.skip("needs the optional extra 'generate' (pip install 'hepsift[generate]')")
    out = tmp_path / "gen"
    proc = subprocess.Popen(
        [*_hepsift_command(), "generate", "higgs-diphoton", "-n", "5000", "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PATH": str(Path(sys.executable).parent), "COLUMNS": "120", "NO_COLOR": "1"},
    )
    deadline = time.monotonic() + 60
    while not out.exists() and time.monotonic() < deadline:  # the generator has started
        time.sleep(0.2)
    time.sleep(2.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("interrupted: exit 130")
    assert "Traceback" not in err
    assert not (out / "manifest.json").exists()
