"""A region of its own with people born and dying on chosen days: the indicators' hand
counts. Deaths are set on the person row (as the registry's death registration and the
certificate leave it: ``deceased_on`` and the underlying cause ``death_cause``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from sqlalchemy import update


@dataclass
class Vital:
    place: Any
    db: Any
    make_person: Any
    people: list[Any] = field(default_factory=list)

    async def born(self, on: date, sex: str = "female") -> Any:
        p = await self.make_person(birth_date=on, sex=sex, settlement_code=self.place.settlement)
        self.people.append(p)
        return p

    async def died(self, person: Any, on: date, cause: str | None = "R99") -> None:
        from salomat.domains.registry.models import Person

        await self.db.execute(
            update(Person).where(Person.id == person.id).values(deceased_on=on, death_cause=cause)
        )
        await self.db.commit()

    async def death(self, born: date, on: date, cause: str | None = "R99", sex: str = "female"):
        p = await self.born(born, sex)
        await self.died(p, on, cause)
        return p


@pytest.fixture
async def vital(db, make_place, make_person) -> Vital:
    return Vital(await make_place(), db, make_person)


@pytest.fixture
async def vital2(db, make_place, make_person) -> Vital:
    return Vital(await make_place(is_rural=False), db, make_person)
