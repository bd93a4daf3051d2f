"""Output for pipes and logs (issue 12): when stdout is not a terminal (CI logs, ``| tee``),
rich cut tables to 80 columns (``logis…``) and wrapped the cutflow one word per line. Off a
terminal the console is as wide as the content; progress bars stay off there."""

from __future__ import annotations

from pathlib import Path

import pytest

from hepsift.cli import main
from hepsift.commands._rich import PIPE_WIDTH, interactive, make_console


@pytest.fixture(autouse=True)
def _no_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)


def test_console_off_a_terminal_is_as_wide_as_the_content(capsys: pytest.CaptureFixture[str]):
    console = make_console()
    assert not interactive(console)  # pytest captures stdout: not a terminal
    assert console.width == PIPE_WIDTH
    assert make_console(width=50).width == 50  # an explicit width wins


def test_columns_in_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "70")
    assert make_console().width == 70


def test_model_table_is_not_truncated(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "…" not in out
    rows = [line for line in out.splitlines() if "LogisticRegression" in line]
    assert len(rows) == 1 and "hepsift.models.logistic:LogisticRegression" in rows[0]
    assert all(len(line.rstrip()) < 200 for line in out.splitlines())  # sized to content


def test_cutflow_rows_stay_on_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hepsift.toydata import write_toy_gamgam

    toy = tmp_path / "toy.root"
    write_toy_gamgam(toy, 500, seed=1)
    assert main(["cutflow", str(toy), "--selection", "hgamgam"]) == 0
    out = capsys.readouterr().out
    assert "…" not in out
    for cut in ("photon |eta| < 2.37, not crack", "105 < m_gg < 160 GeV"):
        (line,) = [ln for ln in out.splitlines() if cut in ln]
        assert "%" in line  # the cut's numbers are on its own line
