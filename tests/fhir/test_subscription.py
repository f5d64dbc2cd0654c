# ruff: noqa: F811  (net, a fixture imported from the referral tests, is each test's argument)
"""FHIR Subscriptions (R4 rest-hook): a facility's system is told of referrals to it.

A real HTTP server (the standard library's, on a free port of this machine) receives the
notifications; the job worker is run with ``jobs.run_until_idle`` for the subscription
kinds only; a receiver that is down is made deterministic by moving the retried job's
``run_at`` to now instead of sleeping.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from salomat.core import jobs
from salomat.core.db import session_factory, utcnow
from salomat.domains.subscriptions import service as subscriptions
from salomat.domains.subscriptions.models import Delivery
from tests.domains.maternal.test_referrals import (  # noqa: F401 (net is a fixture)
    Network,
    net,
    refer,
    register_hypertensive,
)

pytestmark = pytest.mark.anyio

FHIR_JSON = "application/fhir+json"
KINDS = [subscriptions.MATCH, subscriptions.DELIVER]


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A subscriber's endpoint: records what arrives; ``down()`` and ``up()`` again on the
    same port."""

    port: int = 0
    got: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def up(self) -> None:
        got = self.got

        class Handler(BaseHTTPRequestHandler):
            def _keep(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                got.append(
                    Received(
                        self.command,
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        self.rfile.read(length) if length else b"",
                    )
                )
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            do_POST = do_PUT = _keep

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.up()
    yield r
    r.down()


@pytest.fixture(autouse=True)
async def _switch_off_afterwards() -> Any:
    """Subscriptions made here stop at the end of each test (other tests send referrals
    too, and should not queue matching jobs for these)."""
    yield
    async with session_factory()() as s:
        await s.execute(update(subscriptions.Subscription).values(status="off"))
        await s.commit()
    subscriptions.forget_types()


def subscription(criteria: str, endpoint: str, **channel: Any) -> dict[str, Any]:
    return {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "the maternity's referral inbox",
        "criteria": criteria,
        "channel": {"type": "rest-hook", "endpoint": endpoint, **channel},
    }


async def subscribe(client, headers, body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post("/fhir/Subscription", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def run_jobs() -> int:
    return await jobs.run_until_idle(only=KINDS)


async def pregnant(client, n: Network) -> dict[str, Any]:
    preg = (await client.get(f"/api/v1/persons/{n.woman.id}/pregnancies", headers=n.doctor)).json()
    if preg:
        return preg[0]
    await register_hypertensive(client, n)
    return (await client.get(f"/api/v1/persons/{n.woman.id}/pregnancies", headers=n.doctor)).json()[
        0
    ]


async def send_referral(client, n: Network, to: Any) -> dict[str, Any]:
    r = await refer(client, n, await pregnant(client, n), to_facility_code=to.code)
    assert r.status_code == 201, r.text
    return r.json()


async def log_of(subscription_id: int) -> list[Delivery]:
    async with session_factory()() as s:
        return list(
            await s.scalars(
                select(Delivery)
                .where(Delivery.subscription_id == subscription_id)
                .order_by(Delivery.id)
            )
        )


# ---- notifications ------------------------------------------------------------------------


async def test_a_referral_to_the_facility_is_delivered_with_the_resource_and_headers(
    client,
    net: Network,
    receiver: Receiver,
):
    sub = await subscribe(
        client,
        net.maternity_obstetrician,
        subscription(
            f"ServiceRequest?performer={net.maternity.code}",
            receiver.url,
            payload=FHIR_JSON,
            header=["Authorization: Bearer s3cret", "X-Inbox: maternity"],
        ),
    )
    assert sub["status"] == "active"
    referral = await send_referral(client, net, net.maternity)
    await run_jobs()

    assert len(receiver.got) == 1
    got = receiver.got[0]
    assert (got.method, got.path) == ("PUT", f"/hook/ServiceRequest/{referral['id']}")
    assert got.headers["authorization"] == "Bearer s3cret"
    assert got.headers["x-inbox"] == "maternity"
    assert got.headers["content-type"] == FHIR_JSON
    body = json.loads(got.body)
    assert body["resourceType"] == "ServiceRequest"
    assert body["id"] == str(referral["id"])
    assert body["subject"] == {"reference": f"Patient/{net.woman.id}"}
    [entry] = await log_of(int(sub["id"]))
    assert (entry.outcome, entry.status_code, entry.attempt) == ("delivered", 200, 1)
    assert entry.resource_id == str(referral["id"])


async def test_the_notification_is_audited_under_the_subscriber(
    client,
    net: Network,
    receiver: Receiver,
    db,
):
    from salomat.core.audit import AuditEvent

    sub = await subscribe(
        client,
        net.maternity_obstetrician,
        subscription(
            f"ServiceRequest?performer={net.maternity.code}", receiver.url, payload=FHIR_JSON
        ),
    )
    owner = (await subscriptions.get_any(db, int(sub["id"]))).owner_username  # type: ignore[union-attr]
    referral = await send_referral(client, net, net.maternity)
    await run_jobs()
    rows = (
        await db.scalars(
            select(AuditEvent).where(
                AuditEvent.username == owner,
                AuditEvent.purpose == "subscription notification",
            )
        )
    ).all()
    assert [(r.action, r.resource_id, r.patient_id) for r in rows] == [
        ("read", str(referral["id"]), net.woman.id)
    ]


async def test_id_only_notification_carries_no_resource(client, net: Network, receiver: Receiver):
    sub = await subscribe(
        client,
        net.maternity_obstetrician,
        subscription(f"ServiceRequest?performer={net.maternity.code}", receiver.url),
    )
    assert "payload" not in sub["channel"]
    referral = await send_referral(client, net, net.maternity)
    await run_jobs()
    [got] = receiver.got
    assert (got.method, got.path, got.body) == ("POST", "/hook", b"")
    assert got.headers["x-salomat-resource"] == f"ServiceRequest/{referral['id']}"
    assert got.headers["x-salomat-subscription"] == f"Subscription/{sub['id']}"


async def test_a_referral_to_another_facility_sends_nothing(
    client,
    net: Network,
    receiver: Receiver,
):
    sub = await subscribe(
        client,
        net.maternity_obstetrician,
        subscription(f"ServiceRequest?performer={net.maternity.code}", receiver.url),
    )
    await send_referral(client, net, net.centre)
    await run_jobs()
    assert receiver.got == []
    assert await log_of(int(sub["id"])) == []


async def test_a_receiver_that_is_down_gets_it_later_and_the_log_shows_both_attempts(
    client,
    net: Network,
    receiver: Receiver,
):
    sub = await subscribe(
        client,
        net.maternity_obstetrician,
        subscription(f"ServiceRequest?performer={net.maternity.code}", receiver.url),
    )
    receiver.down()
    referral = await send_referral(client, net, net.maternity)
    before = utcnow()
    await run_jobs()
    [failed] = await log_of(int(sub["id"]))
    assert (failed.outcome, failed.status_code, failed.attempt) == ("failed", None, 1)
    assert failed.error
    # not retried before its backoff
    assert await run_jobs() == 0
    async with session_factory()() as s:
        job = await jobs.get(s, failed.job_id)  # type: ignore[arg-type]
    assert job.status == "queued"
    assert job.run_at > before

    receiver.up()  # the same port
    async with session_factory()() as s:  # the backoff has passed
        await s.execute(
            update(jobs.Job).where(jobs.Job.id == failed.job_id).values(run_at=utcnow())
        )
        await s.commit()
    assert await run_jobs() == 1
    assert [g.headers["x-salomat-resource"] for g in receiver.got] == [
        f"ServiceRequest/{referral['id']}"
    ]
    log = await log_of(int(sub["id"]))
    assert [(e.attempt, e.outcome, e.status_code) for e in log] == [
        (1, "failed", None),
        (2, "delivered", 200),
    ]
    assert {e.job_id for e in log} == {failed.job_id}


async def test_deliveries_that_keep_failing_put_the_subscription_in_error(
    client,
    net: Network,
    receiver: Receiver,
):
    from salomat.fhir import subscription as fhir_subscription

    sub = await subscribe(
        client,
        net.maternity_obstetrician,
        subscription(f"ServiceRequest?performer={net.maternity.code}", receiver.url),
    )
    receiver.down()
    await send_referral(client, net, net.maternity)
    await run_jobs()
    [first] = await log_of(int(sub["id"]))
    for _ in range(fhir_subscription.DELIVERY_ATTEMPTS - 1):
        async with session_factory()() as s:
            await s.execute(
                update(jobs.Job).where(jobs.Job.id == first.job_id).values(run_at=utcnow())
            )
            await s.commit()
        await run_jobs()
    assert len(await log_of(int(sub["id"]))) == fhir_subscription.DELIVERY_ATTEMPTS
    got = (
        await client.get(f"/fhir/Subscription/{sub['id']}", headers=net.maternity_obstetrician)
    ).json()
    assert got["status"] == "error"
    assert "could not be delivered" in got["error"]
    # set active again by its owner: the error is cleared
    again = {**got, "status": "active"}
    r = await client.put(
        f"/fhir/Subscription/{sub['id']}", json=again, headers=net.maternity_obstetrician
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "active"
    assert "error" not in r.json()


async def test_an_off_subscription_is_not_told(client, net: Network, receiver: Receiver):
    body = subscription(f"ServiceRequest?performer={net.maternity.code}", receiver.url)
    sub = await subscribe(client, net.maternity_obstetrician, body)
    r = await client.put(
        f"/fhir/Subscription/{sub['id']}",
        json={**body, "id": sub["id"], "status": "off"},
        headers=net.maternity_obstetrician,
    )
    assert r.status_code == 200, r.text
    await send_referral(client, net, net.maternity)
    await run_jobs()
    assert receiver.got == []


# ---- the resource: validation, ownership, search ------------------------------------------


def _fields(r) -> set[str]:
    assert r.status_code == 422, r.text
    return {x for i in r.json()["issue"] for x in i.get("expression", [])}


async def test_validation_names_each_wrong_element(client, net: Network):
    h = net.maternity_obstetrician
    code = net.maternity.code
    ok = subscription(f"ServiceRequest?performer={code}", "http://127.0.0.1:9/hook")
    cases = [
        ({**ok, "channel": {**ok["channel"], "type": "websocket"}}, "channel.type"),
        (
            {**ok, "channel": {**ok["channel"], "endpoint": "ftp://example.org/x"}},
            "channel.endpoint",
        ),
        ({**ok, "channel": {**ok["channel"], "payload": "application/xml"}}, "channel.payload"),
        ({**ok, "channel": {**ok["channel"], "header": ["no colon"]}}, "channel.header[0]"),
        ({**ok, "channel": {**ok["channel"], "header": ["Host: evil"]}}, "channel.header[0]"),
        ({**ok, "criteria": "Unknown?x=1"}, "criteria"),
        ({**ok, "criteria": "Observation"}, "criteria"),  # the search needs a patient
        ({**ok, "criteria": "ServiceRequest?nonsense=1"}, "criteria"),
        ({**ok, "criteria": "ServiceRequest?performer=NOT-MINE"}, "criteria"),
        ({**ok, "criteria": f"ServiceRequest?performer={code}&_count=5"}, "criteria"),
        ({**ok, "criteria": f"ServiceRequest?performer={code}&_id=5"}, "criteria"),
        ({**ok, "status": "error"}, "status"),
    ]
    for body, element in cases:
        r = await client.post("/fhir/Subscription", json=body, headers=h)
        assert element in _fields(r), (body, r.text)
    # several wrong elements: all named at once
    both = {**ok, "criteria": "Unknown?x", "channel": {**ok["channel"], "endpoint": "nope"}}
    got = _fields(await client.post("/fhir/Subscription", json=both, headers=h))
    assert {"criteria", "channel.endpoint"} <= got


async def test_in_production_only_public_https_endpoints(monkeypatch):
    from salomat.core.config import get_settings

    async def fields(url: str) -> set[str]:
        return {e.field for e in await subscriptions.check_endpoint(url)}

    try:
        monkeypatch.setenv("SALOMAT_ENV", "production")
        get_settings.cache_clear()
        assert await fields("http://93.184.216.34/hook") == {"channel.endpoint"}
        for private in (
            "https://127.0.0.1/hook",
            "https://10.1.2.3/hook",
            "https://192.168.0.5:8443/hook",
            "https://[::1]/hook",
            "https://169.254.169.254/latest",
            "https://localhost/hook",
            "https://[::ffff:127.0.0.1]/hook",
            # the shared address space (a cloud's metadata address among them)
            "https://100.100.100.200/latest",
            "https://100.64.0.1/hook",
        ):
            assert await fields(private) == {"channel.endpoint"}, private
        assert await fields("https://93.184.216.34/hook") == set()
        monkeypatch.setenv("SALOMAT_SUBSCRIPTION_PRIVATE_ENDPOINTS", "true")
        get_settings.cache_clear()
        assert await fields("https://10.1.2.3/hook") == set()
        assert await fields("http://10.1.2.3/hook") == {"channel.endpoint"}
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


async def test_another_users_subscription_is_404_and_not_listed(client, net: Network):
    mine = await subscribe(
        client,
        net.maternity_obstetrician,
        subscription(f"ServiceRequest?performer={net.maternity.code}", "http://127.0.0.1:9/h"),
    )
    other = net.centre_obstetrician
    url = f"/fhir/Subscription/{mine['id']}"
    assert (await client.get(url, headers=other)).status_code == 404
    assert (await client.delete(url, headers=other)).status_code == 404
    body = subscription(f"ServiceRequest?performer={net.centre.code}", "http://127.0.0.1:9/h")
    r = await client.put(url, json={**body, "id": mine["id"]}, headers=other)
    assert r.status_code == 404
    listed = (await client.get("/fhir/Subscription", headers=other)).json()
    assert mine["id"] not in {e["resource"]["id"] for e in listed.get("entry", [])}
    # the owner reads, searches and deletes it
    assert (await client.get(url, headers=net.maternity_obstetrician)).status_code == 200
    found = (
        await client.get(
            "/fhir/Subscription",
            params={"status": "active", "type": "rest-hook", "url": "http://127.0.0.1:9/h"},
            headers=net.maternity_obstetrician,
        )
    ).json()
    assert [e["resource"]["id"] for e in found["entry"]] == [mine["id"]]
    none = (
        await client.get(
            "/fhir/Subscription", params={"status": "off"}, headers=net.maternity_obstetrician
        )
    ).json()
    assert mine["id"] not in {e["resource"]["id"] for e in none.get("entry", [])}
    assert (await client.delete(url, headers=net.maternity_obstetrician)).status_code == 204
    assert (await client.get(url, headers=net.maternity_obstetrician)).status_code == 404


async def test_a_role_without_the_permission_is_refused(client, make_user, login):
    citizen = await login(await make_user("analyst"))
    r = await client.post(
        "/fhir/Subscription",
        json=subscription("Patient?birthdate=ge2026-01-01", "http://127.0.0.1:9/h"),
        headers=citizen,
    )
    assert r.status_code == 403


async def test_metadata_declares_subscription(client):
    meta = (await client.get("/fhir/metadata")).json()
    [entry] = [r for r in meta["rest"][0]["resource"] if r["type"] == "Subscription"]
    assert {i["code"] for i in entry["interaction"]} == {
        "read",
        "create",
        "update",
        "delete",
        "search-type",
    }
    assert {p["name"] for p in entry["searchParam"]} >= {"status", "type", "url", "criteria"}


@settings(
    max_examples=60,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    criteria=st.one_of(
        st.text(max_size=60),
        st.builds(
            lambda t, q: f"{t}?{q}",
            st.sampled_from(
                ["ServiceRequest", "Patient", "MedicationDispense", "Observation", "X"]
            ),
            st.text(max_size=50),
        ),
    )
)
async def test_any_criteria_is_accepted_or_refused_naming_it_never_5xx(
    client,
    net: Network,
    criteria: str,
):
    r = await client.post(
        "/fhir/Subscription",
        json=subscription(criteria, "http://127.0.0.1:9/h"),
        headers=net.maternity_obstetrician,
    )
    assert r.status_code in (201, 400, 422), r.text
    if r.status_code == 422:
        assert "criteria" in _fields(r)


# ---- the other triggers: a birth, a dispensing ------------------------------------------


async def test_a_newborn_is_told_to_the_polyclinic_that_subscribed_to_births(
    client, make_facility, make_person, make_user, login, receiver: Receiver
):
    from datetime import date, timedelta

    from tests.domains.maternal.test_birth import post_birth, twins
    from tests.domains.maternal.test_pregnancy import Clinic, open_pregnancy

    fac = await make_facility()
    woman = await make_person(facility_code=fac.code)
    c = Clinic(fac, woman, await login(await make_user("family_doctor", facility_code=fac.code)))
    # family doctors see the people attached to their polyclinic (a registrar sees the
    # national registry: every newborn)
    elsewhere = await login(
        await make_user("family_doctor", facility_code=(await make_facility()).code)
    )
    since = (date.today() - timedelta(days=7)).isoformat()
    mine = await subscribe(
        client,
        c.doctor,
        subscription(f"Patient?birthdate=ge{since}", receiver.url, payload=FHIR_JSON),
    )
    other = await subscribe(
        client, elsewhere, subscription(f"Patient?birthdate=ge{since}", receiver.url + "/other")
    )
    preg = await open_pregnancy(client, c, lmp=date.today() - timedelta(weeks=39))
    r = await post_birth(client, c, preg, twins())
    assert r.status_code == 201, r.text
    baby = next(b for b in r.json()["babies"] if b["outcome"] == "live")
    await run_jobs()
    # the polyclinic the baby is attached to is told; the other one may not see the baby
    [got] = receiver.got
    assert (got.method, got.path) == ("PUT", f"/hook/Patient/{baby['person_id']}")
    assert json.loads(got.body)["birthDate"] == (date.today() - timedelta(days=2)).isoformat()
    assert await log_of(int(other["id"])) == []
    assert len(await log_of(int(mine["id"]))) == 1


async def test_a_dispensing_is_told_to_the_subscribed_doctor(
    client, db, make_facility, make_person, make_user, login, receiver: Receiver
):
    from tests.domains.prescription.dispensing_data import make_case, pharmacist

    case = await make_case(db, make_facility, make_person, quantity=60)
    doctor = await login(await make_user("family_doctor", facility_code=case.clinic.code))
    await subscribe(
        client,
        doctor,
        subscription(f"MedicationDispense?patient=Patient/{case.person.id}", receiver.url),
    )
    chemist = await login(await pharmacist(make_facility, make_user))
    found = await client.post(
        "/api/v1/dispensing/lookup",
        json={"code": case.rx.code, "national_id": case.national_id},
        headers=chemist,
    )
    assert found.status_code == 200, found.text
    given = await client.post(
        f"/api/v1/prescriptions/{case.rx.id}/dispensings",
        json={"packages": 1, "price": 30_000},
        headers=chemist,
    )
    assert given.status_code == 201, given.text
    await run_jobs()
    [got] = receiver.got
    assert got.headers["x-salomat-resource"] == f"MedicationDispense/{given.json()['id']}"


@pytest.mark.parametrize(
    ("criteria", "person"),
    [
        ("Observation?patient=Patient/5", 5),
        ("Observation?subject=5", 5),
        ("Observation?patient=Patient/5&subject=Patient/5", 5),
        ("Observation?patient=5&subject=Patient/5", None),  # two spellings: no guess
        ("Observation?patient=Patient/5&patient=Patient/6", None),
        ("Observation?patient=Patient/5,Patient/6", None),
        ("Observation?patient=Patient/x", None),
        ("Observation?patient=", None),
        ("ServiceRequest?performer=F-1", None),
        ("Patient?birthdate=ge2026-01-01", None),
    ],
)
async def test_the_person_a_criteria_names_only_rules_out_other_people(criteria: str, person):
    assert subscriptions.named_person(criteria) == person
    assert subscriptions.may_match(subscriptions.named_person(criteria), 5)
    assert subscriptions.may_match(subscriptions.named_person(criteria), None)
    assert subscriptions.may_match(subscriptions.named_person(criteria), 6) is (person is None)


async def test_a_change_about_another_person_queues_no_matching(
    client, db, make_facility, make_person, make_user, login
):
    from salomat.core import events

    fac = await make_facility()
    watched = await make_person(facility_code=fac.code)
    doctor = await login(await make_user("family_doctor", facility_code=fac.code))
    await subscribe(
        client,
        doctor,
        subscription(f"Immunization?patient=Patient/{watched.id}", "http://127.0.0.1:9/h"),
    )

    async def matching_jobs() -> int:
        found = await db.scalars(
            select(jobs.Job.payload).where(jobs.Job.kind == subscriptions.MATCH)
        )
        return sum(1 for p in found if json.loads(p)["id"] == "987654321")

    before = await matching_jobs()
    async with session_factory()() as s:
        await events.publish(s, events.ResourceChanged("Immunization", "987654321", watched.id + 1))
        await s.commit()
    assert await matching_jobs() == before
    async with session_factory()() as s:
        await events.publish(s, events.ResourceChanged("Immunization", "987654321", watched.id))
        await s.commit()
    assert await matching_jobs() == before + 1
    await run_jobs()  # the resource does not exist: the search finds nothing, no delivery
