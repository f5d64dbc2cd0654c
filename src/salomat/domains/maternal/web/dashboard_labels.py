"""The maternal dashboard's words: CSV headers, definitions and territory levels."""

from __future__ import annotations

from collections.abc import Callable

from salomat.core.i18n import N_
from salomat.domains.maternal.schemas import DashboardFigures
from salomat.domains.maternal.service import DEFINITIONS
from salomat.domains.maternal.web.labels import OUTCOMES, RISK_LABELS

#: the figure columns of ``service.dashboard_csv`` (the risk and outcome columns are made
#: from ``RISK_COLUMN`` and ``OUTCOME_COLUMN``)
COLUMNS = {
    "period_from": N_("Period from"),
    "period_to": N_("Period to"),
    "code": N_("Code"),
    "name": N_("Area"),
    "level": N_("Level"),
    "current": N_("Pregnant women now"),
    "registered": N_("Registered"),
    "registered_early": N_("Registered up to 12 weeks"),
    "early_pct": N_("Registered up to 12 weeks, per cent"),
    "closed": N_("Pregnancies closed"),
    "anc4": N_("ANC4+ (at least 4 contacts)"),
    "anc4_pct": N_("ANC4+, per cent"),
    "anc8": N_("ANC8+ (at least 8 contacts)"),
    "anc8_pct": N_("ANC8+, per cent"),
    "births": N_("Births"),
    "caesarean": N_("Caesarean sections"),
    "preterm": N_("Preterm births (before 37 weeks)"),
    "babies_live": N_("Live-born babies"),
    "babies_stillborn": N_("Stillborn babies"),
    "low_birth_weight": N_("Low birth weight (under 2500 g)"),
    "high_risk_pending_24h": N_("High-risk referrals unanswered over 24 h"),
}
RISK_COLUMN = N_("%(risk)s, trimester %(n)s")
OUTCOME_COLUMN = N_("Outcome: %(outcome)s")
#: ``DashboardFigures.by_risk`` keys (the three risk levels and "not assessed")
RISKS = {**RISK_LABELS, "unassessed": N_("risk not assessed")}
#: ``DashboardRow.level``
LEVELS = {"region": N_("region"), "district": N_("district"), "settlement": N_("settlement")}

#: ``service.DEFINITIONS``: (what it is called, what it counts), in the reader's language
DEFINITION_TEXTS = {
    "current": (N_("Pregnant women now"), N_("pregnancies not yet closed")),
    "by_risk": (
        N_("By risk level and trimester"),
        N_(
            "current pregnancies by the risk level of their last evaluation and the trimester "
            "of gestational age today (1st under 14 weeks, 2nd 14 to 27 weeks 6 days, 3rd "
            "from 28 weeks)"
        ),
    ),
    "registered": (N_("Registered"), N_("pregnancies registered in the period")),
    "registered_early": (
        N_("Registered up to 12 weeks"),
        N_("of those, registered at a gestational age of at most 12 weeks 6 days"),
    ),
    "closed": (
        N_("Pregnancies closed"),
        N_("pregnancies closed in the period, whatever the outcome"),
    ),
    "anc4": (
        N_("ANC4+ (at least 4 contacts)"),
        N_("of those, with at least 4 antenatal contacts on distinct days"),
    ),
    "anc8": (
        N_("ANC8+ (at least 8 contacts)"),
        N_("of those, with at least 8 antenatal contacts on distinct days"),
    ),
    "outcomes": (N_("Outcomes"), N_("pregnancies closed in the period, by outcome")),
    "births": (N_("Births"), N_("birth records dated in the period")),
    "caesarean": (
        N_("Caesarean sections"),
        N_("of those, by elective or emergency caesarean section"),
    ),
    "preterm": (N_("Preterm births (before 37 weeks)"), N_("of those, before 37 weeks")),
    "babies_live": (N_("Live-born babies"), N_("live-born babies of those births")),
    "babies_stillborn": (N_("Stillborn babies"), N_("stillborn babies of those births")),
    "low_birth_weight": (
        N_("Low birth weight (under 2500 g)"),
        N_("babies of those births under 2500 g"),
    ),
    "high_risk_pending_24h": (
        N_("High-risk referrals unanswered over 24 h"),
        N_(
            "referrals of current high-risk pregnancies still waiting for an answer more "
            "than 24 hours after they were sent"
        ),
    ),
    "place": (
        N_("Place"),
        N_(
            "each pregnancy counts where the woman lived at registration (else where she "
            "was registered)"
        ),
    ),
}
assert set(DEFINITION_TEXTS) == set(DEFINITIONS)
assert set(RISKS) == set(DashboardFigures().by_risk)
assert set(OUTCOMES) == set(DashboardFigures().outcomes)


def csv_labels(_: Callable[[str], str]) -> dict[str, str]:
    """Every column key of the CSV -> its header in the language ``_`` translates to."""
    out = {key: _(label) for key, label in COLUMNS.items()}
    for risk, label in RISKS.items():
        for t in (1, 2, 3):
            out[f"{risk}_t{t}"] = _(RISK_COLUMN) % {"risk": _(label), "n": t}
    for outcome, label in OUTCOMES.items():
        out[f"outcome_{outcome}"] = _(OUTCOME_COLUMN) % {"outcome": _(label)}
    return out
