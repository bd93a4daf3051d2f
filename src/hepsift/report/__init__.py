"""The run folder, its provenance and the self-contained HTML report."""

from __future__ import annotations

from hepsift.report.figures import FigureRecord, FigureSet
from hepsift.report.html import Block, Section, Table, render_report, write_report
from hepsift.report.provenance import (
    file_sha256,
    manifest_checksums,
    package_versions,
    provenance,
)
from hepsift.report.rundir import DONE_MARKER, RunDir, utc_stamp

__all__ = [
    "DONE_MARKER",
    "Block",
    "FigureRecord",
    "FigureSet",
    "RunDir",
    "Section",
    "Table",
    "file_sha256",
    "manifest_checksums",
    "package_versions",
    "provenance",
    "render_report",
    "utc_stamp",
    "write_report",
]
