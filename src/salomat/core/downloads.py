"""A file a service produced for download (a CSV export) and its HTTP answer.

The service names the file, so the REST API and the page that offer the same
export give the same name and content. Every CSV is written by ``csv_text``,
which neutralises cells a spreadsheet would run as a formula (OWASP, "CSV
Injection"): a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return gets a leading apostrophe, so it is shown as typed. Numbers stay
numbers (a negative count is not text someone typed).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

__all__ = ["FORMULA_STARTS", "CsvFile", "csv_download", "csv_text", "neutralise"]

#: OWASP's list of characters a spreadsheet reads as the start of a formula
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: Any) -> Any:
    """A text cell a spreadsheet would run as a formula, made plain text; others as given."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def csv_text(header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> str:
    """The CSV of a header line and rows, every text cell neutralised."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow([neutralise(c) for c in header])
    for row in rows:
        w.writerow([neutralise(c) for c in row])
    return out.getvalue()


@dataclass(frozen=True)
class CsvFile:
    filename: str
    text: str


def csv_download(file: CsvFile) -> Response:
    return Response(
        file.text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{file.filename}"'},
    )
