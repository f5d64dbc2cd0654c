"""Subqueries of people that a higher domain joins to in SQL for set-wise figures.

Deduplicated by the master patient index: a merged record (``merged_into_id`` set)
stands for its survivor, so rows kept on a merged record count once, on the survivor.
No row leaves the database here and no audit row is written: the callers check scope
and audit what they show of a person.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, or_, select

from salomat.domains.registry.models import Facility, Person, Section

__all__ = ["canonical_person_ids", "living_people_query"]


def canonical_person_ids() -> Any:
    """Every person id with the id it counts as (``person_id``, ``canonical_id``): a
    merged record's survivor, else itself."""
    return select(
        Person.id.label("person_id"),
        func.coalesce(Person.merged_into_id, Person.id).label("canonical_id"),
    ).subquery("canonical")


def living_people_query(on: date) -> Any:
    """The people alive on ``on`` (not merged), with where they count.

    Columns ``person_id``, ``birth_date``, ``settlement_id`` (where the person lives,
    else where their facility stands, as ``cohort_query``), ``facility_id`` (attached
    to), ``section_code``, and for a worklist whose caller audits each row shown:
    ``family_name``, ``given_name``, ``patronymic``, ``phone``, ``address``,
    ``section_name``.
    """
    return (
        select(
            Person.id.label("person_id"),
            Person.birth_date.label("birth_date"),
            func.coalesce(Person.settlement_id, Facility.settlement_id).label("settlement_id"),
            Person.attached_facility_id.label("facility_id"),
            Section.code.label("section_code"),
            Section.name.label("section_name"),
            Person.family_name.label("family_name"),
            Person.given_name.label("given_name"),
            Person.patronymic.label("patronymic"),
            Person.phone.label("phone"),
            Person.address.label("address"),
        )
        .outerjoin(Facility, Facility.id == Person.attached_facility_id)
        .outerjoin(Section, Section.id == Person.section_id)
        .where(
            Person.merged_into_id.is_(None),
            or_(Person.deceased_on.is_(None), Person.deceased_on > on),
        )
        .subquery("living")
    )
