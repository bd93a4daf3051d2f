"""``hepsift inspect`` and ``hepsift cutflow``: look at input files before training.

- ``inspect FILE``: trees, branches, types, entries and a per-branch summary (min/mean/max;
  object counts for jagged branches), in the file's own units.
- ``cutflow FILES... --selection hgamgam``: the weighted cutflow of a selection (GeV).

Heavy imports happen inside the command functions so the CLI starts at once.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer

__all__ = ["print_inspect", "register", "show_notes"]


@contextmanager
def show_notes() -> Iterator[None]:
    """Print the readers' INFO notes (which tree or CSV layout was chosen) on stderr, each
    text once (a build opens a file to plan and again to read)."""
    logger = logging.getLogger("hepsift")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("note: %(message)s"))
    seen: set[str] = set()

    def first_time(record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if text in seen:
            return False
        seen.add(text)
        return True

    handler.addFilter(first_time)
    old = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    ax = abs(x)
    if ax != 0 and (ax >= 1e5 or ax < 1e-3):
        return f"{x:.3e}"
    return f"{x:.4g}"


def print_inspect(info: dict[str, Any], console: Any, *, show: int | None = None) -> None:
    """Print the result of :func:`hepsift.io.inspect` as rich tables."""
    from rich.table import Table

    console.print(f"[bold]{info['file']}[/bold]  ({info['size_bytes']:,} bytes)")
    if not info["trees"]:
        console.print(
            f"no event tree (TTree or RNTuple); the file holds {info.get('contents', 'nothing')}",
            markup=False,
        )
    for tree, t in info["trees"].items():
        unit = f", energies in {t['energy_unit']}" if t.get("energy_unit") else ""
        schema = f", layout {t['schema']}" if t.get("schema") else ""
        kind = t.get("format", "tree")
        what = "fields" if kind == "RNTuple" else "branches"
        head = f"{kind} '{tree}': {t['entries']:,} entries, {len(t['branches'])} {what}"
        if tree == "(table)":
            head = f"{kind} table: {t['entries']:,} rows, {len(t['branches'])} columns"
        table = Table(title=f"{head}{schema}{unit}")
        for col in ("branch", "type", "objects/event min/mean/max", "min", "mean", "max"):
            table.add_column(col, justify="left" if col in ("branch", "type") else "right")
        rows = t["branches"] if show is None else t["branches"][:show]
        for row in rows:
            if "error" in row:
                table.add_row(row["branch"], row["type"], f"[red]unreadable: {row['error']}[/red]")
                continue
            c = row.get("count")
            v = row.get("values")
            table.add_row(
                row["branch"],
                str(row["type"]),
                "" if c is None else f"{c['min']:.0f} / {c['mean']:.2f} / {c['max']:.0f}",
                _fmt(v["min"]) if v else "-",
                _fmt(v["mean"]) if v else "-",
                _fmt(v["max"]) if v else "-",
            )
        console.print(table)
        if show is not None and len(t["branches"]) > show:
            console.print(f"... {len(t['branches']) - show} more branches (use --all)")


def register(app: typer.Typer) -> None:
    """Add the ``inspect`` and ``cutflow`` commands to ``app``."""

    @app.command("inspect")
    def inspect_cmd(
        file: str = typer.Argument(..., help="a ROOT, CSV or Parquet file"),
        tree: str | None = typer.Option(None, "--tree", help="only this tree"),
        max_entries: int | None = typer.Option(
            None, "--max-entries", help="summarise at most this many entries per branch"
        ),
        show_all: bool = typer.Option(False, "--all", help="list every branch (default: 200)"),
    ) -> None:
        """Show trees, branches, types, entries and per-branch value summaries of FILE."""
        from hepsift.commands._checks import check_count
        from hepsift.commands._rich import make_console

        check_count(max_entries, "--max-entries")
        from hepsift.io import inspect

        with show_notes():
            info = inspect(file, tree=tree, max_entries=max_entries)
        print_inspect(info, make_console(), show=None if show_all else 200)

    @app.command("cutflow")
    def cutflow_cmd(
        files: list[str] = typer.Argument(..., help="input files or glob patterns"),
        selection: str = typer.Option("hgamgam", "--selection", "-s", help="preset or YAML file"),
        tree: str | None = typer.Option(None, "--tree", help="tree name"),
        lumi_fb: float = typer.Option(10.0, "--lumi-fb", help="luminosity in fb^-1"),
        sample: str = typer.Option("sample", "--name", help="sample name for the table"),
        scheduler: str | None = typer.Option(
            None, "--scheduler", help="Dask cluster: local:N, tcp://HOST:PORT or a scheduler file"
        ),
    ) -> None:
        """Apply a selection to FILES and print the weighted cutflow."""
        from hepsift.cluster import open_cluster
        from hepsift.commands._checks import check_scheduler
        from hepsift.commands._rich import make_console
        from hepsift.prepare import build_dataset

        check_scheduler(scheduler)
        with show_notes(), open_cluster(scheduler) as cluster:
            _, info = build_dataset(
                [{"name": sample, "files": files, "label": "signal", "tree": tree}],
                features=[],
                selection=selection,
                lumi_fb=lumi_fb,
                scheduler=None if cluster is None else cluster.client,
            )
        console = make_console(markup=False)  # sample and cut names are user text
        console.print(info.cutflows[sample].table())
        console.print(info.yields_table())
