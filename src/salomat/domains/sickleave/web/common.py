"""What the sick-leave pages share: form helpers, the QR code of the public check, labels."""

from __future__ import annotations

import base64
import io
import re
from typing import Any
from urllib.parse import urlencode

from fastapi import Request

from salomat.core.errors import FieldError
from salomat.domains.sickleave.web.labels import labels
from salomat.ui import forms

#: the public page a certificate's QR code opens
VERIFY_PATH = "/verify/sick-leave"


def verify_url(request: Request, number: str, check_code: str) -> str:
    """The absolute address of the public check of one certificate: its number and check
    code, nothing about the person or the illness."""
    base = str(request.base_url).rstrip("/")
    return f"{base}{VERIFY_PATH}?{urlencode({'number': number, 'code': check_code})}"


def qr_png_data_uri(text: str) -> str:
    """``text`` as a QR code in a PNG ``data:`` URI (8 pixels a module, a 4-module border):
    a bitmap keeps the printed modules sharp and lets a test read them back."""
    import segno

    buf = io.BytesIO()
    segno.make(text, error="m").save(buf, kind="png", scale=8, border=4)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def or_none(raw: dict[str, str]) -> dict[str, Any]:
    """Empty fields as absent (None), for the request schemas."""
    return {k: (v or None) for k, v in raw.items()}


def lines(text: str) -> list[str]:
    """One name a line (the commission's members), blank lines left out."""
    return [x.strip() for x in text.splitlines() if x.strip()]


_INDEX = re.compile(r"\.\d+$")


def errors_of(errors: list[FieldError], prefix: str = "") -> dict[str, list[FieldError]]:
    """Messages by form field: ``vkk.members.2`` is the form's ``vkk_members`` (``prefix``
    names a nested object whose fields the form writes ``<prefix>_<field>``)."""
    out: dict[str, list[FieldError]] = {}
    for e in errors:
        field = _INDEX.sub("", e.field)
        if prefix and field.startswith(prefix + "."):
            field = prefix + "_" + field[len(prefix) + 1 :]
        out.setdefault(field, []).append(e)
    return out


def base_ctx() -> dict[str, Any]:
    return {**labels(), "verify_path": VERIFY_PATH}


# the form helpers every domain's pages share (ui.forms), under the names the pages use
read_form = forms.read_form
values = forms.values
loose = forms.loose
