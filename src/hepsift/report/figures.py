"""Drawing plots into files: the report decides names, formats and resolution.

Figures are plain :class:`matplotlib.figure.Figure` objects (no pyplot state, no GUI), drawn in
the mplhep style, saved atomically as ``plots/<key>.<format>`` and kept as PNG bytes for
embedding in the HTML report.

Deferred figures are rendered in *spawned* worker processes (:meth:`FigureSet.render`): by then
torch, XGBoost and BLAS have started their thread pools, and a forked child inherits their
locks in whatever state they were (a deadlock risk). Threads are no alternative here: the
mplhep style is set through matplotlib's global ``rcParams``. A spawned worker receives each
figure as picklable data (a module-level drawing function, usually a ``functools.partial``).
As everywhere with spawned processes, a script that calls :func:`hepsift.run.run` with
``output.workers > 1`` needs the ``if __name__ == "__main__":`` guard (the workers import the
main module); the ``hepsift`` command, ``python -c`` and notebooks need nothing.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypedDict, Unpack

from hepsift._files import atomic_write_bytes

__all__ = ["MARGINS", "DrawOptions", "FigureRecord", "FigureSet"]

#: default subplot margins (figure fractions)
MARGINS = {"left": 0.15, "right": 0.96, "bottom": 0.16, "top": 0.91, "wspace": 0.35, "hspace": 0.4}


class DrawOptions(TypedDict, total=False):
    """The options :meth:`FigureSet.draw` passes on to :meth:`FigureSet.draw_figure`."""

    caption: str
    figsize: tuple[float, float]
    label: bool
    margins: dict[str, float] | None


@dataclass(frozen=True)
class _Job:
    """One queued figure: everything a worker process needs to draw and save it."""

    key: str
    fn: Callable[[Any], Any]
    title: str
    caption: str
    figsize: tuple[float, float]
    label: bool
    margins: dict[str, float] | None
    rc: dict[str, Any] | None


@dataclass
class FigureRecord:
    """One saved figure: its key (file stem), title, caption, files and the PNG for embedding."""

    key: str
    title: str
    caption: str
    files: list[Path] = field(default_factory=list)
    png: bytes = b""
    seconds: float = 0.0

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


class FigureSet:
    """Draw, save and remember the figures of a run (``plots/<key>.png`` and ``.pdf``)."""

    def __init__(
        self,
        directory: Path | None,
        *,
        formats: Sequence[str] = ("png", "pdf"),
        dpi: int = 110,
        lumi_fb: float | None = None,
        defer: bool = False,
    ):
        self.directory = directory
        self.formats = tuple(formats)
        self.dpi = dpi
        self.lumi_fb = lumi_fb
        self.records: dict[str, FigureRecord] = {}
        #: with ``defer`` figures are queued by draw() and rendered by :meth:`render`
        self.defer = defer
        self._jobs: list[tuple[FigureRecord, _Job]] = []

    def draw_figure(
        self,
        key: str,
        fn: Callable[[Any], Any],
        *,
        title: str,
        caption: str = "",
        figsize: tuple[float, float] = (7.0, 5.0),
        label: bool = True,
        margins: dict[str, float] | None = None,
        rc: dict[str, Any] | None = None,
    ) -> FigureRecord:
        """``fn(figure)`` draws on a fresh Figure (for multi-panel plots); then it is saved.

        With ``defer`` the figure is only queued; the returned record is filled by
        :meth:`render` (then ``fn`` must be picklable to be drawn in a worker process)."""
        job = _Job(key, fn, title, caption, figsize, label, margins, rc)
        if self.defer:
            record = FigureRecord(key=key, title=title, caption=caption)
            self.records[key] = record
            self._jobs.append((record, job))
            return record
        return self._draw_now(job)

    def _draw_now(self, job: _Job) -> FigureRecord:
        import time

        from matplotlib.figure import Figure

        from hepsift.plots._common import style

        t0 = time.perf_counter()
        with style(job.rc):
            # fixed margins: a layout engine measures every text twice and costs ~1 s a figure
            fig = Figure(figsize=job.figsize)
            fig.subplots_adjust(**{**MARGINS, **(job.margins or {})})
            job.fn(fig)
            if job.label and fig.axes:
                from hepsift.plots._common import hep_label

                hep_label(fig.axes[0], lumi_fb=self.lumi_fb)
            record = self._save(job.key, fig, job.title, job.caption)
        record.seconds = time.perf_counter() - t0
        return record

    def draw(
        self, key: str, fn: Callable[[Any], Any], *, title: str, **options: Unpack[DrawOptions]
    ) -> FigureRecord:
        """``fn(ax)`` draws on the single axes of a fresh Figure; then it is saved (options and
        defaults: see :meth:`draw_figure`)."""
        return self.draw_figure(key, partial(_on_single_axes, fn), title=title, **options)

    def render(self, workers: int = 1) -> int:
        """Render the queued figures, in up to ``workers`` spawned processes when more than one;
        returns the number of processes that drew them (1: here).

        Each worker gets the figures' settings and drawing functions pickled by
        multiprocessing; when a job cannot be pickled or the pool fails, the figures are drawn
        here instead (so a genuine drawing error is raised here, with its traceback).
        """
        jobs, self._jobs = self._jobs, []
        if not jobs:
            return 1
        n = min(workers, len(jobs))
        results = self._render_in_pool([job for _, job in jobs], n) if n > 1 else None
        if results is None:
            for record, job in jobs:
                done = self._draw_now(job)
                record.files, record.png, record.seconds = done.files, done.png, done.seconds
                self.records[job.key] = record
            return 1
        for (record, _job), (files, png, seconds) in zip(jobs, results, strict=True):
            record.files = [Path(f) for f in files]
            record.png = png
            record.seconds = seconds
        return n

    def _render_in_pool(
        self, jobs: list[_Job], n: int
    ) -> list[tuple[list[str], bytes, float]] | None:
        import multiprocessing as mp

        settings = (self.directory, self.formats, self.dpi, self.lumi_fb)
        try:
            with mp.get_context("spawn").Pool(n) as pool:
                return pool.map(_render_job, [(settings, job) for job in jobs], chunksize=1)
        except Exception:  # a job that cannot be pickled (a lambda), or any pool failure
            return None

    def _save(self, key: str, fig: Any, title: str, caption: str) -> FigureRecord:
        record = FigureRecord(key=key, title=title, caption=caption)
        for fmt in dict.fromkeys(("png", *self.formats)):
            buf = io.BytesIO()
            # tight: long tick labels (feature names) are never clipped at the edge
            fig.savefig(buf, format=fmt, dpi=self.dpi, metadata=_metadata(fmt), bbox_inches="tight")
            data = buf.getvalue()
            if fmt == "png":
                record.png = data
            if self.directory is not None and fmt in self.formats:
                path = atomic_write_bytes(self.directory / f"{key}.{fmt}", data)
                record.files.append(path)
        self.records[key] = record
        return record


def _metadata(fmt: str) -> dict[str, Any] | None:
    # fixed metadata: identical inputs give identical files (no creation date)
    if fmt == "pdf":
        return {"Creator": "hepsift", "Producer": "hepsift", "CreationDate": None}
    if fmt == "png":
        return {"Software": "hepsift"}
    if fmt == "svg":
        return {"Date": None}
    return None


def _on_single_axes(fn: Callable[[Any], Any], fig: Any) -> Any:
    return fn(fig.add_subplot())


def _render_job(task: tuple[tuple[Any, ...], _Job]) -> tuple[list[str], bytes, float]:
    """Draw one queued figure in a worker process."""
    (directory, formats, dpi, lumi_fb), job = task
    record = FigureSet(directory, formats=formats, dpi=dpi, lumi_fb=lumi_fb)._draw_now(job)
    return [str(f) for f in record.files], record.png, record.seconds
