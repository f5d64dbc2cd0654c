"""Mobile medical teams' visits over FHIR (issue 22 item 5, fhir/mobile_encounter.py): one
Encounter per person seen, read by id, found by patient beside the other registers'
Encounters, by settlement and day; only a role with ``planning:mobile`` (the team's nurse,
the family doctor) reads them, within its scope, every encounter shown audited; answers
valid against HL7's R4 JSON schema (tests/fhir/validator.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from salomat.core.audit import AuditEvent
from salomat.domains.planning.service.norms import today as country_today
from salomat.fhir.mobile_encounter import _days
from tests.fhir.validator import invalid, schema_errors

pytestmark = pytest.mark.anyio

PLANNING = "/api/v1/planning"
FLD = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "FLD"}


@dataclass
class Scene:
    visit: int
    person: int  # seen, attached to the team's facility
    other: int  # seen too
    stranger: int  # attached elsewhere, never seen
    settlement_id: int
    settlement: str
    facility_id: int
    facility: str
    nurse: dict[str, str]
    day: date
    team: int

    @property
    def eid(self) -> str:
        return f"mobile-{self.visit}-{self.person}"


@pytest.fixture
async def scene(client, db, login, make_user, make_person, make_place, make_facility) -> Scene:  # type: ignore[no-untyped-def]
    from salomat.domains.registry import service as registry

    place = await make_place()
    settlement = await registry.territory_by_code(db, place.settlement)
    base = await make_facility()
    planner = await login(await make_user("planner"))
    r = await client.post(
        f"{PLANNING}/mobile-teams",
        json={"facility_code": base.code, "name": "Mobile complex"},
        headers=planner,
    )
    assert r.status_code == 201, r.text
    team = r.json()["id"]
    nurse = await login(await make_user("nurse", facility_code=base.code))
    a = await make_person(facility_code=base.code)
    b = await make_person(facility_code=base.code)
    stranger = await make_person()
    day = country_today()
    r = await client.post(
        f"{PLANNING}/mobile-teams/{team}/visits",
        json={
            "settlement": place.settlement,
            "visited_on": day.isoformat(),
            "people": [
                {"person_id": a.id, "services": ["consultation", "screening"]},
                {"person_id": b.id, "services": ["vaccination"]},
            ],
        },
        headers=nurse,
    )
    assert r.status_code == 201, r.text
    return Scene(
        r.json()["id"],
        a.id,
        b.id,
        stranger.id,
        settlement.id,
        place.settlement,
        base.id,
        base.code,
        nurse,
        day,
        team,
    )


async def _audit(db, resource_id: str) -> set[tuple[int | None, str]]:  # type: ignore[no-untyped-def]
    rows = await db.execute(
        select(AuditEvent.patient_id, AuditEvent.action).where(
            AuditEvent.resource_type == "Encounter", AuditEvent.resource_id == resource_id
        )
    )
    return {(p, a) for p, a in rows.all()}


async def test_read_a_mobile_encounter(client, db, scene) -> None:  # type: ignore[no-untyped-def]
    r = await client.get(f"/fhir/Encounter/{scene.eid}", headers=scene.nurse)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/fhir+json")
    assert r.headers["etag"] == 'W/"1"'
    e = r.json()
    assert e["id"] == scene.eid
    assert e["status"] == "finished"
    assert {k: e["class"][k] for k in FLD} == FLD
    assert e["subject"] == {"reference": f"Patient/{scene.person}"}
    assert e["period"] == {"start": scene.day.isoformat(), "end": scene.day.isoformat()}
    (loc,) = e["location"]
    assert loc["location"]["reference"] == f"Location/{scene.settlement_id}"
    assert loc["location"]["identifier"]["value"] == scene.settlement
    assert e["serviceProvider"] == {"reference": f"Organization/{scene.facility_id}"}
    assert [t["coding"][0]["code"] for t in e["type"]] == ["consultation", "screening"]
    # the read is audited on the person
    assert (scene.person, "read") in await _audit(db, scene.eid)
    errors = await schema_errors([("read", e)])
    assert not invalid(errors), invalid(errors)


async def test_the_patients_encounters_answer_both_registers(client, db, scene) -> None:  # type: ignore[no-untyped-def]
    """A search by patient is the shared record's merged search: another system's
    Encounter of the person and the team's, one searchset."""
    earlier = scene.day - timedelta(days=30)
    sent = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {**FLD, "code": "AMB"},
        "subject": {"reference": f"Patient/{scene.person}"},
        "period": {"start": f"{earlier}T10:30:00+05:00", "end": f"{earlier}T11:00:00+05:00"},
    }
    r = await client.post("/fhir/Encounter", json=sent, headers=scene.nurse)
    assert r.status_code == 201, r.text
    shr = r.json()["id"]
    r = await client.get("/fhir/Encounter", params={"patient": scene.person}, headers=scene.nurse)
    assert r.status_code == 200, r.text
    body = r.json()
    ids = [x["resource"]["id"] for x in body["entry"]]
    assert sorted(ids) == sorted([scene.eid, shr])
    assert body["total"] == 2
    # paged across both: one a page
    r = await client.get(
        "/fhir/Encounter", params={"patient": scene.person, "_count": 1}, headers=scene.nurse
    )
    assert r.json()["total"] == 2
    assert len(r.json()["entry"]) == 1
    # sorted across both by the clinical time: the visit (today) after the record's (a month ago)
    for sort, first in (("-date", scene.eid), ("date", shr)):
        r = await client.get(
            "/fhir/Encounter",
            params={"patient": scene.person, "_sort": sort},
            headers=scene.nurse,
        )
        assert r.status_code == 200, r.text
        assert r.json()["entry"][0]["resource"]["id"] == first, sort
    # the other person seen is not in this person's answer
    assert f"mobile-{scene.visit}-{scene.other}" not in ids
    assert (scene.person, "read") in await _audit(db, scene.eid)
    errors = await schema_errors([("search", body)])
    assert not invalid(errors), invalid(errors)


async def test_who_may_read(client, login, make_user, make_facility, db, scene) -> None:  # type: ignore[no-untyped-def]
    url = f"/fhir/Encounter/{scene.eid}"
    assert (await client.get(url)).status_code == 401
    for role in ("insurance_analyst", "planner", "analyst", "registrar", "obstetrician"):
        auth = await login(await make_user(role))
        assert (await client.get(url, headers=auth)).status_code == 403, role
        r = await client.get(
            "/fhir/Encounter", params={"location": f"Location/{scene.settlement_id}"}, headers=auth
        )
        assert r.status_code == 403, role
    # a family doctor of the facility the person is attached to reads it
    doctor = await login(await make_user("family_doctor", facility_code=scene.facility))
    assert (await client.get(url, headers=doctor)).status_code == 200
    # an obstetrician may read the person's other encounters, not the team's
    obstetrician = await login(await make_user("obstetrician", facility_code=scene.facility))
    r = await client.get("/fhir/Encounter", params={"patient": scene.person}, headers=obstetrician)
    assert r.status_code == 200, r.text
    assert not [x for x in r.json().get("entry", []) if x["resource"]["id"].startswith("mobile-")]


async def test_out_of_scope_and_unknown_are_404(client, login, make_user, db, scene) -> None:  # type: ignore[no-untyped-def]
    # a nurse of another facility: the person is not in her scope (the refusal audited)
    elsewhere = await login(await make_user("nurse"))
    r = await client.get(f"/fhir/Encounter/{scene.eid}", headers=elsewhere)
    assert r.status_code == 404
    assert r.json()["resourceType"] == "OperationOutcome"
    assert (scene.person, "denied") in await _audit(db, scene.eid)
    r = await client.get("/fhir/Encounter", params={"patient": scene.person}, headers=elsewhere)
    assert r.status_code == 404
    # by settlement she sees nobody
    q = {"location": f"Location/{scene.settlement_id}"}
    r = await client.get("/fhir/Encounter", params=q, headers=elsewhere)
    assert r.status_code == 200
    assert r.json()["total"] == 0
    # unknown ids
    for rid in (
        f"mobile-{scene.visit}-{scene.stranger}",  # not seen during that visit
        f"mobile-{scene.visit + 1000}-{scene.person}",
        "mobile-abc",
        "mobile-1-",
        "mobile-99999999999999999999-1",
    ):
        r = await client.get(f"/fhir/Encounter/{rid}", headers=scene.nurse)
        assert r.status_code == 404, rid


async def test_search_by_settlement_and_day(client, db, scene) -> None:  # type: ignore[no-untyped-def]
    loc = f"Location/{scene.settlement_id}"
    day = scene.day
    before, after = day - timedelta(days=1), day + timedelta(days=1)

    async def ids(*dates: str) -> list[str]:
        params = [("location", loc), *(("date", d) for d in dates)]
        r = await client.get("/fhir/Encounter", params=params, headers=scene.nurse)
        assert r.status_code == 200, r.text
        return [x["resource"]["id"] for x in r.json().get("entry", [])]

    both = [scene.eid, f"mobile-{scene.visit}-{scene.other}"]
    assert sorted(await ids()) == sorted(both)
    # one below, at, one above the visit day, each prefix
    assert await ids(day.isoformat()) != []
    assert await ids(before.isoformat()) == []
    assert await ids(after.isoformat()) == []
    assert await ids(f"ge{day}") != []
    assert await ids(f"ge{after}") == []
    assert await ids(f"gt{before}") != []
    assert await ids(f"gt{day}") == []
    assert await ids(f"le{day}") != []
    assert await ids(f"le{before}") == []
    assert await ids(f"lt{after}") != []
    assert await ids(f"lt{day}") == []
    assert sorted(await ids(f"ge{before}", f"le{after}")) == sorted(both)
    # paged, each page's encounters audited
    r = await client.get(
        "/fhir/Encounter", params={"location": loc, "_count": 1}, headers=scene.nurse
    )
    body = r.json()
    assert body["total"] == 2
    assert len(body["entry"]) == 1
    assert any(link["relation"] == "next" for link in body["link"])
    # by _id, and location with patient
    r = await client.get("/fhir/Encounter", params={"_id": scene.eid}, headers=scene.nurse)
    assert [x["resource"]["id"] for x in r.json()["entry"]] == [scene.eid]
    r = await client.get(
        "/fhir/Encounter", params={"location": loc, "patient": scene.other}, headers=scene.nurse
    )
    assert [x["resource"]["id"] for x in r.json()["entry"]] == [both[1]]
    errors = await schema_errors([("by-location", body)])
    assert not invalid(errors), invalid(errors)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"location": "Location/abc"}, "location"),
        ({"location": "Organization/1"}, "location"),
        ({"location": "1", "date": "yesterday"}, "date"),
        ({"location": "1", "date": "ne2026-01-01"}, "date"),
        ({"location": "1", "unknown": "x"}, "unknown"),
        ({"location": "1", "_count": "-1"}, "_count"),
        ({"location": "1", "_offset": "x"}, "_offset"),
        ({"_id": "mobile-1-x"}, "_id"),
        ({"_id": "mobile-1-2,shr-3"}, "_id"),
        ({"location": "1", "patient": "Patient/x"}, "patient"),
    ],
)
async def test_bad_search_parameters(client, scene, params, field) -> None:  # type: ignore[no-untyped-def]
    r = await client.get("/fhir/Encounter", params=params, headers=scene.nurse)
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["resourceType"] == "OperationOutcome"
    assert field in r.text


async def test_capability_statement_lists_location(client) -> None:  # type: ignore[no-untyped-def]
    r = await client.get("/fhir/metadata")
    (enc,) = [x for x in r.json()["rest"][0]["resource"] if x["type"] == "Encounter"]
    assert "location" in {p["name"] for p in enc["searchParam"]}


# ---- the date parameter's days (pure) -------------------------------------------------------

PREFIX_TEST = {
    "eq": lambda d, x: d == x,
    "ge": lambda d, x: d >= x,
    "gt": lambda d, x: d > x,
    "le": lambda d, x: d <= x,
    "lt": lambda d, x: d < x,
}
#: a visit's day (the service keeps them between 1900 and 2199) and any day asked
DAYS = st.dates(min_value=date(1900, 1, 1), max_value=date(2199, 12, 31))
ASKED = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))


@given(d=DAYS, x=ASKED, prefix=st.sampled_from(sorted(PREFIX_TEST)))
def test_days_match_the_prefix(d: date, x: date, prefix: str) -> None:
    first, last = _days([f"{prefix}{x.isoformat()}"])
    assert (first <= d <= last) == PREFIX_TEST[prefix](d, x)


def _zone():  # type: ignore[no-untyped-def]
    from salomat.core.config import get_settings
    from salomat.country import pack

    return pack.time_zone(get_settings().country)


#: a day asked with a time, far enough from the calendar's ends for any zone
TIMED = st.dates(min_value=date(2, 1, 1), max_value=date(9998, 12, 31))


@given(d=DAYS, x=TIMED, hour=st.integers(0, 23), minute=st.integers(0, 59))
def test_a_time_matches_its_day(d: date, x: date, hour: int, minute: int) -> None:
    """An instant is read on the country's clock: given in UTC, it names the country's
    day it falls in."""
    local = datetime(x.year, x.month, x.day, hour, minute, tzinfo=_zone())
    at = local.astimezone(UTC).isoformat().replace("+00:00", "Z")
    first, last = _days([f"ge{at}"])
    # the visit day d has some of it at or after the instant when d >= the country's day
    assert (first <= d <= last) == (d >= x)
    first, last = _days([f"lt{at}"])
    # ... some of it before the instant when d < x, or d is x and the instant is past 00:00
    assert (first <= d <= last) == (d < x or (d == x and (hour, minute) != (0, 0)))


@pytest.mark.parametrize(
    ("local", "ge", "lt"),
    [
        # one minute before the country's midnight: still the 4th
        ((2026, 3, 4, 23, 59), (date(2026, 3, 4), date(2199, 12, 31)), date(2026, 3, 4)),
        # at midnight: the 5th begins (nothing of the 5th is before it)
        ((2026, 3, 5, 0, 0), (date(2026, 3, 5), date(2199, 12, 31)), date(2026, 3, 4)),
        ((2026, 3, 5, 0, 1), (date(2026, 3, 5), date(2199, 12, 31)), date(2026, 3, 5)),
    ],
)
def test_the_countrys_midnight_divides_the_days(local, ge, lt) -> None:  # type: ignore[no-untyped-def]
    at = datetime(*local, tzinfo=_zone()).astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert _days([f"ge{at}"]) == ge
    assert _days([f"lt{at}"]) == (date(1900, 1, 1), lt)
    # the minute itself is that country's day only
    day = date(*local[:3])
    assert _days([at.removesuffix(":00Z") + "Z"]) == (day, day)


def test_every_service_a_team_records_has_a_published_code() -> None:
    from salomat.domains.planning.service import mobile
    from salomat.fhir.mobile_encounter import SERVICE_NAMES

    assert set(SERVICE_NAMES) == set(mobile.SERVICES)


# ---- what is audited, and how many statements a search takes -----------------------------


async def _visit(client, scene, day: date, *people: int) -> int:  # type: ignore[no-untyped-def]
    r = await client.post(
        f"{PLANNING}/mobile-teams/{scene.team}/visits",
        json={
            "settlement": scene.settlement,
            "visited_on": day.isoformat(),
            "people": [{"person_id": p, "services": ["consultation"]} for p in people],
        },
        headers=scene.nurse,
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def _reads_since(db, mark: int) -> list[tuple[int | None, str | None]]:  # type: ignore[no-untyped-def]
    await db.rollback()  # see what the app committed since
    rows = await db.execute(
        select(AuditEvent.patient_id, AuditEvent.resource_id)
        .where(
            AuditEvent.id > mark,
            AuditEvent.resource_type == "Encounter",
            AuditEvent.action == "read",
        )
        .order_by(AuditEvent.id)
    )
    return [(p, r) for p, r in rows.all()]


async def _mark(db) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import func

    await db.rollback()
    return int((await db.execute(select(func.max(AuditEvent.id)))).scalar() or 0)


async def test_a_patient_search_audits_the_page_shown_once(client, db, scene) -> None:  # type: ignore[no-untyped-def]
    """Three visits saw the person; a page of one audits that one encounter, once: on the
    merged search by patient and on the team's own search by location and patient."""
    for back in (1, 2):
        await _visit(client, scene, scene.day - timedelta(days=back), scene.person)
    loc = f"Location/{scene.settlement_id}"
    for params in (
        {"patient": scene.person, "_count": 1},
        {"patient": scene.person, "_count": 1, "_offset": 1},
        {"patient": scene.person, "_count": 2, "_offset": 2},
        {"location": loc, "patient": scene.person, "_count": 1},
        {"location": loc, "patient": scene.person, "_count": 1, "_offset": 2},
    ):
        mark = await _mark(db)
        r = await client.get("/fhir/Encounter", params=params, headers=scene.nurse)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["total"] == 3, params
        shown = [x["resource"]["id"] for x in body["entry"]]
        assert len(shown) == 1, params
        assert await _reads_since(db, mark) == [(scene.person, shown[0])], params
    # a page that shows none of the team's encounters audits none of them
    mark = await _mark(db)
    r = await client.get(
        "/fhir/Encounter", params={"patient": scene.person, "_count": 0}, headers=scene.nurse
    )
    assert r.status_code == 200, r.text
    assert await _reads_since(db, mark) == []


async def test_every_audit_row_names_the_persons_encounter(client, db, scene) -> None:  # type: ignore[no-untyped-def]
    """Recording the visit, the team's read of it and the FHIR read name one id per person:
    mobile-<visit>-<person>."""
    r = await client.get(f"{PLANNING}/mobile-visits/{scene.visit}", headers=scene.nurse)
    assert r.status_code == 200, r.text
    assert {(scene.person, "create"), (scene.person, "read")} <= await _audit(db, scene.eid)
    other = f"mobile-{scene.visit}-{scene.other}"
    assert {(scene.other, "create"), (scene.other, "read")} <= await _audit(db, other)
    assert await _audit(db, f"mobile-visit/{scene.visit}") == set()


class _Statements:
    """The statements the app runs (every engine) while the block runs."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, _c, _cur, statement, _p, _ctx, _many) -> None:  # type: ignore[no-untyped-def]
        self.seen.append(" ".join(statement.split()))

    def __enter__(self) -> _Statements:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.listen(Engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *_a: object) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.remove(Engine, "before_cursor_execute", self)

    def count(self, start: str, table: str) -> int:
        return sum(1 for s in self.seen if s.upper().startswith(start) and table in s)


async def test_statements_do_not_grow_with_the_people(client, db, make_person, scene) -> None:  # type: ignore[no-untyped-def]
    """Recording a visit audits its people in one batched insert; a search by _id reads
    all the ids in the same statements as one."""
    one = await make_person(facility_code=scene.facility)
    two = await make_person(facility_code=scene.facility)
    three = await make_person(facility_code=scene.facility)
    with _Statements() as alone:
        v1 = await _visit(client, scene, scene.day - timedelta(days=1), one.id)
    with _Statements() as pair:
        v2 = await _visit(client, scene, scene.day - timedelta(days=2), two.id, three.id)
    insert = "INSERT INTO AUDIT_EVENT"
    assert pair.count(insert, "") == alone.count(insert, "") >= 1
    asked = [f"mobile-{v1}-{one.id}", f"mobile-{v2}-{two.id}", f"mobile-{v2}-{three.id}"]
    runs = []
    for ids in (asked[:1], asked):
        with _Statements() as st:
            r = await client.get(
                "/fhir/Encounter", params={"_id": ",".join(ids)}, headers=scene.nurse
            )
        assert r.status_code == 200, r.text
        assert sorted(x["resource"]["id"] for x in r.json()["entry"]) == sorted(ids)
        runs.append((st.count("SELECT", "mobile_visit"), st.count(insert, "")))
    assert runs[0] == runs[1]


async def test_a_settlement_is_paged_and_counted_in_sql(client, db, scene) -> None:  # type: ignore[no-untyped-def]
    loc = f"Location/{scene.settlement_id}"
    with _Statements() as st:
        r = await client.get(
            "/fhir/Encounter",
            params={"location": loc, "_count": 1, "_offset": 1},
            headers=scene.nurse,
        )
    assert r.status_code == 200, r.text
    assert r.json()["total"] == 2
    assert [x["resource"]["id"] for x in r.json()["entry"]] == [
        f"mobile-{scene.visit}-{max(scene.person, scene.other)}"
    ]
    visits = [s for s in st.seen if s.upper().startswith("SELECT") and "mobile_visit" in s]
    assert any("count(" in s.lower() for s in visits)
    assert any(" LIMIT " in s.upper() for s in visits)
