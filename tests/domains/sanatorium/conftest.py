"""A polyclinic with its family doctor and patients, a sanatorium with its admin, and
helpers that work through the services (the API tests call the routes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pytest

from salomat.core.db import session_factory
from salomat.core.security import Principal


@dataclass
class World:
    polyclinic: Any
    sanatorium: Any
    doctor_account: Any
    admin_account: Any
    doctor: dict[str, str]
    admin: dict[str, str]
    make_patient: Any
    patients: list[Any] = field(default_factory=list)

    def doctor_principal(self) -> Principal:
        return Principal(
            user_id=self.doctor_account.id,
            username=self.doctor_account.username,
            role="family_doctor",
            session_id="t",
            facility_id=self.polyclinic.id,
        )

    def admin_principal(self) -> Principal:
        return Principal(
            user_id=self.admin_account.id,
            username=self.admin_account.username,
            role="sanatorium_admin",
            session_id="t",
            facility_id=self.sanatorium.id,
            facility_code=self.sanatorium.code,
        )


@pytest.fixture
async def world(db, make_place, make_person, make_user, login) -> World:
    """Everything in a region of its own: the queue is (profile, region), so the test's
    entries stand in a queue no other test shares (UZ keeps regional queues)."""
    from salomat.domains.registry import service
    from salomat.domains.registry.schemas import FacilityIn
    from tests.factories import unique

    place = await make_place()
    poly = await service.create_facility(
        db,
        FacilityIn(
            code=unique("F"),
            name="Test polyclinic",
            kind="family_polyclinic",
            settlement_code=place.settlement,
        ),
    )
    sana = await service.create_facility(
        db,
        FacilityIn(
            code=unique("S"),
            name="Test sanatorium",
            kind="sanatorium",
            settlement_code=place.settlement,
        ),
    )
    await db.commit()
    doctor = await make_user("family_doctor", facility_code=poly.code)
    admin = await make_user("sanatorium_admin", facility_code=sana.code)

    async def patient(born: date = date(1950, 3, 1), sex: str = "female") -> Any:
        return await make_person(facility_code=poly.code, birth_date=born, sex=sex)

    return World(poly, sana, doctor, admin, await login(doctor), await login(admin), patient)


async def set_applied_at(referral_id: int, at: datetime) -> None:
    """Test set-up only: an application time in the past (the service stamps now)."""
    from sqlalchemy import update

    from salomat.domains.sanatorium.models import SanatoriumReferral

    async with session_factory()() as s:
        await s.execute(
            update(SanatoriumReferral)
            .where(SanatoriumReferral.id == referral_id)
            .values(applied_at=at)
        )
        await s.commit()


def fields(r) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {e["field"]: e["message"] for e in r.json().get("errors", [])}
