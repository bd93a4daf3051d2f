"""Drawing plots into files: the report decides names, formats and resolution.

Figures are plain :class:`matplotlib.figure.Figure` objects (no pyplot state, no GUI), drawn in
the mplhep style, saved atomically as ``plots/<key>.<format>`` and kept as PNG bytes for
embedding in the HTML report.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hepsift.report.rundir import atomic_write_bytes

__all__ = ["MARGINS", "FigureRecord", "FigureSet"]

#: default subplot margins (figure fractions)
MARGINS = {"left": 0.15, "right": 0.96, "bottom": 0.16, "top": 0.91, "wspace": 0.35, "hspace": 0.4}


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
        self._jobs: list[tuple[FigureRecord, Callable[[], None]]] = []

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
        :meth:`render`."""
        if self.defer:
            record = FigureRecord(key=key, title=title, caption=caption)
            self.records[key] = record

            def job() -> None:
                done = self._draw_now(key, fn, title, caption, figsize, label, margins, rc)
                record.files, record.png, record.seconds = done.files, done.png, done.seconds

            self._jobs.append((record, job))
            return record
        return self._draw_now(key, fn, title, caption, figsize, label, margins, rc)

    def _draw_now(
        self,
        key: str,
        fn: Callable[[Any], Any],
        title: str,
        caption: str,
        figsize: tuple[float, float],
        label: bool,
        margins: dict[str, float] | None,
        rc: dict[str, Any] | None,
    ) -> FigureRecord:
        import time

        from matplotlib.figure import Figure

        from hepsift.plots._common import style

        t0 = time.perf_counter()
        with style(rc):
            # fixed margins: a layout engine measures every text twice and costs ~1 s a figure
            fig = Figure(figsize=figsize)
            fig.subplots_adjust(**{**MARGINS, **(margins or {})})
            fn(fig)
            if label and fig.axes:
                from hepsift.plots._common import hep_label

                hep_label(fig.axes[0], lumi_fb=self.lumi_fb)
            record = self._save(key, fig, title, caption)
        record.seconds = time.perf_counter() - t0
        return record

    def draw(
        self,
        key: str,
        fn: Callable[[Any], Any],
        *,
        title: str,
        caption: str = "",
        figsize: tuple[float, float] = (7.0, 5.0),
        label: bool = True,
        margins: dict[str, float] | None = None,
    ) -> FigureRecord:
        """``fn(ax)`` draws on the single axes of a fresh Figure; then it is saved."""

        def one(fig: Any) -> Any:
            return fn(fig.add_subplot())

        return self.draw_figure(
            key, one, title=title, caption=caption, figsize=figsize, label=label
        )

    def render(self, workers: int = 1) -> None:
        """Render the queued figures, in ``workers`` forked processes when more than one.

        Forked children inherit the queued drawing functions (nothing is pickled but the
        index of a job and its result); any failure of the pool falls back to rendering here.
        """
        jobs, self._jobs = self._jobs, []
        if not jobs:
            return
        import multiprocessing as mp

        if workers > 1 and len(jobs) > 1 and "fork" in mp.get_all_start_methods():
            global _FORKED_JOBS
            _FORKED_JOBS = jobs
            try:
                ctx = mp.get_context("fork")
                with ctx.Pool(min(workers, len(jobs))) as pool:
                    results = pool.map(_render_forked, range(len(jobs)), chunksize=1)
            except (OSError, RuntimeError):
                results = None
            finally:
                _FORKED_JOBS = []
            if results is not None:
                for (record, _job), (files, png, seconds) in zip(jobs, results, strict=True):
                    record.files = [Path(f) for f in files]
                    record.png = png
                    record.seconds = seconds
                return
        for _record, job in jobs:
            job()

    def _save(self, key: str, fig: Any, title: str, caption: str) -> FigureRecord:
        record = FigureRecord(key=key, title=title, caption=caption)
        for fmt in dict.fromkeys(("png", *self.formats)):
            buf = io.BytesIO()
            fig.savefig(buf, format=fmt, dpi=self.dpi, metadata=_metadata(fmt))
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


_FORKED_JOBS: list[tuple[FigureRecord, Callable[[], None]]] = []


def _render_forked(index: int) -> tuple[list[str], bytes, float]:
    record, job = _FORKED_JOBS[index]
    job()
    return [str(f) for f in record.files], record.png, record.seconds
