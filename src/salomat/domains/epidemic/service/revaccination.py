"""Revaccination coverage of the previously vaccinated, with both denominators.

Numerator: persons (one per national id) with at least one revaccination dose after a
completed primary series. Denominators: everyone with a completed primary series, and
those eligible, whose primary series was completed at least the pack's interval ago (6
months in KZ, UNVERIFIED). A person already revaccinated counts as eligible, so the
eligible share never exceeds 100 %. The target (65 % in KZ, its act not found:
UNVERIFIED) is compared against both, each labelled; the set-wise SQL that counts the
registry comes later and calls these functions.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np

from salomat.core.errors import N_, FieldError, Invalid

__all__ = [
    "Coverage",
    "Share",
    "coverage",
    "coverage_of_persons",
    "months_before",
]

#: the two denominators, as a reader sees them
DENOMINATORS = {
    "eligible": N_("of those eligible (primary series completed at least %(months)s months ago)"),
    "all": N_("of all with a completed primary series"),
}


@dataclass(frozen=True)
class Share:
    numerator: int
    denominator: int
    #: percent to one decimal (half up); None when the denominator is 0
    percent: Decimal | None
    #: the target is met (numerator / denominator ≥ target, exactly); None without data
    met: bool | None
    label: str  # a msgid from DENOMINATORS


@dataclass(frozen=True)
class Coverage:
    eligible: Share
    all: Share
    target_percent: Decimal
    interval_months: int


def _share(num: int, den: int, target: Decimal, label: str) -> Share:
    if den == 0:
        return Share(num, den, None, None, label)
    pct = (Decimal(num) * 100 / Decimal(den)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return Share(num, den, pct, Decimal(num) * 100 >= target * den, label)


def coverage(
    revaccinated: int,
    completed_primary: int,
    eligible: int,
    *,
    target_percent: Decimal | float | str = Decimal(65),
    interval_months: int = 6,
) -> Coverage:
    """Coverage from counts: ``revaccinated`` ≤ ``eligible`` ≤ ``completed_primary``
    (refused naming the field otherwise)."""
    errors = [
        FieldError(n, N_("A count may not be negative."))
        for n, v in (
            ("revaccinated", revaccinated),
            ("completed_primary", completed_primary),
            ("eligible", eligible),
        )
        if v < 0
    ]
    if not errors and eligible > completed_primary:
        errors.append(
            FieldError("eligible", N_("May not exceed those with a completed primary series."))
        )
    if not errors and revaccinated > eligible:
        errors.append(FieldError("revaccinated", N_("May not exceed those eligible.")))
    if errors:
        raise Invalid.fields(errors)
    target = Decimal(str(target_percent))
    return Coverage(
        eligible=_share(revaccinated, eligible, target, DENOMINATORS["eligible"]),
        all=_share(revaccinated, completed_primary, target, DENOMINATORS["all"]),
        target_percent=target,
        interval_months=interval_months,
    )


def months_before(day: date, months: int) -> date:
    """The last completion day from which ``months`` calendar months have passed on
    ``day``: the same day ``months`` months earlier, and the whole month's end when
    ``day`` is the last day of its month. Months are added as the immunization registry
    adds them (``immunization.add_age``: clamped to the month's last day), so a completion
    on 29-31 August has passed 6 months on 28 February, the day the registry first counts
    a revaccination valid, and is eligible and due from then: one definition of "6
    months after" for the registry's check and this count."""
    y, m = divmod(day.year * 12 + day.month - 1 - months, 12)
    m += 1
    last = calendar.monthrange(y, m)[1]
    if day.day == calendar.monthrange(day.year, day.month)[1]:
        return date(y, m, last)
    return date(y, m, min(day.day, last))


def coverage_of_persons(
    primary_completed_on: Any,
    revaccinated_on: Any,
    as_of: date,
    *,
    interval_months: int = 6,
    target_percent: Decimal | float | str = Decimal(65),
) -> Coverage:
    """Coverage over one row per person (already deduplicated by national id):
    ``primary_completed_on`` the day the primary series was completed (NaT: not
    completed), ``revaccinated_on`` the first revaccination dose after it (NaT: none).
    Only doses on or before ``as_of`` count."""
    done = np.asarray(primary_completed_on, dtype="datetime64[D]")
    rev = np.asarray(revaccinated_on, dtype="datetime64[D]")
    if done.shape != rev.shape:
        raise Invalid.fields([FieldError("revaccinated_on", N_("Must give one value per person."))])
    day = np.datetime64(as_of, "D")
    cutoff = np.datetime64(months_before(as_of, interval_months), "D")
    completed = ~np.isnat(done) & (done <= day)
    revaccinated = completed & ~np.isnat(rev) & (rev > done) & (rev <= day)
    eligible = completed & ((done <= cutoff) | revaccinated)
    return coverage(
        int(revaccinated.sum()),
        int(completed.sum()),
        int(eligible.sum()),
        target_percent=target_percent,
        interval_months=interval_months,
    )
