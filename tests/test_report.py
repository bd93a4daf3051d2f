"""The run folder (atomic, DONE marker), provenance, figures and the self-contained HTML report:
parsed with html.parser and rendered by a real headless Chromium when one is installed."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hepsift._files import atomic_write_text
from hepsift.errors import ConfigError
from hepsift.report import (
    DONE_MARKER,
    Block,
    FigureSet,
    RunDir,
    Section,
    Table,
    file_sha256,
    manifest_checksums,
    provenance,
    render_report,
    write_report,
)

SECTIONS = ("data", "features", "models", "comparison", "provenance")


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.imgs: list[str] = []
        self.urls: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "img":
            self.imgs.append(a.get("src") or "")
        for key in ("href", "src"):
            value = a.get(key) or ""
            if value and not value.startswith(("#", "data:")):
                self.urls.append(value)


def check_report_html(text: str, sections=SECTIONS) -> _Collector:
    """Sections present, every <img> a data: URI, no external fetches at all."""
    c = _Collector()
    c.feed(text)
    for s in sections:
        assert s in c.ids, f"section '{s}' missing"
    assert c.imgs, "no images"
    assert all(src.startswith("data:image/png;base64,") for src in c.imgs)
    assert c.urls == [], c.urls
    assert "http://" not in text and "https://" not in text
    assert "<script" not in text and "<link" not in text
    return c


def chromium_check(report: Path, tmp: Path, sections=SECTIONS) -> None:
    """Render the report in headless Chromium: non-blank screenshot, sections in the DOM."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("chromium not on PATH (CI installs it: apt-get install chromium)")
    args = [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp / 'chromium-profile'}",
    ]
    shot = tmp / "shot.png"
    subprocess.run(
        [*args, f"--screenshot={shot}", "--window-size=1280,2000", f"file://{report.resolve()}"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert shot.is_file() and shot.stat().st_size > 1000
    import matplotlib.image as mpimg

    pixels = mpimg.imread(shot)
    flat = pixels.reshape(-1, pixels.shape[-1])
    assert len(np.unique(flat[:: max(1, len(flat) // 200_000)], axis=0)) > 1, "blank screenshot"
    dom = subprocess.run(
        [*args, "--dump-dom", f"file://{report.resolve()}"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    for s in sections:
        assert f'id="{s}"' in dom
    assert "<img" in dom


# -- run folder ----------------------------------------------------------------------------


def test_rundir_is_atomic_and_marked_done(tmp_path):
    with RunDir(tmp_path, "demo", stamp="20260101T000000Z") as rd:
        assert rd.path.name == ".demo-20260101T000000Z.partial"
        rd.write_json("metrics.json", {"auc": 0.9})
        assert not rd.final.exists()
        final = rd.finish()
    assert final == tmp_path / "demo-20260101T000000Z"
    assert (final / DONE_MARKER).is_file()
    assert json.loads((final / "metrics.json").read_text()) == {"auc": 0.9}
    assert not any(p.name.endswith(".partial") for p in tmp_path.iterdir())
    # a second run in the same second gets its own folder
    with RunDir(tmp_path, "demo", stamp="20260101T000000Z") as rd2:
        second = rd2.finish()
    assert second.name == "demo-20260101T000000Z-1"


def test_interrupted_rundir_leaves_nothing_that_looks_complete(tmp_path):
    with pytest.raises(KeyboardInterrupt), RunDir(tmp_path, "demo") as rd:
        rd.write_text("config.yaml", "name: demo\n")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    p = tmp_path / "a.txt"
    atomic_write_text(p, "one")
    atomic_write_text(p, "two")
    assert p.read_text() == "two"
    assert [q.name for q in tmp_path.iterdir()] == ["a.txt"]


# -- provenance ----------------------------------------------------------------------------


def test_provenance_records_versions_seeds_and_checksums(tmp_path):
    data = tmp_path / "ntuple.root"
    data.write_bytes(b"not really root")
    manifest = tmp_path / "manifest.json"
    manifest.write_text(
        json.dumps(
            {
                "samples": {"ggF": {"file": "ggF.root", "sha256": "ab" * 32}},
                "files": {"diphoton.root": "cd" * 32},
            }
        )
    )
    prov = provenance(seeds={"run": 7}, config_name="demo", data_files=[manifest, data])
    assert prov["seeds"] == {"run": 7}
    assert prov["packages"]["numpy"] == np.__version__
    assert prov["python"].count(".") == 2
    assert prov["data"][str(data)]["sha256"] == file_sha256(data)
    assert prov["data"][str(manifest)]["files"] == {
        "ggF.root": "ab" * 32,
        "diphoton.root": "cd" * 32,
    }
    json.dumps(prov)
    assert manifest_checksums([tmp_path / "absent.json"]) == {}


# -- figures and HTML ----------------------------------------------------------------------


def _report_sections(figs: FigureSet) -> list[Section]:
    fig = figs.draw("line", lambda ax: ax.plot([0, 1], [0, 1]), title="A line <b>escaped</b>")
    return [
        Section(
            "data", "Data", [Block("Samples", tables=[Table("t", ["a", "b"], [["x", 1.5e-7]])])]
        ),
        Section("features", "Features", [Block("Inputs", figures=[fig])]),
        Section("models", "Models", [Block("m", id="model-m", warnings=["careful"])]),
        Section("comparison", "Comparison", [Block("ranking", pre="x < y")]),
        Section("provenance", "Provenance", [Block("versions")]),
    ]


def test_figure_set_saves_requested_formats(tmp_path):
    figs = FigureSet(tmp_path / "plots", formats=("png", "pdf"), dpi=50)
    rec = figs.draw("roc", lambda ax: ax.plot([0, 1], [1, 0]), title="ROC")
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["roc.pdf", "roc.png"]
    assert rec.png.startswith(b"\x89PNG")
    assert (tmp_path / "plots" / "roc.pdf").read_bytes().startswith(b"%PDF")
    assert rec.data_uri.startswith("data:image/png;base64,")
    # the same figure drawn twice gives identical files (no timestamps inside)
    first = (tmp_path / "plots" / "roc.pdf").read_bytes()
    figs.draw("roc", lambda ax: ax.plot([0, 1], [1, 0]), title="ROC")
    assert (tmp_path / "plots" / "roc.pdf").read_bytes() == first


def test_report_html_is_self_contained_and_escaped(tmp_path):
    figs = FigureSet(None, dpi=40)
    text = render_report(
        title="T & co", subtitle="s", sections=_report_sections(figs), summary="best"
    )
    c = check_report_html(text)
    assert "model-m" in c.ids
    assert "A line &lt;b&gt;escaped&lt;/b&gt;" in text
    assert "x &lt; y" in text
    assert "1.500e-07" in text


@pytest.mark.slow
def test_report_renders_in_chromium(tmp_path):
    figs = FigureSet(None, dpi=40)
    report = write_report(
        tmp_path / "report.html", title="T", subtitle="s", sections=_report_sections(figs)
    )
    chromium_check(report, tmp_path)


@pytest.mark.slow
def test_report_of_a_real_run_in_chromium(tmp_path):
    from hepsift.run import run

    result = run("nand", out=tmp_path / "runs")
    text = result.report.read_text()
    c = check_report_html(text)
    assert "model-logistic" in c.ids
    assert len(c.imgs) >= 5
    chromium_check(result.report, tmp_path)


def test_unknown_config_is_config_error(tmp_path):
    from hepsift.run import run

    with pytest.raises(ConfigError):
        run("no-such-config", out=tmp_path)
    assert not (tmp_path / "runs").exists()


def _draw_line(ax, k):
    return ax.plot([0, 1, 2], [k, 0, k])


def _lambda_line(k: int) -> Callable[[Any], object]:
    """A lambda drawing a line to ``k``: it cannot be pickled for a worker process."""
    return lambda ax: ax.plot([0, k])


def _draw_and_note_process(ax, k, notes):
    import multiprocessing as mp
    import os

    method = mp.get_start_method(allow_none=True)
    parent = mp.parent_process() is not None
    (notes / f"{k}-{os.getpid()}").write_text(f"{method} {parent}")
    return ax.plot([0, 1, 2], [k, 0, k])


@pytest.mark.slow
def test_deferred_parallel_rendering_matches_serial(tmp_path):
    from functools import partial

    serial = FigureSet(tmp_path / "a", formats=("png",), dpi=40)
    deferred = FigureSet(tmp_path / "b", formats=("png",), dpi=40, defer=True)
    recs = []
    for k in range(3):
        serial.draw(f"f{k}", partial(_draw_line, k=k), title="t", label=False)
        recs.append(deferred.draw(f"f{k}", partial(_draw_line, k=k), title="t", label=False))
    assert all(r.png == b"" for r in recs)  # queued, not drawn yet
    assert deferred.render(workers=2) == 2  # drawn in two worker processes
    for k, rec in enumerate(recs):
        assert rec.png == serial.records[f"f{k}"].png
        assert rec.files == [tmp_path / "b" / f"f{k}.png"]
        assert rec.files[0].read_bytes() == rec.png


@pytest.mark.slow
def test_workers_are_spawned_not_forked(tmp_path):
    """A forked child inherits torch / XGBoost / BLAS thread-pool locks mid-state: spawn."""
    from functools import partial

    notes = tmp_path / "notes"
    notes.mkdir()
    figs = FigureSet(tmp_path / "p", formats=("png",), dpi=30, defer=True)
    for k in range(2):
        figs.draw(f"f{k}", partial(_draw_and_note_process, k=k, notes=notes), title="t")
    assert figs.render(workers=2) == 2
    seen = sorted(p.read_text() for p in notes.iterdir())
    assert seen == ["spawn True", "spawn True"]


def test_unpicklable_figures_are_drawn_here(tmp_path):
    figs = FigureSet(tmp_path / "p", formats=("png",), dpi=30, defer=True)
    recs = [figs.draw(f"f{k}", _lambda_line(k), title="t") for k in range(2)]
    assert figs.render(workers=2) == 1  # lambdas cannot go to a worker process
    assert all(r.png.startswith(b"\x89PNG") and r.files for r in recs)
    assert figs.records["f1"] is recs[1]


def test_draw_applies_margins(tmp_path):
    """draw() passes its margins on (they were dropped for single-axes figures)."""
    figs = FigureSet(None, dpi=30)
    boxes = []
    figs.draw(
        "m",
        lambda ax: boxes.append(ax.get_position()),
        title="t",
        label=False,
        margins={"left": 0.3, "right": 0.9},
    )
    assert boxes[0].x0 == pytest.approx(0.3) and boxes[0].x1 == pytest.approx(0.9)


def test_run_json_is_strict(tmp_path):
    """metrics.json and provenance.json go through hepsift._files: NaN -> null, not NaN."""
    with RunDir(tmp_path, "demo", stamp="20260101T000000Z") as rd:
        rd.write_json(
            "metrics.json", {"auc": float("nan"), "z": np.float64("inf"), "n": np.int64(3)}
        )
        final = rd.finish()
    text = (final / "metrics.json").read_text()
    assert json.loads(text) == {"auc": None, "z": "inf", "n": 3}
    assert "NaN" not in text and "Infinity" not in text
