"""Fixtures that arrange data through the services (never raw SQL)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

PASSWORD = "correct horse battery"


def country_today() -> date:
    """The running country's day (UTC+5 in both packs): what the services that take the
    country's day (``pack.today``) compare with. ``date.today()`` is the server's day, a day
    behind from 19:00 UTC, and a module-level constant is fixed at import: call this in the
    test instead."""
    from salomat.core.config import get_settings
    from salomat.country import pack

    return pack.today(get_settings().country)


def unique(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(4)}"


_LETTERS = str.maketrans("0123456789abcdef", "bdfghjklmnprstvz")


def unique_name(prefix: str = "") -> str:
    """A name of letters only (names with digits are refused), unlike any other."""
    return (prefix + secrets.token_hex(5).translate(_LETTERS)).capitalize()


def national_id_for(birth: date, sex: str, country: str = "UZ", serial: int | None = None) -> str:
    """A valid PINFL (UZ) or IIN (KZ) encoding ``birth`` and ``sex``; random serial."""
    from salomat.country.national_id import iin_check_digit, pinfl_check_digit

    code = {1800: 1, 1900: 3, 2000: 5}[birth.year // 100 * 100] + (sex == "female")
    while True:
        n = serial if serial is not None else secrets.randbelow(10**6)
        if country == "UZ":
            body = f"{code}{birth:%d%m%y}{n:06d}"
            digits = [int(c) for c in body]
            return body + str(pinfl_check_digit(digits, [7, 3, 1]))
        body = f"{birth:%y%m%d}{code}{n % 10**4:04d}"
        digits = [int(c) for c in body]
        check = iin_check_digit(digits, list(range(1, 12)), [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2])
        if check is not None:
            return body + str(check)
        serial = None


def business_id_for(country: str = "UZ", serial: int | None = None) -> str:
    """A valid business id of the country (KZ BIN with its check digit, UZ 9-digit STIR);
    a random one (of about 10^8) unless ``serial`` picks it."""
    from salomat.country.business_id import check_digit

    n = serial if serial is not None else secrets.randbelow(10**8)
    if country == "UZ":
        # a legal entity's STIR starts with 2 or 3 (format only: no check rule verified)
        return f"{2 + n % 2}{n // 2 % 10**8:08d}"
    while True:
        # YYMM of registration, 4 (resident legal entity), 0 (head office), serial, check
        yymm = f"{n // 10**5 % 100:02d}{n // 10**7 % 12 + 1:02d}"
        body = f"{yymm}40{n % 10**5:05d}"
        check = check_digit(country, body)
        if check is not None:
            return body + str(check)
        n += 1


@pytest.fixture
async def db() -> AsyncIterator[AsyncSession]:
    """A session for arranging and inspecting data; commit what you arrange."""
    from salomat.core.db import session_factory

    async with session_factory()() as session:
        yield session


@dataclass
class Account:
    id: int
    username: str
    role: str
    facility_code: str | None
    person_id: int | None
    password: str = PASSWORD
    #: an ``employer`` account's organisation (registry ``EmployerOut``)
    employer: Any = None


@pytest.fixture
def make_facility(db: AsyncSession) -> Callable[..., Awaitable[Any]]:
    from salomat.domains.registry import service
    from salomat.domains.registry.schemas import FacilityIn

    async def make(kind: str = "family_polyclinic") -> Any:
        fac = await service.create_facility(
            db, FacilityIn(code=unique("F"), name="Test polyclinic", kind=kind)
        )
        await db.commit()
        return fac

    return make


@pytest.fixture
def make_employer(db: AsyncSession) -> Callable[..., Awaitable[Any]]:
    """An employer organisation of the deployed country (a valid, random business id)."""
    from salomat.core.config import get_settings
    from salomat.domains.registry import service
    from salomat.domains.registry.schemas import EmployerIn

    async def make(name: str | None = None, *, business_id: str | None = None) -> Any:
        employer = await service.create_employer(
            db,
            EmployerIn(
                business_id=business_id or business_id_for(get_settings().country),
                name=name or f"{unique_name('Ishonch')} LLC",
            ),
        )
        await db.commit()
        return employer

    return make


@pytest.fixture
def make_user(
    db: AsyncSession, make_facility: Any, make_employer: Any
) -> Callable[..., Awaitable[Account]]:
    """An account of ``role``; a facility role gets a new facility and an ``employer`` a new
    employer organisation unless one is given (``employer``: an ``EmployerOut``)."""
    from salomat.core.policy import Role, facility_required
    from salomat.domains.accounts import service
    from salomat.domains.accounts.schemas import UserIn

    async def make(
        role: str,
        *,
        facility_code: str | None = None,
        person_id: int | None = None,
        employer: Any = None,
    ) -> Account:
        if facility_required(role) and facility_code is None:
            facility_code = (await make_facility()).code
        if role == Role.employer and employer is None:
            employer = await make_employer()
        user = await service.create_user(
            db,
            UserIn(
                username=unique(f"{role.replace('_', '')}-"),
                password=PASSWORD,
                role=role,
                facility_code=facility_code,
                person_id=person_id,
                employer_business_id=employer.business_id if employer is not None else None,
            ),
        )
        await db.commit()
        return Account(user.id, user.username, role, facility_code, person_id, employer=employer)

    return make


@pytest.fixture
def make_person(db: AsyncSession) -> Callable[..., Awaitable[Any]]:
    from salomat.core.security import Principal
    from salomat.domains.registry import service
    from salomat.domains.registry.schemas import PersonIn

    system = Principal(user_id=0, username="fixture", role="registrar", session_id="fixture")

    async def make(facility_code: str | None = None, **kw: Any) -> Any:
        data = {
            "family_name": kw.pop("family_name", unique_name("Ka")),
            "given_name": kw.pop("given_name", unique_name("Di")),
            "birth_date": kw.pop("birth_date", date(1994, 5, 17)),
            "sex": kw.pop("sex", "female"),
            "attached_facility_code": facility_code,
            **kw,
        }
        person = await service.register_person(db, system, PersonIn(**data))
        await db.commit()
        return person

    return make


async def token_for(client: httpx.AsyncClient, account: Account) -> dict[str, str]:
    r = await client.post(
        "/auth/token", data={"username": account.username, "password": account.password}
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture
def login(client: httpx.AsyncClient) -> Callable[[Account], Awaitable[dict[str, str]]]:
    async def do(account: Account) -> dict[str, str]:
        return await token_for(client, account)

    return do


# ---- territory, facilities, practitioners (registry) -------------------------------


@dataclass
class Place:
    """A region with one district and one settlement, made for one test."""

    region: str
    district: str
    settlement: str


@pytest.fixture
def make_place(db: AsyncSession) -> Callable[..., Awaitable[Place]]:
    from salomat.domains.registry import service
    from salomat.domains.registry.schemas import TerritoryIn

    async def make(is_rural: bool = True) -> Place:
        region = unique("R")
        await service.create_territory(db, TerritoryIn(code=region, level="region", name="Region"))
        district = f"{region}-D"
        await service.create_territory(
            db, TerritoryIn(code=district, level="district", parent_code=region, name="District")
        )
        settlement = f"{district}-S"
        await service.create_territory(
            db,
            TerritoryIn(
                code=settlement,
                level="settlement",
                parent_code=district,
                name="Village",
                is_rural=is_rural,
                latitude=39.6,
                longitude=66.9,
            ),
        )
        await db.commit()
        return Place(region, district, settlement)

    return make


@pytest.fixture
def make_practitioner(db: AsyncSession) -> Callable[..., Awaitable[Any]]:
    from salomat.core.security import Principal
    from salomat.domains.registry import service
    from salomat.domains.registry.schemas import PractitionerIn

    system = Principal(user_id=0, username="fixture", role="admin", session_id="fixture")

    async def make(specialty: str = "general_practice", **kw: Any) -> Any:
        data = {
            "family_name": kw.pop("family_name", "Rasulov"),
            "given_name": kw.pop("given_name", unique("Farrux")),
            "specialty": specialty,
            **kw,
        }
        p = await service.create_practitioner(db, system, PractitionerIn(**data))
        await db.commit()
        return p

    return make


@pytest.fixture
async def admin_headers(
    client: httpx.AsyncClient, make_user: Callable[..., Awaitable[Account]]
) -> dict[str, str]:
    return await token_for(client, await make_user("admin"))
