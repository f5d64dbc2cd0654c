"""Readings from other systems' Observations reach the antenatal rules (issue 18).

Service level: ``take_external_observation`` as the shared record calls it. The
thresholds are the DAK's and WHO's (../shared/domain/maternal.md, "Decision rules ->
advice"): DT.17 raised = systolic >= 140 on both readings or diastolic >= 90 on both,
severe = systolic >= 160 on both or diastolic >= 110 on both; DT.04 a single reading at
or above 140/90 is measured again; WHO 2011 severe anaemia Hb < 70 g/L. How an external
reading counts (as a reading of its day, like a contact's) is in docs/maternal.md.
"""

from __future__ import annotations

from datetime import date, timedelta
from itertools import count
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from salomat.core.audit import AuditEvent
from salomat.core.config import get_settings
from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.maternal import service
from salomat.domains.maternal.models import ExternalReading, Pregnancy
from salomat.domains.maternal.schemas import ContactIn, PregnancyIn
from salomat.domains.maternal.service import external_readings as ext
from salomat.domains.maternal.service.anc_facts import ContactFacts

pytestmark = pytest.mark.anyio
TODAY = date.today()
#: the country's day, which decides what is "not yet" (after 19:00 UTC, tomorrow's date)
LOCAL_TODAY = pack.today(get_settings().country)
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
_ids = count(1)


def quantity(value: Any, code: str) -> dict[str, Any]:
    return {"value": value, "unit": code, "system": UCUM, "code": code}


def obs(loinc: str, value: Any, unit: str, *, on: date = TODAY, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": loinc}]},
        "effectiveDateTime": on.isoformat(),
        "valueQuantity": quantity(value, unit),
    }
    body.update(extra)
    return body


def bp(sbp: Any, dbp: Any, *, on: date = TODAY, at: str = "10:00", **extra: Any) -> dict:
    body: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
        "effectiveDateTime": f"{on.isoformat()}T{at}:00+05:00",
        "component": [
            {
                "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                "valueQuantity": quantity(sbp, "mm[Hg]"),
            },
            {
                "code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                "valueQuantity": quantity(dbp, "mm[Hg]"),
            },
        ],
    }
    body.update(extra)
    return body


@pytest.fixture
async def woman(db, make_facility, make_person) -> dict[str, Any]:
    """A woman at 30 weeks registered at her polyclinic, with a normal first contact, and a
    hospital that sends Observations."""
    fac = await make_facility()
    hospital = await make_facility()
    person = await make_person(facility_code=fac.code)
    doctor = Principal(
        user_id=0,
        username="test-doctor",
        role="family_doctor",
        session_id="t",
        facility_id=fac.id,
        facility_code=fac.code,
    )
    p = await service.open_pregnancy(
        db, doctor, person.id, PregnancyIn(lmp=TODAY - timedelta(weeks=30), gravida=2, parity=1)
    )
    await db.commit()
    await record_contact(db, doctor, p.id, TODAY - timedelta(days=20), systolic_1=112,
                         diastolic_1=72, hiv_test_done=True, syphilis_test_done=True,
                         ultrasound_done=True)  # fmt: skip
    sender = Principal(
        user_id=0, username="his", role="nurse", session_id="t", facility_id=hospital.id
    )
    return {"person": person, "pid": p.id, "doctor": doctor, "hospital": hospital,
            "sender": sender}  # fmt: skip


async def record_contact(db, doctor: Principal, pid: int, on: date, **values: Any) -> None:
    p = await db.get(Pregnancy, pid, populate_existing=True)
    await service.record_contact(
        db, doctor, pid, ContactIn(on=on, **values), expected_version=p.version
    )
    await db.commit()


async def send(db, w: dict[str, Any], body: dict[str, Any], rid: str | None = None,
               version: int = 1, person: Any = None) -> tuple[str, int]:  # fmt: skip
    rid = rid or f"shr-{900000000 + next(_ids)}"
    taken = await service.take_external_observation(
        db,
        w["sender"],
        person_id=(person or w["person"]).id,
        resource_id=rid,
        version=version,
        resource=body,
        facility_id=w["hospital"].id,
    )
    await db.commit()
    return rid, taken


async def advice(db, w: dict[str, Any]) -> dict[str, Any]:
    detail = await service.get_pregnancy(db, w["doctor"], w["pid"])
    await db.commit()
    return {a.code: a for a in detail.advice}


async def test_two_severe_readings_from_a_hospital_give_severe_hypertension(db, woman):
    """DT.17: 165/112 twice the same day (two Observations) is severe; the advice names
    where the values came from, and the pregnancy is high risk (the worklist's flag)."""
    first, n = await send(db, woman, bp(165, 112, at="09:00"))
    assert n == 2
    second, _ = await send(db, woman, bp(162, 111, at="09:15"))
    got = await advice(db, woman)
    assert "severe_hypertension" in got
    a = got["severe_hypertension"]
    assert a.values["systolic"] == [165, 162]
    assert a.values["diastolic"] == [112, 111]
    assert a.urgency == "urgent"
    assert [e["resource"] for e in a.details["external"]] == [first, second]
    assert {e["facility_id"] for e in a.details["external"]} == {woman["hospital"].id}
    assert {e["on"] for e in a.details["external"]} == {TODAY.isoformat()}
    p = await db.get(Pregnancy, woman["pid"], populate_existing=True)
    assert p.risk_level == "high"


@pytest.mark.parametrize(
    ("readings", "expected"),
    [
        # boundary of "severe": 160 / 110 on both readings, per component
        (((160, 100), (160, 100)), "severe_hypertension"),
        (((159, 110), (150, 110)), "severe_hypertension"),
        (((159, 109), (159, 109)), "hypertension"),
        (((161, 111), (159, 109)), "hypertension"),  # not severe on both readings
        # boundary of "raised": 140 / 90 on both readings
        (((140, 80), (140, 80)), "hypertension"),
        (((139, 89), (139, 89)), None),
        (((145, 80), (130, 95)), None),  # one component of each: not raised
    ],
)
async def test_dt17_boundaries_on_external_readings(db, woman, readings, expected):
    for i, (s, d) in enumerate(readings):
        await send(db, woman, bp(s, d, at=f"1{i}:00"))
    got = await advice(db, woman)
    dt17 = {c for c, a in got.items() if a.rule_id == "DT.17"}
    assert dt17 == ({expected} if expected else set())


async def test_one_external_reading_is_measured_again_not_classified(db, woman):
    """DT.17 judges two readings: one hospital reading of 165/112 gives DT.04's re-measure,
    as one reading at a contact does."""
    rid, _ = await send(db, woman, bp(165, 112))
    got = await advice(db, woman)
    assert "remeasure_bp" in got
    assert got["remeasure_bp"].details["external"][0]["resource"] == rid
    assert not {c for c, a in got.items() if a.rule_id == "DT.17"}


async def test_a_contacts_reading_and_the_hospitals_of_that_day_are_the_two_readings(db, woman):
    await record_contact(db, woman["doctor"], woman["pid"], TODAY, systolic_1=150, diastolic_1=95)
    assert "remeasure_bp" in await advice(db, woman)
    rid, _ = await send(db, woman, bp(150, 96))
    got = await advice(db, woman)
    assert "hypertension" in got
    assert "remeasure_bp" not in got
    assert got["hypertension"].values["diastolic"] == [95, 96]
    assert [e["resource"] for e in got["hypertension"].details["external"]] == [rid]
    # a contact's day: the diagnosis stands (it names the contact)
    detail = await service.get_pregnancy(db, woman["doctor"], woman["pid"])
    await db.commit()
    assert {d.family for d in detail.diagnoses if d.status == "active"} == {"hypertension"}


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (65, "g/L", "severe_anaemia"),
        (6.5, "g/dL", "severe_anaemia"),  # x 10
        (69, "g/L", "severe_anaemia"),
        (70, "g/L", "moderate_anaemia"),  # WHO 2011: severe below 70
        (109, "g/L", "anaemia"),  # DT.25 at 30 weeks: below 110
        (110, "g/L", None),
    ],
)
async def test_haemoglobin_from_a_laboratory(db, woman, value, unit, expected):
    await send(db, woman, obs("718-7", value, unit))
    got = await advice(db, woman)
    dt25 = {c for c, a in got.items() if a.rule_id == "DT.25"}
    assert dt25 == ({expected} if expected else set())


async def test_temperature_in_fahrenheit_is_converted(db, woman):
    await send(db, woman, obs("8310-5", 100.4, "[degF]"))  # 38.0 °C
    got = await advice(db, woman)
    assert got["remeasure_temperature"].values == {"temperature_c": 38}


async def test_fasting_glucose_in_mg_per_dl_uses_whos_factor(db, woman):
    """WHO 2013: fasting >= 7.0 mmol/L (126 mg/dL) is diabetes in pregnancy."""
    await send(db, woman, obs("1558-6", 126, "mg/dL"))
    assert "diabetes_in_pregnancy" in await advice(db, woman)


async def test_an_update_replaces_and_entered_in_error_removes(db, woman):
    rid, _ = await send(db, woman, obs("718-7", 65, "g/L"))
    assert "severe_anaemia" in await advice(db, woman)
    _, n = await send(db, woman, obs("718-7", 118, "g/L"), rid=rid, version=2)
    assert n == 1
    got = await advice(db, woman)
    assert not {c for c, a in got.items() if a.rule_id == "DT.25"}
    rows = list(await db.scalars(select(ExternalReading).where(ExternalReading.resource_id == rid)))
    assert [(r.value, r.resource_version) for r in rows] == [(118, 2)]

    await send(db, woman, obs("718-7", 65, "g/L"), rid=rid, version=3)
    assert "severe_anaemia" in await advice(db, woman)
    body = obs("718-7", 65, "g/L", status="entered-in-error")
    _, n = await send(db, woman, body, rid=rid, version=4)
    assert n == 0
    assert not {c for c, a in (await advice(db, woman)).items() if a.rule_id == "DT.25"}
    left = await db.scalar(
        select(func.count()).select_from(ExternalReading).where(ExternalReading.resource_id == rid)
    )
    assert left == 0
    # each change of the advice is audited as the pregnancy's re-evaluation
    audited = await db.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.patient_id == woman["person"].id, AuditEvent.username == "his")
    )
    await db.commit()
    assert audited == 4


@pytest.mark.parametrize(
    "body",
    [
        obs("718-7", 65, "g/L", on=TODAY - timedelta(weeks=40)),  # before the pregnancy
        obs("718-7", 65, "g/L", on=LOCAL_TODAY + timedelta(days=1)),  # not yet, there
        obs("718-7", 65, "mmol/L"),  # a unit not converted
        obs("718-7", 65, "g/L", status="preliminary"),
        obs("4548-4", 9.5, "%"),  # HbA1c: not a code the rules read
        obs("8480-6", 170, "mm[Hg]", valueQuantity={"value": 170, "unit": "mmHg"}),  # no UCUM
        obs("718-7", 650, "g/L"),  # implausible: a keying or unit error
        obs("718-7", 65, "g/L", valueQuantity={**quantity(65, "g/L"), "comparator": "<"}),
        {**obs("718-7", 65, "g/L"), "effectiveDateTime": "2026-12"},  # no day
    ],
)
async def test_what_is_not_taken(db, woman, body):
    _, n = await send(db, woman, body)
    assert n == 0
    got = await advice(db, woman)
    assert not {c for c, a in got.items() if a.rule_id in ("DT.25", "DT.04")}


async def test_no_current_pregnancy_nothing_is_taken(db, woman, make_person):
    other = await make_person(sex="female")
    rid, n = await send(db, woman, obs("718-7", 65, "g/L"), person=other)
    assert n == 0
    assert (
        await db.scalar(
            select(func.count())
            .select_from(ExternalReading)
            .where(ExternalReading.resource_id == rid)
        )
        == 0
    )


async def test_a_hospital_finding_stands_after_a_contact_without_the_test(db, woman):
    """maternal.md: a diagnosis stays until a clinician resolves it, and the risk never
    falls silently. A hospital's Hb of 65 g/L, then a contact with no Hb test: severe
    anaemia stands (carried to that contact), the risk stays high."""
    await send(db, woman, obs("718-7", 65, "g/L", on=TODAY - timedelta(days=2)))
    assert "severe_anaemia" in await advice(db, woman)
    await record_contact(db, woman["doctor"], woman["pid"], TODAY, systolic_1=110, diastolic_1=70)
    got = await advice(db, woman)
    assert "severe_anaemia" in got
    assert got["severe_anaemia"].details.get("standing") is True
    detail = await service.get_pregnancy(db, woman["doctor"], woman["pid"])
    await db.commit()
    [d] = [d for d in detail.diagnoses if d.family == "anaemia"]
    assert d.status == "active"
    assert d.first_on == TODAY
    assert d.values["haemoglobin_g_l"] == 65
    assert detail.risk_level == "high"


async def test_the_nightly_job_finds_nothing_to_change(db, woman):
    """The re-evaluation reads the same readings as ``evaluate``: a pregnancy just
    evaluated on an external reading is left alone (no new version, no audit)."""
    await send(db, woman, bp(165, 112, at="09:00"))
    await send(db, woman, bp(166, 113, at="09:10"))
    before = (await db.get(Pregnancy, woman["pid"], populate_existing=True)).version
    batch = await service.reevaluate_current(db, after_id=woman["pid"] - 1, limit=1)
    await db.commit()
    assert batch.evaluated == 1
    assert batch.updated == 0
    assert (await db.get(Pregnancy, woman["pid"], populate_existing=True)).version == before


# ---- pure: parsing and merging ----------------------------------------------------------


@pytest.mark.no_db
def test_a_day_of_external_readings_is_never_a_contact():
    """The schedule counts contacts only: a hospital's readings add no contact."""
    c = ContactFacts(on=TODAY - timedelta(days=3), ga_days=200)
    row = type("R", (), {})()
    for k, v in dict(
        field="pulse",
        value=120.0,
        effective_on=TODAY,
        effective_at=None,
        resource_id="shr-1",
        facility_id=None,
        taken_at=None,
        id=1,
    ).items():
        setattr(row, k, v)  # fmt: skip
    merged = ext.merge([c], [row], lambda d: 203)
    assert [m.external for m in merged] == [False, True]
    assert merged[1].pulse == (120,)
    assert merged[1].ga_days == 203


@pytest.mark.no_db
@given(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=5),
        st.dictionaries(
            st.text(max_size=8),
            st.one_of(st.none(), st.text(max_size=8), st.integers(), st.floats()),
            max_size=4,
        ),
        st.lists(st.integers(), max_size=3),
    ),
    st.sampled_from(["718-7", "85354-9", "8310-5", "1558-6", "9999-9"]),
    st.sampled_from(["valueQuantity", "component", "effectiveDateTime", "status", "code"]),
)
def test_parse_never_fails_and_takes_only_plausible_values(junk, code, where):
    """Whatever an Observation carries where the parser looks, it answers (a sender's
    oddity is not taken, never an error), and what it takes is in range."""
    body = obs(code, 100, "g/L")
    body[where] = junk
    parsed = ext.parse_observation(body)
    for r in parsed.readings:
        low, high = ext.PLAUSIBLE[r.field]
        assert low <= r.value <= high


# ---- the demo ----------------------------------------------------------------------------


@pytest.fixture
def scratch(country):
    """A database of this run's backend where one pack's demo is loaded (`salomat demo
    load`: a copy of the run's loaded demo, tests/conftest.py ``demo_database``)."""
    from tests.conftest import demo_database

    with demo_database("salomat_external_demo", country) as (url, _):
        yield url


@pytest.fixture(params=("UZ", "KZ"))
def country(request, monkeypatch):
    from salomat.core.config import get_settings

    monkeypatch.setenv("SALOMAT_COUNTRY", request.param)
    get_settings.cache_clear()
    yield request.param
    get_settings.cache_clear()


async def test_the_demo_hospitals_haemoglobin_gives_a_pregnant_woman_advice(scratch, country):
    """After `salomat demo load`, one demo pregnant woman's advice names the district
    hospital's laboratory result (6.5 g/dL taken as 65 g/L: severe anaemia)."""
    from salomat.core.db import session_factory
    from salomat.country import pack

    data = pack.demo(country)
    async with session_factory(scratch)() as s:
        rows = list(await s.scalars(select(ExternalReading)))
        assert [(r.loinc, r.field, r.value, r.sent_value, r.sent_unit) for r in rows] == [
            ("718-7", "haemoglobin_g_l", 65, 6.5, "g/dL")
        ]
        [r] = rows
        p = await s.get(Pregnancy, r.pregnancy_id)
        assert p.risk_level == "high"
        fac = await registry_facility(s, r.facility_id)
        assert fac == data["record"]["hospital"]
        from salomat.domains.maternal.models import AdviceItem

        items = list(
            await s.scalars(
                select(AdviceItem).where(
                    AdviceItem.pregnancy_id == p.id, AdviceItem.active.is_(True)
                )
            )
        )
        severe = next(a for a in items if a.code == "severe_anaemia")
        assert severe.details["external"][0]["resource"] == r.resource_id


async def registry_facility(s, facility_id: int) -> str:
    from salomat.domains.registry import service as registry

    names = await registry.facility_names(s, [facility_id])
    return names[facility_id].code


async def test_a_reading_of_this_evening_in_tashkent_is_taken_on_a_utc_server(
    db, woman, monkeypatch
):
    """At 20:00 UTC it is 01:00 of the next day in Tashkent and Almaty: a laboratory's
    result dated that (local) day is today's, not a reading from the future left out."""
    from datetime import UTC, datetime, time

    import salomat.country.pack as pack_module

    evening = datetime.combine(TODAY, time(20, 0), tzinfo=UTC)

    class Clock(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return evening if tz is None else evening.astimezone(tz)

    monkeypatch.setattr(pack_module, "datetime", Clock)
    local_day = TODAY + timedelta(days=1)
    _, taken = await send(db, woman, obs("718-7", 65, "g/L", on=local_day))
    assert taken == 1
    # a day after the country's today is still not taken
    _, later = await send(db, woman, obs("718-7", 65, "g/L", on=local_day + timedelta(days=1)))
    assert later == 0
