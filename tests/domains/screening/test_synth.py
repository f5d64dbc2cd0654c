"""Synthetic screening and disease-management records (``salomat synth``): enrolments at
the pack's prevalence and registration rates, screenings at its coverage (opportunistic
ones outside the group and not counted), rows the models and rules accept, HEARTS
indicators (``service/indicators.py``) that look like a real programme's, the same rows
for the same seed.

Built on the registry's synthetic population of 10,000 people (UZ and KZ). Expected values
are computed here from the population and the pack's ``population.yaml`` (each person's
band prevalence times the registered share; binomial bounds), not by the generator's code.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from salomat.core import synth
from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.registry import service as registry
from salomat.domains.registry.schemas import SyntheticPopulation
from salomat.domains.screening.service.rules import add_years, age_on, screening_rules
from salomat.domains.screening.service.synth import synthesize_screening
from tests.domains.maternal.test_synth import Silent, day, rows
from tests.synth_support import AS_OF, empty_database

PEOPLE = 10_000
Loaded = tuple[str, SyntheticPopulation, dict[str, int]]
TABLES = ("dmp_enrolment", "dmp_visit", "screening_visit", "screening_observation")


@pytest.fixture(scope="module", params=["UZ", "KZ"])
def loaded(request: pytest.FixtureRequest) -> Iterator[Loaded]:
    country = request.param
    with empty_database() as url:
        with synth.run(
            url, country=country, people=PEOPLE, seed=7, as_of=AS_OF, progress=Silent()
        ) as ctx:
            population = registry.synthesize_population(ctx, PEOPLE)
            counts = synthesize_screening(ctx, population)
        yield url, population, counts


def _band(bands: dict[int, float], age: int) -> float:
    below = [lo for lo in bands if lo <= age]
    return float(bands[max(below)]) if below else 0.0


def _adults(pop: SyntheticPopulation) -> list[int]:
    """Indexes of the original records 18 or over on AS_OF attached to a facility."""
    return [
        i
        for i in range(len(pop))
        if not pop.is_duplicate[i]
        and pop.facility_id[i]
        and age_on(date.fromordinal(pop.birth[i]), AS_OF) >= 18
    ]


def test_enrolments_at_the_packs_prevalence_and_registration(loaded: Loaded) -> None:
    url, pop, counts = loaded
    cfg = pack.load(pop.country, "population")["screening"]["dmp"]
    enrolments = rows(url, "SELECT * FROM dmp_enrolment")
    assert counts["dmp_enrolment"] == len(enrolments)
    got = Counter(e["programme"] for e in enrolments)
    adults = _adults(pop)
    for code, spec in cfg.items():
        shares = [
            _band(spec["prevalence"], age_on(date.fromordinal(pop.birth[i]), AS_OF))
            * float(spec["registered"])
            for i in adults
        ]
        expected = sum(shares)
        sd = math.sqrt(sum(s * (1 - s) for s in shares))
        # a sum of Bernoulli draws: within four standard deviations (and one per cent)
        assert abs(got[code] - expected) <= 4 * sd + 0.01 * expected, (code, got[code], expected)
    # hypertension: about a quarter of adults prevalent, fewer than half of them enrolled
    assert 0.05 < got["hypertension"] / len(adults) < 0.2


def test_enrolments_are_ones_the_rules_accept(loaded: Loaded) -> None:
    url, pop, _ = loaded
    rules = screening_rules(pop.country).edition(AS_OF)
    index = {pop.person_id[i]: i for i in range(len(pop))}
    seen: set[tuple[int, str]] = set()
    for e in rows(url, "SELECT * FROM dmp_enrolment"):
        i = index[e["person_id"]]
        assert not pop.is_duplicate[i]
        # one enrolment a person and programme, at the attached facility
        assert (e["person_id"], e["programme"]) not in seen
        seen.add((e["person_id"], e["programme"]))
        assert e["facility_id"] == pop.facility_id[i]
        # a qualifying diagnosis; enrolled as an adult, before any death, by the run's day
        assert rules.dmps[e["programme"]].qualifies(e["diagnosis_code"]), e
        born = date.fromordinal(pop.birth[i])
        enrolled = day(e["enrolled_on"])
        assert add_years(born, 18) <= enrolled <= AS_OF
        if pop.deceased[i]:
            assert enrolled < date.fromordinal(pop.deceased[i])
        if e["ended_on"] is not None:
            assert enrolled < day(e["ended_on"]) <= AS_OF
            assert e["end_reason"] in ("died", "withdrawn")
            assert e["next_visit_due"] is None
            if e["end_reason"] == "died":
                assert day(e["ended_on"]) == date.fromordinal(pop.deceased[i])
        else:
            assert e["next_visit_due"] is not None


def test_follow_up_visits_inside_the_enrolment_with_readings_in_range(loaded: Loaded) -> None:
    url, pop, counts = loaded
    rules = screening_rules(pop.country)
    enrolments = {e["id"]: e for e in rows(url, "SELECT * FROM dmp_enrolment")}
    visits = rows(url, "SELECT * FROM dmp_visit")
    assert counts["dmp_visit"] == len(visits) > 0
    first = AS_OF - timedelta(days=round(2 * 365.25))
    for v in visits:
        e = enrolments[v["enrolment_id"]]
        on = day(v["visited_on"])
        assert v["person_id"] == e["person_id"]
        assert first <= on <= AS_OF
        assert day(e["enrolled_on"]) <= on
        if e["ended_on"] is not None:
            assert on < day(e["ended_on"])
        interval = rules.edition(AS_OF).dmps[e["programme"]].visit_interval_days
        assert day(v["next_visit_due"]) == on + timedelta(days=interval)
    bp = rules.measurements["bp"]
    assert bp.systolic is not None
    assert bp.diastolic is not None
    kinds: Counter[str] = Counter()
    for o in rows(url, "SELECT * FROM screening_observation"):
        kinds[o["kind"]] += 1
        m = rules.measurements[o["kind"]]
        if o["kind"] == "bp":
            assert bp.systolic[0] <= o["systolic"] <= bp.systolic[1]
            assert bp.diastolic[0] <= o["diastolic"] <= bp.diastolic[1]
        elif m.codes:
            assert o["code"] in m.codes, o
        else:
            assert o["unit"] == m.canonical
            assert m.low is not None
            assert m.high is not None
            assert m.low <= o["value"] <= m.high, o
        # a reading belongs to a screening or to a follow-up of an enrolment
        assert (o["screening_visit_id"] is None) != (o["dmp_visit_id"] is None)
    assert kinds["bp"] > 0
    assert kinds["hba1c"] > 0
    assert kinds["glucose_fasting"] > 0


def test_screenings_in_and_outside_the_target_group(loaded: Loaded) -> None:
    url, pop, counts = loaded
    rules = screening_rules(pop.country)
    index = {pop.person_id[i]: i for i in range(len(pop))}
    open_on: dict[int, list[tuple[str, date, date | None]]] = defaultdict(list)
    for e in rows(url, "SELECT * FROM dmp_enrolment"):
        ended = day(e["ended_on"]) if e["ended_on"] is not None else None
        open_on[e["person_id"]].append((e["programme"], day(e["enrolled_on"]), ended))
    visits = rows(url, "SELECT * FROM screening_visit")
    assert counts["screening_visit"] == len(visits)
    kinds = Counter()
    for v in visits:
        i = index[v["person_id"]]
        on = day(v["performed_on"])
        p = rules.programme(v["programme"], on)
        sex = "female" if pop.sex[i] else "male"
        in_group = p.in_age_and_sex(sex, date.fromordinal(pop.birth[i]), on) and not any(
            k in p.excluded_by_dmp and start <= on and (end is None or end > on)
            for k, start, end in open_on[v["person_id"]]
        )
        # opportunistic exactly when outside the group on the day
        assert bool(v["opportunistic"]) == (not in_group), v
        kinds["opportunistic" if v["opportunistic"] else "counted"] += 1
        assert (v["result"] == "normal") == (v["next_step"] == "none")
        kinds[v["next_step"]] += 1
    assert kinds["opportunistic"] > 0
    assert kinds["counted"] > 0
    assert kinds["refer"] > 0
    assert kinds["enrol"] > 0


@pytest.mark.anyio
async def test_coverage_at_the_packs_rate(loaded: Loaded, monkeypatch: pytest.MonkeyPatch) -> None:
    """The target-group counts (``target_groups``) on the run's day: screened / eligible
    within binomial bounds of the pack's coverage."""
    from salomat.core.db import session_factory
    from salomat.domains.screening.service import common, target_groups

    url, pop, _ = loaded
    monkeypatch.setattr(common, "rules", lambda: screening_rules(pop.country))
    coverage = pack.load(pop.country, "population")["screening"]["screening"]["coverage"]
    regions = [r["code"] for r in rows(url, "SELECT code FROM territory WHERE level = 'region'")]
    who = Principal(user_id=0, username="t", role="analyst", session_id="t")
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    async with session_factory(url)() as s:
        for region in regions:
            for c in await target_groups.target_group_counts(s, who, AS_OF, area=region):
                totals[c.programme][0] += c.eligible
                totals[c.programme][1] += c.screened
    assert set(totals) == set(coverage)
    for code, (eligible, screened) in totals.items():
        share = float(coverage[code])
        assert eligible > 100, code
        sd = math.sqrt(eligible * share * (1 - share))
        # a few people came of age in the round (fewer days to be screened): 2 per cent
        assert abs(screened - share * eligible) <= 4 * sd + 0.02 * eligible, (
            code,
            screened,
            eligible,
        )


@pytest.mark.anyio
async def test_hearts_indicators_look_like_a_programme(loaded: Loaded) -> None:
    """The last closed quarter before the run's day, by the SQL indicators."""
    from salomat.core.db import session_factory
    from salomat.domains.screening.service import indicators
    from salomat.domains.screening.service.hearts import Outcome, Period

    url, pop, _ = loaded
    quarter = Period.quarter(AS_OF.year, (AS_OF.month - 1) // 3)  # 2026-Q3
    targets = indicators.targets_on(quarter.end, pop.country)
    async with session_factory(url)() as s:
        bp = indicators._add(
            list((await indicators.control_counts(s, "hypertension", quarter)).values())
        )
        cohort = indicators._add_cohorts(
            list(
                (
                    await indicators.cohort_counts(s, "hypertension", indicators.cohort_of(quarter))
                ).values()
            )
        )
        dhis2 = indicators._add(
            list(
                (await indicators.control_counts(s, "t2dm", quarter, sugar=targets.sugar)).values()
            )
        )
        simple = indicators._add(
            list(
                (
                    await indicators.control_counts(s, "t2dm", quarter, sugar=targets.lenient)
                ).values()
            )
        )
    assert bp.denominator > 100
    share = {o: bp.n(o) / bp.denominator for o in Outcome}
    # about half of those under care controlled; some not, some missed a visit
    assert 0.25 < share[Outcome.CONTROLLED] < 0.7
    assert 0.2 < share[Outcome.UNCONTROLLED] < 0.7
    assert 0.02 < share[Outcome.MISSED] < 0.3
    assert bp.n(Outcome.VISITED_NO_BP) > 0
    assert 0.03 < bp.n(Outcome.LTFU) / bp.assigned < 0.4
    assert bp.n(Outcome.DEAD) > 0
    assert bp.n(Outcome.NEW) > 0
    assert bp.denominator_with_ltfu > bp.denominator
    # the quarterly cohort has every outcome
    assert cohort.cohort > 0
    assert cohort.controlled > 0
    assert cohort.uncontrolled > 0
    # diabetes: the lenient (Simple) definition controls more than the DHIS2 one
    assert dhis2.denominator > 20
    assert 0 < dhis2.n(Outcome.CONTROLLED) < simple.n(Outcome.CONTROLLED) < simple.denominator


def _dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    return {
        t: [tuple(r.values()) for r in rows(url, f"SELECT * FROM {t} ORDER BY id")] for t in TABLES
    }


def _load(seed: int, people: int = 2000) -> dict[str, list[tuple[Any, ...]]]:
    with empty_database() as url:
        with synth.run(
            url, country="UZ", people=people, seed=seed, as_of=AS_OF, progress=Silent()
        ) as ctx:
            synthesize_screening(ctx, registry.synthesize_population(ctx, people))
        return _dump(url)


def test_same_seed_same_rows() -> None:
    first, again, other = _load(3), _load(3), _load(4)
    assert first == again
    assert all(first[t] for t in TABLES)
    assert first != other
