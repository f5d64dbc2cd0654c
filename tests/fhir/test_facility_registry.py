"""The facility registry other systems read (IHE mCSD, issue 22 item 7): a facility's site as
a Location with position and unit type, the ``near`` search at its boundaries, the
HealthcareService of each facility, PractitionerRole with FTE (extension), reads denied by
default.

Distances are checked against the domain note's haversine vectors
(shared/domain/phc-planning.md, vector 2: 0.1 degree of latitude = 11.119 km, 0.1 degree of
longitude at 43 degrees N = 8.132 km), not against our own function.
"""

from __future__ import annotations

import math
import random
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from hypothesis import given, settings
from hypothesis import strategies as st

import salomat
from salomat.core.config import get_settings
from salomat.core.errors import Invalid
from salomat.domains.registry import service
from salomat.domains.registry.schemas import FacilityIn, TerritoryIn
from salomat.fhir import facility_registry, organization, practitioner, terminology
from salomat.fhir.facility_registry_api import parse_near
from salomat.fhir.location import MCSD_TYPES
from tests.factories import unique

pytestmark = pytest.mark.anyio

FHIR_JSON = "application/fhir+json"
TYPE = organization.TYPE_SYSTEM


def ok(r, status: int = 200) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == FHIR_JSON
    body = r.json()
    if body["resourceType"] == "Bundle":
        Bundle.model_validate(body)
    return body


def issues(r, status: int) -> set[str]:
    assert r.status_code == status, r.text
    body = r.json()
    OperationOutcome.model_validate(body)
    return {x for i in body["issue"] for x in i.get("expression", [])}


def ids(b: dict) -> list[str]:
    return [e["resource"]["id"] for e in b.get("entry", [])]


@pytest.fixture
async def staff(make_user, login):
    return await login(await make_user("analyst"))


def primary_kind() -> str:
    return next(k for k, t in service.facility_types().items() if t.get("primary_care"))


def perinatal_kind() -> tuple[str, int]:
    return next(
        (k, t["perinatal_level"][0])
        for k, t in service.facility_types().items()
        if t.get("perinatal_level")
    )


def pack_units() -> dict[str, str]:
    """The facility types' units as the deployed country's planning.yaml lists them."""
    country = get_settings().country
    path = Path(salomat.__file__).parent / "country" / country / "planning.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))["facility_units"]


class Area:
    """A region and district of its own, far from every other test's places (random)."""

    def __init__(self, db) -> None:
        self.db = db
        self.region = unique("R")
        self.district = f"{self.region}-D"
        self.n = 0

    async def setup(self) -> Area:
        await service.create_territory(
            self.db, TerritoryIn(code=self.region, level="region", name="Region")
        )
        await service.create_territory(
            self.db,
            TerritoryIn(
                code=self.district, level="district", parent_code=self.region, name="District"
            ),
        )
        return self

    async def settlement(
        self, lat: float | None, lon: float | None, name: str = "Village", **names: str
    ):
        self.n += 1
        return await service.create_territory(
            self.db,
            TerritoryIn(
                code=f"{self.district}-S{self.n}",
                level="settlement",
                parent_code=self.district,
                name=name,
                names=names,
                is_rural=True,
                latitude=lat,
                longitude=lon,
            ),
        )

    async def facility(self, settlement_code: str | None, kind: str | None = None, **kw):
        fac = await service.create_facility(
            self.db,
            FacilityIn(
                code=unique("F"),
                name=kw.pop("name", "Test unit"),
                kind=kind or primary_kind(),
                settlement_code=settlement_code,
                **kw,
            ),
        )
        await self.db.commit()
        return fac


@pytest.fixture
async def area(db) -> Area:
    a = await Area(db).setup()
    await db.commit()
    return a


# ---- Location of a facility -------------------------------------------------------------


async def test_a_facility_site_has_position_unit_type_and_parents(client, staff, area):
    village = await area.settlement(41.123, 69.456, "Qishloq", ru="Кишлак", en="Kishlak")
    kind = primary_kind()
    fac = await area.facility(
        village.code,
        kind,
        name="FAP Qishloq",
        names={"ru": "ФАП Кишлак", "en": "FAP Kishlak"},
        phone="+998712345678",
    )
    site = ok(await client.get(f"/fhir/Location/facility-{fac.id}", headers=staff))
    assert site["id"] == f"facility-{fac.id}"
    assert site["position"] == {"latitude": 41.123, "longitude": 69.456}
    codings = [(c["system"], c["code"]) for t in site["type"] for c in t["coding"]]
    assert (TYPE, kind) in codings
    assert (MCSD_TYPES, "facility") in codings
    # the unit level the planning pack gives the type (read from the file itself)
    assert (facility_registry.UNIT_SYSTEM, pack_units()[kind]) in codings
    assert site["physicalType"]["coding"][0]["code"] == "bu"
    assert site["managingOrganization"]["reference"] == f"Organization/{fac.id}"
    assert site["partOf"]["reference"] == f"Location/{village.id}"
    assert site["partOf"]["identifier"]["value"] == village.code
    assert site["status"] == "active"
    translations = {
        {x["url"]: x.get("valueCode") or x.get("valueString") for x in e["extension"]}["lang"]: {
            x["url"]: x.get("valueCode") or x.get("valueString") for x in e["extension"]
        }["content"]
        for e in site["_name"]["extension"]
    }
    assert translations == {"ru": "ФАП Кишлак", "en": "FAP Kishlak"}
    assert site["extension"] == [
        {"url": facility_registry.POSITION_SOURCE_EXT, "valueCode": "settlement"}
    ]
    # the Organization says it is an mCSD facility
    org = ok(await client.get(f"/fhir/Organization/{fac.id}", headers=staff))
    assert {"system": MCSD_TYPES, "code": "facility", "display": "Facility"} in [
        c for t in org["type"] for c in t["coding"]
    ]
    # a territory is an mCSD jurisdiction
    unit = ok(await client.get(f"/fhir/Location/{village.id}", headers=staff))
    assert (MCSD_TYPES, "jurisdiction") in [
        (c["system"], c["code"]) for t in unit["type"] for c in t["coding"]
    ]


async def test_location_search_finds_facility_sites(client, staff, area):
    village = await area.settlement(41.5, 69.5)
    other = await area.settlement(41.6, 69.6)
    kind = primary_kind()
    a = await area.facility(village.code, kind, name="Alpha unit")
    b = await area.facility(village.code, perinatal_kind()[0], name="Beta hospital")
    c = await area.facility(other.code, kind, name="Gamma unit")

    def get(**params):
        return client.get("/fhir/Location", params={**params, "_count": 100}, headers=staff)

    # partof a settlement: the facility sites in it
    assert sorted(ids(ok(await get(partof=f"Location/{village.id}")))) == sorted(
        [f"facility-{a.id}", f"facility-{b.id}"]
    )
    # the unit type, in its system or bare
    in_village = ok(await get(partof=f"Location/{village.id}", type=f"{TYPE}|{kind}"))
    assert ids(in_village) == [f"facility-{a.id}"]
    assert ids(ok(await get(partof=f"Location/{other.id}", type=kind))) == [f"facility-{c.id}"]
    # the primary-care unit level
    unit = f"{facility_registry.UNIT_SYSTEM}|{pack_units()[kind]}"
    assert ids(ok(await get(partof=f"Location/{village.id}", type=unit))) == [f"facility-{a.id}"]
    # the organization
    assert ids(ok(await get(organization=f"Organization/{b.id}"))) == [f"facility-{b.id}"]
    # the facility code and the name
    assert ids(ok(await get(identifier=f"urn:salomat:facility|{c.code}"))) == [f"facility-{c.id}"]
    named = ok(await get(partof=f"Location/{village.id}", name="alpha"))
    assert ids(named) == [f"facility-{a.id}"]
    # mCSD facility: all facility types
    assert ids(ok(await get(partof=f"Location/{other.id}", type=f"{MCSD_TYPES}|facility"))) == [
        f"facility-{c.id}"
    ]
    # _lastUpdated: changed since yesterday, none before 2000
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    assert f"facility-{a.id}" in ids(
        ok(await get(_lastUpdated=f"ge{yesterday}", partof=f"Location/{village.id}"))
    )
    assert ids(ok(await get(_lastUpdated="lt2000-01-01", organization=str(a.id)))) == []
    # _id
    assert ids(ok(await get(_id=f"facility-{a.id}"))) == [f"facility-{a.id}"]
    # the territories are still searched as before: the district's settlements
    district = await service.territory_by_code(area.db, area.district)
    assert sorted(ids(ok(await get(partof=f"Location/{district.id}")))) == sorted(
        [str(village.id), str(other.id)]
    )
    # unknown site: 404; a territory's numeric id still reads the territory
    assert issues(await client.get("/fhir/Location/facility-999999999", headers=staff), 404) == (
        set()
    )


def _destination(lat: float, lon: float, km: float, bearing_deg: float) -> tuple[float, float]:
    """The point ``km`` away on a great circle (sphere of the note's R = 6371.0 km): the
    spherical law of the destination point, independent of the haversine under test."""
    d = km / 6371.0
    p1, l1, b = math.radians(lat), math.radians(lon), math.radians(bearing_deg)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(
        math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2)
    )
    return math.degrees(p2), math.degrees(l2)


async def test_near_returns_exactly_the_sites_within_the_distance(client, staff, area):
    # a centre nobody else uses (the steppe, random per run)
    lat0, lon0 = 47.0 + random.random(), 62.0 + random.random() * 4
    inside, outside = [], []
    for bearing in (0, 90, 180, 270, 45):
        for km, bucket in ((9.99, inside), (10.01, outside), (0.0, inside), (3.0, inside)):
            lat, lon = _destination(lat0, lon0, km, bearing)
            s = await area.settlement(lat, lon)
            bucket.append(await area.facility(s.code))
    nowhere = await area.settlement(None, None)
    no_position = await area.facility(nowhere.code)
    homeless = await area.facility(None)
    r = await client.get(
        "/fhir/Location",
        params={"near": f"{lat0}|{lon0}|10|km", "_count": 100},
        headers=staff,
    )
    found = ids(ok(r))
    assert sorted(found) == sorted(f"facility-{f.id}" for f in inside)
    assert not {f"facility-{f.id}" for f in [*outside, no_position, homeless]} & set(found)
    # the same in metres; nearest first
    metres = ok(
        await client.get(
            "/fhir/Location",
            params={"near": f"{lat0}|{lon0}|10000|m", "_count": 100},
            headers=staff,
        )
    )
    assert sorted(ids(metres)) == sorted(found)


async def test_near_matches_the_notes_vectors(client, staff, area):
    """0.1 degree of latitude = 11.119 km; 0.1 degree of longitude at 43 N = 8.132 km."""
    lat0, lon0 = 43.0, 50.0 + random.random() * 0.5  # the Caspian: far from other tests
    north = await area.facility((await area.settlement(lat0 + 0.1, lon0)).code)
    east = await area.facility((await area.settlement(lat0, lon0 + 0.1)).code)

    async def within(km: float) -> set[str]:
        r = await client.get(
            "/fhir/Location",
            params={"near": f"{lat0}|{lon0}|{km}|km", "_count": 100},
            headers=staff,
        )
        return set(ids(ok(r))) & {f"facility-{north.id}", f"facility-{east.id}"}

    assert await within(8.12) == set()
    assert await within(8.14) == {f"facility-{east.id}"}
    assert await within(11.11) == {f"facility-{east.id}"}
    assert await within(11.13) == {f"facility-{east.id}", f"facility-{north.id}"}


@pytest.mark.parametrize(
    "value",
    [
        "43.2|76.9",
        "91|76.9|10|km",
        "43.2|181|10|km",
        "43.2|76.9|-1|km",
        "43.2|76.9|10|parsec",
        "x|y|z|km",
        "nan|1|1|km",
        "1|1|inf|km",
        "1|1|30000|km",
        "",
    ],
)
async def test_bad_near_is_refused_naming_it(client, staff, value):
    r = await client.get("/fhir/Location", params={"near": value}, headers=staff)
    assert issues(r, 422) == {"near"}


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789.-|kmeinaf[]_ ", max_size=30))
def test_parse_near_refuses_or_reads_any_text(raw):
    refused: set[str] = set()
    try:
        near = parse_near(raw)
    except Invalid as e:
        refused = {f.field for f in e.errors}
        near = None
    if near is None:
        assert refused == {"near"}
    else:
        assert -90 <= near.latitude <= 90
        assert -180 <= near.longitude <= 180
        assert 0 <= near.km <= 20037.6


# ---- HealthcareService ---------------------------------------------------------------------


async def test_healthcare_service_by_organization_location_and_type(client, staff, area):
    village = await area.settlement(40.1, 65.1)
    kind = primary_kind()
    pkind, level = perinatal_kind()
    clinic = await area.facility(village.code, kind, name="Clinic")
    hospital = await area.facility(village.code, pkind, name="Hospital", perinatal_level=level)

    def get(**params):
        return client.get(
            "/fhir/HealthcareService", params={**params, "_count": 100}, headers=staff
        )

    # organization and a parameter of ours
    by_org = ok(await get(organization=f"Organization/{clinic.id}", **{"service-category": kind}))
    assert ids(by_org) == [f"facility-{clinic.id}"]
    hs = by_org["entry"][0]["resource"]
    assert hs["providedBy"]["reference"] == f"Organization/{clinic.id}"
    assert hs["location"] == [{"reference": f"Location/facility-{clinic.id}", "display": "Clinic"}]
    assert hs["category"][0]["coding"][0] == {"system": TYPE, "code": kind}
    assert [c["code"] for t in hs["type"] for c in t["coding"]] == ["primary_care"]
    assert ok(await client.get(f"/fhir/HealthcareService/facility-{clinic.id}", headers=staff)) == (
        hs
    )

    hosp = ok(await get(location=f"Location/facility-{hospital.id}"))["entry"][0]["resource"]
    assert [c["code"] for t in hosp["type"] for c in t["coding"]] == ["obstetric_care"]
    both = {clinic.id, hospital.id}
    pair = ",".join(str(i) for i in sorted(both))
    assert ids(ok(await get(organization=pair, **{"service-type": "primary_care"}))) == [
        f"facility-{clinic.id}"
    ]
    assert ids(
        ok(
            await get(
                organization=pair,
                **{"service-type": f"{facility_registry.SERVICE_SYSTEM}|obstetric_care"},
            )
        )
    ) == [f"facility-{hospital.id}"]
    assert sorted(
        ids(ok(await get(organization=pair, **{"service-type": "primary_care,obstetric_care"})))
    ) == sorted(f"facility-{i}" for i in both)
    assert ids(ok(await get(organization=pair, **{"service-category": pkind}))) == [
        f"facility-{hospital.id}"
    ]
    assert ids(ok(await get(organization=pair, **{"service-type": "x|primary_care"}))) == []
    assert issues(await get(organization="Organization/x", name="a"), 422) == {"organization"}
    assert issues(await get(location="Location/x", name="a"), 422) == {"location"}
    # organization alone naming a facility that is not a sanatorium is the registry's (mCSD;
    # tests/fhir/test_healthcare_service_routing.py)
    assert ids(ok(await get(organization=f"Organization/{clinic.id}"))) == [f"facility-{clinic.id}"]
    assert issues(await get(colour="red"), 422) == {"colour"}
    assert issues(await client.get("/fhir/HealthcareService/x-1", headers=staff), 404) == set()


async def test_the_facility_registry_is_denied_by_default(client, make_user, login, area):
    fac = await area.facility((await area.settlement(40.0, 65.0)).code)
    for path in (
        f"/fhir/Location/facility-{fac.id}",
        f"/fhir/HealthcareService/facility-{fac.id}",
        "/fhir/HealthcareService?service-type=primary_care",
        f"/fhir/Location?organization={fac.id}",
    ):
        assert (await client.get(path)).status_code == 401, path
    employer = await login(await make_user("employer"))
    for path in (
        f"/fhir/Location/facility-{fac.id}",
        f"/fhir/HealthcareService/facility-{fac.id}",
        f"/fhir/HealthcareService?organization={fac.id}&name=Test",
    ):
        assert (await client.get(path, headers=employer)).status_code == 403, path


def test_the_service_codes_are_published():
    for country in ("UZ", "KZ"):
        codes = terminology.terminology(country).systems[facility_registry.SERVICE_SYSTEM]
        assert {c.code for c in codes.all()} == set(facility_registry.SERVICE_LABELS)
        path = Path(salomat.__file__).parent / "country" / country / "planning.yaml"
        units = yaml.safe_load(path.read_text(encoding="utf-8"))["units"]
        published = terminology.terminology(country).systems[facility_registry.UNIT_SYSTEM]
        assert {c.code for c in published.all()} == {u["code"] for u in units}


# ---- PractitionerRole with FTE -----------------------------------------------------------

FTE_PATH = f"PractitionerRole.extension('{practitioner.FTE_EXT}')"
TODAY = date.today()


@pytest.fixture
async def admin(make_user, login):
    return await login(await make_user("admin"))


def role_body(pid: int, fac_id: int, fte=None, *, start: date = TODAY, end: date | None = None):
    body = {
        "resourceType": "PractitionerRole",
        "practitioner": {"reference": f"Practitioner/{pid}"},
        "organization": {"reference": f"Organization/{fac_id}"},
        "code": [{"coding": [{"system": practitioner.POSITION_SYSTEM, "code": "nurse"}]}],
        "period": {"start": start.isoformat(), **({"end": end.isoformat()} if end else {})},
    }
    if fte is not None:
        body["extension"] = [{"url": practitioner.FTE_EXT, "valueDecimal": fte}]
    return body


def fte_of(role: dict) -> float | None:
    return next(
        (e["valueDecimal"] for e in role.get("extension", []) if e["url"] == practitioner.FTE_EXT),
        None,
    )


async def test_practitioner_role_fte_round_trip(
    client, admin, staff, make_facility, make_practitioner
):
    fac = await make_facility()
    p = await make_practitioner()
    # FHIR: written, read back, searched, updated
    role = ok(
        await client.post(
            "/fhir/PractitionerRole", json=role_body(p.id, fac.id, 0.75), headers=admin
        ),
        201,
    )
    assert fte_of(role) == 0.75
    assert ok(await client.get(f"/fhir/PractitionerRole/{role['id']}", headers=staff)) == role
    found = ok(
        await client.get(
            "/fhir/PractitionerRole", params={"practitioner": f"Practitioner/{p.id}"}, headers=staff
        )
    )
    assert [fte_of(e["resource"]) for e in found["entry"]] == [0.75]
    changed = {**role, "extension": [{"url": practitioner.FTE_EXT, "valueDecimal": 0.5}]}
    r = await client.put(
        f"/fhir/PractitionerRole/{role['id']}", json=changed, headers={**admin, "If-Match": 'W/"1"'}
    )
    assert fte_of(ok(r)) == 0.5
    # an update without the extension keeps the role's FTE
    bare = {k: v for k, v in ok(r).items() if k != "extension"}
    r = await client.put(
        f"/fhir/PractitionerRole/{role['id']}", json=bare, headers={**admin, "If-Match": 'W/"2"'}
    )
    assert fte_of(ok(r)) == 0.5
    # REST: the same role carries it; a new role without one is a full post
    rest = await client.get(f"/api/v1/practitioners/{p.id}", headers=admin)
    assert [x["fte"] for x in rest.json()["roles"]] == [0.5]
    other = await make_facility()
    r = await client.post(
        f"/api/v1/practitioners/{(await make_practitioner()).id}/roles",
        json={"facility_code": other.code, "position": "nurse", "start_on": str(TODAY)},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    assert r.json()["fte"] == 1.0
    r = await client.patch(
        f"/api/v1/practitioner-roles/{r.json()['id']}",
        json={"fte": 0.25},
        headers=admin | {"If-Match": 'W/"1"'},
    )
    assert r.status_code == 200, r.text
    assert r.json()["fte"] == 0.25
    fhir_role = ok(await client.get(f"/fhir/PractitionerRole/{r.json()['id']}", headers=staff))
    assert fte_of(fhir_role) == 0.25


@pytest.mark.parametrize("fte", [1.6, 0, -0.5, 0.333, 2])
async def test_an_impossible_fte_is_refused_naming_the_field(
    client, admin, make_facility, make_practitioner, fte
):
    fac = await make_facility()
    p = await make_practitioner()
    r = await client.post(
        "/fhir/PractitionerRole", json=role_body(p.id, fac.id, fte), headers=admin
    )
    assert issues(r, 422) == {FTE_PATH}
    r = await client.post(
        f"/api/v1/practitioners/{p.id}/roles",
        json={"facility_code": fac.code, "position": "nurse", "start_on": str(TODAY), "fte": fte},
        headers=admin,
    )
    assert r.status_code == 422, r.text
    assert {e["field"] for e in r.json()["errors"]} == {"fte"}


async def test_one_persons_roles_sum_to_at_most_one_and_a_half(
    client, admin, make_facility, make_practitioner
):
    a, b, c, d = [await make_facility() for _ in range(4)]
    p = await make_practitioner()

    async def add(fac, fte, **kw):
        return await client.post(
            "/fhir/PractitionerRole", json=role_body(p.id, fac.id, fte, **kw), headers=admin
        )

    ok(await add(a, 0.8), 201)
    # 0.8 + 0.8 = 1.6: refused, naming the FTE
    assert issues(await add(b, 0.8), 422) == {FTE_PATH}
    # 0.8 + 0.7 = 1.5: at the limit, taken
    second = ok(await add(b, 0.7), 201)
    # one hundredth more anywhere: refused (a third role, or the second raised)
    assert issues(await add(c, 0.01), 422) == {FTE_PATH}
    raised = {**second, "extension": [{"url": practitioner.FTE_EXT, "valueDecimal": 0.71}]}
    r = await client.put(
        f"/fhir/PractitionerRole/{second['id']}",
        json=raised,
        headers={**admin, "If-Match": 'W/"1"'},
    )
    assert issues(r, 422) == {FTE_PATH}
    # a role after the others end does not add to them
    later = TODAY + timedelta(days=400)
    ended = {
        **second,
        "period": {"start": TODAY.isoformat(), "end": (later - timedelta(days=1)).isoformat()},
    }
    ok(
        await client.put(
            f"/fhir/PractitionerRole/{second['id']}",
            json=ended,
            headers={**admin, "If-Match": 'W/"1"'},
        )
    )
    ok(await add(c, 0.7, start=later), 201)
    # from later: 0.8 (the first) + 0.7 (the new one) already, no room left
    assert issues(await add(d, 0.1, start=later + timedelta(days=1)), 422) == {FTE_PATH}
    # REST says the same, naming the field
    r = await client.post(
        f"/api/v1/practitioners/{p.id}/roles",
        json={"facility_code": c.code, "position": "midwife", "start_on": str(TODAY), "fte": 0.8},
        headers=admin,
    )
    assert r.status_code == 422, r.text
    assert {e["field"] for e in r.json()["errors"]} == {"fte"}
