"""Printable documents as PDF, made by WeasyPrint from the pages' own Jinja templates.

A document is rendered through ``templating.render`` (so ``_()`` and the page's
language work as on screen), then laid out by WeasyPrint in a worker thread. The
layout may load only the package's static files and ``data:`` URIs (an inline QR
image): a template or a person's data can never make the server fetch a URL.
WeasyPrint needs Pango at run time; where it cannot load, the routes answer 503
with a message instead of failing.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from salomat.core import i18n
from salomat.core.errors import SalomatError
from salomat.core.i18n import N_
from salomat.ui.templating import UI_DIR, language_of, render

STATIC_DIR = (UI_DIR / "static").resolve()
#: relative links in a document template (``href="pdf.css"``) resolve here
BASE_URL = STATIC_DIR.as_uri() + "/"


class PdfUnavailable(SalomatError):
    status, code, fhir_code = 503, "pdf-unavailable", "transient"
    title = N_("Service unavailable")


def _unavailable(request: Request) -> PdfUnavailable:
    token = i18n.set_language(language_of(request))
    try:
        detail = i18n.gettext(
            "PDF documents cannot be made on this server now (the PDF library or its system "
            "libraries are missing). Use the print page instead."
        )
    finally:
        i18n._lang.reset(token)  # type: ignore[arg-type]
    return PdfUnavailable(detail, headers={"Retry-After": "3600"})


def _weasyprint() -> Any:
    """The library, imported on first use: a missing Pango must not stop the app."""
    import weasyprint

    return weasyprint


def static_path(url: str) -> Path | None:
    """The package static file a ``file:`` URL names, or None when it is anything else."""
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        return None
    path = Path(unquote(parts.path)).resolve()
    if not path.is_relative_to(STATIC_DIR) or not path.is_file():
        return None
    return path


def _fetcher_class(weasyprint: Any) -> type:
    class StaticOnlyFetcher(weasyprint.URLFetcher):  # type: ignore[name-defined,misc]
        """Loads the package's static files and ``data:`` URIs; refuses everything else."""

        def fetch(self, url: str, headers: Any = None) -> Any:
            scheme = url.split(":", 1)[0].lower()
            if scheme == "data" or (scheme == "file" and static_path(url) is not None):
                return super().fetch(url, headers)
            raise ValueError(f"PDF documents load only the package's static files, not {url!r}")

    return StaticOnlyFetcher


def html_to_pdf(html: str) -> bytes:
    """Lay out one HTML document as PDF bytes (CPU-bound: call it off the event loop)."""
    weasyprint = _weasyprint()
    fetcher = _fetcher_class(weasyprint)(allowed_protocols=("file", "data"), timeout=5)
    document = weasyprint.HTML(string=html, base_url=BASE_URL, url_fetcher=fetcher)
    return bytes(document.write_pdf())


def ascii_filename(name: str) -> str:
    """A file name any browser and mail client keeps: ASCII letters, digits, ``-_.``."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    plain = re.sub(r"[^A-Za-z0-9._-]+", "-", plain).strip("-.")
    return (plain or "document")[:80]


def pdf_response(pdf: bytes, filename: str) -> Response:
    """The document shown in the browser's viewer; person data, so never cached."""
    name = ascii_filename(filename.removesuffix(".pdf")) + ".pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{name}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


async def render_pdf(
    request: Request, template: str, context: dict[str, Any], *, filename: str
) -> Response:
    """Render ``template`` in the page's language and answer it as a PDF.

    Raises ``PdfUnavailable`` (503) when WeasyPrint or its system libraries cannot load.
    """
    try:
        _weasyprint()
    except (ImportError, OSError) as exc:
        raise _unavailable(request) from exc
    context = {"printed_on": date.today(), **context}
    html = bytes(render(request, template, context).body).decode("utf-8")
    pdf = await run_in_threadpool(html_to_pdf, html)
    return pdf_response(pdf, filename)
