"""What the cancer registry's pages share: the labels of the domain's codes, the site and
histology names a code is shown with, and the form helpers (a refused form comes back
with what was typed and each message beside its field, nothing stored).

A code is never shown alone: "C18.2" comes with the pack's site group of its ICD-10
conversion ("Colorectum and anus"), "8140/3" with its IARC/IACR 2004 histology group
("adenocarcinoma"), a basis or a status with its label, all in the page's language.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from salomat.core.config import get_settings
from salomat.core.errors import SalomatError
from salomat.country import pack
from salomat.domains.cancer.service import icdo3, labels
from salomat.ui import forms

__all__ = [
    "base_ctx",
    "errors_of",
    "histology_name",
    "local",
    "loose",
    "page_language",
    "read_form",
    "settle",
    "site_name",
    "values",
]

_MORPH = re.compile(r"^(\d{4})/(\d)$")


def site_name(topography: str | None, morphology: str | None = None) -> str:
    """The pack's site group of a topography (through its ICD-10 code when the morphology
    is known: a leukaemia coded to the marrow, C42.1, is "Leukaemia")."""
    if not topography:
        return ""
    code = topography
    m = _MORPH.match(morphology or "")
    if m is not None:
        try:
            code = icdo3.icd10_of(topography, icdo3.Morphology(int(m[1]), int(m[2])))
        except (KeyError, ValueError, IndexError):
            code = topography
    return labels.site_group_name(code) or labels.site_group_name(topography)


def histology_name(morphology: str | None) -> str:
    """The histology group's label (a msgid, translated by the template) and nothing for a
    code that is not histology/behaviour."""
    m = _MORPH.match(morphology or "")
    if m is None:
        return ""
    return labels.HISTOLOGY_GROUP_LABELS.get(icdo3.histology_group(int(m[1])), "")


def local(at: datetime | None) -> datetime | None:
    """A stored moment (UTC) in the country's time zone, for showing."""
    if at is None:
        return None
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone(pack.time_zone(get_settings().country))


def base_ctx() -> dict[str, Any]:
    """What every cancer template reads its labels and names from."""
    return {
        "sources": labels.SOURCE_LABELS,
        "bases": labels.BASIS_LABELS,
        "date_kinds": labels.DATE_KIND_LABELS,
        "date_levels": labels.DATE_LEVEL_LABELS,
        "tumour_statuses": labels.TUMOUR_STATUS_LABELS,
        "notification_statuses": labels.NOTIFICATION_STATUS_LABELS,
        "reasons": labels.REASON_LABELS,
        "checks": labels.CHECK_LABELS,
        "treatments": labels.TREATMENT_LABELS,
        "disease_statuses": labels.DISEASE_STATUS_LABELS,
        "vital_statuses": labels.VITAL_STATUS_LABELS,
        "behaviours": labels.BEHAVIOUR_LABELS,
        "grades": labels.GRADE_LABELS,
        "lateralities": labels.LATERALITY_LABELS,
        "site_name": site_name,
        "histology_name": histology_name,
        "local": local,
    }


async def settle(session: Any, e: SalomatError) -> None:
    """A refusal the page shows again: 404 is the error page; a change that lost a race
    (409, 412) may leave the session unusable, so the page is read afresh; any other
    refusal has changed nothing (the unit of work rolls back on the 4xx status)."""
    if e.status == 404:
        raise e
    if e.status in (409, 412):
        await session.rollback()


# the form helpers every domain's pages share (ui.forms), under the names the pages use
page_language = forms.page_language
read_form = forms.read_form
values = forms.values
loose = forms.loose
errors_of = forms.errors_by_field
