"""What the command modules print with: the console and the listing tables of ``--list``.

On a terminal the console is as wide as the terminal. When stdout is not a terminal (CI logs,
``| tee``, ``> file``) rich would cut tables to 80 columns (``logis…``) and wrap text one word
per line; the console is then :data:`PIPE_WIDTH` wide instead, so tables take their content's
width and lines are not broken (``COLUMNS`` set in the environment still wins). Progress bars
are for terminals only: commands pass ``progress=interactive(console)``.

Rich is imported on first use so that ``hepsift --version`` stays instant.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["PIPE_WIDTH", "interactive", "listing", "make_console"]

#: the console width when stdout is not a terminal: wide enough for any table's content
PIPE_WIDTH = 10_000


def make_console(**kwargs: Any) -> Any:
    """A rich Console that leaves the colours of numbers and paths alone and, off a
    terminal, sizes tables to their content (see the module docstring)."""
    from rich.console import Console

    console = Console(**{"highlight": False, **kwargs})
    if not console.is_terminal and "width" not in kwargs and not os.environ.get("COLUMNS"):
        console.width = PIPE_WIDTH
    return console


def interactive(console: Any) -> bool:
    """True when ``console`` writes to a terminal (progress bars are shown only there)."""
    return bool(console.is_terminal)


def listing(title: str, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> Any:
    """A rich table titled ``title``: one row a listed item, its name (first column) in bold."""
    from rich.table import Table

    table = Table(title=title)
    for i, column in enumerate(columns):
        table.add_column(column, style="bold" if i == 0 else None)
    for row in rows:
        table.add_row(*row)
    return table
