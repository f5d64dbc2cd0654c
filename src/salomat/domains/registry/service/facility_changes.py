"""Creating, editing, closing and reopening facilities.

Every field is checked before anything is stored: the type and perinatal
level against the country pack, the bed profiles, the settlement, and the
parent (never the facility itself through a chain of parents). Each change
stores one new version.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from salomat.core.config import get_settings
from salomat.core.db import utcnow
from salomat.core.errors import (
    Conflict,
    FieldError,
    Invalid,
    InvalidState,
    PreconditionFailed,
)
from salomat.domains.registry.models import Facility, FacilityBeds, Territory
from salomat.domains.registry.schemas import FacilityIn, FacilityOut, FacilityPatch
from salomat.domains.registry.service import versions
from salomat.domains.registry.service.facilities import (
    RESOURCE,
    _bed_profiles,
    _by_code,
    _get,
    _out,
    facility_types,
)
from salomat.domains.registry.service.phones import normalise_phone
from salomat.domains.registry.service.territory import check_names, expect_version

__all__ = [
    "close_facility",
    "create_facility",
    "reopen_facility",
    "update_facility",
]


# ---- checks --------------------------------------------------------------------------


def _check_kind(kind: str, perinatal_level: int | None) -> list[FieldError]:
    types = facility_types()
    t = types.get(kind)
    if t is None:
        return [
            FieldError(
                "kind",
                f"{kind!r} is not a facility type of the {get_settings().country} pack "
                f"({', '.join(types)})",
            )
        ]
    allowed = t.get("perinatal_level") or []
    if perinatal_level is not None and perinatal_level not in allowed:
        why = (
            f"a {kind} holds level {' or '.join(map(str, allowed))}"
            if allowed
            else f"a {kind} gives no perinatal care"
        )
        return [FieldError("perinatal_level", why)]
    return []


def _check_beds(beds: dict[str, int]) -> list[FieldError]:
    profiles = _bed_profiles()
    errors = []
    for profile, n in beds.items():
        if profile not in profiles:
            errors.append(
                FieldError(
                    f"beds.{profile}", f"not a bed profile of the pack ({', '.join(profiles)})"
                )
            )
        elif n < 0:
            errors.append(FieldError(f"beds.{profile}", "must not be negative"))
    return errors


async def _settlement_id(
    session: AsyncSession, code: str | None
) -> tuple[int | None, list[FieldError]]:
    if not code:
        return None, []
    row = (
        await session.execute(select(Territory.id, Territory.level).where(Territory.code == code))
    ).first()
    if row is None:
        return None, [FieldError("settlement_code", f"no settlement has code {code}")]
    if row.level != "settlement":
        return None, [FieldError("settlement_code", f"{code} is a {row.level}, not a settlement")]
    return int(row.id), []


async def _parent_id(
    session: AsyncSession, code: str | None, own_id: int | None
) -> tuple[int | None, list[FieldError]]:
    """The parent's id; refuses a parent whose chain of parents leads back to ``own_id``."""
    if not code:
        return None, []
    parent = await _by_code(session, code)
    if parent is None:
        return None, [FieldError("parent_code", f"no facility has code {code}")]
    if own_id is not None:
        seen: set[int] = set()
        chain = [parent.code]
        node: Facility | None = parent
        while node is not None and node.id not in seen:
            if node.id == own_id:
                return None, [
                    FieldError(
                        "parent_code",
                        "the facility would be its own parent: " + " -> ".join(chain),
                    )
                ]
            seen.add(node.id)
            node = await session.get(Facility, node.parent_id) if node.parent_id else None
            if node is not None:
                chain.append(node.code)
    return parent.id, []


async def _set_beds(session: AsyncSession, facility_id: int, beds: dict[str, int]) -> None:
    await session.execute(delete(FacilityBeds).where(FacilityBeds.facility_id == facility_id))
    rows = [
        {"facility_id": facility_id, "profile": p, "beds": n} for p, n in sorted(beds.items()) if n
    ]
    if rows:
        await session.execute(insert(FacilityBeds), rows)


# ---- writing ---------------------------------------------------------------------------


async def create_facility(
    session: AsyncSession, data: FacilityIn, *, by: str = "system"
) -> FacilityOut:
    errors = _check_kind(data.kind, data.perinatal_level) + _check_beds(data.beds)
    errors += check_names(data.names)
    settlement_id, more = await _settlement_id(session, data.settlement_code)
    errors += more
    parent_id, more = await _parent_id(session, data.parent_code, None)
    errors += more
    try:
        phone = normalise_phone(data.phone)
    except Invalid as e:
        errors += e.errors
        phone = None
    if errors:
        raise Invalid.fields(errors)
    if await _by_code(session, data.code):
        raise Conflict(
            f"A facility with code {data.code} already exists.",
            errors=[FieldError("code", "already exists")],
        )
    fac = Facility(
        code=data.code,
        name=data.name,
        names=dict(data.names),
        kind=data.kind,
        perinatal_level=data.perinatal_level,
        settlement_id=settlement_id,
        parent_id=parent_id,
        address=data.address,
        phone=phone,
        is_open=True,
        opened_on=data.opened_on,
        updated_at=utcnow(),
    )
    session.add(fac)
    await session.flush()
    if data.beds:
        await _set_beds(session, fac.id, data.beds)
    out = await _out(session, fac)
    await versions.record_version(session, RESOURCE, out, action="create", by=by)
    return out


async def _save(
    session: AsyncSession, fac: Facility, by: str, beds: dict[str, int] | None = None
) -> FacilityOut:
    """One flush, so one new version, however many fields and beds changed."""
    fac.updated_at = utcnow()
    try:
        await session.flush()
    except StaleDataError as e:
        raise PreconditionFailed("The facility changed while you edited it; reload.") from e
    if beds is not None:
        await _set_beds(session, fac.id, beds)
    out = await _out(session, fac)
    await versions.record_version(session, RESOURCE, out, action="update", by=by)
    return out


async def update_facility(
    session: AsyncSession,
    facility_id: int,
    patch: FacilityPatch,
    *,
    expected_version: int | None,
    by: str,
) -> FacilityOut:
    """Only the fields sent change; type, level and parent are re-checked together.

    Values equal to the stored ones answer the current version, however old
    ``expected_version`` is (``versions.unchanged``).
    """
    fac = await _get(session, facility_id)
    if expected_version is None:
        expect_version(fac.version, expected_version, "facility")
    values = patch.model_dump(exclude_unset=True)
    errors = [
        FieldError(k, "cannot be cleared")
        for k in ("name", "kind", "names")
        if k in values and values[k] is None
    ]
    kind = values.get("kind") or fac.kind
    level = values.get("perinatal_level", fac.perinatal_level)
    if "kind" in values or "perinatal_level" in values:
        errors += _check_kind(kind, level)
    if values.get("beds") is not None:
        errors += _check_beds(values["beds"])
    if values.get("names"):
        errors += check_names(values["names"])
    settlement_id = fac.settlement_id
    if "settlement_code" in values:
        settlement_id, more = await _settlement_id(session, values["settlement_code"])
        errors += more
    parent_id = fac.parent_id
    if "parent_code" in values:
        parent_id, more = await _parent_id(session, values["parent_code"], fac.id)
        errors += more
    phone = fac.phone
    if "phone" in values:
        try:
            phone = normalise_phone(values["phone"])
        except Invalid as e:
            errors += e.errors
    if errors:
        raise Invalid.fields(errors)
    beds = values.get("beds")
    stored = select(FacilityBeds.profile, FacilityBeds.beds)
    stored_beds = {
        r.profile: r.beds
        for r in await session.execute(stored.where(FacilityBeds.facility_id == fac.id))
    }
    same_beds = beds is None or stored_beds == {k: n for k, n in beds.items() if n}
    # every read is done: nothing autoflushes the assignments before the check below
    for key in ("name", "kind", "perinatal_level", "address", "opened_on"):
        if key in values:
            setattr(fac, key, values[key])
    if "names" in values:
        fac.names = dict(values["names"])
    fac.settlement_id, fac.parent_id, fac.phone = settlement_id, parent_id, phone
    if versions.unchanged(session, fac) and same_beds:
        return await _out(session, fac)
    expect_version(fac.version, expected_version, "facility")
    return await _save(session, fac, by, beds)


async def close_facility(
    session: AsyncSession,
    facility_id: int,
    closed_on: date | None,
    *,
    expected_version: int | None,
    by: str,
) -> FacilityOut:
    """Closed facilities take no attachments or roles; open subordinates must move first."""
    fac = await _get(session, facility_id)
    expect_version(fac.version, expected_version, "facility")
    if not fac.is_open:
        raise InvalidState(f"{fac.code} is closed already (since {fac.closed_on}).")
    day = closed_on or date.today()
    if day > date.today():
        raise Invalid.fields([FieldError("closed_on", "close on the day itself, not in advance")])
    if fac.opened_on and day < fac.opened_on:
        raise Invalid.fields([FieldError("closed_on", f"before the opening ({fac.opened_on})")])
    children = list(
        await session.scalars(
            select(Facility.code).where(Facility.parent_id == fac.id, Facility.is_open.is_(True))
        )
    )
    if children:
        raise InvalidState(
            f"{fac.code} still has open subordinate facilities: {', '.join(sorted(children))}. "
            "Close them or give them another parent first."
        )
    fac.is_open, fac.closed_on = False, day
    return await _save(session, fac, by)


async def reopen_facility(
    session: AsyncSession, facility_id: int, *, expected_version: int | None, by: str
) -> FacilityOut:
    fac = await _get(session, facility_id)
    expect_version(fac.version, expected_version, "facility")
    if fac.is_open:
        raise InvalidState(f"{fac.code} is open.")
    fac.is_open, fac.closed_on = True, None
    return await _save(session, fac, by)
