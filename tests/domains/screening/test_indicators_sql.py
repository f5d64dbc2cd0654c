"""The set-wise SQL of the programme indicators gives what the pure definitions
(``hearts``) give on the same patients: the note's vector 1 inserted into the database,
and random patient lists (SQLite and PostgreSQL)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from salomat.domains.screening.models import DmpEnrolment, DmpVisit, ScreeningObservation
from salomat.domains.screening.service import indicators
from salomat.domains.screening.service.hearts import (
    DHIS2_SUGAR,
    SIMPLE_SUGAR,
    BPReading,
    CohortOutcome,
    Outcome,
    Patient,
    Period,
    SugarReading,
    cohort_report,
    control_report,
)
from tests.factories import unique

pytestmark = pytest.mark.anyio

NOW = datetime(2025, 7, 1, tzinfo=UTC)


async def facility_in(db: Any, settlement: str) -> Any:
    from salomat.domains.registry import service
    from salomat.domains.registry.schemas import FacilityIn

    fac = await service.create_facility(
        db,
        FacilityIn(
            code=unique("F"), name="Oilaviy poliklinika", kind="family_polyclinic",
            settlement_code=settlement,
        ),
    )  # fmt: skip
    await db.commit()
    return fac


async def insert_patients(
    db: Any, make_person: Any, facility_id: int, patients: list[Patient], programme: str
) -> dict[Any, int]:
    """Each patient as a person with one enrolment, readings and visits (in their order)."""
    from salomat.domains.registry.models import Person

    ids = {}
    for p in patients:
        person = await make_person()
        ids[p.id] = person.id
        if p.died_on is not None:
            await db.execute(
                update(Person).where(Person.id == person.id).values(deceased_on=p.died_on)
            )
        enrolment = DmpEnrolment(
            person_id=person.id, facility_id=facility_id, programme=programme,
            diagnosis_code="I10" if programme == "hypertension" else "E11.9",
            enrolled_on=p.registered_on, recorded_by="test", created_at=NOW,
        )  # fmt: skip
        db.add(enrolment)
        await db.flush()
        for b in p.bp:
            db.add(
                ScreeningObservation(
                    person_id=person.id, facility_id=facility_id, observed_on=b.on, kind="bp",
                    systolic=b.systolic, diastolic=b.diastolic, unit="mm[Hg]",
                    enrolment_id=enrolment.id, recorded_by="test", created_at=NOW,
                )
            )  # fmt: skip
            await db.flush()
        for s in p.sugar:
            db.add(
                ScreeningObservation(
                    person_id=person.id, facility_id=facility_id, observed_on=s.on, kind=s.kind,
                    value=s.value, unit="%" if s.kind == "hba1c" else "mmol/L",
                    enrolment_id=enrolment.id, recorded_by="test", created_at=NOW,
                )
            )  # fmt: skip
            await db.flush()
        for v in p.visits:
            db.add(
                DmpVisit(
                    person_id=person.id, enrolment_id=enrolment.id, facility_id=facility_id,
                    visited_on=v, next_visit_due=v + timedelta(days=28), recorded_by="test",
                    created_at=NOW,
                )
            )  # fmt: skip
    await db.commit()
    return ids


def _bp(on: str, s: int, d: int) -> BPReading:
    return BPReading(date.fromisoformat(on), s, d)


# the note's vector 1 (test_hearts.py holds its expected classes)
VECTOR_1 = [
    Patient("P1", date(2024, 1, 10), bp=(_bp("2025-06-12", 132, 84),)),
    Patient("P2", date(2024, 11, 5), bp=(_bp("2025-05-20", 150, 92),)),
    Patient("P3", date(2025, 2, 14), bp=(_bp("2025-06-01", 138, 88),)),
    Patient("P4", date(2025, 4, 20), bp=(_bp("2025-06-25", 128, 80),)),
    Patient("P5", date(2023, 6, 1), bp=(_bp("2025-02-10", 136, 86),)),
    Patient("P6", date(2023, 3, 15), bp=(_bp("2024-05-30", 150, 95),)),
    Patient("P7", date(2024, 8, 8), bp=(_bp("2025-04-02", 140, 85),)),
    Patient("P8", date(2024, 9, 9), bp=(_bp("2025-06-30", 139, 90),)),
    Patient("P9", date(2024, 2, 2), died_on=date(2025, 5, 20), bp=(_bp("2025-05-02", 120, 80),)),
    Patient("P10", date(2025, 3, 31), bp=(_bp("2025-06-15", 118, 76),)),
    Patient("P11", date(2024, 5, 5), bp=(_bp("2025-04-10", 130, 80), _bp("2025-06-05", 146, 88))),
]


async def test_vector_1_in_the_database_gives_the_note_s_rates(
    db: Any, make_place: Any, make_person: Any
) -> None:
    place = await make_place()
    fac = await facility_in(db, place.settlement)
    await insert_patients(db, make_person, fac.id, VECTOR_1, "hypertension")
    june = Period.parse("2025-06")
    got = (await indicators.control_counts(db, "hypertension", june, facility_ids=[fac.id]))[fac.id]
    assert got == control_report(VECTOR_1, june)
    assert got.denominator == 8
    assert round(got.rate(Outcome.CONTROLLED), 1) == 37.5
    assert round(got.rate(Outcome.UNCONTROLLED), 1) == 50.0
    assert round(got.rate(Outcome.MISSED), 1) == 12.5
    assert round(got.ltfu_rate, 1) == 10.0
    assert round(got.rate(Outcome.CONTROLLED, with_ltfu=True), 1) == 33.3


async def test_an_enrolment_ended_by_death_counts_as_dead_and_a_withdrawn_one_not_at_all(
    db: Any, make_place: Any, make_person: Any
) -> None:
    place = await make_place()
    fac = await facility_in(db, place.settlement)
    alive = [Patient("a", date(2024, 9, 1), bp=(_bp("2025-06-01", 120, 80),))] * 2
    ids = await insert_patients(db, make_person, fac.id, alive[:1], "hypertension")
    other = await insert_patients(db, make_person, fac.id, alive[1:], "hypertension")
    from sqlalchemy import select

    for pid, reason in ((ids["a"], "died"), (other["a"], "withdrawn")):
        e = (await db.scalars(select(DmpEnrolment).where(DmpEnrolment.person_id == pid))).one()
        e.ended_on, e.end_reason = date(2025, 6, 10), reason
    await db.commit()
    june = Period.parse("2025-06")
    got = (await indicators.control_counts(db, "hypertension", june, facility_ids=[fac.id]))[fac.id]
    assert got.counts == {"dead": 1}
    may = Period.parse("2025-05")
    before = await indicators.control_counts(db, "hypertension", may, facility_ids=[fac.id])
    assert before[fac.id].counts == {"missed": 2}


async def test_a_transfer_keeps_the_first_registration_and_moves_the_patient(
    db: Any, make_place: Any, make_person: Any
) -> None:
    place = await make_place()
    old, new = await facility_in(db, place.settlement), await facility_in(db, place.settlement)
    p = Patient("t", date(2024, 1, 1), bp=(_bp("2025-06-01", 120, 80),))
    ids = await insert_patients(db, make_person, old.id, [p], "hypertension")
    from sqlalchemy import select

    e = (await db.scalars(select(DmpEnrolment).where(DmpEnrolment.person_id == ids["t"]))).one()
    e.ended_on, e.end_reason = date(2025, 5, 1), "transferred"
    db.add(
        DmpEnrolment(
            person_id=ids["t"], facility_id=new.id, programme="hypertension",
            diagnosis_code="I10", enrolled_on=date(2025, 5, 1), recorded_by="test",
            created_at=NOW,
        )
    )  # fmt: skip
    await db.commit()
    got = await indicators.control_counts(
        db, "hypertension", Period.parse("2025-06"), facility_ids=[old.id, new.id]
    )
    # registered in January 2024, not new at the facility that took the patient in
    assert got == {new.id: control_report([p], Period.parse("2025-06"))}
    assert got[new.id].counts == {"controlled": 1}


def _random_patients(rng: random.Random, n: int) -> list[Patient]:
    day0 = date(2023, 1, 1)

    def day() -> date:
        return day0 + timedelta(days=rng.randrange(0, 3 * 365))

    out = []
    for i in range(n):
        systolic, diastolic = [118, 135, 139, 140, 141, 160], [76, 89, 90, 95]
        bps = tuple(
            BPReading(day(), rng.choice(systolic), rng.choice(diastolic))
            for _ in range(rng.randrange(0, 5))
        )
        sugar = tuple(
            SugarReading(day(), "hba1c", rng.choice([6.5, 7.0, 7.4, 8.9, 9.0]))
            if rng.random() < 0.5
            else SugarReading(day(), "glucose_fasting", rng.choice([6.8, 6.99, 7.0, 11.1, 11.2]))
            for _ in range(rng.randrange(0, 3))
        )
        visits = tuple(day() for _ in range(rng.randrange(0, 2)))
        died = day() if rng.random() < 0.15 else None
        out.append(Patient(f"r{i}", day(), died_on=died, bp=bps, sugar=sugar, visits=visits))
    return out


PERIODS = ["2023-09", "2024-Q2", "2024-12", "2025-03", "2025-Q3", "2025-12"]


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_random_patients_sql_equals_the_pure_definitions(
    db: Any, make_place: Any, make_person: Any, seed: int
) -> None:
    rng = random.Random(seed)
    patients = _random_patients(rng, 40)
    place = await make_place()
    fac = await facility_in(db, place.settlement)
    await insert_patients(db, make_person, fac.id, patients, "t2dm")
    for code in PERIODS:
        period = Period.parse(code)
        for sugar in (None, DHIS2_SUGAR, SIMPLE_SUGAR):
            got = await indicators.control_counts(
                db, "t2dm", period, facility_ids=[fac.id], sugar=sugar
            )
            want = control_report(patients, period, sugar=sugar)
            assert got.get(fac.id, control_report([], period)).counts == want.counts, (code, sugar)
        cohort = Period.parse(code)
        got_c = await indicators.cohort_counts(db, "t2dm", cohort, facility_ids=[fac.id])
        want_c = cohort_report(patients, cohort)
        assert got_c.get(fac.id, cohort_report([], cohort)) == want_c, code


async def test_vector_3_cohort_in_the_database(db: Any, make_place: Any, make_person: Any) -> None:
    from tests.domains.screening.test_hearts import _cohort_40

    place = await make_place()
    fac = await facility_in(db, place.settlement)
    await insert_patients(db, make_person, fac.id, _cohort_40(), "hypertension")
    got = (
        await indicators.cohort_counts(
            db, "hypertension", Period.parse("2025-Q1"), facility_ids=[fac.id]
        )
    )[fac.id]
    assert (got.controlled, got.uncontrolled, got.no_visit) == (18, 12, 10)
    assert round(got.rate(CohortOutcome.CONTROLLED), 1) == 45.0
    assert round(got.rate(CohortOutcome.NO_VISIT), 1) == 25.0


# ---- an area's figures, masked ---------------------------------------------------------


def _analyst() -> Any:
    from salomat.core.security import Principal

    return Principal(user_id=0, username="fixture", role="analyst", session_id="fixture")


async def vector_1_times_5(db: Any, make_place: Any, make_person: Any) -> tuple[Any, Any, Any]:
    """Vector 1 five times over at one facility (no count below five but visits without
    BP), and three patients at a second facility of the same district."""
    place = await make_place()
    big, small = await facility_in(db, place.settlement), await facility_in(db, place.settlement)
    await insert_patients(db, make_person, big.id, VECTOR_1 * 5, "hypertension")
    await insert_patients(db, make_person, small.id, VECTOR_1[:3], "hypertension")
    return place, big, small


async def test_area_indicators_by_facility_and_district_masked(
    db: Any, make_place: Any, make_person: Any
) -> None:
    from salomat.core.errors import Invalid

    place, big, small = await vector_1_times_5(db, make_place, make_person)
    today = date(2025, 7, 1)
    r = await indicators.programme_indicators(
        db, _analyst(), period="2025-06", area=place.district, today=today
    )
    assert r.by == "facility"
    rows = {row.code: row for row in r.rows}
    b = rows[big.code]
    # the small facility's counts are "<5"; the district's total is published, so the big
    # facility's counts in the same columns are withheld with them ("x", not small)
    assert (b.missed, b.ltfu, b.visited_no_bp) == (5, 5, 0)
    assert (b.controlled, b.uncontrolled, b.denominator, b.controlled_pct) == (None,) * 4
    assert {"controlled", "uncontrolled", "registered"} <= set(b.suppressed)
    assert not {"controlled", "uncontrolled", "registered"} & set(b.small)
    s = rows[small.code]
    assert s.controlled is None
    assert s.controlled_pct is None
    assert {"controlled", "uncontrolled", "registered"} <= set(s.small)
    # the district's total: 17 controlled of 43 (P1, P2 and P3 at the small facility too)
    assert r.total.controlled == 17
    assert r.total.denominator == 43
    assert r.total.controlled_pct == round(100 * 17 / 43, 1)
    # the region, by district: one row, the same figures as the district's total
    by_district = await indicators.programme_indicators(
        db, _analyst(), period="2025-Q2", area=place.region, today=today
    )
    assert [row.code for row in by_district.rows] == [place.district]
    assert by_district.rows[0].controlled == 17
    assert "140/90" in by_district.definitions["controlled"]
    for bad, field in (
        ({"period": "2025-06", "area": "NOPE"}, "area"),
        ({"period": "2025-07", "area": place.district}, "period"),
        ({"period": "2025-Q3", "area": place.district}, "period"),
        ({"period": "June", "area": place.district}, "period"),
        ({"period": "2025-06", "area": place.district, "by": "region"}, "by"),
        ({"period": "2025-06", "area": place.district, "programme": "asthma"}, "programme"),
    ):
        with pytest.raises(Invalid) as e:
            await indicators.programme_indicators(db, _analyst(), today=today, **bad)
        assert [f.field for f in e.value.errors] == [field], bad


async def test_area_csv_marks_withheld_cells(db: Any, make_place: Any, make_person: Any) -> None:
    place, big, small = await vector_1_times_5(db, make_place, make_person)
    r = await indicators.programme_indicators(
        db, _analyst(), period="2025-06", area=place.district, today=date(2025, 7, 1)
    )
    text = indicators.indicators_csv(r).text
    header, *lines = text.strip().splitlines()
    assert header.startswith("period,code,name,level,registered")
    big_line = next(line for line in lines if f",{big.code}," in line)
    cols = header.split(",")
    cells = dict(zip(cols, big_line.split(","), strict=True))
    assert cells["controlled_pct"] == "x"  # withheld with the small facility's "<5"
    assert cells["missed"] == "5"
    small_line = next(line for line in lines if f",{small.code}," in line)
    assert dict(zip(cols, small_line.split(","), strict=True))["registered"] == "<5"
    assert len(lines) == 3  # two facilities and the total


async def test_screening_coverage_counts_programme_screenings_of_the_target_group(
    db: Any, make_place: Any, make_person: Any
) -> None:
    from salomat.domains.screening.models import ScreeningVisit

    place = await make_place()
    fac = await facility_in(db, place.settlement)
    people = [await make_person(fac.code, birth_date=date(1995, 3, 1)) for _ in range(10)]

    def visit(person: Any, on: date, opportunistic: bool = False) -> ScreeningVisit:
        return ScreeningVisit(
            person_id=person.id, facility_id=fac.id, programme="health_profile",
            performed_on=on, opportunistic=opportunistic, result="normal", next_step="none",
            recorded_by="test", created_at=NOW,
        )  # fmt: skip

    # six within the year before 30 June 2025 (the first on its first day), one
    # opportunistic, one a year and a day before
    days = [date(2024, 7, 1), date(2024, 12, 1), date(2025, 2, 1), date(2025, 3, 1),
            date(2025, 5, 1), date(2025, 6, 30)]  # fmt: skip
    db.add_all([visit(p, d) for p, d in zip(people, days, strict=False)])
    db.add(visit(people[6], date(2025, 4, 1), opportunistic=True))
    db.add(visit(people[7], date(2024, 6, 30)))
    await db.commit()
    r = await indicators.screening_coverage(
        db, _analyst(), period="2025-06", area=place.region, today=date(2025, 7, 1)
    )
    assert r.by == "district"
    row = next(x for x in r.rows if x.programme == "health_profile")
    assert row.code == place.district
    assert (row.eligible, row.screened, row.coverage_pct) == (10, 6, 60.0)
    total = next(x for x in r.total if x.programme == "health_profile")
    assert total.coverage_pct == 60.0
    # no one of 41 and over: zero counts nobody and is shown; no denominator, no rate
    other = next(x for x in r.rows if x.programme == "address_screening")
    assert (other.eligible, other.coverage_pct, other.suppressed) == (0, None, [])
    assert "30.06.2025" in r.definition
