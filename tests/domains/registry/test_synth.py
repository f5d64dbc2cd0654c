"""The synthetic national population (``salomat synth``, the registry's part).

One small population per country is generated once per module (a few
thousand people) on the test backend; the tests read it back through SQL and
through the registry's own services, as the programmes and the benchmarks will.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rapidfuzz import fuzz
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from salomat.core import synth
from salomat.core.config import get_settings
from salomat.core.pagination import PageParams
from salomat.core.security import Principal
from salomat.country import names, national_id, pack
from salomat.domains.registry import service
from salomat.domains.registry.schemas import PersonIn, PersonQuery, SyntheticPopulation
from salomat.domains.registry.service import synth as registry_synth
from salomat.domains.registry.service import synth_names
from tests.synth_support import AS_OF, empty_database, sync_url

PEOPLE = 2500
CLERK = Principal(user_id=0, username="test-synth", role="registrar", session_id="t")


@dataclass
class Loaded:
    country: str
    url: str
    population: SyntheticPopulation
    counts: dict[str, int]

    def rows(self, sql: str, **params: Any) -> list[Any]:
        engine = create_engine(sync_url(self.url))
        try:
            with engine.connect() as conn:
                return list(conn.execute(text(sql), params).all())
        finally:
            engine.dispose()


def _generate(url: str, country: str, people: int, seed: int) -> tuple[SyntheticPopulation, dict]:
    with synth.run(
        url, country=country, people=people, seed=seed, as_of=AS_OF, progress=_Quiet()
    ) as ctx:
        population = registry_synth.synthesize_population(ctx, people)
    return population, dict(ctx.counts)


class _Quiet:
    def start(self, label: str, total: int | None) -> Any:
        return lambda n: None


@pytest.fixture(scope="module", params=["UZ", "KZ"])
def loaded(request: pytest.FixtureRequest) -> Iterator[Loaded]:
    with empty_database() as url:
        population, counts = _generate(url, request.param, PEOPLE, seed=7)
        yield Loaded(request.param, url, population, counts)


def _age(born: date, on: date = AS_OF) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _d(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


# ---- determinism ---------------------------------------------------------------------

_DUMP = {
    "person": "SELECT * FROM person ORDER BY id",
    "territory": "SELECT id, code, level, parent_id, name, is_rural FROM territory ORDER BY id",
    "facility": "SELECT id, code, kind, settlement_id, perinatal_level FROM facility ORDER BY id",
    "attachment": "SELECT person_id, facility_id, section_id, start_on FROM attachment ORDER BY id",
    "relation": "SELECT person_id, related_person_id, kind FROM person_relation ORDER BY id",
    "duplicate": "SELECT person_id, original_id, kind FROM synthetic_duplicate ORDER BY 1",
}


def _dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return {k: [tuple(r) for r in conn.execute(text(q)).all()] for k, q in _DUMP.items()}
    finally:
        engine.dispose()


def test_same_seed_same_rows_other_seed_other_rows():
    dumps = []
    for seed in (3, 3, 4):
        with empty_database() as url:
            _generate(url, "UZ", 800, seed)
            dumps.append(_dump(url))
    assert dumps[0] == dumps[1]
    assert dumps[0]["person"] != dumps[2]["person"]
    assert dumps[0]["duplicate"] != dumps[2]["duplicate"]


# ---- people --------------------------------------------------------------------------


def test_every_table_written_is_counted(loaded: Loaded):
    for table in ("territory", "facility", "care_section", "practitioner", "practitioner_role",
                  "person", "attachment", "person_relation", "synthetic_duplicate",
                  "territory_population"):  # fmt: skip
        (n,) = loaded.rows(f"SELECT COUNT(*) FROM {table}")[0]
        assert loaded.counts[table] == n > 0, table
    assert len(loaded.population) == loaded.counts["person"]


def test_national_ids_are_valid_unique_and_match_the_person(loaded: Loaded):
    rows = loaded.rows(
        "SELECT p.national_id, p.birth_date, p.sex FROM person p "
        "WHERE p.id NOT IN (SELECT person_id FROM synthetic_duplicate)"
    )
    ids = [r[0] for r in rows if r[0]]
    # 99 % in the pack; 2,500 draws put the share above 97 % with near certainty
    assert 0.97 <= len(ids) / len(rows) <= 1.0
    assert len(set(ids)) == len(ids)
    for nid, born, sex in rows:
        if nid:
            parsed = national_id.parse(nid, loaded.country)
            assert (parsed.birth_date, parsed.sex) == (_d(born), sex)


def test_pyramid_and_regions_follow_the_pack(loaded: Loaded):
    cfg = pack.load(loaded.country, "population")
    pop = loaded.population
    originals = [i for i in range(len(pop)) if not pop.is_duplicate[i]]
    assert len(originals) == PEOPLE
    # the living follow the pack's pyramid, its 0-4 band rescaled to the crude birth rate
    # (the people who died over the history are drawn on top of them)
    originals = [i for i in originals if not pop.deceased[i]]
    n = len(originals)
    weights = registry_synth._living_pyramid(cfg)
    pyramid = {"male": weights[:18], "female": weights[18:]}
    total = sum(weights)
    got: Counter[tuple[int, int]] = Counter()
    for i in originals:
        got[(pop.sex[i], min(17, _age(date.fromordinal(pop.birth[i])) // 5))] += 1
    # each band is ~2-6 % of people: one standard error is under 0.5 point at n=2,500,
    # so 2 points per band and sex is > 4 standard errors
    for sex, key in ((0, "male"), (1, "female")):
        for band in range(18):
            expected = pyramid[key][band] / total
            assert abs(got[(sex, band)] / n - expected) < 0.02, (key, band)
    male_share = sum(pyramid["male"]) / total
    assert abs(sum(1 for i in originals if pop.sex[i] == 0) / n - male_share) < 0.03
    # regions get their share to within one person per settlement (rounding, not chance)
    shares = {r["code"]: r["share"] for r in cfg["regions"]}
    whole = sum(shares.values())
    per_region = loaded.rows(
        "SELECT r.code, COUNT(p.id), COUNT(DISTINCT s.id) FROM territory r "
        "JOIN territory d ON d.parent_id = r.id JOIN territory s ON s.parent_id = d.id "
        "LEFT JOIN person p ON p.settlement_id = s.id "
        "AND p.id NOT IN (SELECT person_id FROM synthetic_duplicate) "
        "WHERE r.level = 'region' GROUP BY r.code"
    )
    assert len(per_region) == len(shares)
    settlements = {
        code: k for code, _, k in loaded.rows(
            "SELECT r.code, 0, COUNT(*) FROM territory r JOIN territory d ON d.parent_id = r.id "
            "JOIN territory s ON s.parent_id = d.id WHERE r.level = 'region' GROUP BY r.code"
        )
    }  # fmt: skip
    for code, people, _ in per_region:
        short = code if loaded.country == "UZ" else code[:2]
        assert abs(people - PEOPLE * shares[short] / whole) <= settlements[code] + 1, code


def test_everyone_is_attached_to_primary_care_of_their_own_district(loaded: Loaded):
    primary = {
        t["code"] for t in pack.load(loaded.country)["facility_types"] if t.get("primary_care")
    }
    rows = loaded.rows(
        "SELECT p.id, f.kind, fs.parent_id, ps.parent_id, p.section_id, c.facility_id, "
        "a.facility_id, a.section_id FROM person p "
        "JOIN facility f ON f.id = p.attached_facility_id "
        "JOIN territory fs ON fs.id = f.settlement_id JOIN territory ps ON ps.id = p.settlement_id "
        "JOIN care_section c ON c.id = p.section_id "
        "JOIN attachment a ON a.person_id = p.id AND a.end_on IS NULL"
    )
    assert len(rows) == len(loaded.population)
    for _pid, kind, f_district, p_district, section, s_facility, a_facility, a_section in rows:
        assert kind in primary
        assert f_district == p_district
        assert s_facility == a_facility
        assert a_section == section
    # every section has a general practitioner on its staff
    bad = loaded.rows(
        "SELECT c.id FROM care_section c LEFT JOIN practitioner p ON p.id = c.practitioner_id "
        "WHERE p.specialty IS NULL OR p.specialty <> 'general_practice'"
    )
    assert bad == []
    pop = loaded.population
    for f in pop.facilities_of_kind(next(iter(primary & {f.kind for f in pop.facilities}))):
        assert f.practitioners


def test_the_network_follows_the_pack(loaded: Loaded):
    cfg = pack.load(loaded.country, "population")["network"]
    regions = len(pack.load(loaded.country, "population")["regions"])
    pop = loaded.population
    perinatal = pop.facilities_of_kind(cfg["perinatal_centre"])
    assert len(perinatal) == regions
    assert {f.perinatal_level for f in perinatal} == {3}
    assert {f.region_id for f in perinatal} == set(pop.region_of.values())
    assert len(pop.facilities_of_kind(cfg["screening_centre"])) == regions
    districts = set(pop.district_of.values())
    assert {f.district_id for f in pop.facilities_of_kind(cfg["district_hospital"])} == districts
    assert {f.district_id for f in pop.facilities_of_kind(cfg["pharmacy"]["kind"])} == districts
    for f in pop.facilities:
        assert pop.district_of[f.settlement_id] == f.district_id
        assert pop.region_of[f.district_id] == f.region_id


def test_households_share_a_family_name(loaded: Loaded):
    rows = loaded.rows(
        "SELECT id, family_key FROM person WHERE id NOT IN "
        "(SELECT person_id FROM synthetic_duplicate) ORDER BY id"
    )
    pop = loaded.population
    index = {pid: i for i, pid in enumerate(pop.person_id)}
    families: dict[int, set[str]] = defaultdict(set)
    for pid, key in rows:
        # the female form adds -a (Karimova, Ахметова): the same family
        families[pop.household[index[pid]]].add(key.removesuffix("a"))
    assert all(len(keys) == 1 for keys in families.values())
    sizes = Counter(pop.household[i] for i in range(len(pop)) if not pop.is_duplicate[i])
    mean = sum(sizes.values()) / len(sizes)
    reference = pack.load(loaded.country, "population")["household_size"]
    expected = sum(int(k) * v for k, v in reference.items()) / sum(reference.values())
    # built from the pyramid, not drawn from the table: the mean size within ~40 %
    assert abs(mean - expected) / expected < 0.4, (mean, expected)


def test_parents_are_in_the_household_and_of_the_right_age(loaded: Loaded):
    rows = loaded.rows(
        "SELECT r.kind, c.birth_date, m.birth_date, m.sex, c.id, m.id FROM person_relation r "
        "JOIN person c ON c.id = r.person_id JOIN person m ON m.id = r.related_person_id"
    )
    assert rows
    pop = loaded.population
    index = {pid: i for i, pid in enumerate(pop.person_id)}
    kinds = Counter()
    for kind, child_born, parent_born, parent_sex, child, parent in rows:
        kinds[kind] += 1
        assert _age(_d(child_born)) < 18
        assert 15 <= _age(_d(parent_born), _d(child_born)) <= 55
        assert parent_sex == ("female" if kind == "mother" else "male")
        assert pop.household[index[child]] == pop.household[index[parent]]
        if kind == "mother":
            assert pop.mother[index[child]] == index[parent]
    assert kinds["mother"] >= kinds["father"] > 0
    # most children under 18 have their mother recorded
    children = sum(
        1 for i in range(len(pop))
        if not pop.is_duplicate[i] and pop.age_days(i) < 18 * 365
    )  # fmt: skip
    assert kinds["mother"] >= 0.8 * children


def test_deaths_over_the_history_at_the_crude_rate(loaded: Loaded):
    cfg = pack.load(loaded.country, "population")
    rate = cfg["crude_death_rate"]
    first = date(AS_OF.year - cfg["vital"]["history_years"], 1, 1)
    rows = loaded.rows(
        "SELECT deceased_on, death_cause, birth_date FROM person WHERE deceased_on IS NOT NULL"
    )
    years = (AS_OF - first).days / 365.2425
    expected = PEOPLE * rate / 1000 * years
    # a Poisson count around 70-100: these bounds hold at > 4 standard deviations
    assert expected / 2 <= len(rows) <= expected * 1.6
    for died, cause, born in rows:
        assert _d(born) <= _d(died) < AS_OF
        assert first <= _d(died)
        assert cause
        assert cause[0].isalpha()


def test_territory_population_counts_the_living_people(loaded: Loaded):
    denominators = dict(
        loaded.rows(
            "SELECT territory_id, SUM(count) FROM territory_population WHERE year = :y "
            "GROUP BY territory_id",
            y=AS_OF.year,
        )
    )
    people = dict(
        loaded.rows(
            "SELECT settlement_id, COUNT(*) FROM person WHERE deceased_on IS NULL AND id NOT IN "
            "(SELECT person_id FROM synthetic_duplicate) GROUP BY settlement_id"
        )
    )
    assert {k: int(v) for k, v in denominators.items()} == people


# ---- duplicates ----------------------------------------------------------------------


def test_duplicates_are_about_one_percent_each_with_its_truth(loaded: Loaded):
    rows = loaded.rows(
        "SELECT d.kind, p.national_id, p.sex, o.sex, p.birth_date, o.birth_date, p.patronymic, "
        "o.patronymic, ps.parent_id, os.parent_id, p.family_name, o.family_name, "
        "p.given_name, o.given_name, p.name_script, o.name_script "
        "FROM synthetic_duplicate d JOIN person p ON p.id = d.person_id "
        "JOIN person o ON o.id = d.original_id JOIN territory ps ON ps.id = p.settlement_id "
        "JOIN territory os ON os.id = o.settlement_id"
    )
    assert len(rows) == round(PEOPLE * 0.01)
    assert sum(loaded.population.is_duplicate) == len(rows)
    for row in rows:
        kind, nid, sex, o_sex, born, o_born, patr, o_patr, district, o_district = row[:10]
        fam, o_fam, giv, o_giv, script, o_script = row[10:]
        parts = kind.split("+")
        assert set(parts) <= set(registry_synth.KINDS)
        assert nid is None
        assert sex == o_sex
        assert district == o_district
        born, o_born = _d(born), _d(o_born)
        if "day_month_swap" in parts:
            assert (born.day, born.month, born.year) == (o_born.month, o_born.day, o_born.year)
            assert born != o_born
        else:
            assert born == o_born
        if "patronymic_missing" in parts:
            assert patr is None
        else:
            assert (patr is None) == (o_patr is None)
        if kind == "day_month_swap" or kind == "patronymic_missing":
            assert (fam, giv) == (o_fam, o_giv)
        if kind == "transliteration":
            assert (fam, giv) != (o_fam, o_giv)
            # the other script, or a spelling variant: the same name to the matching key
            assert script != o_script or fam != o_fam or giv != o_giv
        if kind == "typo":
            assert (fam, giv) != (o_fam, o_giv)
            assert script == o_script


@pytest.mark.anyio
async def test_the_registry_finds_the_original_of_most_duplicates(loaded: Loaded, monkeypatch):
    monkeypatch.setenv("SALOMAT_COUNTRY", loaded.country)
    get_settings.cache_clear()
    rows = loaded.rows(
        "SELECT d.original_id, p.family_name, p.given_name, p.patronymic, p.birth_date, p.sex "
        "FROM synthetic_duplicate d JOIN person p ON p.id = d.person_id ORDER BY d.person_id"
    )
    engine = create_async_engine(loaded.url)
    found = 0
    try:
        async with AsyncSession(engine) as session:
            for original, fam, giv, patr, born, sex in rows:
                data = PersonIn(
                    family_name=fam, given_name=giv, patronymic=patr, birth_date=_d(born), sex=sex
                )
                candidates = await service.find_candidates(session, CLERK, data)
                found += any(c.person.id == original for c in candidates)
    finally:
        await engine.dispose()
        get_settings.cache_clear()
    assert found >= 0.8 * len(rows), (found, len(rows))


@pytest.mark.anyio
async def test_the_app_reads_a_synthetic_person(loaded: Loaded, monkeypatch):
    monkeypatch.setenv("SALOMAT_COUNTRY", loaded.country)
    get_settings.cache_clear()
    pop = loaded.population
    i = next(i for i in range(len(pop)) if pop.national_id[i] and pop.alive(i))
    engine = create_async_engine(loaded.url)
    try:
        async with AsyncSession(engine) as session:
            page = await service.search_persons(
                session, CLERK, PersonQuery(national_id=pop.national_id[i]), PageParams(10, 0)
            )
            assert [p.id for p in page.items] == [pop.person_id[i]]
            person = await service.get_person(session, CLERK, pop.person_id[i])
            assert person.national_id == pop.national_id[i]
            assert person.attached_facility_code == pop.facility(pop.facility_id[i]).code
            assert person.birth_date == date.fromordinal(pop.birth[i])
    finally:
        await engine.dispose()
        get_settings.cache_clear()


# ---- the helpers that make duplicates ------------------------------------------------

_LATN = st.sampled_from(
    [n for pool in synth_names.POOLS.values() for group in pool for n in group]
).map(lambda n: synth_names.written(n, "latn", "UZ")[0])


@given(_LATN, st.integers(0, 2**32))
def test_a_typo_changes_one_letter_and_keeps_the_first(name: str, seed: int):
    import random

    out = registry_synth._typo(name, random.Random(seed))
    assert out != name
    assert out[0] == name[0]
    assert abs(len(out) - len(name)) <= 1


@given(_LATN, st.integers(0, 2**32))
def test_a_spelling_variant_keeps_the_name_findable(name: str, seed: int):
    import random

    out = registry_synth._respell(name, random.Random(seed))
    if out is not None:
        assert out != name
        # what the duplicate search compares: the skeletons stay close
        assert fuzz.ratio(names.skeleton(name), names.skeleton(out)) >= 70


@given(st.integers(0, 10**6), st.lists(st.floats(0, 1000), min_size=1, max_size=30))
def test_split_gives_parts_that_sum_to_the_whole(total: int, weights: list[float]):
    parts = registry_synth._split(total, weights)
    assert sum(parts) == total or sum(weights) == 0
    assert all(p >= 0 for p in parts)
