"""Helpers of the claims tests (slice C): providers, people with national ids, a month of
their own, claims through the service.

Each test takes a month no other test uses (``fresh_month``): the nightly rules look at
every line of a month, so months keep the tests apart in the one database of a run.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest

from salomat.core.config import get_settings
from salomat.core.errors import Conflict
from salomat.core.security import Principal
from tests.factories import national_id_for

#: months from 1975 on, one per call, offset at random per run so that two runs against
#: one kept database would not collide either
_START = 1975 * 12 + secrets.randbelow(12 * 5)
_months = itertools.count(_START)


def next_month() -> date:
    n = next(_months)
    return date(n // 12, n % 12 + 1, 1)


@pytest.fixture
def fresh_month() -> Callable[[], date]:
    return next_month


@dataclass
class Provider:
    facility: Any
    principal: Principal
    account: Any


@pytest.fixture
def make_provider(make_facility: Any, make_user: Any) -> Callable[..., Awaitable[Provider]]:
    async def make(role: str = "family_doctor", kind: str = "family_polyclinic") -> Provider:
        fac = await make_facility(kind)
        acc = await make_user(role, facility_code=fac.code)
        p = Principal(
            user_id=acc.id,
            username=acc.username,
            role=role,
            session_id="t",
            facility_id=fac.id,
            facility_code=fac.code,
        )
        return Provider(fac, p, acc)

    return make


@pytest.fixture
async def reviewer(make_user: Any) -> Principal:
    acc = await make_user("insurance_analyst")
    return Principal(
        user_id=acc.id, username=acc.username, role="insurance_analyst", session_id="t"
    )


REGISTRAR = Principal(user_id=0, username="fixture", role="registrar", session_id="fixture")


@pytest.fixture
def make_insuree(make_person: Any) -> Callable[..., Awaitable[Any]]:
    """A person with a national id of the deployed country."""

    async def make(
        birth: date | None = None, sex: str = "female", facility_code: str | None = None
    ) -> Any:
        # a day of 1950 at random (a pensioner whatever the day): an IIN has only 10,000
        # serials a birth date and sex, and one fixed day clashed within a test run
        day = birth or date(1950, 1, 1) + timedelta(days=secrets.randbelow(365))
        for attempt in range(8):
            nid = national_id_for(day, sex, get_settings().country)
            try:
                return await make_person(facility_code, birth_date=day, sex=sex, national_id=nid)
            except Conflict:
                # registration refuses a taken id before it writes anything: the test's
                # own uncommitted rows stay as they were (no rollback)
                if attempt == 7:
                    raise
        raise AssertionError("unreachable")

    return make


async def register_death(db: Any, person: Any, day: date) -> None:
    from salomat.domains.registry import service
    from salomat.domains.registry.schemas import DeathIn

    version = await service.person_version(db, person.id)
    await service.register_death(
        db, REGISTRAR, person.id, DeathIn(deceased_on=day, cause="I21.9"), expected_version=version
    )
    await db.commit()


def line(person: Any, code: str, day: date, **kw: Any) -> dict[str, Any]:
    return {"national_id": person.national_id, "service_code": code, "service_on": day, **kw}


async def submit(db: Any, provider: Provider, lines: list[dict[str, Any]], **kw: Any) -> Any:
    from salomat.domains.insurance.schemas.claims import ClaimIn
    from salomat.domains.insurance.service import claims

    out = await claims.submit_claim(
        db, provider.principal, ClaimIn.model_validate({"lines": lines, **kw})
    )
    await db.commit()
    return out


async def pay(
    db: Any, person: Any, month: date, *, kind: str = "employer", paid_on: date | None = None
) -> None:
    """A contribution for ``month`` (stored as the fund's import would store it)."""
    from salomat.core.db import utcnow
    from salomat.domains.insurance.models import Contribution, Payer

    payer = Payer(
        kind="employer" if kind in ("employer", "employee") else kind,
        code=f"P{secrets.token_hex(6)}",
        name="Test payer",
        created_at=utcnow(),
    )
    db.add(payer)
    await db.flush()
    db.add(
        Contribution(
            person_id=person.id,
            payer_id=payer.id,
            kind=kind,
            month=month,
            amount=100_00,
            paid_on=paid_on or month,
            recorded_by="fixture",
            recorded_at=utcnow(),
        )
    )
    await db.commit()
