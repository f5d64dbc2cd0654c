"""FHIR Organization, Location, Practitioner, PractitionerRole, and the capability statement."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from fastapi.routing import iter_route_contexts
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome

from salomat.fhir import location, organization, practitioner
from salomat.fhir.api import AUDIT_PARAMS
from salomat.fhir.immunization_api import SEARCH_PARAMS as IMMUNIZATION_PARAMS
from salomat.fhir.maternal_api import SEARCH_PARAMS as MATERNAL_PARAMS
from salomat.fhir.patient_api import SEARCH_PARAMS as PATIENT_PARAMS
from salomat.fhir.prescription_api import SEARCH_PARAMS as PRESCRIPTION_PARAMS
from salomat.fhir.record_api import SEARCH_PARAMS as RECORD_PARAMS
from salomat.fhir.registry_api import KINDS
from salomat.fhir.sanatorium_api import CAPABILITIES as SANATORIUM_CAPABILITIES
from tests.factories import unique, unique_name

SANATORIUM_TYPES = {c["type"] for c in SANATORIUM_CAPABILITIES}

pytestmark = pytest.mark.anyio

FHIR_JSON = "application/fhir+json"


def ok(r, status: int = 200) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == FHIR_JSON
    body = r.json()
    if body["resourceType"] == "Bundle":
        Bundle.model_validate(body)
    else:
        assert r.headers["etag"] == f'W/"{body["meta"]["versionId"]}"'
    return body


def issues(r, status: int) -> set[str]:
    assert r.status_code == status, r.text
    body = r.json()
    OperationOutcome.model_validate(body)
    return {x for i in body["issue"] for x in i.get("expression", [])}


def ids(b: dict) -> list[str]:
    return [e["resource"]["id"] for e in b.get("entry", [])]


@pytest.fixture
async def admin(make_user, login):
    return await login(await make_user("admin"))


def org_body(code: str, **extra) -> dict:
    return {
        "resourceType": "Organization",
        "identifier": [{"system": "urn:salomat:facility", "value": code}],
        "type": [{"coding": [{"system": organization.TYPE_SYSTEM, "code": "family_polyclinic"}]}],
        "name": "Family polyclinic No. 7",
        **extra,
    }


# ---- Organization ---------------------------------------------------------------------------


async def test_organization_create_read_search_update_history(client, admin, make_user, login):
    code = unique("FP")
    body = org_body(code, telecom=[{"system": "phone", "value": "+998712345678"}])
    r = await client.post("/fhir/Organization", json=body, headers=admin)
    created = ok(r, 201)
    oid = created["id"]
    assert r.headers["location"].endswith(f"/fhir/Organization/{oid}/_history/1")
    assert "last-modified" in r.headers
    assert created["active"] is True
    assert created["identifier"][0]["value"] == code
    assert created["telecom"][0]["value"] == "+998712345678"

    nurse = await login(await make_user("nurse"))
    assert ok(await client.get(f"/fhir/Organization/{oid}", headers=nurse)) == created
    found = ok(
        await client.get(
            "/fhir/Organization",
            params={"identifier": f"urn:salomat:facility|{code}"},
            headers=nurse,
        )
    )
    assert ids(found) == [oid]
    assert (
        ids(ok(await client.get("/fhir/Organization", params={"identifier": "x|y"}, headers=nurse)))
        == []
    )
    assert issues(await client.post("/fhir/Organization", json=body, headers=nurse), 403) == set()

    again = await client.post(
        "/fhir/Organization",
        json=body,
        headers={**admin, "If-None-Exist": f"identifier=urn:salomat:facility|{code}"},
    )
    assert ok(again)["id"] == oid

    renamed = {**created, "name": "Family polyclinic No. 7 (Chilonzor)"}
    r = await client.put(
        f"/fhir/Organization/{oid}", json=renamed, headers={**admin, "If-Match": 'W/"1"'}
    )
    assert ok(r)["meta"]["versionId"] == "2"
    # the same resource again from version 1 is already the state: 200 with version 2
    r = await client.put(
        f"/fhir/Organization/{oid}", json=renamed, headers={**admin, "If-Match": 'W/"1"'}
    )
    assert ok(r)["meta"]["versionId"] == "2"
    other = {**created, "name": "Family polyclinic No. 8"}
    assert (
        issues(
            await client.put(
                f"/fhir/Organization/{oid}", json=other, headers={**admin, "If-Match": 'W/"1"'}
            ),
            412,
        )
        == set()
    )
    recoded = {**renamed, "identifier": [{"system": "urn:salomat:facility", "value": "OTHER"}]}
    assert issues(
        await client.put(
            f"/fhir/Organization/{oid}", json=recoded, headers={**admin, "If-Match": 'W/"2"'}
        ),
        422,
    ) == {"Organization.identifier"}

    h = ok(await client.get(f"/fhir/Organization/{oid}/_history", headers=nurse))
    assert [e["resource"]["meta"]["versionId"] for e in h["entry"]] == ["2", "1"]
    v1 = ok(await client.get(f"/fhir/Organization/{oid}/_history/1", headers=nurse))
    assert v1["name"] == "Family polyclinic No. 7"


async def test_organization_errors_name_the_element(client, admin):
    bad = org_body(unique("FP"))
    bad["type"][0]["coding"][0]["code"] = "spaceport"
    assert "Organization.type" in issues(
        await client.post("/fhir/Organization", json=bad, headers=admin), 422
    )
    bad = org_body(unique("FP"), name=7)
    assert issues(await client.post("/fhir/Organization", json=bad, headers=admin), 400) == {
        "Organization.name"
    }
    assert issues(
        await client.get("/fhir/Organization", params={"name": "x"}, headers=admin), 422
    ) == {"name"}
    assert issues(await client.get("/fhir/Organization/999999999", headers=admin), 404) == set()


async def test_organization_search_by_type_active_and_parent(client, admin, make_facility):
    parent = await make_facility("district_hospital")
    child_code = unique("FP")
    child = ok(
        await client.post(
            "/fhir/Organization",
            json=org_body(
                child_code,
                partOf={"identifier": {"system": "urn:salomat:facility", "value": parent.code}},
            ),
            headers=admin,
        ),
        201,
    )
    assert child["partOf"]["identifier"]["value"] == parent.code
    found = ok(
        await client.get(
            "/fhir/Organization",
            params={
                "partof": f"Organization/{parent.id}",
                "type": "family_polyclinic",
                "active": "true",
            },
            headers=admin,
        )
    )
    assert ids(found) == [child["id"]]


# ---- Location ----------------------------------------------------------------------------


def loc_body(code: str, level: str, name: str, parent: str | None = None, **extra) -> dict:
    body = {
        "resourceType": "Location",
        "identifier": [{"system": "urn:salomat:territory", "value": code}],
        "name": name,
        "type": [{"coding": [{"system": location.LEVEL_SYSTEM, "code": level}]}],
        **extra,
    }
    if parent:
        body["partOf"] = {"identifier": {"system": "urn:salomat:territory", "value": parent}}
    return body


async def test_location_units_nest_and_are_searched(client, admin, make_user, login):
    region, district = unique("R"), unique("D")
    r = ok(
        await client.post(
            "/fhir/Location", json=loc_body(region, "region", "Test region"), headers=admin
        ),
        201,
    )
    d = ok(
        await client.post(
            "/fhir/Location",
            json=loc_body(
                district,
                "district",
                "Test district",
                region,
                position={"latitude": 41.3, "longitude": 69.2},
            ),
            headers=admin,
        ),
        201,
    )
    assert d["partOf"]["identifier"]["value"] == region
    assert d["position"] == {"latitude": 41.3, "longitude": 69.2}
    analyst = await login(await make_user("analyst"))
    assert ids(
        ok(
            await client.get(
                "/fhir/Location", params={"partof": f"Location/{r['id']}"}, headers=analyst
            )
        )
    ) == [d["id"]]
    assert ids(
        ok(await client.get("/fhir/Location", params={"identifier": district}, headers=analyst))
    ) == [d["id"]]
    assert d["id"] in ids(
        ok(
            await client.get(
                "/fhir/Location",
                params={"name": "test district", "type": "district", "_count": 100},
                headers=analyst,
            )
        )
    )
    assert ok(await client.get(f"/fhir/Location/{d['id']}", headers=analyst)) == d

    renamed = {**d, "name": "Renamed district"}
    updated = ok(
        await client.put(
            f"/fhir/Location/{d['id']}", json=renamed, headers={**admin, "If-Match": 'W/"1"'}
        )
    )
    assert updated["name"] == "Renamed district"
    moved = {**updated, "partOf": {"identifier": {"system": "urn:salomat:territory", "value": "X"}}}
    assert issues(
        await client.put(
            f"/fhir/Location/{d['id']}", json=moved, headers={**admin, "If-Match": 'W/"2"'}
        ),
        422,
    ) == {"Location.partOf"}
    h = ok(await client.get(f"/fhir/Location/{d['id']}/_history", headers=analyst))
    assert h["total"] == 2
    assert issues(await client.get("/fhir/Location/999999999", headers=analyst), 404) == set()
    bad = loc_body(unique("D"), "district", "Orphan district")
    assert issues(await client.post("/fhir/Location", json=bad, headers=admin), 422)


# ---- Practitioner and PractitionerRole ---------------------------------------------------------


def pr_body(licence: str, **extra) -> dict:
    return {
        "resourceType": "Practitioner",
        "identifier": [{"system": practitioner.LICENCE_SYSTEM, "value": licence}],
        "name": [{"family": unique_name("Sh"), "given": ["Nodira", "Akmalovna"]}],
        "gender": "female",
        "qualification": [
            {
                "code": {
                    "coding": [
                        {"system": practitioner.SPECIALTY_SYSTEM, "code": "general_practice"}
                    ]
                },
                "period": {"end": "2030-12-31"},
            }
        ],
        **extra,
    }


async def test_practitioner_and_roles(client, admin, make_facility, make_user, login):
    fac = await make_facility()
    licence = unique("LIC")
    pr = ok(await client.post("/fhir/Practitioner", json=pr_body(licence), headers=admin), 201)
    pid = pr["id"]
    assert pr["name"][0]["given"] == ["Nodira", "Akmalovna"]
    assert pr["qualification"][0]["identifier"][0]["value"] == licence
    assert pr["qualification"][0]["period"]["end"] == "2030-12-31"
    doctor = await login(await make_user("family_doctor"))
    found = ok(
        await client.get(
            "/fhir/Practitioner",
            params={"identifier": f"{practitioner.LICENCE_SYSTEM}|{licence}"},
            headers=doctor,
        )
    )
    assert ids(found) == [pid]
    family = pr["name"][0]["family"]
    assert ids(
        ok(await client.get("/fhir/Practitioner", params={"name": family}, headers=doctor))
    ) == [pid]
    assert issues(
        await client.get("/fhir/Practitioner", params={"identifier": "123"}, headers=doctor), 422
    ) == {"identifier"}

    changed = {**pr, "telecom": [{"system": "phone", "value": "+998901112233"}]}
    upd = ok(
        await client.put(
            f"/fhir/Practitioner/{pid}", json=changed, headers={**admin, "If-Match": 'W/"1"'}
        )
    )
    assert upd["telecom"][0]["value"] == "+998901112233"

    start = date.today() - timedelta(days=30)
    role_body = {
        "resourceType": "PractitionerRole",
        "practitioner": {"reference": f"Practitioner/{pid}"},
        "organization": {"reference": f"Organization/{fac.id}"},
        "code": [{"coding": [{"system": practitioner.POSITION_SYSTEM, "code": "family_doctor"}]}],
        "period": {"start": start.isoformat()},
    }
    role = ok(await client.post("/fhir/PractitionerRole", json=role_body, headers=admin), 201)
    rid = role["id"]
    assert role["active"] is True
    assert role["organization"]["identifier"]["value"] == fac.code
    assert ok(await client.get(f"/fhir/PractitionerRole/{rid}", headers=doctor)) == role
    by_pr = ok(
        await client.get(
            "/fhir/PractitionerRole", params={"practitioner": f"Practitioner/{pid}"}, headers=doctor
        )
    )
    assert ids(by_pr) == [rid]
    by_org = ok(
        await client.get(
            "/fhir/PractitionerRole",
            params={"organization": f"Organization/{fac.id}"},
            headers=doctor,
        )
    )
    assert ids(by_org) == [rid]
    assert issues(await client.get("/fhir/PractitionerRole", headers=doctor), 422) == {
        "practitioner",
        "organization",
    }

    ended = {
        **role,
        "period": {
            "start": start.isoformat(),
            "end": (date.today() - timedelta(days=1)).isoformat(),
        },
    }
    r = await client.put(
        f"/fhir/PractitionerRole/{rid}", json=ended, headers={**admin, "If-Match": 'W/"1"'}
    )
    assert ok(r)["active"] is False
    assert (
        ids(
            ok(
                await client.get(
                    "/fhir/PractitionerRole",
                    params={"practitioner": pid, "active": "true"},
                    headers=doctor,
                )
            )
        )
        == []
    )
    other = await make_facility()
    moved = {**ended, "organization": {"reference": f"Organization/{other.id}"}}
    assert issues(
        await client.put(
            f"/fhir/PractitionerRole/{rid}", json=moved, headers={**admin, "If-Match": 'W/"2"'}
        ),
        422,
    ) == {"PractitionerRole.organization"}
    h = ok(await client.get(f"/fhir/PractitionerRole/{rid}/_history", headers=doctor))
    assert [e["request"]["method"] for e in h["entry"]] == ["PUT", "POST"]

    bad = {
        **role_body,
        "code": [{"coding": [{"system": practitioner.POSITION_SYSTEM, "code": "astronaut"}]}],
    }
    assert issues(await client.post("/fhir/PractitionerRole", json=bad, headers=admin), 422) == {
        "PractitionerRole.code"
    }
    bad = {**role_body, "practitioner": {"reference": "Practitioner/999999999"}}
    assert issues(await client.post("/fhir/PractitionerRole", json=bad, headers=admin), 422) == {
        "PractitionerRole.practitioner"
    }


# ---- the capability statement ---------------------------------------------------------------

#: (method, path pattern) -> the interaction it serves
_INTERACTIONS = [
    ("GET", r"/fhir/(\w+)", "search-type"),
    ("POST", r"/fhir/(\w+)", "create"),
    ("GET", r"/fhir/(\w+)/\{\w+\}", "read"),
    ("PUT", r"/fhir/(\w+)/\{\w+\}", "update"),
    ("DELETE", r"/fhir/(\w+)/\{\w+\}", "delete"),
    ("GET", r"/fhir/(\w+)/_history", "history-type"),
    ("PATCH", r"/fhir/(\w+)/\{\w+\}", "patch"),
    ("GET", r"/fhir/(\w+)/\{\w+\}/_history", "history-instance"),
    ("GET", r"/fhir/(\w+)/\{\w+\}/_history/\{\w+\}", "vread"),
    ("POST", r"/fhir/(\w+)/\$([\w-]+)", "operation"),
    ("POST", r"/fhir/(\w+)/\{\w+\}/\$([\w-]+)", "operation"),  # on an instance
    # the terminology operations answer GET too ($lookup, $validate-code, $expand)
    ("GET", r"/fhir/(\w+)/\$([\w-]+)", "operation"),
    ("GET", r"/fhir/(\w+)/\{\w+\}/\$([\w-]+)", "operation"),
]


def served(app) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """The app's FHIR routes as (resource, interaction) and (resource, operation); a
    system-level operation (``/fhir/$export``) as ("", name)."""
    interactions, operations = set(), set()
    for ctx in iter_route_contexts(app.routes):
        path = ctx.path
        # the Bulk Data kick-off's status and file URLs are the export's own, not FHIR
        # interactions (test_bulk_export.py)
        if path.startswith("/fhir/bulk/"):
            continue
        if system_op := re.fullmatch(r"/fhir/\$([\w-]+)", path):
            operations.add(("", system_op.group(1)))
            continue
        # /fhir/_history is the system's (rest.interaction history-system); the SMART
        # discovery document is declared by rest.security (test_smart_backend.py)
        if not path.startswith("/fhir/") or path in (
            "/fhir/metadata",
            "/fhir/_history",
            "/fhir/.well-known/smart-configuration",
        ):
            continue
        for method in ctx.methods or ():
            for m, pattern, name in _INTERACTIONS:
                hit = re.fullmatch(pattern, path)
                if m == method and hit:
                    if name == "operation":
                        operations.add((hit.group(1), hit.group(2)))
                    else:
                        interactions.add((hit.group(1), name))
                    break
            else:
                raise AssertionError(f"{method} {path} serves no known interaction")
    return interactions, operations


async def test_metadata_lists_exactly_the_routes_and_parameters(
    app, client, admin, make_user, login
):
    registrar = await login(await make_user("registrar"))
    r = await client.get("/fhir/metadata")
    cs = r.json()
    CapabilityStatement.model_validate(cs)
    resources = cs["rest"][0]["resource"]
    listed = {(res["type"], i["code"]) for res in resources for i in res["interaction"]}
    ops = {(res["type"], o["name"]) for res in resources for o in res.get("operation", [])}
    ops |= {("", o["name"]) for o in cs["rest"][0].get("operation", [])}
    assert (listed, ops) == served(app)
    assert {res["type"] for res in resources} == {
        "AuditEvent",
        "Patient",
        "Organization",
        "Location",
        "Practitioner",
        "PractitionerRole",
        "ServiceRequest",  # checked in test_maternal_exchange.py
        *MATERNAL_PARAMS,  # checked in test_maternal.py
        *IMMUNIZATION_PARAMS,  # checked in test_immunization.py
        "RelatedPerson",  # checked in test_child.py
        *PRESCRIPTION_PARAMS,  # checked in test_prescription.py
        "Claim",  # checked in test_claim.py
        "MedicationDispense",  # checked in test_dispense.py
        "DocumentReference",  # checked in test_sick_leave.py
        *SANATORIUM_TYPES,  # checked in test_sanatorium.py
        "Coverage",  # checked in test_insurance_coverage.py
        "CoverageEligibilityRequest",  # checked in test_insurance_coverage.py
        "ClaimResponse",  # checked in test_insurance_claims.py
        "PaymentReconciliation",  # checked in test_insurance_claims.py
        *RECORD_PARAMS,  # the shared record: checked in test_record.py
        "NamingSystem",  # checked in test_record.py
        "CodeSystem",  # checked in test_terminology.py
        "ValueSet",  # checked in test_terminology.py
        "Subscription",  # checked in test_subscription.py
        "Group",  # a facility's population: checked in test_bulk_export.py
        "StructureDefinition",  # the national profiles: checked in test_profiles.py
        "OperationDefinition",  # Condition/$notify's: checked in test_epidemic_operation.py
        "Measure",  # the health indicators: checked in tests/domains/statistics
        "MeasureReport",  # the health indicators' values: checked in tests/domains/statistics
        "CarePlan",  # a disease-management programme's schedule: checked in test_screening.py
    }
    # a create-only resource (CoverageEligibilityRequest) has no search parameters
    params = {res["type"]: {p["name"] for p in res.get("searchParam", [])} for res in resources}
    assert params["Patient"] == set(PATIENT_PARAMS) | {"_count"}
    for kind in KINDS:
        assert params[kind.type] == set(kind.params) | {"_count"}
        assert {
            i["code"] for res in resources if res["type"] == kind.type for i in res["interaction"]
        }
    assert params["AuditEvent"] == AUDIT_PARAMS - {"_offset"}
    # every advertised parameter is accepted; one more is refused
    samples = {
        "identifier": "x",
        "name": "Abc",
        "family": "Abc",
        "given": "Abc",
        "birthdate": "1990-01-01",
        "gender": "female",
        "general-practitioner": "Organization/1",
        "type": "x",
        "active": "true",
        "partof": "1",
        "practitioner": "Practitioner/1",
        "organization": "Organization/1",
        "near": "43.2|76.9|10|km",  # facility sites (tests/fhir/test_facility_registry.py)
        "_count": "5",
        "_id": "1",
        "_lastUpdated": "ge2000-01-01",
        "_sort": "-birthdate",
        "_summary": "count",
        "_elements": "gender",
        "_offset": "0",
    }
    for kind_type in ("Patient", "Organization", "Location", "Practitioner", "PractitionerRole"):
        auth = registrar if kind_type == "Patient" else admin
        for name in params[kind_type]:
            value = samples[name]
            if kind_type == "Practitioner" and name == "identifier":
                value = f"{practitioner.LICENCE_SYSTEM}|x"
            query = {name: value}
            if kind_type == "Patient" and name not in ("identifier", "name", "family", "given"):
                query["family"] = "Abc"
            if kind_type == "PractitionerRole" and name not in ("practitioner", "organization"):
                query["organization"] = "1"
            if kind_type == "Location" and name == "type":
                query[name] = "region"
            r = await client.get(f"/fhir/{kind_type}", params=query, headers=auth)
            assert r.status_code == 200, (kind_type, name, r.text)
        r = await client.get(f"/fhir/{kind_type}", params={"colour": "x"}, headers=auth)
        assert issues(r, 422) == {"colour"}
