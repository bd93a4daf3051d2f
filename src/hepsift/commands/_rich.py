"""What the command modules print with: the console and the listing tables of ``--list``.

Rich is imported on first use so that ``hepsift --version`` stays instant.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["listing", "make_console"]


def make_console() -> Any:
    """A rich Console that leaves the colours of numbers and paths alone."""
    from rich.console import Console

    return Console(highlight=False)


def listing(title: str, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> Any:
    """A rich table titled ``title``: one row a listed item, its name (first column) in bold."""
    from rich.table import Table

    table = Table(title=title)
    for i, column in enumerate(columns):
        table.add_column(column, style="bold" if i == 0 else None)
    for row in rows:
        table.add_row(*row)
    return table
