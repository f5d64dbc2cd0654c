"""A file a service produced for download (a CSV export) and its HTTP answer.

The service names the file, so the REST API and the page that offer the same
export give the same name and content.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.responses import Response


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
