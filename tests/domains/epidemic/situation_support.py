"""Arrangements of the situation and alert tests: a simple pack (serial interval w_1 = 1,
no truncation, admission on the day of onset, an intensive-care stay longer than the
data, an edition zoning on Rt alone), regions with cases, beds and epidemiologists."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import numpy as np
from scipy import stats
from sqlalchemy import insert

from salomat.core.security import Principal
from salomat.domains.epidemic.models import CaseNotification
from salomat.domains.epidemic.schemas import BedsIn
from salomat.domains.epidemic.service import capacity, rules
from salomat.domains.epidemic.service.distributions import fixed_days
from salomat.domains.epidemic.service.forecast import HospitalParameters
from salomat.domains.epidemic.service.matrix import parse_edition
from salomat.domains.epidemic.service.rules import Scenario
from salomat.domains.registry import service as registry
from salomat.domains.registry.schemas import FacilityIn

ADMIN = Principal(user_id=0, username="fixture", role="admin", session_id="fixture")
RATIO, ICU_SHARE, ICU_STAY = 0.5, 0.5, 200
CASE_DAYS = 28  # cases on each of the last 28 days up to the day

EDITION = {
    "code": "t-rt",
    "valid_from": "2000-01-01",
    "title": {"en": "Rt only (test)"},
    "zones": [
        {"code": "red", "names": {"en": "Red"}, "colour": "#c62828"},
        {"code": "green", "names": {"en": "Green"}, "colour": "#2e7d32"},
    ],
    "rules": [
        {"zone": "red", "when": {"metric": "rt", "op": ">", "value": 1}},
        {"zone": "green", "when": {"metric": "rt", "op": "<=", "value": 1}},
    ],
}


def simple_pack() -> rules.EpidemicPack:
    base = rules.epidemic_pack("UZ")
    return replace(
        base,
        serial_interval=np.array([0.0, 1.0]),
        rt=replace(base.rt, truncate_days=0),
        horizon_days=14,
        scenarios=(Scenario("unchanged", 1.0, {"en": "Unchanged"}),),
        hospital=HospitalParameters(
            hospitalisation_ratio=RATIO,
            icu_share=ICU_SHARE,
            admission_delay=fixed_days(0),
            los=fixed_days(1),
            icu_los=fixed_days(ICU_STAY),
        ),
        editions=(parse_edition(EDITION),),
    )


def icu_by_hand(c: int, prior_shape: float = 1.0, prior_scale: float = 5.0) -> np.ndarray:
    """Occupied ICU beds on the forecast's days 1..14 from the formulas of
    docs/epidemic.md, for ``c`` cases a day on the last ``CASE_DAYS`` days: the window's
    posterior Gamma(a + 7c, rate 1/b + 7c) (Λ_t = I_{t-1} = c), its median R; cases
    c·R^(j+1) on forecast day j+1; every admission (ratio × share) still in its bed."""
    r = stats.gamma.ppf(0.5, prior_shape + 7 * c, scale=1 / (1 / prior_scale + 7 * c))
    projected = c * r ** np.arange(1, 15)
    per_case = RATIO * ICU_SHARE
    return per_case * (CASE_DAYS * c + np.cumsum(projected))


@dataclass
class Region:
    code: str
    id: int
    district_id: int
    facility: Any


async def region_with_cases(db: Any, make_place: Any, person_id: int, day: date,
                            c: int | list[int], days: int = CASE_DAYS) -> Region:  # fmt: skip
    """A new region with ``c`` cases by onset on each of ``days`` days up to ``day`` (or
    ``c[k]`` cases ``k`` days before ``day``), and a facility there."""
    per_day = list(c) if isinstance(c, list) else [c] * days
    place = await make_place()
    rid = await registry.territory_id_by_code(db, place.region)
    did = await registry.territory_id_by_code(db, place.district)
    fac = await registry.create_facility(
        db,
        FacilityIn(code=f"{place.region}-H", name="Hospital", kind="family_polyclinic",
                   settlement_code=place.settlement),
    )  # fmt: skip
    rows = [
        {
            "country": "UZ",
            "person_id": person_id,
            "icd10": "U07.1",
            "lab_confirmed": True,
            "onset_date": day - timedelta(days=k),
            "report_date": day - timedelta(days=k),
            "district_id": did,
            "region_id": rid,
            "hospitalised": False,
            "reporting_facility_id": fac.id,
            "reporter_user_id": 0,
        }
        for k, n in enumerate(per_day)
        for _ in range(n)
    ]
    if rows:
        await db.execute(insert(CaseNotification), rows)
    await db.commit()
    return Region(place.region, rid, did, fac)


async def icu_beds(db: Any, region: Region, beds: int, day: date) -> None:
    await capacity.register_beds(
        db, ADMIN, BedsIn(facility=region.facility.code, profile="icu", beds=beds,
                          valid_from=day - timedelta(days=60))
    )  # fmt: skip
    await db.commit()
