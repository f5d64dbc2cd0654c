"""The labels of the sick-leave codes (enum values), marked for the catalog.

A code is stored and sent as is; a page shows its label in the page's language
(``_(label)`` in the template). No page shows a raw code where a label belongs.
"""

from __future__ import annotations

from salomat.core.i18n import N_

#: ``OpenIn.reason`` and the maternity certificate's reason
REASONS = {
    "own_illness": N_("own illness"),
    "injury": N_("injury"),
    "care": N_("care of a sick child"),
    "quarantine": N_("quarantine"),
    "sanatorium_aftercare": N_("sanatorium after-care"),
    "maternity": N_("maternity leave"),
}
#: ``CertificateOut.kind``: what an employer may know
KINDS = {
    "illness": N_("illness"),
    "care": N_("care"),
    "maternity": N_("maternity"),
}
STATUSES = {
    "open": N_("ongoing"),
    "closed": N_("closed"),
    "cancelled": N_("cancelled"),
}
CLOSURES = {
    "return_to_work": N_("return to work"),
    "disability_referral": N_("referral to disability assessment"),
    "death": N_("death"),
    "end_of_leave": N_("end of leave"),
}
#: ``PeriodOut.granted_as``: who granted a period
GRANTED_AS = {
    "doctor": N_("doctor"),
    "mid_level": N_("mid-level practitioner"),
    "vkk": N_("medical advisory commission (VKK)"),
    "birth_record": N_("birth record"),
}
VKK_DECISIONS = {
    "extend": N_("extend"),
    "refer_disability": N_("refer to disability assessment"),
}
#: ``VersionOut.change``
CHANGES = {
    "opened": N_("opened"),
    "extended": N_("extended"),
    "vkk": N_("commission's decision"),
    "closed": N_("closed"),
    "corrected": N_("corrected"),
    "cancelled": N_("cancelled"),
    "duplicate": N_("duplicate issued"),
    "death": N_("death"),
}
#: reasons the system writes on a version or a cancellation (anything else is typed by a
#: person and shown as typed)
SYSTEM_REASONS = {
    "death": N_("death"),
    "death before the certificate's first day": N_("death before the certificate's first day"),
    "complicated birth (attested)": N_("complicated birth (attested)"),
    "complicated birth or two or more babies": N_("complicated birth or two or more babies"),
    "birth record: complicated birth or two or more babies": N_(
        "birth record: complicated birth or two or more babies"
    ),
}
#: ``VerifyOut.status``
VERIFY_STATUSES = {
    "valid": N_("valid"),
    "invalid": N_("invalid"),
    "cancelled": N_("cancelled"),
}


def labels() -> dict[str, dict[str, str]]:
    """What every sick-leave template reads its labels from."""
    return {
        "reasons": REASONS,
        "kinds": KINDS,
        "statuses": STATUSES,
        "closures": CLOSURES,
        "granted_as": GRANTED_AS,
        "vkk_decisions": VKK_DECISIONS,
        "changes": CHANGES,
        "system_reasons": SYSTEM_REASONS,
        "verify_statuses": VERIFY_STATUSES,
    }
