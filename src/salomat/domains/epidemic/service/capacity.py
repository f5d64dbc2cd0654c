"""Hospital capacity: beds registered by facility and profile (infectious, intensive care,
general) from a day on, and the occupancy hospitals report each day (docs/epidemic.md
"Hospital capacity"). No row names a person.

A facility-bound user registers and reports only for their own facility; a report above
the beds registered for that day and profile is refused naming ``occupied`` and the
registered number. A day reported again replaces the day's figures.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.db import insert_for, utcnow
from salomat.core.errors import N_, FieldError, Forbidden, Invalid
from salomat.core.policy import allowed
from salomat.core.security import Principal
from salomat.domains.epidemic.models import BedCapacity, OccupancyReport
from salomat.domains.epidemic.schemas import (
    BedsIn,
    BedsOut,
    CapacityOut,
    OccupancyIn,
    OccupancyOut,
)
from salomat.domains.epidemic.service import rules
from salomat.domains.epidemic.service.notifications import _country, today
from salomat.domains.registry import service as registry

__all__ = [
    "beds_on",
    "facility_capacity",
    "read_capacity",
    "region_capacity",
    "register_beds",
    "report_occupancy",
]


def _profile_errors(profile: str, field: str = "profile") -> list[FieldError]:
    known = [p.code for p in rules.bed_profiles(_country())]
    if profile not in known:
        return [
            FieldError(
                field,
                N_("Unknown bed profile: %(profile)s (known: %(known)s)"),
                {"profile": profile, "known": ", ".join(known)},
            )
        ]
    return []


async def _facility(
    session: AsyncSession, principal: Principal, code: str, errs: list[FieldError], prefix: str
) -> int | None:
    fid = await registry.facility_id_by_code(session, code)
    if fid is None:
        errs.append(
            FieldError(prefix + "facility", N_("Unknown facility: %(code)s"), {"code": code})
        )
    elif principal.facility_id is not None and fid != principal.facility_id:
        errs.append(
            FieldError(prefix + "facility", N_("You may report only for your own facility"))
        )
    return fid


def _negative(field: str, value: int) -> list[FieldError]:
    if value < 0:
        return [FieldError(field, N_("A count may not be negative"))]
    return []


async def beds_on(session: AsyncSession, facility_id: int, profile: str, day: date) -> int | None:
    """The beds of ``profile`` registered at the facility in force on ``day`` (None: none)."""
    return await session.scalar(
        select(BedCapacity.beds)
        .where(
            BedCapacity.facility_id == facility_id,
            BedCapacity.profile == profile,
            BedCapacity.valid_from <= day,
        )
        .order_by(BedCapacity.valid_from.desc())
        .limit(1)
    )


async def register_beds(session: AsyncSession, principal: Principal, data: BedsIn) -> BedsOut:
    errs = _profile_errors(data.profile) + _negative("beds", data.beds)
    fid = await _facility(session, principal, data.facility, errs, "")
    if errs or fid is None:
        raise Invalid.fields(errs)
    # one statement: two first registrations of one facility, profile and day at once both
    # succeed and the later one's number stays (no read-then-insert race on the unique key)
    table = BedCapacity.__table__
    stmt = insert_for(session, table).values(
        country=_country(),
        facility_id=fid,
        profile=data.profile,
        beds=data.beds,
        valid_from=data.valid_from,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["facility_id", "profile", "valid_from"],
        set_={"beds": stmt.excluded.beds},
    ).returning(table.c.id)
    row_id = int((await session.execute(stmt)).scalar_one())
    await audit.record(
        session, principal, action="update", resource_type="BedCapacity", resource_id=str(row_id)
    )
    return BedsOut(
        facility=data.facility, profile=data.profile, beds=data.beds, valid_from=data.valid_from
    )


async def check_occupancy(
    session: AsyncSession, principal: Principal, data: OccupancyIn, prefix: str = ""
) -> tuple[list[FieldError], int | None]:
    errs = _profile_errors(data.profile, prefix + "profile")
    for field in ("occupied", "admitted", "discharged"):
        errs += _negative(prefix + field, getattr(data, field))
    if data.day > today():
        errs.append(
            FieldError(prefix + "day", N_("The day %(day)s is in the future"), {"day": data.day})
        )
    fid = await _facility(session, principal, data.facility, errs, prefix)
    if fid is not None and not _profile_errors(data.profile):
        beds = await beds_on(session, fid, data.profile, data.day)
        if beds is None:
            errs.append(
                FieldError(
                    prefix + "profile",
                    N_("No beds of this profile are registered for this facility on %(day)s"),
                    {"day": data.day},
                )
            )
        elif data.occupied > beds:
            errs.append(
                FieldError(
                    prefix + "occupied",
                    N_("%(occupied)s occupied is more than the %(beds)s beds registered"),
                    {"occupied": data.occupied, "beds": beds},
                )
            )
    return errs, fid


def _profile_name(code: str, language: str) -> str:
    for p in rules.bed_profiles(_country()):
        if p.code == code:
            return p.name(language)
    return code


async def _upsert_occupancy(session: AsyncSession, values: dict[str, object]) -> int:
    """One statement: two reports of one facility's day and profile at once both succeed
    and the later one's figures stay (no read-then-insert race on the unique key)."""
    table = OccupancyReport.__table__
    stmt = insert_for(session, table).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["facility_id", "day", "profile"],
        set_={
            k: stmt.excluded[k]
            for k in ("occupied", "admitted", "discharged", "reporter_user_id", "reported_at")
        },
    ).returning(table.c.id)
    return int((await session.execute(stmt)).scalar_one())


async def report_occupancy(
    session: AsyncSession, principal: Principal, data: OccupancyIn, *, language: str = "en"
) -> OccupancyOut:
    errs, fid = await check_occupancy(session, principal, data)
    if errs or fid is None:
        raise Invalid.fields(errs)
    row_id = await _upsert_occupancy(
        session,
        {
            "country": _country(),
            "facility_id": fid,
            "day": data.day,
            "profile": data.profile,
            "occupied": data.occupied,
            "admitted": data.admitted,
            "discharged": data.discharged,
            "reporter_user_id": principal.user_id,
            "reported_at": utcnow(),
        },
    )
    await audit.record(
        session, principal, action="update", resource_type="BedOccupancy", resource_id=str(row_id)
    )
    return OccupancyOut(
        facility=data.facility,
        day=data.day,
        profile=data.profile,
        profile_name=_profile_name(data.profile, language),
        beds=await beds_on(session, fid, data.profile, data.day),
        occupied=data.occupied,
        admitted=data.admitted,
        discharged=data.discharged,
    )


async def _beds_in_force(
    session: AsyncSession, day: date, facility_ids: list[int] | None
) -> dict[tuple[int, str], int]:
    """Beds in force on ``day`` by (facility, profile), set-wise: the latest valid_from."""
    latest = (
        select(
            BedCapacity.facility_id,
            BedCapacity.profile,
            func.max(BedCapacity.valid_from).label("vf"),
        )
        .where(BedCapacity.valid_from <= day)
        .group_by(BedCapacity.facility_id, BedCapacity.profile)
    )
    if facility_ids is not None:
        latest = latest.where(BedCapacity.facility_id.in_(facility_ids))
    sub = latest.subquery()
    rows = await session.execute(
        select(BedCapacity.facility_id, BedCapacity.profile, BedCapacity.beds).join(
            sub,
            (sub.c.facility_id == BedCapacity.facility_id)
            & (sub.c.profile == BedCapacity.profile)
            & (sub.c.vf == BedCapacity.valid_from),
        )
    )
    return {(f, p): b for f, p, b in rows}


async def _capacity(
    session: AsyncSession, day: date, facility_ids: list[int] | None
) -> tuple[dict[int, dict[str, int]], dict[tuple[int, str], tuple[int, int, int]]]:
    beds = await _beds_in_force(session, day, facility_ids)
    q = select(
        OccupancyReport.facility_id,
        OccupancyReport.profile,
        OccupancyReport.occupied,
        OccupancyReport.admitted,
        OccupancyReport.discharged,
    ).where(OccupancyReport.day == day)
    if facility_ids is not None:
        q = q.where(OccupancyReport.facility_id.in_(facility_ids))
    occ = {(f, p): (o, a, d) for f, p, o, a, d in await session.execute(q)}
    by_fac: dict[int, dict[str, int]] = defaultdict(dict)
    for (f, p), b in beds.items():
        by_fac[f][p] = b
    return by_fac, occ


def _lines(
    area: str, day: date, beds: dict[str, int], occ: dict[str, tuple[int, int, int]], language: str
) -> CapacityOut:
    out = []
    for p in rules.bed_profiles(_country()):
        if p.code not in beds and p.code not in occ:
            continue
        o, a, d = occ.get(p.code, (0, 0, 0))
        out.append(
            OccupancyOut(
                facility=area, day=day, profile=p.code, profile_name=p.name(language),
                beds=beds.get(p.code), occupied=o, admitted=a, discharged=d,
            )
        )  # fmt: skip
    return CapacityOut(area=area, day=day, profiles=out)


async def facility_capacity(
    session: AsyncSession,
    principal: Principal,
    facility: str,
    day: date,
    *,
    own_only: bool = False,
    language: str = "en",
) -> CapacityOut:
    """A facility's beds in force and reported occupancy on ``day``, by profile
    (``own_only``: the user's own facility only, else 403)."""
    fid = await registry.facility_id_by_code(session, facility)
    if own_only and (fid is None or fid != principal.facility_id):
        raise Forbidden(N_("You may read only your own facility's capacity"))
    if fid is None:
        raise Invalid.fields(
            [FieldError("facility", N_("Unknown facility: %(code)s"), {"code": facility})]
        )
    by_fac, occ = await _capacity(session, day, [fid])
    await audit.record(
        session, principal, action="read", resource_type="BedOccupancy", resource_id=facility
    )
    return _lines(
        facility, day, by_fac.get(fid, {}),
        {p: v for (f, p), v in occ.items() if f == fid}, language,
    )  # fmt: skip


async def region_capacity(
    session: AsyncSession,
    principal: Principal,
    region: str | None,
    day: date,
    *,
    language: str = "en",
) -> CapacityOut:
    """Beds and occupancy summed over the facilities of a region (None: the country) on
    ``day``; a facility that did not report counts its beds but no occupancy."""
    if region is not None:
        t = await registry.territory_by_code(session, region)
        if t is None or t.level != "region":
            raise Invalid.fields(
                [FieldError("region", N_("Unknown region: %(code)s"), {"code": region})]
            )
    by_fac, occ = await _capacity(session, day, None)
    fac_ids = set(by_fac) | {f for f, _ in occ}
    regions = await registry.facility_regions(session, fac_ids) if region is not None else {}
    keep = {f for f in fac_ids if region is None or regions.get(f) == region}
    beds: dict[str, int] = defaultdict(int)
    for f in keep:
        for p, b in by_fac.get(f, {}).items():
            beds[p] += b
    sums: dict[str, tuple[int, int, int]] = {}
    for (f, p), (o, a, d) in occ.items():
        if f in keep:
            so, sa, sd = sums.get(p, (0, 0, 0))
            sums[p] = (so + o, sa + a, sd + d)
    await audit.record(
        session,
        principal,
        action="read",
        resource_type="BedOccupancy",
        resource_id=region or "country",
    )
    return _lines(region or "country", day, dict(beds), sums, language)


async def read_capacity(
    session: AsyncSession,
    principal: Principal,
    facility: str | None,
    region: str | None,
    day: date,
    *,
    language: str = "en",
) -> CapacityOut:
    """Beds and occupancy on ``day`` of a facility, or summed over a region (neither: the
    country), with the one decision of who reads what: with ``epidemic:read`` any of them;
    else (a reporter, ``epidemic:capacity``) their own facility only, 403 otherwise."""
    if facility is not None and region is not None:
        raise Invalid.fields([FieldError("region", N_("Give a facility or a region, not both"))])
    own_only = not allowed(principal.role, "epidemic:read")
    if facility is not None:
        return await facility_capacity(
            session, principal, facility, day, own_only=own_only, language=language
        )
    if own_only:
        raise Forbidden(N_("You may read only your own facility's capacity"))
    return await region_capacity(session, principal, region, day, language=language)
