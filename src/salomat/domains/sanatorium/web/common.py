"""What the sanatorium pages share: the words for the domain's codes, the pack's names,
and the form helpers (a refused form comes back with what was typed and each message
beside its field).

A code is stored and sent as is; a page shows its label in the page's language. The
pack names profiles and categories (they differ by country): ``profile_name`` and
``category_name`` read them in the language current when the template calls them (the
page's), falling back to English, then to the code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from salomat.core import i18n
from salomat.core.config import get_settings
from salomat.core.errors import FieldError
from salomat.core.i18n import N_
from salomat.country import pack
from salomat.domains.sanatorium import service
from salomat.ui import forms

__all__ = [
    "PERIOD_STATUS_LABELS",
    "SYSTEM_REASONS",
    "WARNING_KINDS",
    "ReferralWarning",
    "base_ctx",
    "category_name",
    "codes",
    "errors_of",
    "local",
    "loose",
    "or_none",
    "page_language",
    "profile_name",
    "read_form",
    "reason_text",
    "values",
    "warnings_of",
]

#: ``PeriodOut.status``
PERIOD_STATUS_LABELS = {
    "open": N_("open for booking"),
    "cancelled": N_("withdrawn"),
}
#: reasons the platform writes in the queue's log or on a cancelled referral (anything
#: else was typed by a person and is shown as typed)
SYSTEM_REASONS = {
    "offer lapsed": N_("offer lapsed"),
    "offer declined": N_("offer declined"),
    "death registered": N_("death registered"),
    "merged with another record of the person": N_("merged with another record of the person"),
    "period withdrawn by the sanatorium": N_("period withdrawn by the sanatorium"),
}
#: the kinds of ``ReferralOut.warnings`` (``<kind>:<contraindication>:<ICD-10 code>``)
WARNING_KINDS = {
    "warn": N_("for the sanatorium to assess"),
    "override": N_("a contraindication overridden by the clinician's attestation"),
}


@dataclass(frozen=True)
class ReferralWarning:
    kind: str
    #: the contraindication's label (a msgid) or, unknown to the catalog, its code
    label: str
    code: str
    known: bool


def warnings_of(items: list[str]) -> list[ReferralWarning]:
    """``warn:needs_assessment:I50`` as its parts, the label as the catalog knows it."""
    out = []
    for item in items:
        kind, _, rest = item.partition(":")
        label, _, code = rest.partition(":")
        known = service.CONTRAINDICATION_LABELS.get(label)
        out.append(ReferralWarning(kind, known or label, code, known is not None))
    return out


def profile_name(code: str | None) -> str:
    """The pack's name of a treatment profile in the current language."""
    if not code:
        return ""
    return service.sanatorium_rules().profile_name(code, i18n.current_language())


def category_name(code: str | None) -> str:
    """The pack's name of an entitlement category in the current language."""
    if not code:
        return ""
    cat = service.sanatorium_rules().categories.get(code)
    if cat is None:
        return code
    return cat.names.get(i18n.current_language()) or cat.names.get("en") or code


def reason_text(reason: str | None) -> str:
    """A logged reason: the platform's own words translated, a person's as typed."""
    if not reason:
        return ""
    known = SYSTEM_REASONS.get(reason)
    return i18n.gettext(known) if known else reason


def local(at: datetime | None) -> datetime | None:
    """A stored moment (UTC) in the country's time zone, for showing."""
    if at is None:
        return None
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone(pack.time_zone(get_settings().country))


def base_ctx() -> dict[str, Any]:
    """What every sanatorium template reads its labels and names from."""
    return {
        "referral_statuses": service.REFERRAL_STATUS_LABELS,
        "offer_statuses": service.OFFER_STATUS_LABELS,
        "stay_statuses": service.STAY_STATUS_LABELS,
        "event_kinds": service.EVENT_LABELS,
        "period_statuses": PERIOD_STATUS_LABELS,
        "contraindications": service.CONTRAINDICATION_LABELS,
        "warning_kinds": WARNING_KINDS,
        "profile_name": profile_name,
        "category_name": category_name,
        "reason_text": reason_text,
        "warnings_of": warnings_of,
        "local": local,
    }


# ---- forms ---------------------------------------------------------------------------


def or_none(raw: dict[str, str]) -> dict[str, Any]:
    """Empty fields as absent (None), for the request schemas."""
    return {k: (v or None) for k, v in raw.items()}


_SEPARATORS = re.compile(r"[\s,;]+")


def codes(text: str) -> list[str]:
    """ICD-10 codes typed in one field, separated by commas, semicolons or spaces."""
    return [c.upper() for c in _SEPARATORS.split(text) if c]


_INDEX = re.compile(r"\.\d+$")


def errors_of(
    errors: list[FieldError], rename: dict[str, str] | None = None
) -> dict[str, list[FieldError]]:
    """Messages by form field: ``conditions.2`` is the form's ``conditions`` (``rename``:
    a service's field -> the form's where they differ)."""
    out: dict[str, list[FieldError]] = {}
    for e in errors:
        field = _INDEX.sub("", e.field)
        field = (rename or {}).get(field, field)
        out.setdefault(field, []).append(e)
    return out


# the form helpers every domain's pages share (ui.forms), under the names the pages use
page_language = forms.page_language
read_form = forms.read_form
values = forms.values
loose = forms.loose
