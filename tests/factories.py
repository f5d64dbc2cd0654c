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


def unique(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(4)}"


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
def make_user(db: AsyncSession, make_facility: Any) -> Callable[..., Awaitable[Account]]:
    from salomat.core.policy import facility_required
    from salomat.domains.accounts import service
    from salomat.domains.accounts.schemas import UserIn

    async def make(
        role: str, *, facility_code: str | None = None, person_id: int | None = None
    ) -> Account:
        if facility_required(role) and facility_code is None:
            facility_code = (await make_facility()).code
        user = await service.create_user(
            db,
            UserIn(
                username=unique(f"{role.replace('_', '')}-"),
                password=PASSWORD,
                role=role,
                facility_code=facility_code,
                person_id=person_id,
            ),
        )
        await db.commit()
        return Account(user.id, user.username, role, facility_code, person_id)

    return make


@pytest.fixture
def make_person(db: AsyncSession) -> Callable[..., Awaitable[Any]]:
    from salomat.core.security import Principal
    from salomat.domains.registry import service
    from salomat.domains.registry.schemas import PersonIn

    system = Principal(user_id=0, username="fixture", role="registrar", session_id="fixture")

    async def make(facility_code: str | None = None, **kw: Any) -> Any:
        data = {
            "family_name": kw.pop("family_name", "Karimova"),
            "given_name": kw.pop("given_name", unique("Dilnoza")),
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
