"""What each code of a certificate is called, for people (pages, PDFs, errors).

The codes stay in the data and the API; a reader sees these words in her
language (``core.i18n``: every value here is a msgid).
"""

from __future__ import annotations

from salomat.core.i18n import N_

__all__ = [
    "CLOSURE_LABELS",
    "DECISION_LABELS",
    "GRANTED_AS_LABELS",
    "KIND_LABELS",
    "REASON_LABELS",
    "STATUS_LABELS",
    "label",
]

REASON_LABELS = {
    "own_illness": N_("Own illness"),
    "injury": N_("Injury"),
    "care": N_("Care of a sick child"),
    "quarantine": N_("Quarantine"),
    "maternity": N_("Maternity leave"),
    "sanatorium_aftercare": N_("Sanatorium after-care"),
}
#: what an employer sees
KIND_LABELS = {
    "illness": N_("Illness"),
    "care": N_("Care of a family member"),
    "maternity": N_("Maternity"),
}
STATUS_LABELS = {
    "open": N_("Open"),
    "closed": N_("Closed"),
    "cancelled": N_("Cancelled"),
}
CLOSURE_LABELS = {
    "return_to_work": N_("Back to work"),
    "disability_referral": N_("Referred to disability assessment"),
    "death": N_("Death"),
    "end_of_leave": N_("End of leave"),
}
GRANTED_AS_LABELS = {
    "doctor": N_("Doctor"),
    "mid_level": N_("Mid-level practitioner"),
    "vkk": N_("Medical advisory commission (VKK)"),
    "birth_record": N_("Birth record"),
}
DECISION_LABELS = {
    "extend": N_("Extend"),
    "refer_disability": N_("Refer to disability assessment"),
}


def label(table: dict[str, str], code: str | None) -> str:
    """The msgid for ``code`` (the code itself when the table has none)."""
    if code is None:
        return ""
    return table.get(code, code)
