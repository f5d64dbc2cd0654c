"""The claims API: the after-death done-when end to end, resends, refusals naming line and
field, scope, the reviewer's decisions (409 the second time), the control run, the
settlement and its CSV; and any claim body answers without a server error."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salomat.domains.insurance.service.rules import month_end
from tests.domains.insurance.claim_fixtures import register_death
from tests.factories import token_for

pytestmark = pytest.mark.anyio


def _line(person, code: str, day: date, **kw) -> dict:  # type: ignore[no-untyped-def]
    return {
        "national_id": person.national_id,
        "service_code": code,
        "service_on": day.isoformat(),
        **kw,
    }


async def test_a_claim_for_a_service_after_death_is_flagged_with_that_reason(
    kz, client, db, make_provider, make_insuree, make_user, fresh_month
):
    """Issue 17's done-when, through the API: the provider's claim is stored, its line
    flagged ``after_death`` with the reason, and it waits in the reviewer's queue."""
    month = fresh_month()
    p = await make_provider()
    person = await make_insuree()
    died = month + timedelta(days=9)
    await register_death(db, person, died)
    headers = await token_for(client, p.account)
    body = {"external_id": "A-77", "lines": [_line(person, "EMERG-CALL", died + timedelta(days=2))]}
    r = await client.post("/api/v1/insurance/claims", json=body, headers=headers)
    assert r.status_code == 201, r.text
    claim = r.json()
    assert r.headers["Location"] == f"/api/v1/insurance/claims/{claim['id']}"
    li = claim["lines"][0]
    assert li["status"] == "flagged"
    assert [f["rule"] for f in li["flags"]] == ["after_death"]
    assert li["flags"][0]["rule_label"] == "service after the registered death"
    assert li["flags"][0]["reason"] == (
        f"service on {died + timedelta(days=2):%d.%m.%Y}, after the registered death on "
        f"{died:%d.%m.%Y}"
    )
    # in Russian on request
    r = await client.get(
        f"/api/v1/insurance/claims/{claim['id']}",
        headers={**headers, "Accept-Language": "ru"},
    )
    assert r.status_code == 200
    # the resend: the stored claim, 200, no new line
    r = await client.post("/api/v1/insurance/claims", json=body, headers=headers)
    assert r.status_code == 200
    assert r.json()["id"] == claim["id"]
    assert len(r.json()["lines"]) == 1

    analyst = await token_for(client, await make_user("insurance_analyst"))
    r = await client.get(
        "/api/v1/insurance/review-queue",
        params={"rule": "after_death", "month": f"{month:%Y-%m}"},
        headers=analyst,
    )
    assert r.status_code == 200, r.text
    assert [x["id"] for x in r.json()] == [li["id"]]
    decision = {"decision": "reject", "reason": "the patient had died"}
    r = await client.post(
        f"/api/v1/insurance/claim-lines/{li['id']}/decision", json=decision, headers=analyst
    )
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["amount_approved"]) == ("rejected", 0)
    r = await client.post(
        f"/api/v1/insurance/claim-lines/{li['id']}/decision",
        json={"decision": "accept"},
        headers=analyst,
    )
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_refusals_name_the_line_and_field(
    kz, client, make_provider, make_insuree, fresh_month
):
    month = fresh_month()
    p = await make_provider()
    person = await make_insuree()
    headers = await token_for(client, p.account)
    body = {
        "lines": [
            _line(person, "LAB-CBC", month),
            _line(person, "NOPE", month),
            {"national_id": "1", "service_code": "LAB-CBC", "service_on": month.isoformat()},
        ]
    }
    r = await client.post("/api/v1/insurance/claims", json=body, headers=headers)
    assert r.status_code == 422
    errors = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert errors == {
        "lines.1.service_code": "NOPE is not a service of any benefit package",
        "lines.2.national_id": "no person is registered with this national id",
    }
    r = await client.get(
        "/api/v1/insurance/claims", params={"month": f"{month:%Y-%m}"}, headers=headers
    )
    assert r.json() == []


async def test_roles_and_scope(kz, client, make_provider, make_insuree, make_user, fresh_month):
    month = fresh_month()
    p, other = await make_provider(), await make_provider()
    person = await make_insuree()
    mine = await token_for(client, p.account)
    theirs = await token_for(client, other.account)
    r = await client.post(
        "/api/v1/insurance/claims",
        json={"lines": [_line(person, "EMERG-CALL", month)]},
        headers=mine,
    )
    assert r.status_code == 201
    cid, lid = r.json()["id"], r.json()["lines"][0]["id"]
    assert (await client.get(f"/api/v1/insurance/claims/{cid}", headers=theirs)).status_code == 404
    assert (
        await client.get(f"/api/v1/insurance/claim-lines/{lid}", headers=theirs)
    ).status_code == 404
    # a provider does not decide, nor run the controls
    r = await client.post(
        f"/api/v1/insurance/claim-lines/{lid}/decision", json={"decision": "accept"}, headers=mine
    )
    assert r.status_code == 403
    r = await client.post(f"/api/v1/insurance/controls/{month:%Y-%m}/run", headers=mine)
    assert r.status_code == 403
    # a pharmacist may not submit
    ph = await token_for(client, await make_user("pharmacist"))
    r = await client.post(
        "/api/v1/insurance/claims", json={"lines": [_line(person, "EMERG-CALL", month)]}, headers=ph
    )
    assert r.status_code == 403


async def test_controls_and_settlement_through_the_api(
    kz, client, make_provider, make_insuree, make_user, fresh_month
):
    month = fresh_month()
    p = await make_provider()
    person = await make_insuree()
    mine = await token_for(client, p.account)
    analyst = await token_for(client, await make_user("insurance_analyst"))
    r = await client.post(
        "/api/v1/insurance/claims",
        json={"lines": [_line(person, "DIALYSIS", month), _line(person, "DIALYSIS", month)]},
        headers=mine,
    )
    assert [li["status"] for li in r.json()["lines"]] == ["entered", "flagged"]
    r = await client.post(f"/api/v1/insurance/controls/{month:%Y-%m}/run", headers=analyst)
    assert r.status_code == 200, r.text
    assert r.json()["fired"]["duplicate"] == 1
    assert r.json()["lines"] == 2
    r = await client.post(
        f"/api/v1/insurance/settlements/{month:%Y-%m}/compute",
        params={"facility_id": p.facility.id},
        headers=analyst,
    )
    assert r.status_code == 200, r.text
    s = r.json()[0]
    # one DIALYSIS at 41 200.00 KZT; the duplicate waits
    assert (s["services"], s["total"], s["pending_lines"]) == (4_120_000, 4_120_000, 1)
    r = await client.get(f"/api/v1/insurance/settlements/{s['id']}", headers=mine)
    assert r.status_code == 200
    r = await client.get(
        f"/api/v1/insurance/settlements/{s['id']}/csv",
        headers={**mine, "Accept-Language": "ru"},
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert r.text.splitlines()[-1].endswith(",41200.00")
    r = await client.post("/api/v1/insurance/controls/2024-13/run", headers=analyst)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "month"


_text = st.text(max_size=40)


def _body(month: date) -> st.SearchStrategy[Any]:
    """Claim bodies; their days within ``month`` (the test's own: a stored line of
    another day could land in another test's month and change what its rules see)."""
    days = st.dates(min_value=month, max_value=month_end(month)).map(date.isoformat)
    line_st = st.fixed_dictionaries(
        {},
        optional={
            "national_id": st.one_of(_text, st.integers(), st.none()),
            "service_code": st.one_of(st.sampled_from(["LAB-CBC", "EMERG-CALL", "X"]), _text),
            "service_on": st.one_of(days, _text, st.integers()),
            "quantity": st.one_of(st.integers(min_value=-(2**70), max_value=2**70), _text),
            "encounter_ref": st.one_of(_text, st.none()),
            "extra": _text,
        },
    )
    return st.one_of(
        st.fixed_dictionaries(
            {"lines": st.lists(line_st, max_size=4)},
            optional={"external_id": st.one_of(_text, st.integers(), st.none())},
        ),
        st.dictionaries(_text, _text, max_size=3),
        st.lists(st.integers(), max_size=3),
    )


async def test_any_claim_body_is_answered_without_a_server_error(
    kz, client, make_provider, make_insuree, fresh_month
):
    month = fresh_month()
    p = await make_provider()
    headers = await token_for(client, p.account)
    person = await make_insuree()
    seen: list[int] = []

    @settings(max_examples=60, suppress_health_check=list(HealthCheck))
    @given(body=_body(month), use_person=st.booleans())
    def run(body, use_person) -> None:  # type: ignore[no-untyped-def]
        if use_person and isinstance(body, dict) and body.get("lines"):
            body["lines"][0]["national_id"] = person.national_id
        bodies.append(body)

    bodies: list = []  # type: ignore[type-arg]
    run()
    for body in bodies:
        r = await client.post("/api/v1/insurance/claims", json=body, headers=headers)
        assert r.status_code < 500, (body, r.text)
        seen.append(r.status_code)
    assert set(seen) <= {200, 201, 422}
