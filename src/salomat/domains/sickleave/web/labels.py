"""The labels of the sick-leave codes the pages show, marked for the catalog.

A code is stored and sent as is; a page shows its label in the page's language
(``_(label)`` in the template). The certificate's own codes (reason, kind, status,
closure, who granted, the commission's decision) are named once, in
``service.labels``, for pages, PDFs, FHIR and errors alike; what only the pages
show is named here.
"""

from __future__ import annotations

from salomat.core.i18n import N_
from salomat.domains.sickleave import service

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
        "reasons": service.REASON_LABELS,
        "kinds": service.KIND_LABELS,
        "statuses": service.STATUS_LABELS,
        "closures": service.CLOSURE_LABELS,
        "granted_as": service.GRANTED_AS_LABELS,
        "vkk_decisions": service.DECISION_LABELS,
        "changes": CHANGES,
        "system_reasons": SYSTEM_REASONS,
        "verify_statuses": VERIFY_STATUSES,
    }
