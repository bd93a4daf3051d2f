"""The self-contained HTML report: one file, images as data URIs, no network, no external CSS/JS."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hepsift._files import atomic_write_text
from hepsift.report.figures import FigureRecord

__all__ = ["Block", "Section", "Table", "render_report", "write_report"]


@dataclass
class Table:
    """A small table: column headers and rows of cells (numbers are formatted in the template)."""

    title: str
    columns: list[str]
    rows: list[list[Any]]
    note: str = ""


@dataclass
class Block:
    """A sub-section: heading, paragraphs, tables, figures and an optional preformatted text."""

    heading: str
    id: str = ""
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[FigureRecord] = field(default_factory=list)
    pre: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class Section:
    """A top-level report section (``data``, ``features``, ``models``, ``comparison``, ...)."""

    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:  # NaN
            return "–"
        if value == 0 or 1e-3 <= abs(value) < 1e5:
            return f"{value:.4g}"
        return f"{value:.3e}"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


def render_report(
    *,
    title: str,
    subtitle: str,
    sections: list[Section],
    summary: str = "",
    warnings: Sequence[str] = (),
) -> str:
    """The report HTML as text; ``warnings`` are shown under the summary, before any section."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = _fmt
    template = env.get_template("report.html.j2")
    return template.render(
        title=title, subtitle=subtitle, sections=sections, summary=summary, warnings=list(warnings)
    )


def write_report(
    path: Path,
    *,
    title: str,
    subtitle: str,
    sections: list[Section],
    summary: str = "",
    warnings: Sequence[str] = (),
) -> Path:
    """Render and write ``report.html`` atomically; returns its path."""
    text = render_report(
        title=title, subtitle=subtitle, sections=sections, summary=summary, warnings=warnings
    )
    return atomic_write_text(path, text)
