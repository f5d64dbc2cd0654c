"""The bulk export and Patient/$everything over the care domains' own resources: the
pregnancy register (EpisodeOfCare, Encounter, Observation, RiskAssessment, DetectedIssue,
Condition), the child passport's growth Observations and the dispensings
(MedicationDispense), each from its own source, each only to a role whose permission
reads it (docs/exchange.md)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from sqlalchemy import select, update

from salomat.core import jobs
from salomat.core.audit import AuditEvent
from salomat.core.config import get_settings
from salomat.core.db import session_factory
from salomat.domains.maternal.models import Pregnancy
from salomat.domains.registry import service as registry
from salomat.domains.registry.schemas import RelationIn
from salomat.fhir import bulk_export
from tests.domains.prescription.claim_rows import dispense, make_rx
from tests.factories import unique
from tests.fhir.test_bulk_export import ASYNC, Killed, _job, claim_export, finished, ids, kick
from tests.fhir.test_cancer import TNM, submitted
from tests.fhir.test_sick_leave import CLERK
from tests.own_database import own_database_fixtures

pytestmark = pytest.mark.anyio

# it reads the whole database (the country's figures, an export of everything): a
# database of its own keeps its cost what this module wrote, not the whole run
own_database, app = own_database_fixtures("salomat_bulk_domains")

FHIR_JSON = "application/fhir+json"
TODAY = date.today()
MATERNAL = ("EpisodeOfCare", "Encounter", "RiskAssessment", "DetectedIssue", "ServiceRequest")


def source_of(res: dict[str, Any]) -> str:
    """``<type>-<domain>``, from the ids each domain gives (the shared record's ``shr-``,
    the passport's ``g``, the register's numbers)."""
    t, rid = res["resourceType"], res["id"]
    if rid.startswith("shr-"):
        return f"{t}-record"
    if rid.startswith("cancer-"):
        return f"{t}-cancer"
    if rid.startswith(("sanatorium-", "offer-", "stay-")) or t == "Task":
        return f"{t}-sanatorium"
    if t == "Observation" and rid.startswith("g"):
        return f"{t}-child"
    if t in (*MATERNAL, "Condition", "Observation"):
        return f"{t}-maternal"
    if t in ("MedicationDispense", "MedicationRequest"):
        return f"{t}-prescription"
    if t == "DocumentReference":
        return f"{t}-sick_leave"
    return t


async def files(client: Any, headers: dict[str, str], manifest: dict[str, Any]) -> dict:
    """Every file's resources by the domain they come from (``Observation-maternal``), each
    line valid for its type's R4B model; one source's resources all in its own files."""
    out: dict[str, list[dict[str, Any]]] = {}
    file_of: dict[str, str] = {}
    for item in manifest["output"]:
        url = item["url"].removeprefix("http://testserver")
        r = await client.get(url, headers=headers)
        assert r.status_code == 200, r.text
        lines = [json.loads(line) for line in r.text.splitlines()]
        assert len(lines) == item["count"]
        for res in lines:
            assert res["resourceType"] == item["type"]
            get_fhir_model_class(item["type"]).model_validate(res)
            source = source_of(res)
            out.setdefault(source, []).append(res)
            # a file holds one source's resources
            assert file_of.setdefault(url, source) == source, url
    return out


def subjects(resources: list[dict[str, Any]]) -> set[str]:
    return {(r.get("subject") or r.get("patient"))["reference"] for r in resources}


@pytest.fixture
async def world(client, db, make_facility, make_person, make_user, login) -> dict[str, Any]:
    """A polyclinic with a pregnant woman (a chronic condition recorded, two contacts with
    raised pressure: advice, a diagnosis, a risk level), a baby with a growth measurement,
    and a man with a prescription dispensed at a pharmacy and a staged cancer in the
    registry; the polyclinic's family doctor, nurse, oncologist and registrar, and the
    statistician."""
    a, pharmacy = await make_facility(), await make_facility()
    woman = await make_person(a.code, sex="female")
    baby = await make_person(a.code, birth_date=TODAY - timedelta(days=200), sex="female")
    man = await make_person(a.code, birth_date=date(1975, 5, 5), sex="male")
    doctor = await login(await make_user("family_doctor", facility_code=a.code))
    nurse = await login(await make_user("nurse", facility_code=a.code))
    lmp = TODAY - timedelta(weeks=24)
    r = await client.post(
        f"/api/v1/persons/{woman.id}/pregnancies",
        json={
            "lmp": lmp.isoformat(),
            "gravida": 2,
            "parity": 1,
            "registered_on": (lmp + timedelta(weeks=10)).isoformat(),
            "conditions": ["chronic_hypertension"],
        },
        headers=doctor,
    )
    assert r.status_code == 201, r.text
    preg = r.json()
    for days_ago in (14, 7):
        etag = (await client.get(f"/api/v1/pregnancies/{preg['id']}", headers=doctor)).headers[
            "etag"
        ]
        r = await client.post(
            f"/api/v1/pregnancies/{preg['id']}/contacts",
            json={
                "on": (TODAY - timedelta(days=days_ago)).isoformat(),
                "systolic_1": 150,
                "diastolic_1": 100,
                "systolic_2": 150,
                "diastolic_2": 100,
                "urine_protein": "none",
                "weight_kg": 70,
            },
            headers={**doctor, "If-Match": etag},
        )
        assert r.status_code == 201, r.text
    screening = await make_facility("screening_centre")
    r = await client.post(
        f"/api/v1/pregnancies/{preg['id']}/referrals",
        json={"kind": "screening", "reason": "anomaly scan", "to_facility_code": screening.code},
        headers=doctor,
    )
    assert r.status_code == 201, r.text
    referral = r.json()
    r = await client.post(
        f"/api/v1/persons/{baby.id}/growth",
        json={"weight_kg": 7.0, "length_or_height_cm": 64, "measured_lying": True},
        headers=nurse,
    )
    assert r.status_code == 201, r.text
    rx = await make_rx(db, man.id, a.id)
    dispensed = await dispense(db, rx, pharmacy.id)
    # the man's cancer, notified by his family doctor, staged
    stage = {"summary": {"coding": [{"system": TNM, "version": "8", "code": "IIIA"}]}}
    r = await client.post(
        "/fhir/Condition",
        json=submitted(man.id, unique("HX-"), stage=stage),
        headers={**doctor, "Content-Type": FHIR_JSON},
    )
    assert r.status_code == 201, r.text
    tumour = r.json()
    # his referral to a sanatorium: in the queue
    r = await client.post(
        f"/api/v1/persons/{man.id}/sanatorium-referrals",
        json={"indication": "I25.1", "category": "disability_1_2"},
        headers=doctor,
    )
    assert r.status_code == 201, r.text
    sanatorium_referral = r.json()
    # his sick leave (influenza), and a 16-year-old's, whose mother reads his record
    certificates = {}
    teen = await make_person(
        a.code, birth_date=date(TODAY.year - 16, 1, 1) - timedelta(days=40), sex="male"
    )
    mother = await make_person(birth_date=date(1980, 2, 2), sex="female")
    await registry.add_relation(
        db, CLERK, teen.id, RelationIn(related_person_id=mother.id, kind="mother", document="B-1")
    )
    await db.commit()
    for person in (man, teen):
        r = await client.post(
            f"/api/v1/persons/{person.id}/sick-leave",
            json={"reason": "own_illness", "diagnosis": "J11.1", "days": 5},
            headers=doctor,
        )
        assert r.status_code == 201, r.text
        certificates[person.id] = r.json()["id"]
    return {
        "a": a,
        "woman": woman,
        "baby": baby,
        "man": man,
        "preg": preg,
        "referral": referral,
        "dispensed": dispensed,
        "tumour": tumour,
        "sanatorium_referral": sanatorium_referral,
        "teen": teen,
        "certificates": certificates,
        "man_citizen": await login(await make_user("citizen", person_id=man.id)),
        "mother": await login(await make_user("citizen", person_id=mother.id)),
        "doctor_account": (account := await make_user("family_doctor", facility_code=a.code)),
        "doctor": await login(account),
        "nurse": nurse,
        "oncologist": await login(await make_user("oncologist", facility_code=a.code)),
        "registrar": await login(await make_user("registrar", facility_code=a.code)),
        "statistician": await login(await make_user("statistician")),
    }


async def export(client: Any, who: dict[str, str], **params: Any) -> tuple[dict, dict]:
    status = await kick(client, who, "/fhir/Patient/$export", params=params)
    manifest = await finished(client, who, status)
    return manifest, await files(client, who, manifest)


async def test_a_doctor_exports_each_domains_resources_from_its_own_source(client, world):
    w = world
    manifest, got = await export(client, w["doctor"])
    woman, baby, man = (f"Patient/{w[k].id}" for k in ("woman", "baby", "man"))
    # the pregnancy register (pregnancy:read)
    assert ids(got["EpisodeOfCare-maternal"]) == {str(w["preg"]["id"])}
    assert subjects(got["EpisodeOfCare-maternal"]) == {woman}
    assert len(got["Encounter-maternal"]) == 2
    assert subjects(got["Encounter-maternal"]) == {woman}
    maternal_obs = ids(got["Observation-maternal"])
    assert f"p{w['preg']['id']}-edd" in maternal_obs
    assert any(i.endswith("-bp1") for i in maternal_obs)
    assert subjects(got["Observation-maternal"]) == {woman}
    assert subjects(got["RiskAssessment-maternal"]) == {woman}
    assert len(got["DetectedIssue-maternal"]) >= 1
    assert subjects(got["DetectedIssue-maternal"]) == {woman}
    assert f"{w['preg']['id']}-reg-chronic-hypertension" in ids(got["Condition-maternal"])
    # her referral (referral:read)
    assert ids(got["ServiceRequest-maternal"]) == {str(w["referral"]["id"])}
    assert subjects(got["ServiceRequest-maternal"]) == {woman}
    # the child passport (child:read): her growth, in a file of its own
    assert subjects(got["Observation-child"]) == {baby}
    assert all(o["id"].startswith("g") for o in got["Observation-child"])
    # the dispensings (prescription:read)
    assert ids(got["MedicationDispense-prescription"]) == {str(w["dispensed"].id)}
    assert subjects(got["MedicationDispense-prescription"]) == {man}
    # the cancer registry (cancer:read): the tumour and its stage
    tumour = w["tumour"]["id"]
    assert ids(got["Condition-cancer"]) == {tumour}
    assert ids(got["Observation-cancer"]) == {tumour.replace("cancer-", "cancer-stage-")}
    assert subjects(got["Condition-cancer"]) == {man}
    # the sanatorium (sanatorium:read): his referral and its place in the queue
    referral_id = w["sanatorium_referral"]["id"]
    assert ids(got["ServiceRequest-sanatorium"]) == {f"sanatorium-{referral_id}"}
    [task] = got["Task-sanatorium"]
    assert task["for"]["reference"] == man
    assert any(o["type"]["coding"][0]["code"] == "position" for o in task.get("output", []))
    # the sick-leave certificates (sick_leave:read), with the diagnosis a clinician sees
    certificates = {d["id"]: d for d in got["DocumentReference-sick_leave"]}
    assert set(certificates) == {str(c) for c in w["certificates"].values()}
    mine = certificates[str(w["certificates"][w["man"].id])]
    assert mine["subject"]["reference"] == man
    assert mine["contained"][0]["code"]["coding"][0]["code"] == "J11.1"
    # the insurance cover (insurance:eligibility), today's, of each person
    people = {w[k].id for k in ("woman", "baby", "man", "teen")}
    assert {c["id"] for c in got["Coverage"]} == {str(p) for p in people}
    assert {c["beneficiary"]["reference"] for c in got["Coverage"]} == {
        f"Patient/{p}" for p in people
    }
    # a type with several sources: a file for each, each typed Observation
    observation_files = [o["url"] for o in manifest["output"] if o["type"] == "Observation"]
    assert len(set(observation_files)) == 3, observation_files
    # each line is what the domain's own FHIR read answers
    for resources in got.values():
        for res in resources:
            r = await client.get(f"/fhir/{res['resourceType']}/{res['id']}", headers=w["doctor"])
            assert r.status_code == 200, (res["resourceType"], res["id"], r.text)
            assert r.json() == res, res["resourceType"]
    # each person's export audited under the FHIR type
    async with session_factory()() as s:
        rows = set(
            (
                await s.execute(
                    select(AuditEvent.resource_type, AuditEvent.purpose).where(
                        AuditEvent.patient_id == w["woman"].id,
                        AuditEvent.username == w["doctor_account"].username,
                    )
                )
            ).all()
        )
    for t in (*MATERNAL, "Condition", "Observation"):
        assert (t, "bulk export") in rows, t


async def test_a_role_without_a_domains_permission_gets_no_file_of_it(client, world):
    w = world
    # the oncologist reads prescriptions and the shared record, not the pregnancy register
    # or the child passport
    manifest, got = await export(client, w["oncologist"])
    register_only = {"EpisodeOfCare", "RiskAssessment", "DetectedIssue"}
    assert not register_only & {o["type"] for o in manifest["output"]}
    assert not [s for s in got if s.endswith(("-maternal", "-child"))], set(got)
    assert ids(got["MedicationDispense-prescription"]) == {str(w["dispensed"].id)}
    # the register's alone
    for t in sorted(register_only):
        r = await client.get(
            "/fhir/Patient/$export", params={"_type": t}, headers={**w["oncologist"], **ASYNC}
        )
        assert r.status_code == 403, (t, r.text)
    # Encounter, Condition and Observation she reads in the shared record: asked for, the
    # pregnancy's and the passport's are not there
    manifest, got = await export(client, w["oncologist"], _type="Encounter,Condition,Observation")
    assert not [s for s in got if s.endswith(("-maternal", "-child"))], set(got)
    assert ids(got["Condition-cancer"]) == {w["tumour"]["id"]}  # she reads the registry
    # the nurse reads the pregnancy register, not the cancer registry
    manifest, got = await export(client, w["nurse"])
    assert "Condition-maternal" in got
    assert not [s for s in got if s.endswith("-cancer")], set(got)
    # the registrar reads people and their insurance cover: no diagnosis, no dispensing
    manifest, got = await export(client, w["registrar"])
    assert {o["type"] for o in manifest["output"]} == {"Patient", "Coverage"}
    for t in (
        "Condition",
        "MedicationDispense",
        "Observation",
        "EpisodeOfCare",
        "DocumentReference",
    ):
        r = await client.get(
            "/fhir/Patient/$export", params={"_type": t}, headers={**w["registrar"], **ASYNC}
        )
        assert r.status_code == 403, (t, r.text)
    # the statistics office's agreement stays Patient and Immunization
    recent = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    status = await kick(client, w["statistician"], "/fhir/$export", params={"_since": recent})
    manifest = await finished(client, w["statistician"], status)
    assert {o["type"] for o in manifest["output"]} <= {"Patient", "Immunization"}
    r = await client.get(
        "/fhir/$export", params={"_type": "Condition"}, headers={**w["statistician"], **ASYNC}
    )
    assert r.status_code == 403, r.text


async def test_patient_everything_holds_the_domains_resources_the_caller_may_read(client, world):
    w = world

    async def everything(who: str, person: str, **params: Any) -> list[dict[str, Any]]:
        r = await client.get(
            f"/fhir/Patient/{w[person].id}/$everything",
            params={"_count": "100", **params},
            headers=w[who],
        )
        assert r.status_code == 200, r.text
        return [e["resource"] for e in r.json().get("entry", [])]

    found = await everything("doctor", "woman")
    kinds = {r["resourceType"] for r in found}
    assert {"Patient", *MATERNAL, "Condition", "Observation"} <= kinds, kinds
    assert f"{w['preg']['id']}-reg-chronic-hypertension" in {
        r["id"] for r in found if r["resourceType"] == "Condition"
    }
    growth = [r for r in await everything("nurse", "baby") if r["resourceType"] == "Observation"]
    assert growth
    assert all(r["id"].startswith("g") for r in growth)
    assert [r["id"] for r in await everything("doctor", "man", _type="MedicationDispense")] == [
        str(w["dispensed"].id)
    ]
    found = await everything("doctor", "man", _type="Condition,Observation")
    assert {r["id"] for r in found} == {
        w["tumour"]["id"],
        w["tumour"]["id"].replace("cancer-", "cancer-stage-"),
    }
    assert {r["resourceType"] for r in await everything("nurse", "man")} == {
        "Patient",
        "MedicationRequest",
        "MedicationDispense",
        "DocumentReference",
        "Coverage",
        "ServiceRequest",
        "Task",
    }  # the nurse reads no cancer registry
    # a certificate's diagnosis: to the holder herself, never to his mother (as its read)
    [own] = await everything("man_citizen", "man", _type="DocumentReference")
    assert own["contained"][0]["code"]["coding"][0]["code"] == "J11.1"
    r = await client.get(
        f"/fhir/Patient/{w['teen'].id}/$everything",
        params={"_type": "DocumentReference"},
        headers=w["mother"],
    )
    assert r.status_code == 200, r.text
    [theirs] = [e["resource"] for e in r.json()["entry"]]
    assert theirs["id"] == str(w["certificates"][w["teen"].id])
    assert "contained" not in theirs
    assert "J11" not in r.text
    assert "own_illness" not in r.text
    assert (
        theirs
        == (await client.get(f"/fhir/DocumentReference/{theirs['id']}", headers=w["mother"])).json()
    )
    # without the permission: none of it
    for who, person in (("oncologist", "woman"), ("registrar", "woman"), ("registrar", "man")):
        found = await everything(who, person)
        assert {r["resourceType"] for r in found} == {"Patient", "Coverage"}, (who, person)
    # the citizen checks no one's insurance cover through FHIR (insurance:eligibility)
    assert "Coverage" not in {r["resourceType"] for r in await everything("man_citizen", "man")}


async def test_since_takes_the_pregnancies_changed_after_it(client, world):
    w = world
    at = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    async with session_factory()() as s:
        await s.execute(
            update(Pregnancy).where(Pregnancy.id == w["preg"]["id"]).values(updated_at=at)
        )
        await s.commit()

    async def exported(since: datetime) -> dict:
        stamp = since.strftime("%Y-%m-%dT%H:%M:%SZ")
        _, got = await export(
            client, w["doctor"], _since=stamp, _type="EpisodeOfCare,Encounter,Condition"
        )
        return got

    before = await exported(at - timedelta(seconds=1))
    assert ids(before["EpisodeOfCare-maternal"]) == {str(w["preg"]["id"])}
    assert len(before["Encounter-maternal"]) == 2  # with all its contacts
    assert "Condition-maternal" in before
    for later in (at, at + timedelta(seconds=1)):
        got = await exported(later)
        assert not [s for s in got if s.endswith("-maternal")], set(got)


async def test_a_worker_killed_in_a_later_source_resumes_and_writes_each_line_once(
    client, world, monkeypatch
):
    w = world
    monkeypatch.setattr(get_settings(), "bulk_page_size", 1)
    monkeypatch.setattr(get_settings(), "bulk_file_lines", 2)
    # what an export nobody killed writes
    _, whole = await export(client, w["doctor"])
    status = await kick(client, w["doctor"], "/fhir/Patient/$export")
    claimed = await claim_export(status, "worker-a")

    class Dying(jobs.JobContext):
        async def progress(self, done, total=None, checkpoint=None):  # type: ignore[override]
            # a page of the child passport's source written, its checkpoint never saved
            if (
                checkpoint is not None
                and checkpoint["sources"][checkpoint["t"]] == "Observation:child"
                and checkpoint["lines"] > 0
            ):
                raise Killed
            await super().progress(done, total, checkpoint)

    ctx = Dying(claimed.id, claimed.kind, claimed.payload, 1, None, "worker-a")
    with pytest.raises(Killed):
        await bulk_export.run_export(ctx)
    async with session_factory()() as s:
        await s.execute(
            update(jobs.Job)
            .where(jobs.Job.id == claimed.id)
            .values(locked_until=datetime.now(UTC) - timedelta(seconds=1))
        )
        await s.commit()
    saved = (await _job(claimed.id)).checkpoint
    assert saved is not None
    assert saved["sources"][saved["t"]] == "Observation:child"
    assert await jobs.run_one(worker="worker-b", only=[bulk_export.bulk.EXPORT_KIND]) == claimed.id
    view = await _job(claimed.id)
    assert (view.status, view.attempts) == ("done", 2)
    manifest = (await client.get(status, headers=w["doctor"])).json()
    got = await files(client, w["doctor"], manifest)
    assert set(got) == set(whole)
    for source, resources in got.items():
        # each resource once, and the same as the uninterrupted export's
        assert len(ids(resources)) == len(resources), source
        assert sorted(json.dumps(r, sort_keys=True) for r in resources) == sorted(
            json.dumps(r, sort_keys=True) for r in whole[source]
        ), source
    assert len(got["Observation-child"]) >= 1


async def test_since_filters_each_source_on_its_own_last_change(client, world):
    """Growth on when it was recorded (or marked in error), a dispensing on when it was
    made, a tumour and a certificate on their last change; the insurance cover, computed
    on each read, whatever ``_since``."""
    from salomat.domains.cancer.models import CancerTumour
    from salomat.domains.child.models import GrowthMeasurement
    from salomat.domains.prescription.models import Dispensing
    from salomat.domains.sickleave.models import SickLeaveCertificate

    w = world
    at = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    tumour_id = int(w["tumour"]["id"].removeprefix("cancer-"))
    async with session_factory()() as s:
        for stmt in (
            update(GrowthMeasurement)
            .where(GrowthMeasurement.person_id == w["baby"].id)
            .values(recorded_at=at),
            update(Dispensing).where(Dispensing.id == w["dispensed"].id).values(dispensed_at=at),
            update(CancerTumour).where(CancerTumour.id == tumour_id).values(updated_at=at),
            update(SickLeaveCertificate)
            .where(SickLeaveCertificate.person_id == w["man"].id)
            .values(updated_at=at),
        ):
            await s.execute(stmt.execution_options(synchronize_session=False))
        await s.commit()
    wanted = ("Observation-child", "MedicationDispense-prescription", "Condition-cancer")

    async def exported(since: datetime) -> dict:
        _, got = await export(client, w["doctor"], _since=since.strftime("%Y-%m-%dT%H:%M:%SZ"))
        return got

    before = await exported(at - timedelta(seconds=1))
    for source in (*wanted, "DocumentReference-sick_leave"):
        assert source in before, (source, set(before))
    assert ids(before["DocumentReference-sick_leave"]) == {
        str(w["certificates"][w["man"].id])
    }  # not the teen's, unchanged since
    for later in (at, at + timedelta(seconds=1)):
        got = await exported(later)
        assert not set(wanted) & set(got), set(got)
        assert "DocumentReference-sick_leave" not in got
        assert str(w["man"].id) in ids(got["Coverage"])  # the cover today, always
