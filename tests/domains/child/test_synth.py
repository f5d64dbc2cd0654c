"""Synthetic child health (``salomat synth``): newborn records, well-child visits, growth.

Built on the registry's synthetic population of 3,000 people and the maternal
generator's births (they give the newborn records), so these tests also
exercise the hand-over between the three.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from salomat.core import synth
from salomat.core.db import session_factory
from salomat.core.security import Principal
from salomat.domains.child import service as child
from salomat.domains.maternal import service as maternal
from salomat.domains.registry import service as registry
from salomat.domains.registry.schemas import SyntheticPopulation
from tests.domains.maternal.test_synth import Silent, day, rows
from tests.synth_support import AS_OF, empty_database

pytestmark = pytest.mark.anyio

Loaded = tuple[str, SyntheticPopulation, dict[int, tuple[int, int]], dict[str, int]]


def load(country: str, seed: int, url: str) -> tuple[Any, ...]:
    with synth.run(
        url, country=country, people=3000, seed=seed, as_of=AS_OF, progress=Silent()
    ) as ctx:
        population = registry.synthesize_population(ctx, 3000)
        births = maternal.synthesize_pregnancies(ctx, population)
        written = child.synthesize_child_health(ctx, population, births)
    return population, births, written


@pytest.fixture(scope="module")
def loaded() -> Iterator[Loaded]:
    with empty_database() as url:
        population, births, written = load("UZ", 11, url)
        yield url, population, births, written


TABLES = ("newborn_record", "well_child_visit", "growth_measurement")


def js(value: Any) -> Any:
    """A JSON column as read by plain SQL (SQLite gives the text)."""
    return json.loads(value) if isinstance(value, str) else value


def dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    return {
        t: [tuple(r.values()) for r in rows(url, f"SELECT * FROM {t} ORDER BY id")] for t in TABLES
    }


def test_the_same_seed_writes_the_same_rows(loaded):
    url, _, _, written = loaded
    with empty_database() as again:
        _, _, written_again = load("UZ", 11, again)
        assert written_again == written
        assert dump(again) == dump(url)


def test_babies_born_in_the_register_get_a_newborn_record_with_their_birth_weight(loaded):
    url, pop, births, written = loaded
    index = {pop.person_id[i]: i for i in range(len(pop))}
    newborns = rows(url, "SELECT * FROM newborn_record")
    assert len(newborns) == len(births) == written["newborn_record"]
    for n in newborns:
        grams, weeks = births[index[n["person_id"]]]
        assert (n["birth_weight_g"], n["ga_days"] // 7) == (grams, weeks)
        assert n["from_birth_record"]
    results = Counter(v for n in newborns for v in (js(n["screening"]) or {}).values())
    assert results["pass"] + results["normal"] > 0.9 * sum(results.values())


def test_visits_and_measurements_lie_within_the_childs_life_under_five(loaded):
    url, pop, _, written = loaded
    index = {pop.person_id[i]: i for i in range(len(pop))}
    visits = rows(url, 'SELECT person_id, "on", age_days FROM well_child_visit')
    measurements = rows(url, "SELECT * FROM growth_measurement")
    assert len(visits) == len(measurements) == written["growth_measurement"] > 100
    for v in visits:
        born = date.fromordinal(pop.birth[index[v["person_id"]]])
        assert born < day(v["on"]) <= AS_OF
        assert (day(v["on"]) - born).days == v["age_days"] < 5 * 365
    for m in measurements:
        i = index[m["person_id"]]
        assert m["sex"] == ("female" if pop.sex[i] else "male")
        assert m["measured_lying"] == (m["age_days"] < 731)
        assert 30 <= m["length_or_height_cm"] <= 130
    # each child keeps its track: a few % stunted and wasted, not half of them
    n = len(measurements)
    stunted = sum(1 for m in measurements if "stunting" in " ".join(js(m["classification"]))) / n
    wasted = sum(1 for m in measurements if "wasting" in " ".join(js(m["classification"]))) / n
    assert 0.01 <= stunted <= 0.3
    assert wasted <= 0.15


def test_stored_z_scores_agree_with_the_apps_own_assessment(loaded):
    url, _, _, _ = loaded
    measurements = rows(url, "SELECT * FROM growth_measurement ORDER BY id")
    for m in measurements[::2]:
        a = child.assess(
            m["sex"],
            m["age_days"],
            weight_kg=m["weight_kg"],
            length_or_height_cm=m["length_or_height_cm"],
            measured_lying=m["measured_lying"],
            head_circumference_cm=m["head_circumference_cm"],
        )
        for stored, computed in (
            (m["wfa_z"], a.wfa),
            (m["lhfa_z"], a.lhfa),
            (m["wfl_or_wfh_z"], a.wfl_or_wfh_z),
            (m["bmifa_z"], a.bmifa),
            (m["hcfa_z"], a.hcfa),
        ):
            assert (stored is None) == (computed is None), m
            if stored is not None:
                assert abs(stored - computed) <= 0.0100001, m
        assert m["wfl_or_wfh"] == a.wfl_or_wfh
        assert m["bmi"] == a.bmi
        assert js(m["implausible"]) == a.implausible
        assert js(m["classification"]) == a.classification


async def test_the_passport_reads_a_synthetic_child(loaded):
    url, pop, births, _ = loaded
    sampled = sorted(births)[:5]
    async with session_factory(url)() as s:
        for i in sampled:
            nurse = Principal(
                user_id=1, username="nurse", role="nurse", session_id="t",
                facility_id=pop.facility_id[i],
            )  # fmt: skip
            passport = await child.get_passport(s, nurse, pop.person_id[i], on=AS_OF)
            assert passport.is_child
            assert passport.newborn is not None
            assert passport.newborn.birth_weight_g == births[i][0]
            assert passport.birth is not None
            assert [m.id for m in passport.measurements]
            assert passport.visits


def test_kazakhstan_works_too():
    with empty_database() as url:
        _, births, written = load("KZ", 5, url)
        assert written["newborn_record"] == len(births) > 0
        assert written["growth_measurement"] > 0
