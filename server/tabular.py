"""The one way the hub writes a table for a spreadsheet: CSV exports (ideas, results, places and
Decidim, areas, figures, relays) and XLSX cells (`bundle sheet`).

A cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to
spreadsheet programs (`=HYPERLINK(…)`, `=cmd|' /C calc'!A0`): residents' text, a relay's chosen
name and a consultation's content reach these files. In CSV such a cell is written with a
leading `'` (shown as text, never run); in XLSX it is a text cell marked `quotePrefix` (the
program keeps it as text even when edited), its content unchanged.
"""
from __future__ import annotations

import csv
import io
from typing import Any, Iterable, Mapping, Sequence

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def starts_formula(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_START)


def inert(value: Any) -> Any:
    """A CSV cell's value that no spreadsheet program runs."""
    return "'" + value if starts_formula(value) else value


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, Any]], *,
             lineterminator: str = "\r\n") -> str:
    """Rows ({column: value}; other keys ignored) as CSV text with a header line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=lineterminator)
    writer.writerow([inert(c) for c in columns])
    for row in rows:
        writer.writerow([inert(row.get(c, "")) for c in columns])
    return out.getvalue()


def csv_lines(lines: Iterable[Sequence[Any]], *, lineterminator: str = "\r\n") -> str:
    """Lines of cells (the first one the header) as CSV text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=lineterminator)
    for line in lines:
        writer.writerow([inert(v) for v in line])
    return out.getvalue()


def xlsx_cell(ws, row: int, column: int, value: Any):
    """Write one XLSX cell: a text that would read as a formula stays text (quotePrefix)."""
    cell = ws.cell(row=row, column=column, value=value)
    if cell.data_type == "f" or starts_formula(value):
        cell.data_type = "s"
        cell.quotePrefix = True
    return cell
