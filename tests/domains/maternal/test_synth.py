"""Synthetic pregnancies (``salomat synth``): what the maternal generator writes.

Most tests run on the registry's own synthetic population of 3,000 people.
``small_population`` builds a hand-made one (a region of two districts, one
without a perinatal facility, families with a few twins) for the cases the
registry's draw may not hold.
"""

from __future__ import annotations

import random
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from salomat.core import synth
from salomat.core.db import session_factory
from salomat.core.security import Principal
from salomat.domains.maternal import service as maternal
from salomat.domains.maternal.models import AdviceItem, Pregnancy
from salomat.domains.maternal.service import evaluation, pregnancy, reevaluation
from salomat.domains.registry import service as registry
from salomat.domains.registry.models import Facility, Person, Territory
from salomat.domains.registry.schemas import SyntheticFacility, SyntheticPopulation
from tests.domains.maternal.test_dashboard import as_counted, recount, without_zeros
from tests.synth_support import AS_OF, empty_database, sync_url

pytestmark = pytest.mark.anyio

ANALYST = Principal(user_id=0, username="test-analyst", role="analyst", session_id="t")
REGION = "97"


class Silent:
    def start(self, label: str, total: int | None) -> Callable[[int], None]:
        return lambda n: None


def small_population(ctx: synth.SynthContext, women: int = 260) -> SyntheticPopulation:
    """A region (two districts), its facilities and families, written to the database."""
    w = ctx.writer
    rng = random.Random(f"{ctx.seed}:test-population")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    region, d1, d2, s1, s2, s3 = (w.next_id(Territory.__table__) for _ in range(6))
    w.write(
        Territory.__table__,
        ("id", "code", "level", "parent_id", "name", "names", "is_rural", "version"),
        [
            (region, REGION, "region", None, "Test region", {}, None, 1),
            (d1, f"{REGION}01", "district", region, "North", {}, None, 1),
            (d2, f"{REGION}02", "district", region, "South", {}, None, 1),
            (s1, f"{REGION}0101", "settlement", d1, "Town", {}, False, 1),
            (s2, f"{REGION}0102", "settlement", d1, "Village", {}, True, 1),
            (s3, f"{REGION}0201", "settlement", d2, "Far village", {}, True, 1),
        ],
    )
    specs = [
        ("family_polyclinic", s1, d1, None),
        ("family_polyclinic", s3, d2, None),
        ("district_hospital", s1, d1, 2),
        ("perinatal_centre", s1, d1, 3),
    ]
    facilities = []
    for kind, settlement, district, level in specs:
        fid = w.next_id(Facility.__table__)
        facilities.append(
            SyntheticFacility(fid, f"T-{fid}", kind, settlement, district, region, level)
        )
    cols = ("id", "code", "name", "names", "kind", "perinatal_level", "settlement_id", "is_open")
    w.write(
        Facility.__table__,
        (*cols, "version"),
        [
            (f.id, f.code, f.kind, {}, f.kind, f.perinatal_level, f.settlement_id, True, 1)
            for f in facilities
        ],
    )
    pop = SyntheticPopulation(country=ctx.country, as_of=ctx.as_of, facilities=facilities)
    pop.district_of = {s1: d1, s2: d1, s3: d2}
    pop.region_of = {d1: region, d2: region}
    today = ctx.as_of.toordinal()
    people: list[tuple[int, int, int, int]] = []  # sex, birth, settlement, mother index

    def add(sex: int, birth: int, settlement: int, mother: int) -> int:
        people.append((sex, birth, settlement, mother))
        return len(people) - 1

    for _ in range(women):
        settlement = rng.choice((s1, s2, s3))
        age_days = rng.randint(15 * 365, 49 * 365)
        mother = add(1, today - age_days, settlement, -1)
        add(0, today - age_days - rng.randint(300, 3000), settlement, -1)  # her husband
        # her children: the youngest often in the last two years
        born = today - rng.randint(0, 700)
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            if (born - (today - age_days)) // 365 < 16:
                break
            add(rng.randint(0, 1), born, settlement, mother)
            if rng.random() < 0.1:  # a twin (more often than in life, to have some)
                add(rng.randint(0, 1), born, settlement, mother)
            born -= rng.randint(500, 1500)
    pid0 = w.next_id(Person.__table__, len(people))
    for k, (sex, birth, settlement, mother) in enumerate(people):
        pop.person_id.append(pid0 + k)
        pop.sex.append(sex)
        pop.birth.append(birth)
        pop.settlement_id.append(settlement)
        pop.facility_id.append(facilities[0 if settlement != s3 else 1].id)
        pop.section_id.append(0)
        pop.household.append(k)
        pop.mother.append(mother)
        pop.deceased.append(0)
        pop.is_duplicate.append(0)
        pop.national_id.append(None)
    cols = (
        "id", "family_name", "given_name", "name_script", "name_key", "family_key", "birth_date",
        "sex", "settlement_id", "attached_facility_id", "version", "created_at", "updated_at",
    )  # fmt: skip
    w.write(
        Person.__table__,
        cols,
        (
            (pop.person_id[i], f"F{i}", f"G{i}", "latn", f"f{i} g{i}", f"f{i}",
             date.fromordinal(pop.birth[i]), "female" if pop.sex[i] else "male",
             pop.settlement_id[i], pop.facility_id[i], 1, now, now)
            for i in range(len(pop))
        ),
    )  # fmt: skip
    assert isinstance(pop.birth, array)
    return pop


def load(
    country: str, seed: int, url: str, people: int = 3000
) -> tuple[SyntheticPopulation, dict[int, tuple[int, int]]]:
    """The registry's population of ``people`` (0: ``small_population``) and its pregnancies."""
    with synth.run(
        url, country=country, people=people, seed=seed, as_of=AS_OF, progress=Silent()
    ) as ctx:
        if people:
            population = registry.synthesize_population(ctx, people)
        else:
            population = small_population(ctx)
        births = maternal.synthesize_pregnancies(ctx, population)
    return population, births


@pytest.fixture(scope="module")
def loaded() -> Iterator[tuple[str, SyntheticPopulation, dict[int, tuple[int, int]]]]:
    with empty_database() as url:
        population, births = load("UZ", 7, url)
        yield url, population, births


def rows(url: str, sql: str) -> list[Any]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)).mappings())
    finally:
        engine.dispose()


def day(v: Any) -> date:
    return v if isinstance(v, date) else date.fromisoformat(str(v)[:10])


TABLES = (
    "pregnancy", "antenatal_contact", "antenatal_advice", "antenatal_referral", "birth_record",
    "birth_baby", "postnatal_contact",
)  # fmt: skip


def dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    return {
        t: [tuple(r.values()) for r in rows(url, f"SELECT * FROM {t} ORDER BY id")] for t in TABLES
    }


# ---- the tests ------------------------------------------------------------------------


def test_the_same_seed_writes_the_same_rows_and_another_seed_others(loaded):
    url, _, births = loaded
    with empty_database() as again:
        _, births_again = load("UZ", 7, again)
        assert births_again == births
        assert dump(again) == dump(url)
    with empty_database() as other:
        _, births_other = load("UZ", 8, other)
        assert births_other != births


def test_every_recent_child_of_a_mother_is_born_of_her_pregnancy_with_plausible_figures(loaded):
    url, pop, births = loaded
    today = AS_OF.toordinal()
    recent = {
        c
        for c in range(len(pop))
        if pop.mother[c] >= 0 and 0 <= today - pop.birth[c] < 730 and not pop.is_duplicate[c]
    }
    assert set(births) <= recent
    assert len(births) > 20
    # all but a sibling born too soon after another to have had a pregnancy of its own
    born_to: dict[int, list[int]] = {}
    for c in range(len(pop)):
        if pop.mother[c] >= 0:
            born_to.setdefault(pop.mother[c], []).append(pop.birth[c])
    for c in recent - set(births):
        gaps = [pop.birth[c] - b for b in born_to[pop.mother[c]]]
        assert any(0 < g < 330 for g in gaps), c
    index = {pop.person_id[i]: i for i in range(len(pop))}
    babies = rows(
        url,
        "SELECT b.person_id, b.mother_person_id, b.birth_weight_g, r.ga_days, r.born_on, "
        "p.person_id AS woman, p.outcome, p.closed_on FROM birth_baby b "
        "JOIN birth_record r ON r.id = b.birth_id JOIN pregnancy p ON p.id = r.pregnancy_id "
        "WHERE b.outcome = 'live'",
    )
    assert len(babies) == len(births)
    for b in babies:
        child = index[b["person_id"]]
        assert pop.mother[child] == index[b["mother_person_id"]] == index[b["woman"]]
        assert day(b["born_on"]) == day(b["closed_on"]) == date.fromordinal(pop.birth[child])
        assert b["outcome"] == "live_birth"
        assert 24 * 7 <= b["ga_days"] <= 41 * 7 + 6
        assert 400 <= b["birth_weight_g"] <= 5600
        assert births[child] == (b["birth_weight_g"], b["ga_days"] // 7)
    weights = [b["birth_weight_g"] for b in babies]
    term = [b["birth_weight_g"] for b in babies if b["ga_days"] >= 259]
    assert 2900 <= sum(term) / len(term) <= 3600
    preterm = [b["birth_weight_g"] for b in babies if b["ga_days"] < 245]
    assert all(w < 3300 for w in preterm)
    assert len(weights) == len(births)


def test_no_woman_has_two_current_pregnancies_and_contacts_lie_within_the_pregnancy(loaded):
    url, _, _ = loaded
    pregnancies = {p["id"]: p for p in rows(url, "SELECT * FROM pregnancy")}
    current = Counter(p["person_id"] for p in pregnancies.values() if p["status"] == "current")
    assert current
    assert max(current.values()) == 1
    assert {p["outcome"] for p in pregnancies.values()} >= {None, "live_birth"}
    for c in rows(url, 'SELECT pregnancy_id, person_id, "on", ga_days FROM antenatal_contact'):
        p = pregnancies[c["pregnancy_id"]]
        start = day(p["edd"]) - timedelta(days=280)
        assert c["person_id"] == p["person_id"]
        assert (day(c["on"]) - start).days == c["ga_days"]
        assert day(p["registered_on"]) <= day(c["on"]) <= AS_OF
        if p["closed_on"] is not None:
            assert day(c["on"]) < day(p["closed_on"])
    # every pregnancy was evaluated, and a high-risk one tends to be referred
    assert all(p["risk_level"] in ("low", "medium", "high") for p in pregnancies.values())


def test_contacts_per_woman_follow_the_pack_and_high_risk_women_are_referred(loaded):
    url, _, _ = loaded
    n = Counter(r["pregnancy_id"] for r in rows(url, "SELECT pregnancy_id FROM antenatal_contact"))
    births = [r["id"] for r in rows(url, "SELECT id FROM pregnancy WHERE outcome = 'live_birth'")]
    anc4 = sum(n[p] >= 4 for p in births) / len(births)
    assert 0.7 <= anc4 <= 1.0
    referred = rows(
        url,
        "SELECT r.status, r.to_facility_id, p.risk_level FROM antenatal_referral r "
        "JOIN pregnancy p ON p.id = r.pregnancy_id",
    )
    assert referred
    assert all(r["risk_level"] == "high" for r in referred)


async def test_the_dashboard_equals_a_recount_of_the_generated_rows(loaded):
    url, _, _ = loaded
    start, end = date.today() - timedelta(days=364), date.today()
    region = rows(
        url,
        "SELECT r.code, COUNT(*) AS n FROM pregnancy p JOIN territory s ON s.id = p.settlement_id "
        "JOIN territory d ON d.id = s.parent_id JOIN territory r ON r.id = d.parent_id "
        "GROUP BY r.code ORDER BY n DESC, r.code",
    )[0]["code"]
    async with session_factory(url)() as s:
        for area in (None, region):
            d = await maternal.maternal_dashboard(s, ANALYST, area=area)
            recounted = await recount(s, area, d.period_from, d.period_to)
            assert (d.period_from, d.period_to) == (start, end)
            assert as_counted(d.total) == without_zeros(recounted)
        d = await maternal.maternal_dashboard(s, ANALYST)
        assert d.total.current > 10
        assert d.total.births > 10
        assert d.total.anc4_pct is not None
        assert d.total.anc4_pct >= 60


async def test_the_apps_services_read_the_synthetic_records(loaded):
    url, pop, _ = loaded
    busiest = rows(
        url,
        "SELECT facility_id, COUNT(*) AS n FROM pregnancy WHERE status = 'current' "
        "GROUP BY facility_id ORDER BY n DESC, facility_id LIMIT 5",
    )
    shown = 0
    async with session_factory(url)() as s:
        for f in busiest:
            facility = pop.facility(f["facility_id"])
            doctor = Principal(
                user_id=1, username="dr", role="obstetrician", session_id="t",
                facility_id=facility.id, facility_code=facility.code,
            )  # fmt: skip
            attached = {
                pop.person_id[i] for i in range(len(pop)) if pop.facility_id[i] == facility.id
            }
            worklist = await maternal.antenatal_worklist(s, doctor)
            assert {r.person_id for r in worklist} <= attached
            shown += len(worklist)
        assert shown
        some = rows(url, "SELECT id, person_id, outcome FROM pregnancy ORDER BY id")
        for p in [r for r in some if r["person_id"] in attached][:15]:
            detail = await maternal.get_pregnancy(s, doctor, p["id"])
            assert detail.contacts
            if p["outcome"] == "live_birth":
                birth = await maternal.get_birth(s, doctor, p["id"])
                assert birth.babies[0].person_id is not None


def test_kazakhstan_and_a_hand_made_region_with_twins_and_no_local_maternity_work_too():
    with empty_database() as url:
        pop, births = load("KZ", 3, url, people=0)
        assert births
        current = rows(url, "SELECT COUNT(*) AS n FROM pregnancy WHERE status = 'current'")
        assert current[0]["n"] > 0
        twins = rows(url, "SELECT birth_id FROM birth_baby GROUP BY birth_id HAVING COUNT(*) > 1")
        assert twins
        # the south district has no perinatal facility: its women give birth at the centre
        south = {f.id for f in pop.facilities if f.district_id == pop.facilities[1].district_id}
        places = rows(
            url,
            "SELECT r.facility_id FROM birth_record r JOIN pregnancy p ON p.id = r.pregnancy_id "
            f"WHERE p.facility_id = {pop.facilities[1].id}",
        )
        assert places
        assert not {r["facility_id"] for r in places} & south


async def test_the_stored_evaluation_is_what_the_apps_rules_give_on_the_stored_contacts(loaded):
    url, _, _ = loaded
    closed = rows(url, "SELECT id FROM pregnancy WHERE status = 'closed' ORDER BY id")
    current = rows(url, "SELECT id FROM pregnancy WHERE status = 'current' ORDER BY id")
    # the generator stores the diagnoses the contacts gave (hypertension, anaemia, ...)
    assert rows(url, "SELECT COUNT(*) AS n FROM antenatal_diagnosis")[0]["n"] > 0
    # current ones are evaluated as of the load's day: comparable only on that day
    sample = closed[::7] + (current[::5] if date.today() == AS_OF else [])
    async with session_factory(url)() as s:
        for r in sample:
            p = await s.get(Pregnancy, r["id"])
            contacts = await pregnancy._contacts(s, p.id)
            today = min(date.today(), p.closed_on or date.today())
            diagnoses = await evaluation._diagnoses(s, p.id)
            stored = (
                await s.execute(
                    select(AdviceItem).where(
                        AdviceItem.pregnancy_id == p.id, AdviceItem.active.is_(True)
                    )
                )
            ).scalars()
            # what the nightly job checks: no new standing diagnosis, the same advice
            # (rule, code, values, details), the same risk and level of care
            assert reevaluation._unchanged(p, contacts, diagnoses, list(stored), today, "UZ")
