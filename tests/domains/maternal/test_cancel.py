"""The sending facility cancels a referral (REST, FHIR status, the record page)."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from tests.domains.maternal.test_referrals import act, net, refer, register_hypertensive, worklist
from tests.domains.maternal.test_web_coordination import people, session_client
from tests.domains.registry.test_web import field_error, web_login

__all__ = ["net", "people", "session_client"]

pytestmark = pytest.mark.anyio


async def inbox(client, n, headers, status: str | None = None) -> list[int]:
    url = f"/api/v1/facilities/{n.maternity.code}/referrals"
    r = await client.get(url + (f"?status={status}" if status else ""), headers=headers)
    assert r.status_code == 200, r.text
    return [x["id"] for x in r.json()]


async def test_the_sender_cancels_a_sent_referral_with_a_reason(client, net, db):
    from salomat.core.audit import AuditEvent

    preg = await register_hypertensive(client, net)
    ref = (await refer(client, net, preg)).json()
    assert await inbox(client, net, net.maternity_obstetrician, "sent") == [ref["id"]]

    r = await act(client, net.doctor, ref, "cancel", reason="she moved to another region")
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status"] == "cancelled"
    assert out["conclusion"] == "she moved to another region"
    assert out["cancelled_at"] is not None
    assert r.headers["etag"] == f'W/"{out["version"]}"'

    # no longer pending at the receiving facility; listed as cancelled
    mob = net.maternity_obstetrician
    assert await inbox(client, net, mob, "sent") == []
    assert await inbox(client, net, mob, "cancelled") == [ref["id"]]
    # nothing more can happen to it (and the receiving facility no longer reads it)
    assert (await client.get(f"/api/v1/referrals/{ref['id']}", headers=mob)).status_code == 404
    late = await client.post(
        f"/api/v1/referrals/{ref['id']}/accept",
        headers={**mob, "If-Match": r.headers["etag"]},
    )
    assert late.status_code == 409
    again = await act(client, net.doctor, ref, "cancel", reason="twice")
    assert again.status_code == 409
    assert again.json()["type"].endswith("/invalid-state")
    # the worklist: as if there were no referral
    assert "high_risk_no_referral" in (await worklist(client, net.doctor))[net.woman.id]

    purposes = (
        await db.scalars(
            select(AuditEvent.purpose).where(
                AuditEvent.resource_type == "ServiceRequest",
                AuditEvent.resource_id == str(ref["id"]),
                AuditEvent.action == "update",
            )
        )
    ).all()
    assert "referral cancelled" in purposes

    fhir = await client.get(f"/fhir/ServiceRequest/{ref['id']}", headers=net.doctor)
    assert fhir.status_code == 200, fhir.text
    assert fhir.json()["status"] == "revoked"


async def test_cancelling_an_accepted_referral_ends_the_receiving_facilitys_access(client, net):
    preg = await register_hypertensive(client, net)
    ref = (await refer(client, net, preg)).json()
    mob = net.maternity_obstetrician
    url = f"/api/v1/pregnancies/{preg['id']}"
    assert (await act(client, mob, ref, "accept")).status_code == 200
    assert (await client.get(url, headers=mob)).status_code == 200
    assert net.woman.id not in await worklist(client, net.doctor)

    r = await act(client, net.doctor, ref, "cancel", reason="referred to the centre instead")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    assert (await client.get(url, headers=mob)).status_code == 404
    assert "high_risk_no_referral" in (await worklist(client, net.doctor))[net.woman.id]


async def test_after_the_cancel_the_receiving_facility_cannot_read_the_referral(client, net):
    preg = await register_hypertensive(client, net)
    ref = (await refer(client, net, preg)).json()
    mob = net.maternity_obstetrician
    url = f"/api/v1/referrals/{ref['id']}"
    assert (await act(client, mob, ref, "accept")).status_code == 200
    assert (await client.get(url, headers=mob)).status_code == 200

    r = await act(client, net.doctor, ref, "cancel", reason="referred to the centre instead")
    assert r.status_code == 200, r.text
    assert (await client.get(url, headers=mob)).status_code == 404
    # the sender, who has her in scope, still reads it
    assert (await client.get(url, headers=net.doctor)).status_code == 200


async def test_what_is_refused(client, net, make_user, login):
    preg = await register_hypertensive(client, net)
    ref = (await refer(client, net, preg)).json()
    cancel = f"/api/v1/referrals/{ref['id']}/cancel"
    body = {"reason": "no longer needed"}

    # a reason is required
    for bare in ({}, {"reason": "  "}):
        r = await act(client, net.doctor, ref, "cancel", **bare)
        assert r.status_code == 422, r.text
        assert {e["field"] for e in r.json()["errors"]} == {"reason"}
    # If-Match
    assert (await client.post(cancel, json=body, headers=net.doctor)).status_code == 412
    stale = await client.post(cancel, json=body, headers={**net.doctor, "If-Match": 'W/"99"'})
    assert stale.status_code == 412
    # only the sending facility: the receiving obstetrician (who may send referrals too)
    # and a doctor of another facility get 404
    other = await login(await make_user("family_doctor", facility_code=net.centre.code))
    for headers in (net.maternity_obstetrician, other):
        r = await client.post(cancel, json=body, headers={**headers, "If-Match": 'W/"1"'})
        assert r.status_code == 404, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    # a colleague of the sender's facility may
    nurse = await login(await make_user("nurse", facility_code=net.polyclinic.code))
    # not once she has been seen there
    mob = net.maternity_obstetrician
    assert (await act(client, mob, ref, "accept")).status_code == 200
    assert (await act(client, mob, ref, "seen")).status_code == 200
    late = await act(client, nurse, ref, "cancel", **body)
    assert late.status_code == 409, late.text
    got = await client.get(f"/api/v1/referrals/{ref['id']}", headers=net.doctor)
    assert got.json()["status"] == "seen"


async def test_a_colleague_of_the_sending_facility_may_cancel(client, net, make_user, login):
    preg = await register_hypertensive(client, net)
    ref = (await refer(client, net, preg)).json()
    nurse = await login(await make_user("nurse", facility_code=net.polyclinic.code))
    r = await act(client, nurse, ref, "cancel", reason="entered in error")
    assert r.status_code == 200, r.text
    assert r.json()["updated_by"] != ref["sent_by"]


# ---- the record page ---------------------------------------------------------------------


async def test_cancel_from_the_obstetric_record(client, people, session_client):
    n = people.net
    preg = await register_hypertensive(client, n)
    ref = (await refer(client, n, preg)).json()
    assert (await act(client, n.maternity_obstetrician, ref, "accept")).status_code == 200
    record_url = f"/patients/{n.woman.id}/pregnancy"
    action = f"{record_url}/referrals/{ref['id']}/cancel"
    async with session_client() as doc, session_client() as ob:
        csrf = await web_login(doc, people.doctor)
        page = await doc.get(record_url)
        form = re.search(rf'action="{action}".*?</form>', page.text, re.S)
        assert form, "no cancel form beside the accepted referral"
        version = re.search(r'name="version" value="(\d+)"', form.group(0)).group(1)

        # the receiving facility reads her record now, but cannot cancel
        await web_login(ob, people.maternity_obstetrician)
        theirs = await ob.get(record_url)
        assert theirs.status_code == 200
        assert 'data-testid="cancel-referral-form"' not in theirs.text

        # no reason: refused beside the field
        r = await doc.post(action, data={"csrf_token": csrf, "version": version, "reason": ""})
        assert r.status_code == 422
        assert field_error(r.text, "reason")
        # stale version: refused, nothing changed
        r = await doc.post(action, data={"csrf_token": csrf, "version": "99", "reason": "moved"})
        assert r.status_code == 412
        assert 'data-testid="cancel-error"' in r.text

        r = await doc.post(action, data={"csrf_token": csrf, "version": version, "reason": "moved"})
        assert r.status_code == 303, r.text
        page = await doc.get(r.headers["location"])
        assert 'data-testid="referral-cancelled"' in page.text
        assert 'data-status="cancelled"' in page.text
        assert 'data-testid="cancel-referral-form"' not in page.text
        # the acceptance's access ended
        assert (await ob.get(record_url)).status_code == 404


async def test_closing_the_pregnancy_ends_the_accepting_centres_access(client, net):
    preg = await register_hypertensive(client, net)
    ref = (await refer(client, net, preg)).json()
    mob = net.maternity_obstetrician
    record = f"/api/v1/persons/{net.woman.id}"
    assert (await act(client, mob, ref, "accept")).status_code == 200
    assert (await client.get(record, headers=mob)).status_code == 200

    url = f"/api/v1/pregnancies/{preg['id']}"
    etag = (await client.get(url, headers=net.doctor)).headers["etag"]
    closed = await client.post(
        f"{url}/close", json={"outcome": "termination"}, headers={**net.doctor, "If-Match": etag}
    )
    assert closed.status_code == 200, closed.text
    assert (await client.get(record, headers=mob)).status_code == 404
    assert (await client.get(url, headers=mob)).status_code == 404
    # the referral keeps its status
    got = await client.get(f"/api/v1/referrals/{ref['id']}", headers=net.doctor)
    assert got.json()["status"] == "accepted"


async def test_her_death_ends_the_accepting_centres_care_relationship(client, net):
    from salomat.core.db import session_factory
    from salomat.domains.maternal.models import Referral
    from salomat.domains.registry.models import CareRelationship

    preg = await register_hypertensive(client, net)
    ref = (await refer(client, net, preg)).json()
    assert (await act(client, net.maternity_obstetrician, ref, "accept")).status_code == 200
    record = f"/api/v1/persons/{net.woman.id}"
    person = (await client.get(record, headers=net.doctor)).json()
    died = await client.post(
        f"{record}/death",
        json={"deceased_on": date.today().isoformat(), "cause": "O15.0"},
        headers={**net.doctor, "If-Match": f'W/"{person["version"]}"'},
    )
    assert died.status_code == 200, died.text
    async with session_factory()() as s:
        r = await s.get(Referral, ref["id"])
        assert r.status == "accepted"
        rel = await s.get(CareRelationship, r.care_relationship_id)
        assert rel.closed_at is not None
