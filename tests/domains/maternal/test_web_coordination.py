"""The worklist, the referral inbox and the Refer form without a browser (issue 4, item 8)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.domains.maternal.test_referrals import (
    Network,
    facility,
    register_hypertensive,
    settlement,
)
from tests.domains.registry.test_web import field_error, web_login

pytestmark = pytest.mark.anyio


@dataclass
class People:
    net: Network
    doctor: Any  # family doctor of the polyclinic (account)
    maternity_obstetrician: Any
    centre_obstetrician: Any


@pytest.fixture
async def people(db, make_place, make_person, make_user, login) -> People:
    place = await make_place()
    far = await settlement(db, place.district, 41.3, 69.2)
    poly = await facility(db, "family_polyclinic", place.settlement)
    maternity = await facility(db, "maternity_complex", place.settlement, 2)
    centre = await facility(db, "perinatal_centre", far, 3)
    screening = await facility(db, "screening_centre", far)
    woman = await make_person(facility_code=poly.code)
    doctor = await make_user("family_doctor", facility_code=poly.code)
    mob = await make_user("obstetrician", facility_code=maternity.code)
    cob = await make_user("obstetrician", facility_code=centre.code)
    net = Network(
        poly,
        woman,
        await login(doctor),
        maternity,
        centre,
        screening,
        await login(mob),
        await login(cob),
    )
    return People(net, doctor, mob, cob)


@pytest.fixture
def session_client(app) -> Callable[[], Any]:
    """A further browser-like client (its own cookies) on the same app."""

    @asynccontextmanager
    async def make() -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app, client=("10.9.9.9", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c

    return make


def hidden_in(html: str, referral_id: int, action: str) -> str:
    form = re.search(rf'action="/referrals/{referral_id}/{action}".*?</form>', html, re.S)
    assert form, f"no {action} form for referral {referral_id}"
    return re.search(r'name="version" value="(\d+)"', form.group(0)).group(1)


def reasons_of(html: str, person_id: int) -> list[str]:
    row = re.search(rf'data-person="{person_id}">.*?</tr>', html, re.S)
    return (
        re.findall(r'data-testid="worklist-reason" data-code="([^"]+)"', row.group(0))
        if row
        else []
    )


async def test_refer_accept_and_the_worklist_in_pages(client, people, session_client):
    n = people.net
    preg = await register_hypertensive(client, n)
    async with session_client() as doc, session_client() as ob:
        csrf = await web_login(doc, people.doctor)
        home = await doc.get("/")
        assert 'href="/worklist"' in home.text
        assert 'href="/referrals"' not in home.text

        page = await doc.get("/worklist")
        assert page.status_code == 200
        assert reasons_of(page.text, n.woman.id) == ["high_risk_no_referral"]
        assert f'href="/patients/{n.woman.id}/pregnancy"' in page.text

        record_url = f"/patients/{n.woman.id}/pregnancy"
        record = await doc.get(record_url)
        assert 'data-testid="no-referrals"' in record.text
        assert 'data-testid="refer-form"' in record.text

        # no reason: refused beside the field, nothing sent
        form = {"csrf_token": csrf, "pregnancy_id": str(preg["id"]), "kind": "perinatal"}
        r = await doc.post(f"{record_url}/referrals", data={**form, "reason": ""})
        assert r.status_code == 422
        assert field_error(r.text, "reason")
        # a facility that cannot take her
        r = await doc.post(
            f"{record_url}/referrals",
            data={**form, "reason": "BP", "to_facility_code": n.screening.code},
        )
        assert r.status_code == 422
        assert "perinatal care" in field_error(r.text, "to_facility_code")
        # without CSRF: refused
        r = await doc.post(
            f"{record_url}/referrals", data={**form, "csrf_token": "x", "reason": "BP"}
        )
        assert r.status_code == 403

        r = await doc.post(f"{record_url}/referrals", data={**form, "reason": "150/95 twice"})
        assert r.status_code == 303, r.text
        record = await doc.get(r.headers["location"])
        assert 'data-testid="referred"' in record.text
        assert f'data-testid="referral-to">{n.maternity.code}<' in record.text
        assert f"{n.maternity.name} · <code" in record.text  # by its name, then its code
        assert 'data-status="sent"' in record.text

        # the maternity complex's obstetrician: her record is closed to them until accepting
        ob_csrf = await web_login(ob, people.maternity_obstetrician)
        assert (await ob.get(record_url)).status_code == 404
        home = await ob.get("/")
        assert 'href="/referrals"' in home.text
        assert 'href="/worklist"' not in home.text
        inbox = await ob.get("/referrals?status=sent")
        assert inbox.status_code == 200
        rid = int(re.search(r'data-testid="referral" data-id="(\d+)"', inbox.text).group(1))
        version = hidden_in(inbox.text, rid, "accept")

        # a stale version is refused and shown
        stale = await ob.post(
            f"/referrals/{rid}/accept", data={"csrf_token": ob_csrf, "version": "99"}
        )
        assert stale.status_code == 412
        assert 'data-testid="referral-error"' in stale.text
        # seen before accepted: invalid state
        bad = await ob.post(
            f"/referrals/{rid}/seen", data={"csrf_token": ob_csrf, "version": version}
        )
        assert bad.status_code == 409

        ok = await ob.post(
            f"/referrals/{rid}/accept",
            data={"csrf_token": ob_csrf, "version": version, "back_status": "sent"},
        )
        assert ok.status_code == 303, ok.text
        assert ok.headers["location"].startswith("/referrals?status=sent")
        assert (await ob.get(record_url)).status_code == 200

        page = await doc.get("/worklist")
        assert f'data-person="{n.woman.id}"' not in page.text
        record = await doc.get(record_url)
        assert 'data-status="accepted"' in record.text

        # seen, then returned: a conclusion is required
        inbox = await ob.get("/referrals")
        version = hidden_in(inbox.text, rid, "seen")
        ok = await ob.post(
            f"/referrals/{rid}/seen", data={"csrf_token": ob_csrf, "version": version}
        )
        assert ok.status_code == 303
        inbox = await ob.get("/referrals")
        version = hidden_in(inbox.text, rid, "return")
        empty = await ob.post(
            f"/referrals/{rid}/return", data={"csrf_token": ob_csrf, "version": version}
        )
        assert empty.status_code == 422
        assert field_error(empty.text, "conclusion")
        ok = await ob.post(
            f"/referrals/{rid}/return",
            data={"csrf_token": ob_csrf, "version": version, "conclusion": "Labetalol"},
        )
        assert ok.status_code == 303
        assert (await ob.get(record_url)).status_code == 404
        record = await doc.get(record_url)
        assert 'data-status="returned"' in record.text
        assert "Labetalol" in record.text


async def test_decline_and_other_facilities(client, people, session_client):
    n = people.net
    preg = await register_hypertensive(client, n)
    sent = await client.post(
        f"/api/v1/pregnancies/{preg['id']}/referrals",
        json={"kind": "perinatal", "reason": "BP"},
        headers=n.doctor,
    )
    rid = sent.json()["id"]
    async with session_client() as other, session_client() as ob:
        # another facility's obstetrician sees nothing and cannot act
        csrf = await web_login(other, people.centre_obstetrician)
        inbox = await other.get("/referrals")
        assert inbox.status_code == 200
        assert 'data-testid="inbox-empty"' in inbox.text
        r = await other.post(f"/referrals/{rid}/accept", data={"csrf_token": csrf, "version": "1"})
        assert r.status_code == 404

        csrf = await web_login(ob, people.maternity_obstetrician)
        inbox = await ob.get("/referrals")
        version = hidden_in(inbox.text, rid, "decline")
        r = await ob.post(
            f"/referrals/{rid}/decline",
            data={"csrf_token": csrf, "version": version, "conclusion": "no beds"},
        )
        assert r.status_code == 303
        declined = await ob.get("/referrals?status=declined")
        assert f'data-id="{rid}" data-status="declined"' in declined.text
        assert "no beds" in declined.text
        assert f'data-id="{rid}"' not in (await ob.get("/referrals?status=sent")).text


async def test_who_may_open_the_pages(client, make_user, session_client):
    nurse = await make_user("nurse")
    registrar = await make_user("registrar")
    async with session_client() as c:
        await web_login(c, nurse)
        assert (await c.get("/worklist")).status_code == 200
        assert (await c.get("/referrals")).status_code == 403
    async with session_client() as c:
        await web_login(c, registrar)
        assert (await c.get("/worklist")).status_code == 403


async def test_the_inbox_shows_who_she_is_and_audits_each_woman_listed(
    client, people, session_client, db
):
    """Issue 13, item 7: name, age, gestational age, risk and reason for the receiver to
    triage on, before accepting; one audit row per woman the list shows."""
    from sqlalchemy import select

    from salomat.core.audit import AuditEvent

    n = people.net
    preg = await register_hypertensive(client, n)
    sent = await client.post(
        f"/api/v1/pregnancies/{preg['id']}/referrals",
        json={"kind": "perinatal", "reason": "BP 150/95 twice"},
        headers=n.doctor,
    )
    assert sent.status_code == 201, sent.text
    async with session_client() as ob:
        await web_login(ob, people.maternity_obstetrician)
        inbox = await ob.get("/referrals")
        assert inbox.status_code == 200
        row = re.search(rf'data-person="{n.woman.id}".*?</tr>', inbox.text, re.S).group(0)
        assert f"{n.woman.family_name} {n.woman.given_name}" in row
        assert re.search(r'data-testid="referral-age">\d+ years<', row)
        assert 'data-testid="referral-ga">20 weeks 0 days<' in row
        assert 'data-risk="high"' in row
        assert ">high risk<" in row
        assert "BP 150/95 twice" in row
        assert 'data-code="hypertension"' in row
        assert n.polyclinic.name in row  # the referring facility by its name
        # her record itself stays closed until the referral is accepted
        assert (await ob.get(f"/patients/{n.woman.id}/pregnancy")).status_code == 404

    rows = (
        await db.execute(
            select(AuditEvent.action, AuditEvent.resource_type, AuditEvent.purpose).where(
                AuditEvent.patient_id == n.woman.id,
                AuditEvent.username == people.maternity_obstetrician.username,
                AuditEvent.action == "search",
            )
        )
    ).all()
    assert [tuple(r) for r in rows] == [
        ("search", "ServiceRequest", "referral to the user's facility")
    ]


async def test_the_triage_inbox_through_the_api_is_for_the_receiving_facility_only(client, people):
    n = people.net
    preg = await register_hypertensive(client, n)
    sent = await client.post(
        f"/api/v1/pregnancies/{preg['id']}/referrals",
        json={"kind": "perinatal", "reason": "BP 150/95 twice"},
        headers=n.doctor,
    )
    assert sent.status_code == 201, sent.text
    url = f"/api/v1/facilities/{n.maternity.code}/referrals/triage"
    r = await client.get(url, headers=n.maternity_obstetrician)
    assert r.status_code == 200, r.text
    [item] = r.json()
    assert item["referral"]["id"] == sent.json()["id"]
    assert (item["family_name"], item["given_name"]) == (n.woman.family_name, n.woman.given_name)
    assert item["ga_days"] == 140
    assert item["risk_level"] == "high"
    assert item["diagnoses"] == ["hypertension"]
    assert item["from_facility_name"] == n.polyclinic.name
    # another facility's staff: as if the facility had no inbox; the sender: not a receiver
    other = await client.get(url, headers=n.centre_obstetrician)
    assert other.status_code == 404
    assert (await client.get(url, headers=n.doctor)).status_code == 403
