"""Dating a pregnancy: gestational age (GA) and estimated date of delivery (EDD).

Pure date arithmetic, no database. The rules and their sources are in
../shared/domain/maternal.md, "Dating": GA from the last menstrual period
(LMP), from ultrasound, or (only when neither is known) from fundal height;
EDD by Naegele's rule; the choice between LMP and ultrasound by ACOG
Committee Opinion 700 (2017), "Methods for estimating the due date".
Impossible input is refused with ``Invalid`` naming each wrong field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from salomat.core.errors import N_, FieldError, Invalid

#: Naegele's rule: EDD = LMP + 280 days (40 weeks). maternal.md "Dating".
PREGNANCY_DAYS = 280
#: LMP must lie at least 2 weeks before the contact date. maternal.md "Dating".
MIN_LMP_DAYS = 14
#: LMP must not imply GA over 40 weeks at registration. maternal.md "Dating".
MAX_GA_DAYS_AT_REGISTRATION = 40 * 7
#: No pregnancy is dated beyond 45 weeks at any time: post-term pregnancies are
#: delivered by 42 weeks (WHO 2016 ANC recommendations, intrapartum referral at
#: 41 weeks per the DAK schedule); 45 weeks leaves room for late data entry.
MAX_GA_DAYS = 45 * 7
#: GA recorded at an ultrasound scan must be within 0-44 weeks (same reasoning).
MAX_GA_DAYS_AT_SCAN = 44 * 7
#: "Suboptimally dated": no ultrasound before 22 weeks 0 days (ACOG CO 700).
OPTIMAL_SCAN_BEFORE_DAYS = 22 * 7
#: ACOG CO 700, table 1: redate by ultrasound when LMP and ultrasound GA differ
#: by MORE than this many days; bands by GA at the scan, (upper bound exclusive).
ACOG_BANDS: tuple[tuple[int, int], ...] = (
    (9 * 7, 5),  # up to 8w6d: more than 5 days
    (16 * 7, 7),  # 9w0d-15w6d: more than 7 days
    (22 * 7, 10),  # 16w0d-21w6d: more than 10 days
    (28 * 7, 14),  # 22w0d-27w6d: more than 14 days
)
ACOG_LATE_THRESHOLD_DAYS = 21  # 28w0d and later: more than 21 days
#: McDonald's rule: fundal height in cm ~ GA in weeks (reliable about 20-36 w).
#: Heights outside 10-45 cm are refused as impossible for dating.
FUNDAL_HEIGHT_MIN_CM = 10.0
FUNDAL_HEIGHT_MAX_CM = 45.0

Method = Literal["lmp", "ultrasound", "fundal_height"]


@dataclass(frozen=True)
class Dating:
    ga_days: int  # on the date asked about
    edd: date
    method: Method
    suboptimal: bool  # no ultrasound before 22 weeks (ACOG CO 700)
    discrepancy_days: int | None  # |GA by LMP - GA by ultrasound| at the scan, when both


def ga_days(lmp: date, on: date) -> int:
    """Gestational age in days on ``on`` counted from the LMP."""
    return (on - lmp).days


def edd_from_lmp(lmp: date) -> date:
    """Naegele's rule."""
    return lmp + timedelta(days=PREGNANCY_DAYS)


def edd_from_ultrasound(scan_on: date, ga_days_at_scan: int) -> date:
    return scan_on + timedelta(days=PREGNANCY_DAYS - ga_days_at_scan)


def redating_threshold_days(ga_days_at_scan: int) -> int:
    """ACOG CO 700: the LMP-ultrasound difference above which ultrasound wins."""
    for upper, days in ACOG_BANDS:
        if ga_days_at_scan < upper:
            return days
    return ACOG_LATE_THRESHOLD_DAYS


def date_pregnancy(
    on: date,
    lmp: date | None,
    scan_on: date | None,
    ga_days_at_scan: int | None,
    fundal_height_cm: float | None = None,
    *,
    at_registration: bool = True,
) -> Dating:
    """Date a pregnancy on ``on`` from what is known, choosing per ACOG CO 700.

    ``at_registration``: the 40-week LMP limit applies when the pregnancy is
    registered; later contacts only refuse GA over 45 weeks.
    """
    errors = _check(on, lmp, scan_on, ga_days_at_scan, fundal_height_cm, at_registration)
    if errors:
        raise Invalid.fields(errors)
    has_scan = scan_on is not None and ga_days_at_scan is not None
    if has_scan:
        assert scan_on is not None
        assert ga_days_at_scan is not None
        suboptimal = ga_days_at_scan >= OPTIMAL_SCAN_BEFORE_DAYS
        us = Dating(
            ga_days=ga_days_at_scan + (on - scan_on).days,
            edd=edd_from_ultrasound(scan_on, ga_days_at_scan),
            method="ultrasound",
            suboptimal=suboptimal,
            discrepancy_days=None,
        )
        if lmp is not None:
            diff = abs(ga_days(lmp, scan_on) - ga_days_at_scan)
            if diff <= redating_threshold_days(ga_days_at_scan):
                dating = Dating(ga_days(lmp, on), edd_from_lmp(lmp), "lmp", suboptimal, diff)
            else:
                dating = Dating(us.ga_days, us.edd, "ultrasound", suboptimal, diff)
        else:
            dating = us
        field = "ga_days_at_scan" if dating.method == "ultrasound" else "lmp"
    elif lmp is not None:
        dating = Dating(ga_days(lmp, on), edd_from_lmp(lmp), "lmp", True, None)
        field = "lmp"
    else:
        assert fundal_height_cm is not None
        ga = round(fundal_height_cm * 7)
        edd = on + timedelta(days=PREGNANCY_DAYS - ga)
        dating = Dating(ga, edd, "fundal_height", True, None)
        field = "fundal_height_cm"
    if dating.ga_days > MAX_GA_DAYS:
        raise Invalid.fields(
            [
                FieldError(
                    field,
                    N_("implies gestational age over %(n)s weeks"),
                    {"n": MAX_GA_DAYS // 7},
                )
            ]
        )
    return dating


def _check(
    on: date,
    lmp: date | None,
    scan_on: date | None,
    ga_days_at_scan: int | None,
    fundal_height_cm: float | None,
    at_registration: bool,
) -> list[FieldError]:
    errors: list[FieldError] = []
    if lmp is not None:
        days = ga_days(lmp, on)
        if days < 0:
            errors.append(FieldError("lmp", N_("is in the future")))
        elif days < MIN_LMP_DAYS:
            errors.append(
                FieldError(
                    "lmp",
                    N_("must be at least %(n)s days before the contact"),
                    {"n": MIN_LMP_DAYS},
                )
            )
        elif at_registration and days > MAX_GA_DAYS_AT_REGISTRATION:
            errors.append(
                FieldError(
                    "lmp",
                    N_("implies gestational age over %(n)s weeks at registration"),
                    {"n": MAX_GA_DAYS_AT_REGISTRATION // 7},
                )
            )
    if scan_on is not None and scan_on > on:
        errors.append(FieldError("scan_on", N_("is in the future")))
    if scan_on is not None and ga_days_at_scan is None:
        errors.append(FieldError("ga_days_at_scan", N_("is required with the scan date")))
    if ga_days_at_scan is not None:
        if scan_on is None:
            errors.append(FieldError("scan_on", N_("is required with the gestational age at scan")))
        if not 0 <= ga_days_at_scan <= MAX_GA_DAYS_AT_SCAN:
            errors.append(
                FieldError(
                    "ga_days_at_scan",
                    N_("must be between 0 and %(n)s weeks"),
                    {"n": MAX_GA_DAYS_AT_SCAN // 7},
                )
            )
    if fundal_height_cm is not None and not (
        FUNDAL_HEIGHT_MIN_CM <= fundal_height_cm <= FUNDAL_HEIGHT_MAX_CM
    ):
        errors.append(
            FieldError(
                "fundal_height_cm",
                N_("must be between %(low)s and %(high)s cm"),
                {"low": f"{FUNDAL_HEIGHT_MIN_CM:g}", "high": f"{FUNDAL_HEIGHT_MAX_CM:g}"},
            )
        )
    if lmp is None and scan_on is None and ga_days_at_scan is None and fundal_height_cm is None:
        errors.append(
            FieldError(
                "lmp",
                N_("nothing to date the pregnancy from: give LMP, an ultrasound or fundal height"),
            )
        )
    return errors
