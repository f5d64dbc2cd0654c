"""The issue's "Checked by": every published profile and the resources our mappers emit,
validated by an independent validator (tests/external/node/profiles.mjs: HL7's
fhirpath.js, written from the R4 profiling rules, reading only the live server's
StructureDefinitions and ValueSet expansions), and every StructureDefinition by HL7's R4
JSON schema. Our ``$validate`` and it agree on every case: the resources conform, and
each deliberately broken one fails both with the same elements and rules."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import httpx
import pytest

from salomat.country import national_id
from salomat.fhir import profiles
from tests.factories import national_id_for
from tests.fhir.profile_check import check_ndjson, run
from tests.fhir.test_profiles import broken_cases, emitted, profile_for
from tests.fhir.validator import require_node

pytestmark = pytest.mark.anyio
FHIR_JSON = "application/fhir+json"
SD = profiles.PROFILE_BASE


async def token(base: str, account: Any) -> str:
    async with httpx.AsyncClient(base_url=base) as http:
        r = await http.post(
            "/auth/token", data={"username": account.username, "password": account.password}
        )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


@pytest.fixture
def node() -> str:
    return require_node()


def kazakh(patient: dict[str, Any]) -> dict[str, Any]:
    """The Patient as the Kazakh pack's server emits it: its IIN in the KZ system."""
    born = date.fromisoformat(patient["birthDate"])
    ident = {
        **patient["identifier"][0],
        "system": national_id.system_uri("KZ"),
        "value": national_id_for(born, patient["gender"], "KZ"),
    }
    return {**patient, "identifier": [ident]}


def ours(outcome: dict[str, Any]) -> list[tuple[str, str]]:
    """Our $validate's errors as (element path without indexes, issue code)."""
    return sorted(
        (re.sub(r"\[\d+\]", "", i["expression"][0]), i["code"])
        for i in outcome["issue"]
        if i["severity"] in ("error", "fatal")
    )


def theirs(problems: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((p["path"].removesuffix("[x]"), p["code"]) for p in problems)


async def test_the_independent_validator_and_our_validate_agree(
    node, live_server, db, make_facility, make_person, make_user
):
    async with httpx.AsyncClient(base_url=live_server) as http:

        async def auth(account: Any) -> dict[str, str]:
            return {"Authorization": f"Bearer {await token(live_server, account)}"}

        found = await emitted(http, db, make_facility, make_person, make_user, auth)
        found["patient-kz"] = kazakh(found["patient"])
        reader = await make_user("family_doctor", facility_code=(await make_facility()).code)
        bearer = await token(live_server, reader)
        h = {"Authorization": f"Bearer {bearer}", "Content-Type": FHIR_JSON}

        cases: dict[str, tuple[dict[str, Any], str]] = {
            label: (res, profile_for(label, res)) for label, res in found.items()
        }
        broken = broken_cases(found)
        cases.update({f"broken-{k}": v for k, v in broken.items()})

        answer = await run(
            [(label, res, SD + profile) for label, (res, profile) in cases.items()],
            base=f"{live_server}/fhir",
            token=bearer,
        )
        # every published profile passes HL7's R4 JSON schema and the rules of a
        # constraint profile
        assert set(answer["definitions"]) == {p.id for p in profiles.profiles()}
        assert answer["definitions"] == {p.id: [] for p in profiles.profiles()}

        for label, (res, profile) in cases.items():
            r = await http.post(
                f"/fhir/{res['resourceType']}/$validate",
                params={"profile": SD + profile},
                json=res,
                headers=h,
            )
            assert r.status_code == 200, r.text
            mine, node_says = ours(r.json()), theirs(answer["results"][label])
            assert mine == node_says, (label, r.json(), answer["results"][label])
            if label.startswith("broken-"):
                assert mine, label  # each broken case is found by both
            else:
                assert mine == [], label

        # the bulk export's entry point: NDJSON lines, the profiles of their type or their
        # meta.profile; a wrong check digit on line 2
        lines = [
            _json(found["patient"]),
            _json(broken["wrong-checksum"][0]),
            _json(found["immunization"]),
        ]
        problems = await check_ndjson(lines, base=f"{live_server}/fhir", token=bearer)
        assert [(p["line"], p["element"], p["code"]) for p in problems] == [
            (2, "Patient.identifier:pinfl", "invariant")
        ]

        # a child's doses as the packs' demo data enters them (no product: the vaccine
        # group) and a paper card's dose, one NDJSON line each as a bulk export writes
        # them: every one conforms; the same dose with an antigen not in the calendar
        # does not
        doses = [
            res
            for label, res in found.items()
            if label.startswith(("immunization-demo-", "immunization-no-product"))
        ]
        assert len(doses) > 10
        wrong = {**doses[0], "vaccineCode": {"coding": [{**_group(doses[0]), "code": "x"}]}}
        problems = await check_ndjson(
            [_json(r) for r in [*doses, wrong]], base=f"{live_server}/fhir", token=bearer
        )
        assert [(p["line"], p["element"], p["code"]) for p in problems] == [
            (len(doses) + 1, "Immunization.vaccineCode", "code-invalid")
        ]


def _group(imm: dict[str, Any]) -> dict[str, Any]:
    coding = imm["vaccineCode"]["coding"]
    assert [c["system"] for c in coding] == ["urn:salomat:immunization-series"]
    return dict(coding[0])


def _json(resource: dict[str, Any]) -> str:
    import json

    return json.dumps(resource, ensure_ascii=False)
