"""The demo sanatorium of each pack (the ``sanatorium`` section of demo.yaml): what every
role sees after `salomat demo load`, loaded by the same code into a database of its own
(the KZ queues are national: a shared test database's entries would stand in them)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from salomat.core.config import get_settings
from salomat.core.db import session_factory
from salomat.core.errors import Invalid
from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.registry import service as registry
from salomat.domains.sanatorium import service
from salomat.domains.sanatorium.models import SanatoriumReferral
from salomat.domains.sanatorium.service.demo import REFERRAL_KEYS
from salomat.domains.sanatorium.service.rules import local_today

pytestmark = pytest.mark.anyio

COUNTRIES = ("UZ", "KZ")


def _citizen(data: dict[str, Any]) -> str:
    return next(u["person"] for u in data["users"] if u["role"] == "citizen")


@pytest.mark.parametrize("country", COUNTRIES)
def test_the_demo_section_names_demo_people_pack_codes_and_every_step(country):
    data = pack.demo(country)
    spec = data["sanatorium"]
    rules = service.sanatorium_rules(country)
    people = {p["national_id"]: p for p in data["people"]}
    kinds = {f["code"]: f["kind"] for f in data["facilities"]}
    assert kinds[spec["at"]] == "sanatorium"
    assert any(
        u["role"] == "sanatorium_admin" and u["facility"] == spec["at"] for u in data["users"]
    )
    assert set(spec["beds"]) <= set(rules.profiles)
    periods = {p["key"]: p for p in spec["periods"]}
    assert {p["profile"] for p in periods.values()} <= set(spec["beds"])
    refs = spec["referrals"]
    for r in refs:
        assert set(r) <= REFERRAL_KEYS, r
        assert r["person"] in people
        assert r["category"] in rules.categories
        assert (
            people[r["person"]].get("attached_facility_code", data["polyclinic"])
            == (data["polyclinic"])
        )
        if "indication" in r:
            indicated = rules.indicated_profiles(r["indication"], child=True)
            assert r.get("profile", indicated[0]) in indicated, r
        if "offer" in r:
            assert r["offer"]["period"] in periods
    # every step a role shows: the citizen in line with an open offer, and a voucher of
    # her own; a booking, a decline, a guest, a discharge with a summary, a no-show, a
    # direct after-care referral, a self-application
    citizen = [r for r in refs if r["person"] == _citizen(data)]
    assert [("accept" in r, "decline" in r, "offer" in r) for r in citizen] == [
        (True, False, True),
        (False, False, True),
    ]
    assert sum("accept" in r and "when" not in r["offer"] for r in refs) == 1
    assert sum("decline" in r for r in refs) == 1
    assert any("arrive" in r and "discharge" not in r for r in refs)
    assert any(r.get("discharge", {}).get("summary") for r in refs)
    assert any(r.get("noshow") for r in refs)
    assert any(rules.categories[r["category"]].direct for r in refs)
    assert any(r.get("self") for r in refs) == rules.self_application
    # the public page's free places: coming periods nobody is offered
    offered = {r["offer"]["period"] for r in refs if "offer" in r}
    assert any(
        isinstance(p["starts"], int) and p["starts"] > 0
        for k, p in periods.items()
        if k not in offered
    )


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[str]:
    """A migrated database of this run's backend (a copy of the run's migrated template),
    for one pack's demo."""
    from tests.conftest import BACKEND, migrated_sqlite, scratch_database

    if BACKEND != "postgresql":
        yield migrated_sqlite(tmp_path / "demo.sqlite3")
        return
    with scratch_database("salomat_sana_demo") as url:
        yield url


@pytest.fixture(params=COUNTRIES)
def country(request, monkeypatch):
    monkeypatch.setenv("SALOMAT_COUNTRY", request.param)
    get_settings.cache_clear()
    yield request.param
    get_settings.cache_clear()


def _principal(role: str, **kw: Any) -> Principal:
    return Principal(user_id=0, username="t-demo", role=role, session_id="t", **kw)


async def test_after_the_demo_load_every_role_sees_its_work(scratch, country):
    from salomat.cli import load_demo

    data = pack.demo(country)
    spec = data["sanatorium"]
    refs = spec["referrals"]
    # the registries and the sanatorium: the other domains' demo is not needed here
    bare = {**data, "users": [], "relations": [], "pregnancies": [], "immunizations": []}
    async with session_factory(scratch)() as s:
        await load_demo(s, {**bare, "sick_leave": []}, force=False)
        await s.commit()

    today = local_today()
    async with session_factory(scratch)() as s:
        ids = {r["person"]: await registry.person_id_by_national_id(s, r["person"]) for r in refs}
        sana = await registry.facility_id_by_code(s, spec["at"])
        poly = await registry.facility_id_by_code(s, data["polyclinic"])
        me = _principal("citizen", person_id=ids[_citizen(data)])
        staff = _principal("sanatorium_admin", facility_id=sana, facility_code=spec["at"])
        doctor = _principal("family_doctor", facility_id=poly, facility_code=data["polyclinic"])

        # the citizen: second in line with an open offer for the coming period, the wait
        # a range from releases 1, 2, 1 (vector 2 of the note: 2 / 4 * 3 months and so on)
        now, old = await service.my_referrals(s, me)
        assert now.status == "offered"
        assert now.position is not None
        assert (now.position.position, now.position.ahead) == (2, 1)
        assert now.position.monthly_releases == [1, 2, 1]
        assert now.position.wait_days_expected == pytest.approx(2 / (4 / 3) * 30.4375, abs=0.1)
        assert now.position.wait_days_shortest == pytest.approx(2 / 2 * 30.4375, abs=0.1)
        assert now.position.wait_days_longest == pytest.approx(2 / 1 * 30.4375, abs=0.1)
        assert now.offer is not None
        assert now.offer.status == "open"
        assert now.offer.expires_at > datetime.now(UTC)
        assert now.offer.period.starts_on == today + timedelta(days=10)
        # and her voucher of three years ago, discharged: entitled again since
        assert old.stay is not None
        assert old.stay.status == "fulfilled"
        assert now.entitled_from is not None
        assert now.entitled_from <= today

        # the public list: tiers in order, her pseudonym second, nothing about a person
        entries, total = await service.public_queue(s, "cardiology", now.region)
        assert total == 4
        assert [e.tier for e in entries] == sorted(e.tier for e in entries)
        assert entries[1].pseudonym == now.position.pseudonym
        assert entries[0].status == "queued"  # declined the period, kept the first place

        # the public free places: the coming periods of the other profiles, all free
        places = [p for p in await service.free_places(s) if p.facility_code == spec["at"]]
        free = {p.profile: p.free for p in places}
        assert free.pop("cardiology") == 0
        assert free
        assert all(n > 0 for n in free.values())

        # the sanatorium: a guest arrived three days ago, and the booked voucher coming
        arrivals = await service.expected_arrivals(s, staff)
        assert sorted((a.status, a.starts_on) for a in arrivals) == [
            ("arrived", today - timedelta(days=3)),
            ("booked", today + timedelta(days=10)),
        ]
        assert all(a.person_name for a in arrivals)

        # the family doctor: the discharge summaries of her patients
        discharged = [r for r in refs if r.get("discharge") and r["person"] != _citizen(data)]
        for r in discharged:
            [back] = await service.list_person_referrals(s, doctor, ids[r["person"]])
            assert back.status == "discharged"
            assert back.stay is not None
            assert back.stay.summary == r["discharge"]["summary"]

        # a no-show, then in line again; the after-care referral waits for a booking; the
        # self-application for a doctor's confirmation
        statuses = {}
        for person, pid in ids.items():
            rows = await service.list_person_referrals(s, doctor, pid)
            statuses[person] = [(r.status, r.direct, r.source) for r in rows]
        noshow = next(r["person"] for r in refs if r.get("noshow"))
        assert [st for st, _, _ in statuses[noshow]] == ["queued", "noshow"]
        direct = next(r["person"] for r in refs if r["category"] == "aftercare")
        assert statuses[direct] == [("referred", True, "local")]
        applied = next(r["person"] for r in refs if r.get("self"))
        assert statuses[applied] == [("pending_indication", False, "portal")]
        booked = next(r["person"] for r in refs if r.get("accept") and "when" not in r["offer"])
        assert statuses[booked][0][0] == "booked"

        # loaded again (`demo load --force`): nothing is added
        count = select(func.count()).select_from(SanatoriumReferral)
        before = await s.scalar(count)
        again = await service.load_demo_sanatorium(s, spec, {}, facility_code=data["polyclinic"])
        assert again == 0
        assert await s.scalar(count) == before
        await s.rollback()


async def test_a_file_whose_queue_would_not_make_its_offers_is_refused(db, world):
    """The citizen named second cannot be offered a period of one place: the loader says
    which entry, and the unit of work stores nothing."""
    first, second = await world.make_patient(), await world.make_patient()
    spec = {
        "at": world.sanatorium.code,
        "beds": {"cardiology": 2},
        "periods": [{"key": "soon", "profile": "cardiology", "starts": 10, "capacity": 1}],
        "referrals": [
            {
                "person": "first",
                "category": "war_invalid_equivalent",
                "indication": "I25.2",
                "applied": -30,
            },
            {
                "person": "second",
                "category": "disability_1_2",
                "indication": "I34.0",
                "applied": -60,
                "offer": {"period": "soon"},
            },
        ],
    }
    people = {"first": first.id, "second": second.id}
    with pytest.raises(Invalid) as refused:
        await service.load_demo_sanatorium(db, spec, people, facility_code=world.polyclinic.code)
    assert [e.field for e in refused.value.errors] == ["sanatorium.referrals[1].offer"]
    await db.rollback()
    # a YAML 1.1 "on:" (read as true) is refused, not ignored
    spec["referrals"][1]["offer"] = {"period": "soon", True: {"month": -1, "day": 3}}
    with pytest.raises(Invalid) as refused:
        await service.load_demo_sanatorium(db, spec, people, facility_code=world.polyclinic.code)
    assert [e.field for e in refused.value.errors] == ["sanatorium.referrals[1].offer"]
    await db.rollback()
    async with session_factory()() as s:
        assert not await service.list_person_referrals(s, world.doctor_principal(), second.id)
