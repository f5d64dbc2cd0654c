"""FHIR terminology: CodeSystem and ValueSet (read, search), $lookup, $validate-code and
$expand for every code system the platform uses, GET and POST, type and instance level."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.codesystem import CodeSystem
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.parameters import Parameters
from fhir.resources.R4B.valueset import ValueSet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salomat.fhir import terminology

pytestmark = pytest.mark.anyio

FHIR_JSON = "application/fhir+json"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
VACCINE = "urn:salomat:vaccine"
CVX = "http://hl7.org/fhir/sid/cvx"
SERIES = "urn:salomat:immunization-series"
MODELS = {
    "Bundle": Bundle,
    "CodeSystem": CodeSystem,
    "ValueSet": ValueSet,
    "Parameters": Parameters,
    "OperationOutcome": OperationOutcome,
}


def ok(r: Any, status: int = 200) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == FHIR_JSON
    body = r.json()
    MODELS[body["resourceType"]].model_validate(body)
    return body


def refused(r: Any, status: int) -> set[str]:
    assert r.status_code == status, r.text
    body = r.json()
    OperationOutcome.model_validate(body)
    return {x for i in body["issue"] for x in i.get("expression", [])}


def param(body: dict[str, Any], name: str) -> Any:
    for p in body["parameter"]:
        if p["name"] == name:
            return next(v for k, v in p.items() if k.startswith("value"))
    return None


def designations(body: dict[str, Any]) -> dict[str, str]:
    out = {}
    for p in body["parameter"]:
        if p["name"] == "designation":
            parts = {
                q["name"]: next(v for k, v in q.items() if k.startswith("value")) for q in p["part"]
            }
            out[parts["language"]] = parts["value"]
    return out


@pytest.fixture
async def staff(make_facility, make_user, login) -> dict[str, str]:
    fac = await make_facility()
    return await login(await make_user("family_doctor", facility_code=fac.code))


def _terms() -> terminology.Terminology:
    return terminology.current()


# ---- every code system answers -------------------------------------------------------


async def test_every_code_system_is_listed_and_read(client, staff):
    terms = _terms()
    r = await client.get("/fhir/CodeSystem", params={"_count": "100"}, headers=staff)
    body = ok(r)
    listed = {e["resource"]["url"] for e in body["entry"]}
    assert listed == set(terms.systems)
    assert body["total"] == len(terms.systems)
    for cs in terms.systems.values():
        res = ok(await client.get(f"/fhir/CodeSystem/{cs.id}", headers=staff))
        assert res["url"] == cs.url
        assert res["content"] == cs.content
        if cs.content != "not-present":
            assert [c["code"] for c in res["concept"]] == [c.code for c in cs.concepts]


async def test_every_code_system_validates_a_known_code_and_refuses_an_unknown_one(client, staff):
    terms = _terms()
    for cs in terms.systems.values():
        if cs.resolver is not None:
            continue  # kept in the database: the territory and formulary tests below
        known = cs.all()[0].code if cs.all() else {"icd-o-3": "C18.2", "uicc-tnm": "pT2a"}[cs.id]
        assert known is not None, cs.id
        r = await client.get(
            "/fhir/CodeSystem/$validate-code",
            params={"url": cs.url, "code": known},
            headers=staff,
        )
        assert param(ok(r), "result") is True, (cs.id, r.text)
        r = await client.get(
            "/fhir/CodeSystem/$validate-code",
            params={"url": cs.url, "code": "no-such-code-x"},
            headers=staff,
        )
        body = ok(r)
        assert param(body, "result") is False
        assert "no-such-code-x" in param(body, "message")


async def test_lookup_gives_the_name_in_each_language_the_pack_has(client, staff):
    terms = _terms()
    for cs in terms.systems.values():
        for c in cs.concepts:
            for lang, text in c.names:
                r = await client.get(
                    "/fhir/CodeSystem/$lookup",
                    params={"system": cs.url, "code": c.code, "displayLanguage": lang},
                    headers=staff,
                )
                body = ok(r)
                assert param(body, "display") == text
                assert designations(body)[lang] == text


async def test_a_vaccine_has_its_uzbek_and_russian_names(client, staff):
    terms = _terms()
    bcg = terms.systems[VACCINE].find("bcg")
    assert bcg is not None
    body = ok(
        await client.get(
            "/fhir/CodeSystem/$lookup",
            params={"system": VACCINE, "code": "bcg", "displayLanguage": "ru"},
            headers=staff,
        )
    )
    assert param(body, "display") == "БЦЖ"
    assert designations(body)["en"] == "BCG"


# ---- ICD-10 ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("A00", True),
        ("A00.0", True),
        ("U85", True),
        ("A000", False),
        ("A00-A09", False),
        ("I", False),
        ("Z99.9", True),
        ("Z99.99", False),
    ],
)
async def test_icd10_validates_every_who_category_and_subcategory(client, staff, code, valid):
    body = ok(
        await client.get(
            "/fhir/CodeSystem/$validate-code",
            params={"url": ICD10, "code": code},
            headers=staff,
        )
    )
    assert param(body, "result") is valid
    if valid:
        assert param(body, "display")


async def test_icd10_expands_in_pages_with_a_filter(client, staff):
    url = terminology.value_set_url("icd-10")
    total = len(_terms().systems[ICD10].all())
    first = ok(
        await client.get(
            "/fhir/ValueSet/$expand", params={"url": url, "count": "10"}, headers=staff
        )
    )
    assert first["expansion"]["total"] == total > 12000
    assert [c["code"] for c in first["expansion"]["contains"]][:3] == ["A00", "A00.0", "A00.1"]
    # the last page: one below, at and past the end
    for offset, n in ((total - 1, 1), (total, 0), (total + 1, 0)):
        page = ok(
            await client.get(
                "/fhir/ValueSet/icd-10/$expand",
                params={"count": "10", "offset": str(offset)},
                headers=staff,
            )
        )
        assert len(page["expansion"].get("contains", [])) == n
    found = ok(
        await client.get(
            "/fhir/ValueSet/$expand",
            params={"url": url, "filter": "cholera", "count": "1000"},
            headers=staff,
        )
    )
    codes = {c["code"] for c in found["expansion"]["contains"]}
    assert {"A00", "A00.0", "A00.1", "A00.9"} <= codes


async def test_icdo3_validates_but_is_not_expanded(client, staff):
    r = await client.get("/fhir/ValueSet/icd-o-3/$expand", headers=staff)
    assert refused(r, 422) == {"url"}
    body = ok(
        await client.get(
            "/fhir/ValueSet/icd-o-3/$validate-code",
            params={"system": "http://terminology.hl7.org/CodeSystem/icd-o-3", "code": "8140/3"},
            headers=staff,
        )
    )
    assert param(body, "result") is True


@pytest.mark.parametrize(("count", "status"), [("999", 200), ("1000", 200), ("1001", 422)])
async def test_expand_count_is_bounded(client, staff, count, status):
    r = await client.get("/fhir/ValueSet/icd-10/$expand", params={"count": count}, headers=staff)
    if status == 200:
        assert len(ok(r)["expansion"]["contains"]) == int(count)
    else:
        assert refused(r, 422) == {"count"}


# ---- value sets of several systems, POST forms ---------------------------------------


async def test_the_vaccine_value_set_takes_our_codes_and_their_cvx(client, staff):
    url = terminology.value_set_url("immunization-vaccine")
    expansion = ok(
        await client.get(
            "/fhir/ValueSet/$expand", params={"url": url, "count": "1000"}, headers=staff
        )
    )["expansion"]
    systems = {c["system"] for c in expansion["contains"]}
    assert systems == {VACCINE, CVX, SERIES}
    cvx_codes = [c["code"] for c in expansion["contains"] if c["system"] == CVX]
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "url", "valueUri": url},
            {"name": "coding", "valueCoding": {"system": CVX, "code": cvx_codes[0]}},
        ],
    }
    assert (
        param(
            ok(await client.post("/fhir/ValueSet/$validate-code", json=body, headers=staff)),
            "result",
        )
        is True
    )
    # a CVX code outside the mapping is not in the value set (CVX is a fragment)
    body["parameter"][1]["valueCoding"]["code"] = "88"
    answer = ok(await client.post("/fhir/ValueSet/$validate-code", json=body, headers=staff))
    assert param(answer, "result") is False
    # a codeableConcept: valid when one of its codings is
    concept = {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "codeableConcept",
                "valueCodeableConcept": {
                    "coding": [
                        {"system": "urn:hospital:local", "code": "x1"},
                        {"system": VACCINE, "code": "bcg", "display": "BCG"},
                    ]
                },
            }
        ],
    }
    answer = ok(
        await client.post(
            "/fhir/ValueSet/immunization-vaccine/$validate-code", json=concept, headers=staff
        )
    )
    assert param(answer, "result") is True
    assert param(answer, "display") == "BCG"


def _antigens() -> list[str]:
    from salomat.domains.immunization import service

    return sorted({s.antigen for s in service.calendar_options().all_series})


def _vaccines() -> list[str]:
    from salomat.domains.immunization import service

    return sorted(service.calendar_options().vaccines)


#: (system, code, in the value set): each antigen of the calendar as the vaccine group;
#: beside them what is not: an unknown antigen, one letter off, another case, a product
#: code in the antigens' system and an antigen code in the products' system
_GROUP_CASES = [
    *((SERIES, a, True) for a in _antigens()),
    (SERIES, "smallpox", False),
    (SERIES, "pent", False),
    (SERIES, "pentaa", False),
    (SERIES, "PENTA", False),
    *((SERIES, v, False) for v in _vaccines() if v not in _antigens()),
    *((VACCINE, a, False) for a in _antigens() if a not in _vaccines()),
]


@pytest.mark.parametrize(("system", "code", "member"), _GROUP_CASES)
async def test_the_vaccine_value_set_takes_each_antigen_as_the_vaccine_group(
    client, staff, system, code, member
):
    """A dose recorded without its product carries the calendar's antigen as its
    vaccineCode: the value set takes every antigen and nothing else of that system, and
    ``$validate-code`` and the incoming-code check (the binding) give the same answer."""
    from salomat.fhir.terminology_bindings import binding_errors

    url = terminology.value_set_url("immunization-vaccine")
    params = {"url": url, "system": system, "code": code}
    answer = ok(await client.get("/fhir/ValueSet/$validate-code", params=params, headers=staff))
    assert param(answer, "result") is member
    if member:
        series = next(s for s in _series() if s.antigen == code)
        assert param(answer, "display") == series.label
    resource = {
        "resourceType": "Immunization",
        "vaccineCode": {"coding": [{"system": system, "code": code}]},
    }
    assert (binding_errors(resource) == []) is member


def _series() -> Any:
    from salomat.domains.immunization import service

    return service.calendar_options().all_series


async def test_the_vaccine_value_set_says_when_the_group_is_used(client, staff):
    vs = ok(await client.get("/fhir/ValueSet/immunization-vaccine", headers=staff))
    assert [i["system"] for i in vs["compose"]["include"]] == [VACCINE, CVX, SERIES]
    assert "not known" in vs["description"]
    assert SERIES in vs["description"]


async def test_a_wrong_display_is_reported(client, staff):
    r = await client.get(
        "/fhir/CodeSystem/$validate-code",
        params={"url": VACCINE, "code": "bcg", "display": "Measles"},
        headers=staff,
    )
    body = ok(r)
    assert param(body, "result") is False
    assert "Measles" in param(body, "message")


async def test_lookup_post_and_instance_level(client, staff):
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "coding", "valueCoding": {"system": ICD10, "code": "J45"}},
        ],
    }
    answer = ok(await client.post("/fhir/CodeSystem/$lookup", json=body, headers=staff))
    assert param(answer, "display") == "Asthma"
    answer = ok(
        await client.get("/fhir/CodeSystem/icd-10/$lookup", params={"code": "J45"}, headers=staff)
    )
    assert param(answer, "version") == "2019"


# ---- errors ----------------------------------------------------------------------------


async def test_errors_name_the_parameter(client, staff):
    get = client.get
    assert refused(
        await get("/fhir/CodeSystem/$lookup", params={"code": "J45"}, headers=staff), 422
    ) == {"system"}
    assert refused(
        await get(
            "/fhir/CodeSystem/$lookup", params={"system": "urn:nope", "code": "J45"}, headers=staff
        ),
        404,
    ) == {"system"}
    assert refused(
        await get(
            "/fhir/CodeSystem/$lookup", params={"system": ICD10, "code": "J45.99"}, headers=staff
        ),
        404,
    ) == {"code"}
    assert refused(
        await get("/fhir/ValueSet/$expand", params={"url": "urn:nope"}, headers=staff), 404
    ) == {"url"}
    assert refused(await get("/fhir/ValueSet/$expand", headers=staff), 422) == {"url"}
    assert refused(
        await get("/fhir/ValueSet/$expand", params={"url": "x", "bogus": "1"}, headers=staff), 422
    ) == {"bogus"}
    assert refused(await get("/fhir/CodeSystem/nope"), 401) is not None
    assert refused(await get("/fhir/CodeSystem/nope", headers=staff), 404) == {"id"}


async def test_search_by_url_and_name(client, staff):
    body = ok(await client.get("/fhir/CodeSystem", params={"url": ICD10}, headers=staff))
    assert [e["resource"]["id"] for e in body["entry"]] == ["icd-10"]
    body = ok(await client.get("/fhir/ValueSet", params={"name": "salomatimm"}, headers=staff))
    assert {e["resource"]["id"] for e in body["entry"]} >= {"immunization-vaccine"}


async def test_a_citizen_may_not_read_terminology(client, make_person, make_user, login):
    person = await make_person()
    citizen = await login(await make_user("citizen", person_id=person.id))
    r = await client.get("/fhir/CodeSystem", headers=citizen)
    assert r.status_code == 403


_TEXT = st.text(max_size=40)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    system=st.one_of(_TEXT, st.sampled_from([ICD10, VACCINE, CVX, "http://loinc.org"])),
    code=_TEXT,
    display=st.one_of(st.none(), _TEXT),
    op=st.sampled_from(
        [
            "CodeSystem/$lookup",
            "CodeSystem/$validate-code",
            "ValueSet/$validate-code",
            "ValueSet/$expand",
        ]
    ),
)
async def test_any_system_and_code_never_answers_5xx(client, staff, system, code, display, op):
    if op == "CodeSystem/$lookup":
        params = {"system": system, "code": code}
    elif op == "ValueSet/$expand":
        params = {"url": terminology.value_set_url("immunization-vaccine"), "filter": code}
    else:
        params = {
            "url": system if op.startswith("CodeSystem") else terminology.value_set_url("icd-10"),
            "system": system,
            "code": code,
        }
        if op.startswith("CodeSystem"):
            params.pop("system")
        if display is not None:
            params["display"] = display
    r = await client.get(
        f"/fhir/{op}?" + "&".join(f"{k}={quote(v)}" for k, v in params.items()), headers=staff
    )
    assert r.status_code < 500, r.text
    MODELS[r.json()["resourceType"]].model_validate(r.json())
    body = {
        "resourceType": "Parameters",
        "parameter": [{"name": k, "valueString": v} for k, v in params.items() if v],
    }
    r = await client.post(f"/fhir/{op}", json=body, headers=staff)
    assert r.status_code < 500, r.text


@pytest.mark.parametrize("country", ["UZ", "KZ"])
def test_the_code_systems_are_the_packs_tables(country):
    """One source: the vaccine, site and series systems are the calendar's own codes, with
    the names the pack gives them (Kazakh in the KZ pack, Uzbek in the UZ pack)."""
    from salomat.domains.immunization import service

    terms = terminology.terminology(country)
    cal = service.calendar_options(country)
    vaccines = terms.systems[cal.code_system]
    assert [c.code for c in vaccines.concepts] == list(cal.vaccines)
    national = {"UZ": "uz", "KZ": "kk"}[country]
    assert all(dict(c.names).get(national) for c in vaccines.concepts)
    cvx = {c.code for c in terms.systems[CVX].concepts}
    assert cvx == {str(v["cvx"]) for v in cal.vaccines.values() if v.get("cvx")}
    assert terminology.terminology(country) is terms  # read once


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("-1", False),
        ("0", True),
        ("1", True),
        ("3", False),
        ("8", False),
        ("9", True),
        ("10", False),
        ("09", False),
    ],
)
async def test_the_iarc_basis_codes_at_their_ends_and_gaps(client, staff, code, valid):
    """The basis of diagnosis is a numbered list (0-9 with gaps): one below, at and above
    each end, and the numbers it skips."""
    body = ok(
        await client.get(
            "/fhir/CodeSystem/iarc-basis-of-diagnosis/$validate-code",
            params={"code": code},
            headers=staff,
        )
    )
    assert param(body, "result") is valid


# ---- the national systems of the registry, insurance, sanatorium, referrals, cancer --


@pytest.mark.parametrize(
    ("system", "code", "valid"),
    [
        ("urn:salomat:territory-level", "region", True),
        ("urn:salomat:territory-level", "settlement", True),
        ("urn:salomat:territory-level", "country", False),
        ("urn:salomat:territory-level", "Region", False),
        # a provider reads a protected category's cover as "state"
        ("https://salomat.example/fhir/CodeSystem/insurance-basis", "state", True),
        ("https://salomat.example/fhir/CodeSystem/insurance-basis", "category", True),
        ("https://salomat.example/fhir/CodeSystem/insurance-basis", "deceased", True),
        ("https://salomat.example/fhir/CodeSystem/insurance-basis", "insured", False),
        # the Task's business status is the mapper's code, not the domain's status
        ("urn:salomat:sanatorium-queue-status", "in-queue", True),
        ("urn:salomat:sanatorium-queue-status", "pending-indication", True),
        ("urn:salomat:sanatorium-queue-status", "queued", False),
        ("urn:salomat:sanatorium-queue-status", "referred", False),
        # an offer still open or accepted is not a cancellation
        ("urn:salomat:sanatorium-cancellation", "lapsed", True),
        ("urn:salomat:sanatorium-cancellation", "cancelled", True),
        ("urn:salomat:sanatorium-cancellation", "open", False),
        ("urn:salomat:sanatorium-cancellation", "accepted", False),
        ("urn:salomat:referral-kind", "perinatal", True),
        ("urn:salomat:referral-kind", "screening", True),
        ("urn:salomat:referral-kind", "sanatorium", True),
        ("urn:salomat:referral-kind", "referral", False),
        ("urn:salomat:condition-category", "cancer-registry", True),
        ("urn:salomat:condition-category", "cancer", False),
    ],
)
async def test_the_national_codes_the_mappers_emit_validate(client, staff, system, code, valid):
    body = ok(
        await client.get(
            "/fhir/CodeSystem/$validate-code",
            params={"url": system, "code": code},
            headers=staff,
        )
    )
    assert param(body, "result") is valid, body


@pytest.mark.parametrize("country", ["UZ", "KZ"])
def test_the_national_systems_are_the_domains_tables(country):
    """Each is read from the table the code keeps: what the mapper can emit, no more."""
    from typing import get_args

    from salomat.domains.insurance.schemas import Basis
    from salomat.domains.maternal.schemas import ReferralKind
    from salomat.domains.registry.schemas import Level
    from salomat.domains.sanatorium import service as sanatorium
    from salomat.fhir import cancer, insurance_coverage, location
    from salomat.fhir import sanatorium as sanatorium_mapper

    terms = terminology.terminology(country)

    def codes(url: str) -> list[str]:
        cs = terms.systems[url]
        assert cs.content == "complete"
        return [c.code for c in cs.concepts]

    assert codes(location.LEVEL_SYSTEM) == list(get_args(Level))
    assert codes(insurance_coverage.BASIS_SYSTEM) == list(get_args(Basis))
    assert codes(sanatorium_mapper.QUEUE_STATUS_SYSTEM) == [
        b for _, b in sanatorium_mapper.TASK_STATUS.values()
    ]
    assert set(codes(sanatorium_mapper.CANCELLATION_SYSTEM)) == (
        set(sanatorium.OFFER_STATUS_LABELS) - {"open", "accepted"}
    ) | {"cancelled"}
    assert codes(sanatorium_mapper.REFERRAL_KIND) == [*get_args(ReferralKind), "sanatorium"]
    assert codes(cancer.REGISTRY_CATEGORY) == [cancer.REGISTRY_CODE]


async def test_the_insurance_basis_has_the_catalogue_names(client, staff):
    """A provider's Coverage says "insured by the state"; $lookup names it in Russian."""
    from salomat.core import i18n

    body = ok(
        await client.get(
            "/fhir/CodeSystem/$lookup",
            params={
                "system": "https://salomat.example/fhir/CodeSystem/insurance-basis",
                "code": "state",
                "displayLanguage": "ru",
            },
            headers=staff,
        )
    )
    names = designations(body)
    assert names["en"] == "insured by the state"
    assert param(body, "display") == names["ru"]
    for lang in ("uz", "ru", "kk"):
        assert names[lang] == i18n.translations(lang).gettext("insured by the state")
        assert names[lang] != names["en"]


# ---- part 2: the pregnancy register, growth, TNM, roles, database-kept systems -------


@pytest.mark.parametrize(
    ("system", "code", "valid"),
    [
        ("urn:salomat:maternal-advice", "severe_pre_eclampsia", True),
        ("urn:salomat:maternal-advice", "hiv_test_due", True),
        ("urn:salomat:maternal-advice", "contact_missed", True),
        # the UZ pack's own rule (maternal.yaml national_rules)
        ("urn:salomat:maternal-advice", "maternal_age_under_18", True),
        ("urn:salomat:maternal-advice", "severe-pre-eclampsia", False),
        ("urn:salomat:who-anc-dak-rule", "DT.17", True),
        ("urn:salomat:who-anc-dak-rule", "DT.08/11", True),
        ("urn:salomat:who-anc-dak-rule", "ANC.S.01", True),
        ("urn:salomat:who-anc-dak-rule", "UZ.AGE35", True),
        # a decision table of the DAK the rules do not implement
        ("urn:salomat:who-anc-dak-rule", "DT.18", False),
        ("urn:salomat:growth-classification", "severe_wasting", True),
        ("urn:salomat:growth-classification", "implausible", True),
        ("urn:salomat:growth-classification", "wasting", False),
        ("urn:salomat:episode-type", "pregnancy", True),
        ("urn:salomat:encounter-type", "antenatal-contact", True),
        ("urn:salomat:encounter-type", "sanatorium-stay", True),
        ("urn:salomat:encounter-type", "antenatal", False),
        ("urn:salomat:document-category", "sick-leave", True),
        ("urn:salomat:sanatorium-characteristic", "beds", True),
        ("urn:salomat:sanatorium-queue", "wait-range", True),
        ("urn:salomat:sanatorium-queue", "wait", False),
        ("https://salomat.example/fhir/CodeSystem/settlement-part", "capitation", True),
        ("https://salomat.example/fhir/CodeSystem/settlement-part", "fee", False),
        ("urn:salomat:role", "statistician", True),
        ("urn:salomat:role", "root", False),
        ("urn:salomat:maternal-condition", "heart_disease", True),
        # UICC TNM 8th edition: T0-T4, N0-N3, M0-M1 with their subdivisions, the prefixes
        # and suffixes of the general rules; one past each end is refused
        ("urn:salomat:uicc-tnm", "T4", True),
        ("urn:salomat:uicc-tnm", "T4d", True),
        ("urn:salomat:uicc-tnm", "T5", False),
        ("urn:salomat:uicc-tnm", "Tis(DCIS)", True),
        ("urn:salomat:uicc-tnm", "pT1mi(sn)", True),
        ("urn:salomat:uicc-tnm", "ypT0", True),
        ("urn:salomat:uicc-tnm", "xT1", False),
        ("urn:salomat:uicc-tnm", "N3c", True),
        ("urn:salomat:uicc-tnm", "N3d", False),
        ("urn:salomat:uicc-tnm", "N4", False),
        ("urn:salomat:uicc-tnm", "M1d", True),
        ("urn:salomat:uicc-tnm", "M1e", False),
        ("urn:salomat:uicc-tnm", "M2", False),
        ("urn:salomat:uicc-tnm", "N0(i+)", True),
        ("urn:salomat:uicc-tnm", "IIIC2", True),
        ("urn:salomat:uicc-tnm", "V", False),
    ],
)
async def test_the_register_and_registry_codes_validate(client, staff, system, code, valid):
    body = ok(
        await client.get(
            "/fhir/CodeSystem/$validate-code",
            params={"url": system, "code": code},
            headers=staff,
        )
    )
    assert param(body, "result") is valid, body


async def test_a_condition_code_the_server_does_not_know_is_not_called_wrong(client, staff):
    """Registration takes any condition code: an unknown one is "not known", not "not a
    code" (the system is open, content fragment)."""
    body = ok(
        await client.get(
            "/fhir/CodeSystem/$validate-code",
            params={"url": "urn:salomat:maternal-condition", "code": "lupus_nephritis"},
            headers=staff,
        )
    )
    assert param(body, "result") is False
    assert "fragment" in param(body, "message")


async def test_the_dak_rule_and_advice_have_names_in_each_language(client, staff):
    for system, code in (
        ("urn:salomat:who-anc-dak-rule", "DT.25"),
        ("urn:salomat:maternal-advice", "remeasure_bp"),
        ("urn:salomat:growth-classification", "implausible"),
        ("urn:salomat:sanatorium-queue", "releases"),
    ):
        body = ok(
            await client.get(
                "/fhir/CodeSystem/$lookup",
                params={"system": system, "code": code, "displayLanguage": "kk"},
                headers=staff,
            )
        )
        names = designations(body)
        assert set(names) == {"en", "uz", "ru", "kk"}, (code, names)
        assert len(set(names.values())) == 4, (code, names)
        assert param(body, "display") == names["kk"]


async def test_a_territory_is_validated_and_named_from_the_register(client, staff, make_place):
    place = await make_place()
    body = ok(
        await client.get(
            "/fhir/CodeSystem/$lookup",
            params={"system": "urn:salomat:territory", "code": place.settlement},
            headers=staff,
        )
    )
    assert param(body, "display") == "Village"
    for code, valid in ((place.region, True), (f"{place.region}-X", False)):
        body = ok(
            await client.post(
                "/fhir/CodeSystem/territory/$validate-code",
                json={
                    "resourceType": "Parameters",
                    "parameter": [{"name": "code", "valueCode": code}],
                },
                headers={**staff, "content-type": "application/fhir+json"},
            )
        )
        assert param(body, "result") is valid, body
    # kept in the database, so not listed: $expand says so instead of a wrong total
    r = await client.get(
        "/fhir/ValueSet/$expand",
        params={"url": "https://salomat.example/fhir/ValueSet/territory"},
        headers=staff,
    )
    assert refused(r, 422) == {"url"}


async def test_a_formulary_package_is_validated_from_the_database(client, staff, db):
    from salomat.domains.prescription import service as prescriptions
    from tests.factories import unique

    code = unique("AML")
    await prescriptions.import_formulary(
        db,
        "code,inn,atc,trade_name,form,strength,unit,units_per_package,reference_price\n"
        f"{code},amlodipine,C08CA01,Amlo,tablet,10 mg,tablet,30,2200000\n",
    )
    await db.commit()
    body = ok(
        await client.get(
            "/fhir/CodeSystem/$validate-code",
            params={"url": "urn:salomat:formulary", "code": code, "display": "Amlo 10 mg"},
            headers=staff,
        )
    )
    assert param(body, "result") is True, body
    body = ok(
        await client.get(
            "/fhir/CodeSystem/$validate-code",
            params={"url": "urn:salomat:formulary", "code": f"{code}X"},
            headers=staff,
        )
    )
    assert param(body, "result") is False


def test_every_advice_code_the_rules_write_is_published():
    """The rules write their advice codes as literals: each one (and each family code of
    the standing diagnoses, each test the HIV/syphilis rule names) is in the table the
    terminology publishes, so no DetectedIssue carries a code $validate-code refuses."""
    import ast
    import inspect

    from salomat.domains.maternal.service import codes, diagnostic_rules, rules, standing

    written: set[str] = set()
    for module in (rules, diagnostic_rules):
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "_advice"
                and len(node.args) > 1
            ):
                arg = node.args[1]
                if isinstance(arg, ast.Constant):
                    written.add(arg.value)
                elif isinstance(arg, ast.JoinedStr):
                    written |= {"hiv_test_due", "syphilis_test_due"}
    written |= {c for family in standing.FAMILIES.values() for c in family}
    assert len(written) > 20
    assert written <= set(codes.ADVICE), written - set(codes.ADVICE)


@pytest.mark.parametrize("country", ["UZ", "KZ"])
def test_the_register_systems_are_the_domains_tables(country):
    from salomat.domains.child.service import growth
    from salomat.domains.maternal.service import codes
    from salomat.fhir import sanatorium as sanatorium_mapper

    terms = terminology.terminology(country)

    def listed(url: str) -> list[str]:
        return [c.code for c in terms.systems[url].concepts]

    national = codes.national_codes(country)
    assert national, "each pack has national rules"
    assert listed("urn:salomat:maternal-advice") == [*codes.ADVICE, *(c for _, c, _ in national)]
    assert listed("urn:salomat:who-anc-dak-rule") == [
        *codes.DAK_RULES,
        *(r for r, _, _ in national),
    ]
    assert listed("urn:salomat:growth-classification") == [*growth.CLASSIFICATIONS, "implausible"]
    assert listed("urn:salomat:sanatorium-queue") == list(sanatorium_mapper.QUEUE_PARAMS)
