"""A schema-based fuzzer over ``/openapi.json``: no input makes the API answer 5xx.

Schemathesis generates requests for every operation of the published schema
and sends them in-process (ASGI): the schema's examples, its coverage phase
(each parameter's boundaries, wrong types, missing and extra fields, NUL
characters, an unexpected method) and random cases, valid and invalid. The
only property checked is the one a client relies on whatever it sends: the
answer is never a server error.

Each case goes as the family doctor (with a facility, a woman attached there,
her pregnancy and a sick-leave certificate with a VKK decision) when her role
may call the operation, else as the admin, else as the first role that may
(the registrar, the obstetrician, the pharmacist, the analyst..., the woman
herself as the citizen, an employer organisation's account she shared the
certificate with), so that it gets past the permission check into the code
that reads it. The run is seeded and bounded: the same requests every
time, about a minute a backend (SALOMAT_FUZZ_EXAMPLES raises the random cases
for a longer hunt).

It runs on a scratch database of its own (a copy of the run's migrated template),
dropped afterwards: the fuzzer creates facilities, territory and people with
generated values, which must not reach the other tests' shared database.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
import schemathesis
from fastapi.routing import APIRoute, iter_route_contexts
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from salomat.core.policy import PERMISSIONS, Public, Require, Role
from tests.conftest import scratch_database
from tests.factories import PASSWORD, business_id_for, unique

#: random cases per operation, after the examples and the coverage phase
MAX_EXAMPLES = int(os.environ.get("SALOMAT_FUZZ_EXAMPLES", "3"))

#: operations that end the fuzzer's own sessions: its tokens would stop working and the
#: rest of the run would test nothing but 401s. The guards they rely on (bounded
#: integers, no NUL, the catch-all 500) are the app's and tests/core/test_no_5xx.py
#: checks them on every route.
EXCLUDED = {
    ("POST", "/auth/logout"),
    ("POST", "/api/v1/users/{user_id}/disable"),
}

#: who sends an operation's cases: the first of these whose role may call it
PREFERENCE = [
    Role.family_doctor,
    Role.admin,
    Role.registrar,
    Role.obstetrician,
    Role.nurse,
    Role.pharmacist,
    Role.analyst,
    Role.epidemiologist,
    Role.auditor,
    Role.insurance_analyst,
    Role.oncologist,
    Role.sanatorium_admin,
    Role.cancer_registrar,
    Role.citizen,
    Role.employer,
    Role.mortality_coder,
    Role.planner,
]

#: explicit, so a schemathesis.toml lying around changes nothing; seeded and
#: deterministic, so every run sends the same requests and a failure reproduces
CONFIG = {
    "seed": 20261205,
    "generation": {
        "mode": "all",  # requests that fit the schema and requests that break it
        "max-examples": MAX_EXAMPLES,
        "deterministic": True,
        "allow-x00": True,
    },
    "phases": {
        "examples": {"enabled": True},
        # one unexpected method is enough to see every route answer 405 (not 500)
        "coverage": {"enabled": True, "unexpected-methods": ["delete"]},
        "fuzzing": {"enabled": True},
        "stateful": {"enabled": False},
    },
}


def _load_schema() -> Any:
    """The schema as the app publishes it (no database is needed to build it)."""
    from schemathesis.config import SchemathesisConfig

    from salomat.main import create_app

    loaded = schemathesis.openapi.from_asgi(
        "/openapi.json", create_app(), config=SchemathesisConfig.from_dict(CONFIG)
    )
    return loaded.exclude(
        func=lambda ctx: (ctx.operation.method.upper(), ctx.operation.path) in EXCLUDED
    )


schema = _load_schema()


def _permission_of(route: APIRoute) -> Require | Public | None:
    stack = [route.dependant]
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, Require | Public):
            return dep.call
        stack.extend(dep.dependencies)
    return None


def _senders(app: Any) -> dict[tuple[str, str], Role]:
    """(method, path) -> the role that sends that operation's cases."""
    out: dict[tuple[str, str], Role] = {}
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        needed = _permission_of(route)
        allowed = PERMISSIONS[needed.permission] if isinstance(needed, Require) else frozenset(Role)
        role = next((r for r in PREFERENCE if r in allowed), Role.family_doctor)
        for method in ctx.methods or ():
            out[(method, ctx.path)] = role
    return out


SENDERS = _senders(schema.app)


@pytest.fixture(scope="module")
def fuzz_database() -> Iterator[str]:
    """A migrated database of the backend under test (a copy of the run's migrated
    template), used by this module only."""
    from salomat.core.config import get_settings
    from salomat.core.db import dispose_engines

    previous = os.environ["SALOMAT_DATABASE_URL"]
    with scratch_database("salomat_fuzz") as url:
        os.environ["SALOMAT_DATABASE_URL"] = url
        get_settings.cache_clear()
        try:
            yield url
        finally:
            asyncio.run(dispose_engines())
            os.environ["SALOMAT_DATABASE_URL"] = previous
            get_settings.cache_clear()


@dataclass
class Senders:
    headers: dict[Role, dict[str, str]]


async def _arrange(app: Any, roles: set[Role]) -> Senders:
    """A polyclinic with a woman attached, her pregnancy and a sick-leave certificate (with
    a VKK decision, shared with an employer organisation), a pharmacy, a sanatorium that
    booked her a place, her breast cancer in the cancer registry, and one user per role.

    The first rows of a fresh database: ids 1 are the ones the coverage phase
    sends first (a path id's lower bound), so those cases reach existing records.
    """
    import httpx

    from salomat.core.config import get_settings
    from salomat.core.db import session_factory
    from salomat.core.policy import FACILITY_ROLES
    from salomat.core.security import Principal
    from salomat.domains.accounts import service as accounts
    from salomat.domains.accounts.schemas import UserIn
    from salomat.domains.registry import service as registry
    from salomat.domains.registry.schemas import EmployerIn, FacilityIn, PersonIn

    async with session_factory()() as db:
        clinic = await registry.create_facility(
            db, FacilityIn(code=unique("F"), name="Fuzz polyclinic", kind="family_polyclinic")
        )
        pharmacy = await registry.create_facility(
            db, FacilityIn(code=unique("P"), name="Fuzz pharmacy", kind="pharmacy")
        )
        sanatorium = await registry.create_facility(
            db, FacilityIn(code=unique("S"), name="Fuzz sanatorium", kind="sanatorium")
        )
        employer = await registry.create_employer(
            db,
            EmployerIn(business_id=business_id_for(get_settings().country), name="Fuzz LLC"),
        )
        clerk = Principal(user_id=0, username="fixture", role="registrar", session_id="fixture")
        woman = await registry.register_person(
            db,
            clerk,
            PersonIn(
                family_name="Karimova",
                given_name="Dilnoza",
                birth_date=date(1994, 5, 17),
                sex="female",
                attached_facility_code=clinic.code,
            ),
        )
        users = {}
        for role in sorted(roles | {Role.family_doctor, Role.admin, Role.citizen, Role.employer}):
            code = None
            if role in FACILITY_ROLES:
                code = {Role.pharmacist: pharmacy.code, Role.sanatorium_admin: sanatorium.code}.get(
                    role, clinic.code
                )
            users[role] = await accounts.create_user(
                db,
                UserIn(
                    username=unique(f"{role.replace('_', '')}-"),
                    password=PASSWORD,
                    role=role,
                    facility_code=code,
                    person_id=woman.id if role == Role.citizen else None,
                    employer_business_id=employer.business_id if role == Role.employer else None,
                ),
            )
        await db.commit()
    headers = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        for role, user in users.items():
            r = await c.post("/auth/token", data={"username": user.username, "password": PASSWORD})
            assert r.status_code == 200, r.text
            headers[role] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        lmp = (date.today() - timedelta(weeks=12)).isoformat()
        r = await c.post(
            f"/api/v1/persons/{woman.id}/pregnancies",
            json={"lmp": lmp, "gravida": 1, "parity": 0},
            headers=headers[Role.family_doctor],
        )
        assert r.status_code == 201, r.text
        # she is also a worker on sick leave: certificate 1, its VKK decision 1, shared
        # with the employer organisation
        doctor = headers[Role.family_doctor]
        today = date.today()
        r = await c.post(
            f"/api/v1/persons/{woman.id}/sick-leave",
            json={"reason": "own_illness", "diagnosis": "J11.1", "days": 5},
            headers=doctor,
        )
        assert r.status_code == 201, r.text
        certificate = r.json()["id"]
        r = await c.post(
            f"/api/v1/sick-leave/{certificate}/vkk",
            json={
                "decided_on": today.isoformat(),
                "extend_until": (today + timedelta(days=20)).isoformat(),
                "protocol_number": "VKK-1",
                "chair": "Aliyev",
                "members": ["Aliyev", "Karimov", "Saidova"],
            },
            headers=doctor,
        )
        assert r.status_code == 201, r.text
        r = await c.post(
            f"/api/v1/me/sick-leave/{certificate}/shares",
            json={"employer_business_id": employer.business_id},
            headers=headers[Role.citizen],
        )
        assert r.status_code == 201, r.text
        # and in a sanatorium's queue: beds, period 1, referral 1, offer 1 accepted (stay 1)
        await _sanatorium(c, headers, woman.id)
        # and in the cancer registry: notification 1 made tumour 1; notification 2 (an
        # unknown primary site beside it) waits for the registrar's decision
        for topography in ("C50.4", "C80.9"):
            r = await c.post(
                f"/api/v1/persons/{woman.id}/cancer-notifications",
                json={
                    "topography": topography,
                    "morphology": "8500/3",
                    "basis": 7,
                    "diagnosed_on": (today - timedelta(days=30)).isoformat(),
                },
                headers=doctor,
            )
            assert r.status_code == 201, r.text
    return Senders(headers)


async def _sanatorium(c: Any, headers: dict[Role, dict[str, str]], person_id: int) -> None:
    from salomat.core.db import session_factory
    from salomat.domains.sanatorium import service as sanatorium

    staff = headers[Role.sanatorium_admin]
    r = await c.put(
        "/api/v1/sanatorium/beds", json={"profile": "cardiology", "beds": 2}, headers=staff
    )
    assert r.status_code == 200, r.text
    starts = (date.today() + timedelta(days=10)).isoformat()
    r = await c.post(
        "/api/v1/sanatorium/periods",
        json={"profile": "cardiology", "starts_on": starts},
        headers=staff,
    )
    assert r.status_code == 201, r.text
    category = next(k for k, v in sanatorium.sanatorium_rules().categories.items() if not v.direct)
    r = await c.post(
        f"/api/v1/persons/{person_id}/sanatorium-referrals",
        json={"indication": "I25.1", "category": category},
        headers=headers[Role.family_doctor],
    )
    assert r.status_code == 201, r.text
    async with session_factory()() as db:
        await sanatorium.sweep(db)
        await db.commit()
    mine = await c.get("/api/v1/me/sanatorium-referrals", headers=headers[Role.citizen])
    offer = mine.json()[0]["offer"]
    assert offer is not None, mine.text
    r = await c.post(
        f"/api/v1/me/sanatorium-offers/{offer['id']}/accept", headers=headers[Role.citizen]
    )
    assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def senders(fuzz_database: str) -> Senders:
    return asyncio.run(_arrange(schema.app, set(SENDERS.values())))


@schema.parametrize()
@settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_a_server_error(case: Any, senders: Senders) -> None:
    role = SENDERS.get((case.operation.method.upper(), case.operation.path), Role.family_doctor)
    response = case.call(headers=senders.headers[role])
    case.validate_response(response, checks=[not_a_server_error])
