"""Mobile medical teams: the team (its base facility and members) and what the team's
other use cases share (the country's day, the team looked up, settlements by id).
The routes and the calendar are service/mobile.py's, the visits service/mobile_visits.py's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.errors import N_, FieldError, Invalid, NotFound
from salomat.core.security import Principal
from salomat.domains.planning.models_mobile import MobileTeam, MobileTeamMember
from salomat.domains.planning.schemas_mobile import TeamIn, TeamOut
from salomat.domains.planning.service import norms
from salomat.domains.registry import service as registry
from salomat.domains.registry.service import planning_reads as reads

__all__ = ["create_team", "get_team", "list_teams", "mobile_weekend", "today"]

FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2199, 12, 31)


def today() -> date:
    return norms.today()


def mobile_weekend() -> tuple[int, ...]:
    """The team's days off (``date.weekday()``): the planning pack's ``mobile.weekend``
    (read once, with the other rules, by ``norms.current()``), else Saturday and Sunday (a
    five-day week of 40 hours, both countries' labour codes)."""
    return norms.current().mobile.weekend


def _invalid(field: str, msgid: str, **params: object) -> Invalid:
    return Invalid.fields([FieldError(field, msgid, params or None)])


def _day(day: date, field: str) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise _invalid(
            field,
            N_("must be between %(first)s and %(last)s"),
            first=FIRST_DAY.isoformat(),
            last=LAST_DAY.isoformat(),
        )
    return day


# --- teams -----------------------------------------------------------------------------


async def _members(session: AsyncSession, team_ids: Sequence[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {t: [] for t in team_ids}
    if team_ids:
        rows = await session.execute(
            select(MobileTeamMember.team_id, MobileTeamMember.practitioner_id)
            .where(MobileTeamMember.team_id.in_(team_ids))
            .order_by(MobileTeamMember.practitioner_id)
        )
        for t, p in rows:
            out[t].append(p)
    return out


async def _team_out(session: AsyncSession, t: MobileTeam) -> TeamOut:
    members = await _members(session, [t.id])
    return TeamOut(
        id=t.id,
        facility_id=t.facility_id,
        facility_code=await registry.facility_code(session, t.facility_id),
        name=t.name,
        active=t.active,
        members=members[t.id],
    )


async def create_team(session: AsyncSession, principal: Principal, data: TeamIn) -> TeamOut:
    """A team at a facility with its members (practitioners of the registry)."""
    errors = []
    facility_id = await registry.facility_id_by_code(session, data.facility_code)
    if facility_id is None:
        errors.append(
            FieldError(
                "facility_code", N_("%(value)s is not a facility"), {"value": data.facility_code}
            )
        )
    members = list(dict.fromkeys(data.members))
    known = await reads.existing_practitioners(session, data.members)
    for i, pid in enumerate(data.members):
        if pid not in known:
            errors.append(
                FieldError(f"members.{i}", N_("%(value)s is not a practitioner"), {"value": pid})
            )
    if errors:
        raise Invalid.fields(errors)
    assert facility_id is not None
    t = MobileTeam(
        facility_id=facility_id,
        name=data.name,
        active=True,
        created_by=principal.username,
        created_at=datetime.now(UTC),
    )
    session.add(t)
    await session.flush()
    session.add_all(MobileTeamMember(team_id=t.id, practitioner_id=p) for p in members)
    await session.flush()
    return await _team_out(session, t)


async def _team(session: AsyncSession, team_id: int) -> MobileTeam:
    t = await session.get(MobileTeam, team_id)
    if t is None:
        raise NotFound(N_("Mobile team %(id)s not found."), params={"id": team_id})
    return t


async def _own_team(session: AsyncSession, principal: Principal, team_id: int) -> MobileTeam:
    """The team, if it is the user's facility's (else 404: deny by default)."""
    t = await session.get(MobileTeam, team_id)
    if t is None or principal.facility_id is None or t.facility_id != principal.facility_id:
        raise NotFound(N_("Mobile team %(id)s not found."), params={"id": team_id})
    return t


async def get_team(session: AsyncSession, principal: Principal, team_id: int) -> TeamOut:
    del principal  # no person data: the route checked planning:read
    return await _team_out(session, await _team(session, team_id))


async def list_teams(
    session: AsyncSession, principal: Principal, facility_code: str | None = None
) -> list[TeamOut]:
    del principal
    q = select(MobileTeam).order_by(MobileTeam.id)
    if facility_code is not None:
        fid = await registry.facility_id_by_code(session, facility_code)
        if fid is None:
            raise _invalid("facility", N_("%(value)s is not a facility"), value=facility_code)
        q = q.where(MobileTeam.facility_id == fid)
    teams = list((await session.scalars(q)).all())
    members = await _members(session, [t.id for t in teams])
    codes = await reads.facility_codes(session, {t.facility_id for t in teams})
    return [
        TeamOut(
            id=t.id,
            facility_id=t.facility_id,
            facility_code=codes.get(t.facility_id),
            name=t.name,
            active=t.active,
            members=members[t.id],
        )
        for t in teams
    ]


async def _settlements_by_id(
    session: AsyncSession, ids: Sequence[int]
) -> dict[int, tuple[str, str]]:
    """id -> (code, name) of the settlements, in one statement."""
    from salomat.domains.registry.service import planning_reads

    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return await planning_reads.territory_codes_names(session, wanted)
