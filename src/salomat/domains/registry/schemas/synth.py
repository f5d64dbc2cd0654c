"""The synthetic population the registry hands to the programmes' generators.

Columnar (one array per attribute, index ``i`` is one person) so that a
million people fit in a few tens of megabytes and a programme can scan them
quickly. Ids are the database ids already written. Injected duplicate
records (``is_duplicate``) are second records of someone already present:
programmes give records only to originals, as a real person's history sits
on one record until the registrar merges.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from datetime import date

__all__ = ["SyntheticFacility", "SyntheticPopulation"]


@dataclass(frozen=True)
class SyntheticFacility:
    id: int
    code: str
    #: the registry's facility kinds (family_polyclinic, rural_health_post, perinatal_centre,
    #: maternity, pharmacy, ...)
    kind: str
    settlement_id: int
    district_id: int
    region_id: int
    perinatal_level: int | None = None
    #: practitioner ids working there (family doctors and nurses for primary care)
    practitioners: tuple[int, ...] = ()


@dataclass
class SyntheticPopulation:
    country: str
    as_of: date
    person_id: array = field(default_factory=lambda: array("q"))
    #: 0 male, 1 female
    sex: bytearray = field(default_factory=bytearray)
    #: birth date as ``date.toordinal()``
    birth: array = field(default_factory=lambda: array("i"))
    settlement_id: array = field(default_factory=lambda: array("i"))
    #: the primary-care facility the person is attached to (0: not attached)
    facility_id: array = field(default_factory=lambda: array("i"))
    #: the family-doctor section (0: none)
    section_id: array = field(default_factory=lambda: array("i"))
    household: array = field(default_factory=lambda: array("i"))
    #: index (not id) of the mother in these arrays, -1 when she isn't in the population
    mother: array = field(default_factory=lambda: array("i"))
    #: date of death as an ordinal, 0 when alive
    deceased: array = field(default_factory=lambda: array("i"))
    is_duplicate: bytearray = field(default_factory=bytearray)
    national_id: list[str | None] = field(default_factory=list)
    facilities: list[SyntheticFacility] = field(default_factory=list)
    #: territory ids: settlement -> district, district -> region
    district_of: dict[int, int] = field(default_factory=dict)
    region_of: dict[int, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.person_id)

    def age_days(self, i: int) -> int:
        return self.as_of.toordinal() - self.birth[i]

    def alive(self, i: int) -> bool:
        return self.deceased[i] == 0 and not self.is_duplicate[i]

    def facilities_of_kind(self, kind: str) -> list[SyntheticFacility]:
        return [f for f in self.facilities if f.kind == kind]

    def facility(self, facility_id: int) -> SyntheticFacility:
        return self._by_id()[facility_id]

    def _by_id(self) -> dict[int, SyntheticFacility]:
        cached = self.__dict__.get("_facility_index")
        if cached is None or len(cached) != len(self.facilities):
            cached = {f.id: f for f in self.facilities}
            self.__dict__["_facility_index"] = cached
        return cached
