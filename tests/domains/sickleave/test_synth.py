"""Synthetic sick leave (``salomat synth``): the pack's rates, the periods' chain, the limits.

Built on the registry's synthetic population of 3,000 people and the maternal
generator's pregnancies (they give the maternity leave). The periods are checked
against the app's own length rule (``issuing._check_length``), so a synthetic
certificate is one the app would have let a doctor and the commission write.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from salomat.core import synth
from salomat.core.db import dispose_engines, session_factory
from salomat.core.security import Principal
from salomat.domains.maternal import service as maternal
from salomat.domains.registry import service as registry
from salomat.domains.registry.schemas import SyntheticPopulation
from salomat.domains.sickleave import service
from salomat.domains.sickleave.service.issuing import _check_length
from salomat.domains.sickleave.service.synth import DIAGNOSES, WINDOW_DAYS, WORKING_AGE
from tests.domains.maternal.test_synth import Silent, day, rows
from tests.synth_support import AS_OF, empty_database

PEOPLE = 3000
Loaded = tuple[str, SyntheticPopulation, dict[str, int]]


@pytest.fixture(scope="module", params=["UZ", "KZ"])
def loaded(request: pytest.FixtureRequest) -> Iterator[Loaded]:
    country = request.param
    with empty_database() as url:
        with synth.run(
            url, country=country, people=PEOPLE, seed=4, as_of=AS_OF, progress=Silent()
        ) as ctx:
            population = registry.synthesize_population(ctx, PEOPLE)
            maternal.synthesize_pregnancies(ctx, population)
            counts = service.synthesize_sick_leave(ctx, population)
        yield url, population, counts


def _certificates(url: str) -> list[Any]:
    return rows(url, "SELECT * FROM sick_leave_certificate ORDER BY id")


def _periods(url: str) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = defaultdict(list)
    for p in rows(url, "SELECT * FROM sick_leave_period ORDER BY certificate_id, seq"):
        out[p["certificate_id"]].append(p)
    return out


def _days(first: Any, last: Any) -> int:
    return (day(last) - day(first)).days + 1


def _country(pop: SyntheticPopulation) -> str:
    return pop.country


def test_rates_and_lengths_are_the_packs_within_tolerance(loaded: Loaded) -> None:
    url, pop, counts = loaded
    rules = service.sick_leave_rules(pop.country)
    cfg = rules.synth
    certs = _certificates(url)
    assert counts["sick_leave_certificate"] == len(certs)
    illness = [c for c in certs if c["reason"] != "maternity"]
    today = AS_OF.toordinal()
    working = sum(
        1
        for i in range(len(pop))
        if not pop.is_duplicate[i]
        and not pop.deceased[i]
        and WORKING_AGE[0] <= (today - pop.birth[i]) // 365 <= WORKING_AGE[1]
    )
    rate = len(illness) / working * 1000
    assert rate == pytest.approx(cfg["per_1000_working_age"], rel=0.2)
    by_reason = Counter(c["reason"] for c in illness)
    total_weight = sum(cfg["reasons"].values())
    for reason in ("own_illness", "injury", "care"):
        share = cfg["reasons"][reason] / total_weight
        # a binomial share of about a hundred certificates: 4 standard errors (at least 5 points)
        bound = max(0.05, 4 * math.sqrt(share * (1 - share) / len(illness)))
        assert by_reason[reason] / len(illness) == pytest.approx(share, abs=bound), reason
    closed = [c for c in illness if c["reason"] == "own_illness" and c["status"] == "closed"]
    mean = sum(_days(c["starts_on"], c["closed_on"]) for c in closed) / len(closed)
    assert mean == pytest.approx(cfg["mean_days"]["own_illness"], rel=0.2)
    first = AS_OF - timedelta(days=WINDOW_DAYS - 1)
    assert all(first <= day(c["starts_on"]) <= AS_OF for c in certs)
    assert all(c["issued_by"].startswith("synth-doctor-") for c in certs)
    assert len({c["number"] for c in certs}) == len(certs)


def test_the_chain_holds_and_a_certificates_days_are_its_periods(loaded: Loaded) -> None:
    url, _, _ = loaded
    periods = _periods(url)
    for c in _certificates(url):
        ps = periods[c["id"]]
        assert [p["seq"] for p in ps] == list(range(1, len(ps) + 1))
        assert ps[0]["prev_seq"] is None
        assert ps[0]["prev_ends_on"] is None
        assert day(ps[0]["starts_on"]) == day(c["starts_on"])
        for prev, p in itertools.pairwise(ps):
            assert p["prev_seq"] == prev["seq"]
            assert day(p["prev_ends_on"]) == day(prev["ends_on"])
            assert day(p["starts_on"]) == day(prev["ends_on"]) + timedelta(days=1)
        assert day(c["ends_on"]) == day(ps[-1]["ends_on"])
        last = c["closed_on"] or c["ends_on"]
        assert _days(c["starts_on"], last) == sum(_days(p["starts_on"], p["ends_on"]) for p in ps)
        if c["status"] == "closed":
            assert day(c["closed_on"]) < AS_OF
        else:
            assert day(c["ends_on"]) >= AS_OF
            # granted by the day (the visit before a period), or on the birth record
            assert all(
                day(p["starts_on"]) <= AS_OF + timedelta(days=1)
                for p in ps
                if p["granted_as"] != "birth_record"
            )


def test_periods_keep_the_practitioners_and_the_commissions_limits(loaded: Loaded) -> None:
    url, pop, _ = loaded
    rules = service.sick_leave_rules(pop.country)
    alone = rules.practitioners["doctor"].alone_days
    periods = _periods(url)
    decisions = {d["id"]: d for d in rows(url, "SELECT * FROM sick_leave_vkk_decision")}
    versions = Counter(
        r["certificate_id"] for r in rows(url, "SELECT certificate_id FROM sick_leave_version")
    )
    seen_vkk = 0
    for c in _certificates(url):
        ps = periods[c["id"]]
        assert versions[c["id"]] == c["version"]
        if c["reason"] == "maternity":
            continue
        start = day(c["starts_on"])
        opened_by_vkk = rules.reasons[c["reason"]].vkk_to_open
        if not opened_by_vkk:
            assert _days(ps[0]["starts_on"], ps[0]["ends_on"]) <= alone
        for p in ps:
            end = day(p["ends_on"])
            decision = decisions.get(p["vkk_decision_id"])
            if p["granted_as"] == "vkk":
                seen_vkk += 1
                assert decision is not None
                assert day(decision["extend_until"]) >= end
                assert day(decision["decided_on"]) <= day(p["starts_on"])
                members = decision["members"]
                members = json.loads(members) if isinstance(members, str) else members
                assert len(members) >= rules.vkk_min_members
            else:
                assert p["granted_as"] == "doctor"
                assert decision is None
            errors = _check_length(
                rules,
                "doctor",
                c["reason"],
                c["diagnosis"],
                _days(start, end),
                day(decision["extend_until"]) if decision else None,
                end,
                p["cosigned_by"],
            )
            assert errors == [], (c["number"], p["seq"], [e.message for e in errors])
    assert seen_vkk > 0


def test_maternity_leave_from_the_register(loaded: Loaded) -> None:
    url, pop, _ = loaded
    m = service.sick_leave_rules(pop.country).maternity
    pregnancies = {p["id"]: p for p in rows(url, "SELECT id, person_id, edd FROM pregnancy")}
    births = {b["pregnancy_id"]: b for b in rows(url, "SELECT * FROM birth_record")}
    leave = [c for c in _certificates(url) if c["reason"] == "maternity"]
    assert len(leave) > 5
    assert len({c["pregnancy_id"] for c in leave}) == len(leave)
    periods = _periods(url)
    for c in leave:
        g = pregnancies[c["pregnancy_id"]]
        assert g["person_id"] == c["person_id"]
        assert c["kind"] == "maternity"
        assert c["diagnosis"] is None
        ps = periods[c["id"]]
        birth = births.get(c["pregnancy_id"])
        early = birth is not None and birth["ga_days"] < m.start_week * 7
        if early:
            assert day(c["starts_on"]) == day(birth["born_on"])
            continue
        week = day(g["edd"]) - timedelta(days=280 - m.start_week * 7)
        assert day(c["starts_on"]) == week
        assert _days(ps[0]["starts_on"], ps[0]["ends_on"]) == m.days
        if len(ps) == 2:
            assert ps[1]["granted_as"] == "birth_record"
            assert _days(ps[1]["starts_on"], ps[1]["ends_on"]) == m.extension_days
            assert birth is not None


def test_one_certificate_a_day_per_person(loaded: Loaded) -> None:
    url, _, _ = loaded
    spans: dict[int, list[tuple[date, date]]] = defaultdict(list)
    for c in _certificates(url):
        spans[c["person_id"]].append((day(c["starts_on"]), day(c["closed_on"] or c["ends_on"])))
    for found in spans.values():
        found.sort()
        for (_, end), (start, _) in itertools.pairwise(found):
            assert start > end


def test_care_certificates_are_for_the_holders_young_children(loaded: Loaded) -> None:
    url, pop, _ = loaded
    rules = service.sick_leave_rules(pop.country)
    index = {pid: i for i, pid in enumerate(pop.person_id)}
    care = [c for c in _certificates(url) if c["reason"] == "care"]
    assert care
    for c in care:
        child = index[c["cared_person_id"]]
        assert pop.person_id[pop.mother[child]] == c["person_id"]
        born = date.fromordinal(pop.birth[child])
        assert (
            registry.age_on(born, day(c["starts_on"])) < rules.reasons["care"].child_max_age_years
        )


def test_diagnoses_are_codes_the_app_accepts() -> None:
    for reason, options in DIAGNOSES.items():
        for code, _ in options:
            assert registry.icd10_cause(code, "diagnosis") == code, (reason, code)


@pytest.mark.anyio
async def test_the_app_reads_the_synthetic_certificates(loaded: Loaded) -> None:
    url, _, _ = loaded
    c = _certificates(url)[0]
    analyst = Principal(user_id=0, username="synth-test", role="analyst", session_id="t")
    try:
        async with session_factory(url)() as s:
            verified = await service.verify_certificate(s, c["number"], c["check_code"])
            assert verified.status == "valid"
            a = await service.sick_leave_analytics(
                s, analyst, month_from=f"{AS_OF - timedelta(days=330):%Y-%m}", today=AS_OF
            )
            assert isinstance(a.by_reason.total.certificates, int)
            assert a.by_reason.total.certificates > 100
            await s.rollback()
    finally:
        await dispose_engines()
