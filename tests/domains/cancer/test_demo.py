"""The demo cancer registry of each pack (the ``cancer`` section of demo.yaml): what the
cancer registrar, the oncologist and the family doctor see after `salomat demo load`,
loaded by the same code into a database of its own. Expected values follow from the
IARC/IACR 2004 rules, the ENCR date of incidence and the pack's follow-up schedule as
the domain notes state them, applied by hand to the file's steps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from salomat.core.config import get_settings
from salomat.core.db import session_factory
from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.cancer import service
from salomat.domains.registry import service as registry

pytestmark = pytest.mark.anyio

COUNTRIES = ("UZ", "KZ")


#: the demo.yaml sections the cancer registry's demo does not need (emptied for the load)
BARE = ("users", "relations", "pregnancies", "immunizations", "sick_leave", "sanatorium")


@pytest.fixture
def scratch(country: str) -> Iterator[str]:
    """A database of this run's backend where one pack's demo is loaded (`salomat demo
    load`, without the sections ``BARE``: a copy of the run's loaded demo,
    tests/conftest.py ``demo_database``)."""
    from tests.conftest import demo_database

    with demo_database("salomat_cancer_demo", country, without=BARE) as (url, _):
        yield url


@pytest.fixture(params=COUNTRIES)
def country(request, monkeypatch):
    monkeypatch.setenv("SALOMAT_COUNTRY", request.param)
    get_settings.cache_clear()
    yield request.param
    get_settings.cache_clear()


def _principal(role: str, **kw: Any) -> Principal:
    return Principal(user_id=0, username="t-demo", role=role, session_id="t", **kw)


@pytest.mark.parametrize("country_", COUNTRIES)
def test_the_section_names_its_patients_the_centre_and_a_registrar(country_):
    data = pack.demo(country_)
    spec = data["cancer"]
    kinds = {f["code"]: f["kind"] for f in data["facilities"]}
    assert kinds[spec["centre"]] == "oncology_centre"
    users = {u["username"]: u for u in data["users"]}
    assert users["canreg"]["role"] == "cancer_registrar"
    assert users["canreg"]["language"] == {"UZ": "uz", "KZ": "kk"}[country_]
    assert users["oncologist"]["facility"] == spec["centre"]
    patients = {p["national_id"] for p in spec["patients"]}
    people = {p["national_id"] for p in data["people"]}
    assert not patients & people  # the registry's demo people keep their own stories
    for step in spec["steps"]:
        kind = next(k for k in ("notify", "follow", "follow_up", "death") if k in step)
        assert step[kind] in patients


def _by(spec: dict[str, Any], national_id: str) -> list[dict[str, Any]]:
    return [s for s in spec["steps"] if s.get("notify") == national_id]


async def test_after_the_demo_load_the_registrar_oncologist_and_doctor_see_it(scratch, country):
    data = pack.demo(country)
    spec = data["cancer"]
    today = date.today()
    colon, lung, dco, rare = (p["national_id"] for p in spec["patients"])
    async with session_factory(scratch)() as s:
        ids = {
            nid: await registry.person_id_by_national_id(s, nid) for nid in (colon, lung, dco, rare)
        }
        centre = await registry.facility_id_by_code(s, spec["centre"])
        poly = await registry.facility_id_by_code(s, data["polyclinic"])
        registrar = _principal("cancer_registrar")
        oncologist = _principal("oncologist", facility_id=centre, facility_code=spec["centre"])
        doctor = _principal("family_doctor", facility_id=poly, facility_code=data["polyclinic"])

        # the registrar's queue: the C80.9 report in the colon patient waits for her
        # decision; the ovary's thyroid carcinoma waits for her confirmation
        queue = await service.registrar_queue(s, registrar)
        assert sorted((q.kind, q.person_id, q.topography) for q in queue) == sorted(
            [("to_review", ids[colon], "C80.9"), ("to_confirm", ids[rare], "C56.9")]
        )
        review = next(q for q in queue if q.kind == "to_review")
        assert review.reason == "unknown_primary_site"
        assert review.message
        confirm = next(q for q in queue if q.kind == "to_confirm")
        assert confirm.checks == ["site_histology"]
        assert await service.count_open_work(s) == {"to_review": 1, "to_confirm": 1}

        # colon: two notifications, one tumour; the date of incidence is the pathology
        # report's (ENCR level 1 before the clinician's earlier outpatient date)
        clinician, pathology, _ = _by(spec, colon)
        [t] = await service.person_tumours(s, doctor, ids[colon])
        assert t.incidence_date == today + timedelta(days=pathology["diagnosed"])
        assert t.incidence_date > today + timedelta(days=clinician["diagnosed"])
        assert (t.basis, t.incidence_level, t.stage_group) == (7, 1, "IIIB")
        detail = await service.get_tumour(s, doctor, t.id)
        assert [n.source for n in detail.notifications] == ["clinician", "pathology"]
        assert [x.kind for x in detail.treatments] == ["surgery"]

        # lung: squamous and adenocarcinoma of one organ are two primaries
        tumours = await service.person_tumours(s, doctor, ids[lung])
        assert sorted((x.topography, x.histology_group) for x in tumours) == [
            ("C34.1", 1),
            ("C34.3", 3),
        ]
        assert {x.mp_reason for x in tumours} == {"first_tumour", "different_histology"}

        # the death registration's certificate: a death certificate only case
        [d] = await service.person_tumours(s, registrar, ids[dco])
        died = next(x for x in spec["steps"] if x.get("death") == dco)
        assert d.death_certificate_only
        assert d.incidence_date == today + timedelta(days=died["died"])
        assert (d.vital_status, d.incidence_level) == ("dead", 6)

        # the oncologist's worklist: three follow-ups overdue, the most overdue first; the
        # next contact is the last one plus the first year's three months (cancer.yaml)
        work = await service.follow_up_worklist(s, oncologist)
        assert len(work) == 3
        assert [w.next_follow_up_on for w in work] == sorted(w.next_follow_up_on for w in work)
        assert all(w.next_follow_up_on < today for w in work)
        colon_item = next(w for w in work if w.person_id == ids[colon])
        seen = today + timedelta(days=-150)
        assert colon_item.last_contact_on == seen
        assert colon_item.next_follow_up_on == _plus_months(seen, 3)

        # loading again adds nothing
        assert await service.load_demo_cancer(s, spec, {}, facility_code=data["polyclinic"]) == 0


def _plus_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    for day in (d.day, 30, 29, 28):
        try:
            return date(d.year + y, m + 1, day)
        except ValueError:
            continue
    raise AssertionError
