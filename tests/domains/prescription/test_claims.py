"""Claims to the fund: lines from dispensings, the anomaly rules, review, submit, scope."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from salomat.core import events
from salomat.core.errors import Invalid
from salomat.domains.prescription import service
from salomat.domains.prescription.models import Claim, ClaimLine
from salomat.domains.prescription.service import claims as claims_module
from salomat.domains.registry.models import Person
from tests.domains.prescription.claim_rows import (
    NOW,
    dispense,
    flags_of,
    last_month,
    make_medicine,
    make_rx,
)

pytestmark = pytest.mark.anyio

MONTH = last_month().date().replace(day=1)


async def pharmacies(make_facility, n: int) -> list[Any]:
    return [await make_facility("pharmacy") for _ in range(n)]


async def line_of(db, dispensing_id: int) -> ClaimLine:
    q = select(ClaimLine).where(ClaimLine.dispensing_id == dispensing_id)
    return (await db.execute(q.execution_options(populate_existing=True))).scalar_one()


# ---- the rules at their boundaries (pure) ----------------------------------------------


def test_after_death_flags_from_the_day_of_death():
    died = date(2026, 3, 10)
    assert service.after_death(date(2026, 3, 9), died) is None
    assert service.after_death(date(2026, 3, 9), None) is None
    same_day = service.after_death(died, died)
    assert same_day is not None
    assert same_day.rule == "after_death"
    assert "10.03.2026" in same_day.reason
    assert service.after_death(date(2026, 4, 1), died) is not None


def test_many_pharmacies_counts_distinct_pharmacies_within_the_window():
    on = date(2026, 3, 31)
    kw = {"min_pharmacies": 3, "window_days": 30}
    # two pharmacies (itself and one other, twice): not enough
    assert service.many_pharmacies(on, 1, [(2, on), (2, on - timedelta(days=3))], **kw) is None
    # a third pharmacy exactly 30 days before still counts
    flag = service.many_pharmacies(on, 1, [(2, on), (3, on - timedelta(days=30))], **kw)
    assert flag is not None
    assert flag.rule == "many_pharmacies"
    assert "3 pharmacies within 30 days" in flag.reason
    # 31 days before does not
    assert service.many_pharmacies(on, 1, [(2, on), (3, on - timedelta(days=31))], **kw) is None
    # the same pharmacy as this one is one pharmacy
    assert service.many_pharmacies(on, 1, [(1, on), (2, on)], **kw) is None


def test_outside_validity_is_before_issue_or_after_the_last_valid_day():
    issued, until = date(2026, 3, 1), date(2026, 3, 31)
    assert service.outside_validity(issued, issued, until) is None
    assert service.outside_validity(until, issued, until) is None
    late = service.outside_validity(until + timedelta(days=1), issued, until)
    assert late is not None
    assert "after the prescription's validity ended on 31.03.2026" in (late.reason)
    early = service.outside_validity(issued - timedelta(days=1), issued, until)
    assert early is not None
    assert "before the prescription was issued" in early.reason


def test_prescriber_outliers_exceed_k_times_the_median_of_their_group():
    kw = {"k": 3.0, "min_prescriptions": 10, "min_peers": 3}
    # median 4: 12 is exactly 3 x 4 (not above), 13 is above
    assert service.prescriber_outliers({"gp": {"a": 4, "b": 4, "c": 12}}, **kw) == {}
    found = service.prescriber_outliers({"gp": {"a": 4, "b": 4, "c": 13}}, **kw)
    assert list(found) == ["c"]
    assert found["c"].median == 4
    # above k x median but under the minimum count
    assert service.prescriber_outliers({"gp": {"a": 1, "b": 1, "c": 9}}, **kw) == {}
    # a group of two prescribers has no median worth comparing with
    assert service.prescriber_outliers({"gp": {"a": 1, "c": 50}}, **kw) == {}
    # groups are compared separately
    two = {"gp": {"a": 4, "b": 4, "c": 13}, "hospital": {"x": 20, "y": 20, "z": 30}}
    assert list(service.prescriber_outliers(two, **kw)) == ["c"]


def test_the_thresholds_come_from_the_country_pack():
    for country in ("UZ", "KZ"):
        cfg = service.rules_config(country)
        assert cfg["many_pharmacies"] == {"enabled": True, "min_pharmacies": 3, "window_days": 30}
        assert cfg["prescriber_outlier"]["k"] == 3.0
        assert cfg["source"].startswith("UNVERIFIED")


def test_months_are_parsed_and_named_fields_refused():
    assert service.parse_month("2026-03") == date(2026, 3, 1)
    with pytest.raises(Invalid) as e:
        service.parse_month("March")
    assert e.value.errors[0].field == "month"


# ---- a dispensing makes a claim line ---------------------------------------------------


async def test_a_dispensing_makes_a_claim_line_with_the_funds_amount(
    db, make_facility, make_person
):
    clinic = await make_facility()
    (ph,) = await pharmacies(make_facility, 1)
    person = await make_person()
    rx = await make_rx(db, person.id, clinic.id)
    d = await dispense(db, rx, ph.id, amount=41500)
    line = await line_of(db, d.id)
    assert (line.amount, line.status, line.flags, line.person_id) == (
        41500,
        "entered",
        [],
        person.id,
    )
    claim = await db.get(Claim, line.claim_id)
    assert (claim.facility_id, claim.month, claim.status) == (ph.id, MONTH, "open")
    # a second dispensing that month goes to the same claim; the same event twice, one line
    d2 = await dispense(db, rx, ph.id, amount=1000, at=last_month(day=12))
    assert (await line_of(db, d2.id)).claim_id == claim.id
    await events.publish(
        db,
        service.MedicineDispensed(
            d2.id, rx.prescription.id, person.id, ph.id, 1000, d2.dispensed_at
        ),
    )
    await db.commit()
    count = (await db.execute(select(ClaimLine).where(ClaimLine.claim_id == claim.id))).all()
    assert len(count) == 2


async def test_a_prescription_the_fund_does_not_reimburse_makes_no_line(
    db, make_facility, make_person
):
    clinic = await make_facility()
    (ph,) = await pharmacies(make_facility, 1)
    rx = await make_rx(db, (await make_person()).id, clinic.id, reimbursed=False)
    d = await dispense(db, rx, ph.id, amount=0)
    found = await db.execute(select(ClaimLine).where(ClaimLine.dispensing_id == d.id))
    assert found.first() is None


async def test_two_pharmacies_make_two_claims(db, make_facility, make_person):
    clinic = await make_facility()
    ph1, ph2 = await pharmacies(make_facility, 2)
    rx = await make_rx(db, (await make_person()).id, clinic.id)
    a = await line_of(db, (await dispense(db, rx, ph1.id)).id)
    b = await line_of(db, (await dispense(db, rx, ph2.id, at=last_month(day=11))).id)
    assert a.claim_id != b.claim_id
    claims = {(await db.get(Claim, i)).facility_id for i in (a.claim_id, b.claim_id)}
    assert claims == {ph1.id, ph2.id}


async def test_the_unique_index_decides_when_two_dispensings_race_for_the_claim(
    db, make_facility, make_person, monkeypatch
):
    clinic = await make_facility()
    (ph,) = await pharmacies(make_facility, 1)
    rx = await make_rx(db, (await make_person()).id, clinic.id)
    first = await line_of(db, (await dispense(db, rx, ph.id)).id)
    real = claims_module._find_claim
    calls = {"n": 0}

    async def not_yet_visible(session, facility_id, month):
        # the other transaction's claim is not committed yet when this one looks
        calls["n"] += 1
        return None if calls["n"] == 1 else await real(session, facility_id, month)

    monkeypatch.setattr(claims_module, "_find_claim", not_yet_visible)
    second = await line_of(db, (await dispense(db, rx, ph.id, at=last_month(day=13))).id)
    assert calls["n"] == 2
    assert second.claim_id == first.claim_id


# ---- each rule on a stored line ----------------------------------------------------------


async def test_dispensing_after_the_patients_death_is_flagged_with_its_reason(
    db, make_facility, make_person
):
    clinic = await make_facility()
    (ph,) = await pharmacies(make_facility, 1)
    person = await make_person()
    rx = await make_rx(db, person.id, clinic.id)
    alive = await line_of(db, (await dispense(db, rx, ph.id, at=last_month(day=4))).id)
    died = last_month(day=5).date()
    await db.execute(update(Person).where(Person.id == person.id).values(deceased_on=died))
    await db.commit()
    line = await line_of(db, (await dispense(db, rx, ph.id, at=last_month(day=5))).id)
    assert alive.status == "entered"
    assert line.status == "flagged"
    assert flags_of({"flags": line.flags}) == ["after_death"]
    assert f"death on {died:%d.%m.%Y}" in line.flags[0]["reason"]


async def test_the_third_pharmacy_for_one_inn_within_30_days_is_flagged(
    db, make_facility, make_person
):
    clinic = await make_facility()
    ph1, ph2, ph3 = await pharmacies(make_facility, 3)
    person = await make_person()
    m = await make_medicine(db)
    # two prescriptions of the same INN, so it is not one prescription's history (only
    # one may be active at a time: the first was dispensed in full before the second)
    rx1 = await make_rx(db, person.id, clinic.id, medicine=m, status="dispensed")
    rx2 = await make_rx(db, person.id, clinic.id, medicine=m)
    a = await line_of(db, (await dispense(db, rx1, ph1.id, at=last_month(day=2))).id)
    b = await line_of(db, (await dispense(db, rx2, ph2.id, units=10, at=last_month(day=3))).id)
    c = await line_of(db, (await dispense(db, rx2, ph3.id, units=10, at=last_month(day=4))).id)
    assert (a.status, b.status) == ("entered", "entered")
    assert c.status == "flagged"
    assert c.flags[0]["rule"] == "many_pharmacies"
    assert "3 pharmacies within 30 days" in c.flags[0]["reason"]


async def test_dispensing_outside_validity_is_caught_whatever_path_it_came_by(
    db, make_facility, make_person
):
    clinic = await make_facility()
    (ph,) = await pharmacies(make_facility, 1)
    issued = last_month(day=1).date()
    rx = await make_rx(
        db, (await make_person()).id, clinic.id, issued_on=issued, valid_until=issued
    )
    ok = await line_of(db, (await dispense(db, rx, ph.id, units=10, at=last_month(day=1))).id)
    late = await line_of(db, (await dispense(db, rx, ph.id, units=10, at=last_month(day=2))).id)
    assert ok.status == "entered"
    assert late.status == "flagged"
    assert late.flags[0]["rule"] == "outside_validity"
    assert f"ended on {issued:%d.%m.%Y}" in late.flags[0]["reason"]


async def test_flag_outliers_flags_the_lines_of_a_prescriber_far_above_the_median(
    db, make_facility, make_person
):
    # an old month nobody else uses, and a facility type of its own
    month = date(2003, 2, 1)
    clinic = await make_facility("sanatorium")
    (ph,) = await pharmacies(make_facility, 1)
    person = await make_person()
    m = await make_medicine(db)
    counts = {"peer-a": 2, "peer-b": 3, "busy": 10}
    rxs: dict[str, list[Any]] = {}
    for who, n in counts.items():
        rxs[who] = [
            await make_rx(
                db,
                person.id,
                clinic.id,
                medicine=m,
                prescriber=who,
                issued_on=month,
                quantity=5,
                status="expired",  # long lapsed: only one of an INN may be active
            )
            for _ in range(n)
        ]
    at = datetime(2003, 2, 20, 6, tzinfo=UTC)
    busy = await dispense(db, rxs["busy"][0], ph.id, at=at, units=5)
    peer = await dispense(db, rxs["peer-a"][0], ph.id, at=at, units=5)
    assert await service.flag_outliers(db, month) == 1
    assert await service.flag_outliers(db, month) == 0  # once only
    await db.commit()
    line = await line_of(db, busy.id)
    assert line.status == "flagged"
    flag = next(f for f in line.flags if f["rule"] == "prescriber_outlier")
    assert "busy issued 10 reimbursed prescriptions" in flag["reason"]
    assert "median (3)" in flag["reason"]
    assert (await line_of(db, peer.id)).status == "entered"


# ---- REST: roles, scope, review, submit ------------------------------------------------


@pytest.fixture
async def setup(db, make_facility, make_person, make_user, login) -> dict[str, Any]:
    clinic = await make_facility()
    ph1, ph2 = await pharmacies(make_facility, 2)
    person = await make_person()
    rx = await make_rx(db, person.id, clinic.id)
    d1 = await dispense(db, rx, ph1.id, amount=20000)
    d2 = await dispense(db, rx, ph2.id, amount=7000, at=last_month(day=12))
    # a flagged line at ph1 (dispensed after the prescription's validity)
    old = await make_rx(
        db,
        person.id,
        clinic.id,
        issued_on=last_month(day=1).date(),
        valid_until=last_month(day=1).date(),
    )
    d3 = await dispense(db, old, ph1.id, amount=3000, at=last_month(day=20))
    return {
        "ph1": ph1,
        "ph2": ph2,
        "person": person,
        "lines": [await line_of(db, d.id) for d in (d1, d2, d3)],
        "pharmacist": await login(await make_user("pharmacist", facility_code=ph1.code)),
        "analyst": await login(await make_user("insurance_analyst")),
    }


async def test_a_pharmacist_sees_only_her_own_pharmacys_claims(client, setup):
    s = setup
    r = await client.get("/api/v1/claims", headers=s["pharmacist"])
    assert r.status_code == 200, r.text
    assert {c["facility_id"] for c in r.json()} == {s["ph1"].id}
    # asking for another pharmacy gives nothing of it
    r = await client.get(
        "/api/v1/claims", params={"facility": s["ph2"].code}, headers=s["pharmacist"]
    )
    assert r.json() == []
    other = s["lines"][1].claim_id
    r = await client.get(f"/api/v1/claims/{other}", headers=s["pharmacist"])
    assert r.status_code == 404
    r = await client.get("/api/v1/claim-lines?status=any", headers=s["pharmacist"])
    assert s["lines"][1].id not in {line["id"] for line in r.json()}
    # the analyst sees both
    r = await client.get("/api/v1/claims", params={"month": f"{MONTH:%Y-%m}"}, headers=s["analyst"])
    assert {s["ph1"].id, s["ph2"].id} <= {c["facility_id"] for c in r.json()}


async def test_a_claim_carries_its_lines_and_totals(client, setup):
    s = setup
    own = s["lines"][0].claim_id
    r = await client.get(f"/api/v1/claims/{own}", headers=s["pharmacist"])
    assert r.status_code == 200, r.text
    c = r.json()
    assert c["month"] == MONTH.isoformat()
    assert c["facility_code"] == s["ph1"].code
    assert c["totals"] == {
        "lines": 2,
        "flagged_lines": 1,
        "claimed": 23000,
        "approved": 0,
        "rejected": 0,
        "pending": 23000,
    }
    assert [line["amount"] for line in c["lines"]] == [20000, 3000]
    assert c["lines"][1]["flags"][0]["rule"] == "outside_validity"


async def test_the_worklist_filters_by_rule_month_and_pharmacy(client, setup):
    s = setup
    flagged = s["lines"][2]
    q = {"rule": "outside_validity", "month": f"{MONTH:%Y-%m}", "facility": s["ph1"].code}
    r = await client.get("/api/v1/claim-lines", params=q, headers=s["analyst"])
    assert r.status_code == 200, r.text
    assert [line["id"] for line in r.json()] == [flagged.id]
    assert r.json()[0]["flags"][0]["reason"].startswith("dispensed on")
    r = await client.get(
        "/api/v1/claim-lines", params={**q, "rule": "after_death"}, headers=s["analyst"]
    )
    assert r.json() == []
    r = await client.get("/api/v1/claim-lines", params={"rule": "nonsense"}, headers=s["analyst"])
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "rule"
    r = await client.get("/api/v1/claim-lines", params={"month": "May"}, headers=s["analyst"])
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "month"


async def test_the_analyst_approves_and_rejects_lines_with_a_reason(client, setup):
    s = setup
    ok, flagged = s["lines"][0], s["lines"][2]
    r = await client.post(
        f"/api/v1/claim-lines/{ok.id}/review", json={"decision": "approve"}, headers=s["analyst"]
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved"
    assert r.json()["reviewed_by"]
    # a rejection needs its reason
    r = await client.post(
        f"/api/v1/claim-lines/{flagged.id}/review",
        json={"decision": "reject"},
        headers=s["analyst"],
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "note"
    r = await client.post(
        f"/api/v1/claim-lines/{flagged.id}/review",
        json={"decision": "reject", "note": "dispensed after the validity ended"},
        headers=s["analyst"],
    )
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["review_note"]) == (
        "rejected",
        "dispensed after the validity ended",
    )
    r_rejected = r.json()
    # once decided, a line stays decided
    r = await client.post(
        f"/api/v1/claim-lines/{flagged.id}/review",
        json={"decision": "approve"},
        headers=s["analyst"],
    )
    assert r.status_code == 409
    # the same review sent again changes nothing and is not refused: the line as it is
    again = await client.post(
        f"/api/v1/claim-lines/{flagged.id}/review",
        json={"decision": "reject", "note": "dispensed after the validity ended"},
        headers=s["analyst"],
    )
    assert again.status_code == 200, again.text
    assert again.json() == r_rejected
    # the same decision with another reason is a different review: refused
    other = await client.post(
        f"/api/v1/claim-lines/{flagged.id}/review",
        json={"decision": "reject", "note": "another reason"},
        headers=s["analyst"],
    )
    assert other.status_code == 409
    r = await client.post(
        f"/api/v1/claim-lines/{ok.id}/review", json={"decision": "maybe"}, headers=s["analyst"]
    )
    assert r.status_code == 422
    c = (await client.get(f"/api/v1/claims/{ok.claim_id}", headers=s["analyst"])).json()
    assert (c["totals"]["approved"], c["totals"]["rejected"], c["totals"]["pending"]) == (
        20000,
        3000,
        0,
    )


async def test_a_line_decided_meanwhile_is_not_decided_again(db, setup, make_user):
    """The decision is one conditional UPDATE, not a check of a row read earlier."""
    from salomat.core.errors import InvalidState
    from salomat.core.security import Principal
    from salomat.domains.prescription.schemas import ClaimReviewIn

    line = setup["lines"][2]  # loaded into this session while still flagged
    assert line.status == "flagged"
    # another analyst rejects it after this session read it
    await db.execute(
        update(ClaimLine)
        .where(ClaimLine.id == line.id)
        .values(status="rejected", review_note="late", reviewed_by="other-analyst")
        .execution_options(synchronize_session=False)
    )
    analyst = await make_user("insurance_analyst")
    who = Principal(
        user_id=analyst.id, username=analyst.username, role=analyst.role, session_id="t"
    )
    with pytest.raises(InvalidState, match="already rejected by other-analyst"):
        await service.review_claim_line(db, who, line.id, ClaimReviewIn(decision="approve"))
    await db.rollback()


async def test_two_analysts_reviewing_one_line_at_once_decide_it_once(app, setup, make_user, login):
    import asyncio

    import httpx

    from salomat.core.db import session_factory

    line = setup["lines"][2]
    analysts = [setup["analyst"], await login(await make_user("insurance_analyst"))]
    transport = httpx.ASGITransport(app=app, client=("10.9.8.7", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        answers = await asyncio.gather(
            *[
                c.post(
                    f"/api/v1/claim-lines/{line.id}/review",
                    json={"decision": decision, "note": "checked"},
                    headers=auth,
                )
                for decision, auth in zip(("approve", "reject"), analysts, strict=True)
            ]
        )
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 409], [a.text for a in answers]
    winner = next(a for a in answers if a.status_code == 200).json()
    async with session_factory()() as s:
        stored = await s.get(ClaimLine, line.id)
        assert stored is not None
        assert (stored.status, stored.reviewed_by) == (winner["status"], winner["reviewed_by"])


async def test_the_pharmacist_submits_the_months_claim_once(client, setup, db):
    s = setup
    own = s["lines"][0].claim_id
    r = await client.post(f"/api/v1/claims/{own}/submit", headers=s["analyst"])
    assert r.status_code == 409  # the pharmacy submits, not the fund
    r = await client.post(f"/api/v1/claims/{own}/submit", headers=s["pharmacist"])
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "submitted"
    assert r.json()["submitted_at"]
    r = await client.post(f"/api/v1/claims/{own}/submit", headers=s["pharmacist"])
    assert r.status_code == 409
    # another pharmacy's claim: as if missing
    r = await client.post(
        f"/api/v1/claims/{s['lines'][1].claim_id}/submit", headers=s["pharmacist"]
    )
    assert r.status_code == 404
    # a dispensing recorded afterwards for that month is flagged as late
    rx = await make_rx(db, s["person"].id, (await db.get(Claim, own)).facility_id)
    late = await line_of(db, (await dispense(db, rx, s["ph1"].id, at=last_month(day=25))).id)
    assert late.claim_id == own
    assert late.flags[-1]["rule"] == "late"


async def test_this_months_claim_cannot_be_submitted_yet(client, db, make_facility, make_person):
    clinic = await make_facility()
    (ph,) = await pharmacies(make_facility, 1)
    rx = await make_rx(db, (await make_person()).id, clinic.id, issued_on=NOW.date())
    line = await line_of(db, (await dispense(db, rx, ph.id, at=NOW)).id)
    acc = await make_user_for(client, ph.code)
    r = await client.post(f"/api/v1/claims/{line.claim_id}/submit", headers=acc)
    assert r.status_code == 409
    assert "once the month has ended" in r.json()["detail"]


async def make_user_for(client, facility_code: str) -> dict[str, str]:
    from salomat.core.db import session_factory
    from salomat.domains.accounts import service as accounts
    from salomat.domains.accounts.schemas import UserIn
    from tests.factories import PASSWORD, Account, token_for, unique

    async with session_factory()() as s:
        u = await accounts.create_user(
            s,
            UserIn(
                username=unique("pharm-"),
                password=PASSWORD,
                role="pharmacist",
                facility_code=facility_code,
            ),
        )
        await s.commit()
    return await token_for(client, Account(u.id, u.username, "pharmacist", facility_code, None))


@pytest.mark.parametrize("role", ["family_doctor", "nurse", "admin", "registrar"])
async def test_other_roles_may_not_read_claims(client, make_user, login, role):
    headers = await login(await make_user(role))
    assert (await client.get("/api/v1/claims", headers=headers)).status_code == 403
    assert (await client.get("/api/v1/claim-lines", headers=headers)).status_code == 403


async def test_a_pharmacist_may_not_review(client, setup):
    s = setup
    r = await client.post(
        f"/api/v1/claim-lines/{s['lines'][0].id}/review",
        json={"decision": "approve"},
        headers=s["pharmacist"],
    )
    assert r.status_code == 403


async def test_claim_reads_are_audited_per_patient(client, setup, db):
    from salomat.core.audit import AuditEvent

    s = setup
    await client.get(f"/api/v1/claims/{s['lines'][0].claim_id}", headers=s["analyst"])
    rows = (
        await db.execute(
            select(AuditEvent).where(
                AuditEvent.resource_type == "Claim", AuditEvent.patient_id == s["person"].id
            )
        )
    ).scalars()
    assert any(r.action == "read" for r in rows)
