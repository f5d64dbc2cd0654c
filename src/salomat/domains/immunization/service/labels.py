"""What the pack's codes are called in the reader's language.

The calendar (``immunization.yaml``) and the coverage indicators
(``immunization_coverage.yaml``) give each vaccine, site, series, indicator and
dropout an English ``label`` and, under ``names``, its name in the pack's other
languages. Pages read them through :class:`Labels` while they render (the page's
language is set then); the REST API keeps the English labels and the codes.
"""

from __future__ import annotations

import re
from functools import lru_cache

from salomat.core import i18n
from salomat.core.config import get_settings
from salomat.core.i18n import N_
from salomat.country import pack

__all__ = ["KINDS", "Labels", "invalid_reason_text", "pack_names"]

#: kind of code -> (pack file, list of entries, the entry's code key)
KINDS = {
    "vaccines": ("immunization", "vaccines", "code"),
    "sites": ("immunization", "sites", "code"),
    "series": ("immunization", "series", "antigen"),
    "indicators": ("immunization_coverage", "indicators", "code"),
    "dropout": ("immunization_coverage", "dropout", "code"),
}


@lru_cache
def pack_names(country: str) -> dict[str, dict[str, dict[str, str]]]:
    """kind -> code -> language -> name; "en" is the entry's ``label``."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    for kind, (file, key, code_key) in KINDS.items():
        data = pack.load(country, file)
        entries = (data.get("coverage", data) if file == "immunization_coverage" else data)[key]
        names = data.get("names", {}).get(kind, {})
        out[kind] = {e[code_key]: {"en": e["label"], **names.get(e[code_key], {})} for e in entries}
    return out


class Labels:
    """Names of the deployed pack's codes in the language being rendered.

    A code the pack does not know is shown as it is (a dose from another calendar).
    """

    def __init__(self, country: str | None = None) -> None:
        self.names = pack_names(country or get_settings().country)

    def _name(self, kind: str, code: str | None) -> str:
        if not code:
            return ""
        by_lang = self.names[kind].get(code)
        if by_lang is None:
            return code
        return by_lang.get(i18n.current_language()) or by_lang["en"]

    def vaccine(self, code: str | None) -> str:
        return self._name("vaccines", code)

    def site(self, code: str | None) -> str:
        return self._name("sites", code)

    def series(self, code: str | None) -> str:
        return self._name("series", code)

    def indicator(self, code: str | None) -> str:
        return self._name("indicators", code)

    def dropout(self, code: str | None) -> str:
        return self._name("dropout", code)


#: the engine's reasons for a dose that does not count (counting._judge), by their start
_INVALID = (
    ("before the minimum age", N_("given before the minimum age; not before %(day)s")),
    ("at or after the upper age", N_("given at or after the vaccine's upper age")),
    ("too soon after the invalid", N_("too soon after an invalid dose; not before %(day)s")),
    ("less than the minimum interval", N_("too soon after the previous dose; not before %(day)s")),
)
_DAY = re.compile(r"not before (\d{4}-\d{2}-\d{2})")


def invalid_reason_text(reason: str | None, day: object = None) -> str:
    """The stored reason of a dose that does not count, in the current language.

    ``day`` formats the date the reason names (the page's date format); without a
    known start the reason is shown as stored (a verdict received from elsewhere).
    """
    if not reason:
        return ""
    for start, msgid in _INVALID:
        if reason.startswith(start):
            found = _DAY.search(reason)
            when = found.group(1) if found else ""
            if found and callable(day):
                from datetime import date

                when = str(day(date.fromisoformat(when)))
            text = i18n.gettext(msgid)
            return text % {"day": when} if "%(day)s" in msgid else text
    return reason
