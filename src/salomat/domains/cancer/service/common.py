"""The pack's cancer rules (``<CC>/cancer.yaml``), read once per country, and what the
use cases share: loading a tumour in scope, turning rows into answers, the follow-up
schedule."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.config import get_settings
from salomat.core.errors import N_, NotFound
from salomat.core.policy import require_person
from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.cancer.models import CancerNotification, CancerTumour
from salomat.domains.cancer.schemas import Confirmation, NotificationOut, TumourOut
from salomat.domains.cancer.service.incidence import MICROSCOPIC
from salomat.domains.registry import service as registry

__all__ = [
    "CancerRules",
    "SiteGroup",
    "cancer_rules",
    "next_follow_up",
]

_RANGE = re.compile(r"^C(\d\d)(?:-C(\d\d))?$")


@dataclass(frozen=True)
class SiteGroup:
    code: str
    #: ICD-10 categories as (low, high) numbers of the C chapter, both included
    ranges: tuple[tuple[int, int], ...]
    names: dict[str, str]

    def covers(self, icd10: str) -> bool:
        if not icd10.startswith("C"):
            return False
        n = int(icd10[1:3])
        return any(lo <= n <= hi for lo, hi in self.ranges)

    def name(self, lang: str) -> str:
        return self.names.get(lang) or self.names.get("en") or self.code


@dataclass(frozen=True)
class CancerRules:
    country: str
    site_groups: tuple[SiteGroup, ...]
    #: (until years after incidence or None for ever, every months)
    follow_up: tuple[tuple[int | None, int], ...]
    notify_within_days: int
    tnm_edition: str
    synth: dict[str, Any] = field(default_factory=dict)

    def group(self, code: str) -> SiteGroup | None:
        return next((g for g in self.site_groups if g.code == code), None)


def _ranges(specs: list[str]) -> tuple[tuple[int, int], ...]:
    out = []
    for spec in specs:
        m = _RANGE.match(spec)
        if m is None:
            raise pack.PackError(f"cancer.yaml: not a C-chapter category or range: {spec!r}")
        lo = int(m.group(1))
        out.append((lo, int(m.group(2)) if m.group(2) else lo))
    return tuple(out)


@lru_cache
def _load(country: str) -> CancerRules:
    data = pack.load(country, "cancer")
    groups = tuple(
        SiteGroup(g["code"], _ranges(g["codes"]), dict(g["names"])) for g in data["site_groups"]
    )
    schedule = tuple(
        (row.get("until_years"), int(row["every_months"])) for row in data["follow_up"]
    )
    if not schedule or schedule[-1][0] is not None:
        raise pack.PackError(f"{country}/cancer.yaml: the last follow_up row has no end")
    return CancerRules(
        country=country,
        site_groups=groups,
        follow_up=schedule,
        notify_within_days=int(data["notify_within_days"]),
        tnm_edition=str(data["tnm_edition"]),
        synth=data.get("synth", {}),
    )


def cancer_rules(country: str | None = None) -> CancerRules:
    return _load((country or get_settings().country).upper())


def _add_months(day: date, months: int) -> date:
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def next_follow_up(incidence: date, last_contact: date, rules: CancerRules) -> date:
    """The next contact due: the interval of the schedule's row the last contact falls
    in (years after the date of incidence)."""
    for until, months in rules.follow_up:
        if until is None or last_contact < _add_months(incidence, 12 * until):
            return _add_months(last_contact, months)
    raise AssertionError("the schedule's last row has no end")


def notification_out(n: CancerNotification, review_message: str | None = None) -> NotificationOut:
    return NotificationOut(
        id=n.id,
        person_id=n.person_id,
        source=n.source,
        reported_on=n.reported_on,
        received_at=n.received_at,
        reported_by=n.reported_by,
        facility_id=n.facility_id,
        external_system=n.external_system,
        external_id=n.external_id,
        topography=n.topography,
        morphology=f"{n.histology}/{n.behaviour}",
        grade=n.grade,
        laterality=n.laterality,
        basis=n.basis,
        diagnosed_on=n.diagnosed_on,
        date_level=n.date_level,
        icd10=n.icd10,
        stage_group=n.stage_group,
        note=n.note,
        status=n.status,
        tumour_id=n.tumour_id,
        decision_reason=n.decision_reason,
        decided_by=n.decided_by,
        decided_at=n.decided_at,
        rare_checks=list(n.rare_checks or []),
        review_message=review_message,
    )


def tumour_out(t: CancerTumour) -> TumourOut:
    return TumourOut(
        id=t.id,
        person_id=t.person_id,
        topography=t.topography,
        morphology=f"{t.histology}/{t.behaviour}",
        histology=t.histology,
        behaviour=t.behaviour,
        grade=t.grade,
        laterality=t.laterality,
        icd10=t.icd10,
        organ=t.organ,
        histology_group=t.histology_group,
        basis=t.basis,
        microscopically_verified=t.basis in MICROSCOPIC,
        death_certificate_only=t.basis == 0,
        incidence_date=t.incidence_date,
        incidence_level=t.incidence_level,
        sex=t.sex,
        age=t.age,
        region_id=t.region_id,
        tnm_edition=t.tnm_edition,
        tnm_t=t.tnm_t,
        tnm_n=t.tnm_n,
        tnm_m=t.tnm_m,
        stage_group=t.stage_group,
        status=t.status,
        pending_checks=list(t.pending_checks or []),
        confirmations=[Confirmation.model_validate(c) for c in (t.confirmations or [])],
        mp_reason=t.mp_reason,
        vital_status=t.vital_status,
        death_date=t.death_date,
        death_cause=t.death_cause,
        last_contact_on=t.last_contact_on,
        next_follow_up_on=t.next_follow_up_on,
        followed_by_facility_id=t.followed_by_facility_id,
        version=t.version,
        created_at=t.created_at,
        updated_at=t.updated_at,
    )


async def load_tumour(
    session: AsyncSession,
    principal: Principal,
    tumour_id: int,
    *,
    action: str = "read",
    purpose: str = "cancer registry",
    lock: bool = False,
) -> CancerTumour:
    """A tumour of a person in the user's scope (audited); out of scope reads as missing."""
    missing = NotFound(N_("Tumour %(id)s not found."), params={"id": tumour_id})
    person_id = await session.scalar(
        select(CancerTumour.person_id).where(CancerTumour.id == tumour_id)
    )
    if person_id is None:
        raise missing
    try:
        await require_person(
            session,
            principal,
            person_id,
            action=action,
            resource_type="Condition",
            purpose=purpose,
        )
    except NotFound:
        raise missing from None
    q = select(CancerTumour).where(CancerTumour.id == tumour_id)
    if lock:
        # every writer of a person's tumours holds the person first (notifications
        # rebuild her tumours), then the tumour
        await registry.hold_person(session, person_id)
        q = q.with_for_update()
    t = await session.scalar(q)
    if t is None or t.person_id != person_id:
        raise missing
    return t
