"""Arranging audit rows at known times, named accounts and facilities (for the audit pages)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import insert

from salomat.core.audit import AuditEvent, content_hash
from salomat.core.db import session_factory
from tests.factories import PASSWORD, Account, unique


async def named_facility(db: Any, *, ru: str, uz: str) -> Any:
    from salomat.domains.registry import service
    from salomat.domains.registry.schemas import FacilityIn

    fac = await service.create_facility(
        db,
        FacilityIn(code=unique("AF"), name=uz, names={"ru": ru}, kind="family_polyclinic"),
    )
    await db.commit()
    return fac


async def named_user(
    db: Any, role: str, full_name: str, facility_code: str | None = None, **kw: Any
) -> Account:
    from salomat.domains.accounts import service
    from salomat.domains.accounts.schemas import UserIn

    user = await service.create_user(
        db,
        UserIn(
            username=unique(f"{role.replace('_', '')}-"),
            password=PASSWORD,
            role=role,
            full_name=full_name,
            facility_code=facility_code,
            **kw,
        ),
    )
    await db.commit()
    return Account(user.id, user.username, role, facility_code, kw.get("person_id"))


async def audit_row(
    at: datetime,
    who: Account | None,
    *,
    facility_id: int | None = None,
    action: str = "read",
    resource_type: str = "Patient",
    patient_id: int | None = None,
    purpose: str | None = None,
    outcome: str = "success",
    break_glass: bool = False,
) -> int:
    """One audit row as the app writes it, at a time the test chooses (the test database
    connects as its owner, so it may name ``occurred_at``)."""
    row: dict[str, Any] = {
        "user_id": who.id if who else None,
        "username": who.username if who else None,
        "role": who.role if who else None,
        "facility_id": facility_id,
        "facility_code": who.facility_code if who else None,
        "action": action,
        "resource_type": resource_type,
        "resource_id": str(patient_id) if patient_id is not None else None,
        "patient_id": patient_id,
        "purpose": purpose,
        "outcome": outcome,
        "break_glass": break_glass,
        "break_glass_grant_id": None,
        "client_address": "10.0.0.9",
        "request_id": None,
        "detail": None,
    }
    row["row_hash"] = content_hash(row)
    async with session_factory()() as s:
        result = await s.execute(
            insert(AuditEvent.__table__).values(occurred_at=at, **row).returning(AuditEvent.id)
        )
        new_id = int(result.scalar_one())
        await s.commit()
    return new_id


async def web_login(client: Any, account: Account, lang: str = "en") -> None:
    client.cookies.set("salomat_lang", lang)
    form = await client.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', form.text).group(1)
    r = await client.post(
        "/login",
        data={"username": account.username, "password": account.password, "login_csrf": token},
    )
    assert r.status_code == 303, r.text
