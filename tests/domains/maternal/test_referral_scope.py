"""What the receiving facility sees of a woman through a referral, and who there sees it.

Review findings (issue 13): the triage inbox kept showing her name, risk, gestational
age and current diagnoses after the referral had ended (while her record and the referral
were already 404 to the facility); and any role at the receiving facility could read the
referral and its PDF while only its obstetricians (``referral:receive``) receive referrals.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from salomat.core.audit import AuditEvent
from tests.domains.maternal.test_referrals import TODAY, act, register_hypertensive
from tests.domains.maternal.test_web_coordination import People, people, session_client
from tests.domains.registry.test_web import web_login

__all__ = ["people", "session_client"]

pytestmark = pytest.mark.anyio

PERSON_FACTS = (
    "family_name",
    "given_name",
    "patronymic",
    "birth_date",
    "age_years",
    "ga_days",
    "edd",
    "pregnancy_status",
    "risk_level",
    "care_level",
    "urgency",
)


async def send(client, people: People, preg: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(
        f"/api/v1/pregnancies/{preg['id']}/referrals",
        json={"kind": "perinatal", "reason": "BP 150/95 twice"},
        headers=people.net.doctor,
    )
    assert r.status_code == 201, r.text
    return r.json()


async def severe_contact(client, people: People, preg: dict[str, Any]) -> set[str]:
    """A later contact (by her family doctor) that adds a finding; her diagnosis codes after."""
    n = people.net
    url = f"/api/v1/pregnancies/{preg['id']}"
    before = {d["code"] for d in (await client.get(url + "/diagnoses", headers=n.doctor)).json()}
    etag = (await client.get(url, headers=n.doctor)).headers["etag"]
    r = await client.post(
        url + "/contacts",
        json={
            "on": TODAY.isoformat(),
            "systolic_1": 165,
            "diastolic_1": 112,
            "systolic_2": 166,
            "diastolic_2": 114,
            "urine_protein": "++",
        },
        headers={**n.doctor, "If-Match": etag},
    )
    assert r.status_code == 201, r.text
    after = {d["code"] for d in (await client.get(url + "/diagnoses", headers=n.doctor)).json()}
    assert after - before, "the later contact should add a finding"
    return after


async def triage(client, people: People, status: str | None = None) -> list[dict[str, Any]]:
    url = f"/api/v1/facilities/{people.net.maternity.code}/referrals/triage"
    r = await client.get(
        url,
        params={"status": status} if status else None,
        headers=people.net.maternity_obstetrician,
    )
    assert r.status_code == 200, r.text
    return r.json()


async def audited_searches(db, people: People) -> int:
    rows = await db.scalars(
        select(AuditEvent.id).where(
            AuditEvent.patient_id == people.net.woman.id,
            AuditEvent.username == people.maternity_obstetrician.username,
            AuditEvent.action == "search",
        )
    )
    return len(list(rows))


@pytest.mark.parametrize("end", ["decline", "cancel"])
async def test_an_ended_referral_no_longer_shows_her_in_the_triage_inbox(
    client, people: People, session_client, db, end
):
    n = people.net
    preg = await register_hypertensive(client, n)
    ref = await send(client, people, preg)
    [live] = await triage(client, people)
    assert live["live"] is True
    assert live["family_name"] == n.woman.family_name
    assert live["diagnoses"] == ["hypertension"]
    assert live["ga_days"] == 140
    assert await audited_searches(db, people) == 1

    if end == "decline":
        r = await act(client, n.maternity_obstetrician, ref, "decline", conclusion="no beds")
    else:
        r = await act(client, n.doctor, ref, "cancel", reason="she moved away")
    assert r.status_code == 200, r.text
    codes = await severe_contact(client, people, preg)

    for status in (None, r.json()["status"]):
        [item] = await triage(client, people, status)
        assert item["live"] is False
        # the referral itself as it was sent and answered
        assert item["referral"]["id"] == ref["id"]
        assert item["referral"]["status"] == r.json()["status"]
        assert item["referral"]["reason"] == "BP 150/95 twice"
        assert item["from_facility_name"] == n.polyclinic.name
        # nothing of her: neither who she is nor her pregnancy today
        assert {k: item[k] for k in PERSON_FACTS} == dict.fromkeys(PERSON_FACTS)
        assert item["diagnoses"] == []
        body = str(item)
        assert n.woman.family_name not in body
        assert not any(f"'{c}'" in body for c in codes)
    # listing an ended referral is not an access to her
    assert await audited_searches(db, people) == 1
    # as her record and the referral itself are closed to the facility
    assert (
        await client.get(f"/api/v1/pregnancies/{preg['id']}", headers=n.maternity_obstetrician)
    ).status_code == 404
    assert (
        await client.get(f"/api/v1/referrals/{ref['id']}", headers=n.maternity_obstetrician)
    ).status_code == 404

    async with session_client() as ob:
        await web_login(ob, people.maternity_obstetrician)
        page = await ob.get("/referrals")
        assert page.status_code == 200
        row = re.search(rf'data-id="{ref["id"]}".*?</tr>', page.text, re.S).group(0)
        assert 'data-testid="referral-ended"' in row
        assert f"Referral No. {ref['id']}" in row
        assert "BP 150/95 twice" in row
        assert n.polyclinic.name in row
        for gone in ("referral-woman", "referral-ga", "referral-risk", "referral-diagnoses"):
            assert f'data-testid="{gone}"' not in row
        assert n.woman.family_name not in page.text
        assert not any(f'data-code="{c}"' in page.text for c in codes)
        assert 'data-testid="referral-pdf"' not in row  # it would be a 404
    assert await audited_searches(db, people) == 1


async def test_only_receiving_clinicians_read_a_live_referral_at_the_receiving_facility(
    client, people: People, session_client, make_user, login
):
    n = people.net
    preg = await register_hypertensive(client, n)
    ref = await send(client, people, preg)
    api, pdf = f"/api/v1/referrals/{ref['id']}", f"/referrals/{ref['id']}/referral.pdf"
    for role in ("nurse", "family_doctor"):
        user = await make_user(role, facility_code=n.maternity.code)
        assert (await client.get(api, headers=await login(user))).status_code == 404, role
        async with session_client() as c:
            await web_login(c, user)
            r = await c.get(pdf)
            assert r.status_code == 404, role
            assert r.headers["content-type"] != "application/pdf"
    # the receiving obstetrician reads both
    assert (await client.get(api, headers=n.maternity_obstetrician)).status_code == 200
    async with session_client() as ob:
        await web_login(ob, people.maternity_obstetrician)
        r = await ob.get(pdf)
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/pdf"
    # the sender's own staff, with her in their scope, as before
    assert (await client.get(api, headers=n.doctor)).status_code == 200
    nurse = await make_user("nurse", facility_code=n.polyclinic.code)
    assert (await client.get(api, headers=await login(nurse))).status_code == 200
    async with session_client() as doc:
        await web_login(doc, people.doctor)
        assert (await doc.get(pdf)).status_code == 200
