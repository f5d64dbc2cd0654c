"""Words a person reads for the domain's codes (msgids: translated where shown).

Profiles and entitlement categories are named in the pack (``rules.profile_name``,
``Category.names``): they differ by country.
"""

from __future__ import annotations

from salomat.core.i18n import N_

__all__ = ["EVENT_LABELS", "OFFER_STATUS_LABELS", "REFERRAL_STATUS_LABELS", "STAY_STATUS_LABELS"]

REFERRAL_STATUS_LABELS = {
    "pending_indication": N_("waiting for a doctor's confirmation"),
    "referred": N_("referred, place not yet booked"),
    "queued": N_("in the queue"),
    "offered": N_("a place is offered"),
    "booked": N_("place booked"),
    "arrived": N_("at the sanatorium"),
    "discharged": N_("discharged"),
    "noshow": N_("did not arrive"),
    "cancelled": N_("cancelled"),
}
OFFER_STATUS_LABELS = {
    "open": N_("open"),
    "accepted": N_("accepted"),
    "declined": N_("declined"),
    "lapsed": N_("lapsed"),
    "withdrawn": N_("withdrawn"),
}
STAY_STATUS_LABELS = {
    "booked": N_("booked"),
    "arrived": N_("arrived"),
    "fulfilled": N_("completed"),
    "cancelled": N_("cancelled"),
    "noshow": N_("did not arrive"),
}
EVENT_LABELS = {
    "joined": N_("joined the queue"),
    "referred": N_("referred for a direct booking"),
    "indication_confirmed": N_("indication confirmed by a doctor"),
    "offered": N_("place offered"),
    "declined": N_("offer declined"),
    "lapsed": N_("offer lapsed"),
    "offer_withdrawn": N_("offer withdrawn: the sanatorium cancelled the period"),
    "requeued": N_("moved to the end of the queue"),
    "reordered": N_("category corrected"),
    "booked": N_("place booked"),
    "arrived": N_("arrived"),
    "discharged": N_("discharged"),
    "noshow": N_("did not arrive"),
    "cancelled": N_("cancelled"),
    "withdrawn": N_("withdrawn from the queue"),
}
