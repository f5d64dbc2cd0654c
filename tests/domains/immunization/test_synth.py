"""Synthetic immunization histories (``salomat synth``): the calendar, kept as the app keeps it.

The population comes from the registry's generator; ``small_population`` (a
region, two districts, polyclinics with their staff, pharmacies, a few
hundred people of all ages, written by hand) stands in while that generator
is a stub, and serves benchmarks that want the programmes alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from salomat.core import synth
from salomat.core.db import get_engine, session_factory
from salomat.core.security import Principal
from salomat.domains.immunization import service as immunization
from salomat.domains.immunization.service import schedule
from salomat.domains.registry.models import Facility, Person, Practitioner, Territory
from salomat.domains.registry.schemas import SyntheticFacility, SyntheticPopulation
from tests.domains.immunization.who_reference import who_complete_on, who_places
from tests.synth_support import AS_OF, empty_database, sync_url

ANALYST = Principal(user_id=0, username="test-analyst", role="analyst", session_id="t")


def small_population(ctx: synth.SynthContext, people: int = 600) -> SyntheticPopulation:
    """A region with two districts; half the people children, a few dead and duplicated."""
    w = ctx.writer
    rng = ctx.rng("test-population")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    t = w.next_id(Territory.__table__, 5)
    territory = [
        (t, "R1", "region", None, "Region"),
        (t + 1, "R1D1", "district", t, "District one"),
        (t + 2, "R1D2", "district", t, "District two"),
        (t + 3, "R1D1S1", "settlement", t + 1, "Town one"),
        (t + 4, "R1D2S1", "settlement", t + 2, "Town two"),
    ]
    w.write(
        Territory.__table__,
        ("id", "code", "level", "parent_id", "name", "names", "version"),
        [(*r, {}, 1) for r in territory],
    )
    settlements = {t + 3: t + 1, t + 4: t + 2}
    f = w.next_id(Facility.__table__, 5)
    kinds = [
        ("family_polyclinic", t + 3),
        ("family_polyclinic", t + 4),
        ("pharmacy", t + 3),
        ("pharmacy", t + 3),
        ("pharmacy", t + 4),
    ]
    w.write(
        Facility.__table__,
        ("id", "code", "name", "names", "kind", "settlement_id", "is_open", "version"),
        [
            (f + k, f"F{k}", f"Facility {k}", {}, kind, s, True, 1)
            for k, (kind, s) in enumerate(kinds)
        ],
    )
    p = w.next_id(Practitioner.__table__, 6)
    w.write(
        Practitioner.__table__,
        ("id", "family_name", "given_name", "specialty", "active", "version"),
        [(p + k, f"Doctor{k}", "Test", "family_medicine", True, 1) for k in range(6)],
    )
    staff = {f: (p, p + 1, p + 2), f + 1: (p + 3, p + 4, p + 5)}
    pop = SyntheticPopulation(country=ctx.country, as_of=ctx.as_of)
    pop.facilities = [
        SyntheticFacility(
            id=f + k,
            code=f"F{k}",
            kind=kind,
            settlement_id=s,
            district_id=settlements[s],
            region_id=t,
            practitioners=staff.get(f + k, ()),
        )
        for k, (kind, s) in enumerate(kinds)
    ]
    pop.district_of = settlements
    pop.region_of = {t + 1: t, t + 2: t}
    first = w.next_id(Person.__table__, people)
    rows = []
    today = ctx.as_of.toordinal()
    for i in range(people):
        age = rng.randrange(18 * 365) if i % 2 == 0 else rng.randrange(18 * 365, 80 * 365)
        birth = today - age
        sex = rng.randrange(2)
        settlement = t + 3 + (i % 2)
        facility = f + (i % 2) if i % 17 else 0
        dead = today - rng.randrange(min(age, 900) + 1) if i % 53 == 0 else 0
        duplicate = i % 61 == 0
        nid = f"{30000000000000 + i:014d}"
        pop.person_id.append(first + i)
        pop.sex.append(sex)
        pop.birth.append(birth)
        pop.settlement_id.append(settlement)
        pop.facility_id.append(facility)
        pop.section_id.append(0)
        pop.household.append(i)
        pop.mother.append(-1)
        pop.deceased.append(dead)
        pop.is_duplicate.append(1 if duplicate else 0)
        pop.national_id.append(nid)
        rows.append(
            (
                first + i,
                nid,
                f"Family{i}",
                f"Given{i}",
                f"family{i} given{i}",
                f"family{i}",
                date.fromordinal(birth),
                "female" if sex else "male",
                settlement,
                facility or None,
                date.fromordinal(dead) if dead else None,
                now,
                now,
                1,
                "latn",
            )
        )
    w.write(
        Person.__table__,
        (
            "id",
            "national_id",
            "family_name",
            "given_name",
            "name_key",
            "family_key",
            "birth_date",
            "sex",
            "settlement_id",
            "attached_facility_id",
            "deceased_on",
            "created_at",
            "updated_at",
            "version",
            "name_script",
        ),
        rows,
    )
    return pop


def _registry_ready() -> bool:
    from salomat.domains.registry import service as registry

    try:
        registry.synthesize_population  # noqa: B018
    except AttributeError:  # pragma: no cover
        return False
    import inspect

    return "NotImplementedError" not in inspect.getsource(registry.synthesize_population)


def population_for(ctx: synth.SynthContext, people: int) -> SyntheticPopulation:
    """The registry's generator once it works, else the hand-made population."""
    if _registry_ready():
        from salomat.domains.registry import service as registry

        return registry.synthesize_population(ctx, people)
    return small_population(ctx, people)


@contextmanager
def loaded(
    country: str = "UZ", seed: int = 7, people: int = 600, with_doses: bool = True
) -> Iterator[tuple[str, SyntheticPopulation, dict[str, int]]]:
    with empty_database() as url:
        with synth.run(
            url, country=country, people=people, seed=seed, as_of=AS_OF, progress=synth._Silent()
        ) as ctx:
            pop = population_for(ctx, people)
            counts = immunization.synthesize_immunizations(ctx, pop) if with_doses else {}
        yield url, pop, counts


def _doses(url: str) -> list[Any]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as c:
            return list(
                c.execute(
                    text(
                        "SELECT d.id, d.person_id, d.antigen, d.dose_number, d.given_on, "
                        "d.valid, d.invalid_reason, d.status, d.counted_as, d.facility_id, "
                        "d.practitioner_id, d.vaccine, d.lot, d.site, p.birth_date, p.sex "
                        "FROM immunization_dose d JOIN person p ON p.id = d.person_id "
                        "ORDER BY d.id"
                    )
                ).all()
            )
    finally:
        engine.dispose()


def _day(v: Any) -> date:
    return v if isinstance(v, date) else date.fromisoformat(str(v)[:10])


@pytest.mark.parametrize("country", ["UZ", "KZ"])
def test_doses_follow_the_calendar_as_the_engine_judges_them(country: str) -> None:
    with loaded(country) as (url, pop, counts):
        rows = _doses(url)
        cal = schedule.calendar(country)
        assert counts["immunization_dose"] == len(rows) > 200
        adult_series = {s.antigen for s in cal.series if s.booster_every is not None}
        by_person: dict[int, list[Any]] = defaultdict(list)
        for r in rows:
            by_person[r.person_id].append(r)
        alive = {pop.person_id[i]: i for i in range(len(pop)) if pop.alive(i)}
        invalid = 0
        for person_id, doses in by_person.items():
            assert person_id in alive, "doses only for living originals"
            i = alive[person_id]
            birth = _day(doses[0].birth_date)
            for d in doses:
                given = _day(d.given_on)
                assert birth <= given <= AS_OF
                if schedule.add_age(birth, schedule.Age(years=18)) <= AS_OF:
                    last = cal.get(d.antigen)
                    assert d.antigen in adult_series
                    assert last is not None
                    assert d.dose_number > last.doses[-1].dose_number
                assert d.facility_id == (pop.facility_id[i] or None)
                staff = pop.facility(d.facility_id).practitioners if d.facility_id else ()
                assert d.practitioner_id in staff or (not staff and d.practitioner_id is None)
                assert d.vaccine in cal.get(d.antigen).vaccines  # type: ignore[union-attr]
                assert d.lot
                assert d.site in cal.sites
            # replay the history in the order given: the engine must agree on each dose
            history: list[schedule.GivenDose] = []
            for d in sorted(doses, key=lambda r: (_day(r.given_on), r.id)):
                if d.status == "entered_in_error":
                    continue
                check = schedule.check_dose(
                    birth, d.antigen, d.dose_number, _day(d.given_on), history, cal
                )
                assert bool(d.valid) == check.valid, (d, check)
                assert d.invalid_reason == check.reason
                invalid += not check.valid
                history.append(
                    schedule.GivenDose(d.antigen, d.dose_number, _day(d.given_on), bool(d.valid))
                )
            valid_keys = [
                (d.antigen, d.dose_number) for d in doses if d.valid and d.status == "completed"
            ]
            assert len(valid_keys) == len(set(valid_keys))
            _counted_as_the_engine_counts(birth, doses, cal)
        assert invalid > 0, "some doses were given too early and stored invalid"


def _counted_as_the_engine_counts(birth: date, doses: list[Any], cal: Any) -> None:
    """The stored place of each dose is where the register's count puts it."""
    rows = [r for r in doses if r.status == "completed"]
    given = [
        schedule.GivenDose(r.antigen, r.dose_number, _day(r.given_on), bool(r.valid)) for r in rows
    ]
    for r, c in zip(rows, schedule.count_doses(birth, given, cal), strict=True):
        assert c is not None
        assert (r.counted_as, bool(r.valid), r.invalid_reason) == (c.counted_as, c.valid, c.reason)
    for r in doses:
        if r.status == "entered_in_error":
            assert r.counted_as is None


def test_late_starters_follow_the_catch_up_series(monkeypatch: pytest.MonkeyPatch) -> None:
    """With months of delay before each infant dose, PCV often starts after 12 months."""
    real = immunization.synth._settings

    def late(country: str) -> dict[str, Any]:
        cfg = dict(real(country))
        cfg["delay"] = {**cfg["delay"], "next": {"median": 200, "sigma": 0.6}}
        return cfg

    monkeypatch.setattr(immunization.synth, "_settings", late)
    with loaded(people=1500) as (url, _, _):
        rows = _doses(url)
        cal = schedule.calendar("UZ")
        pcv = cal.get("pcv")
        assert pcv is not None
        by_person: dict[int, list[Any]] = defaultdict(list)
        for r in rows:
            by_person[r.person_id].append(r)
        late_starts = 0
        for doses in by_person.values():
            birth = _day(doses[0].birth_date)
            _counted_as_the_engine_counts(birth, doses, cal)
            given = sorted(
                _day(d.given_on) for d in doses if d.antigen == "pcv" and d.counted_as is not None
            )
            if given and pcv.plan(birth, given[0]) is not None:
                late_starts += 1
                plan = pcv.plan(birth, given[0])
                assert plan is not None
                assert len(given) <= len(plan.rules)  # never the calendar's third dose
        assert late_starts > 5


def test_the_same_seed_gives_the_same_rows_and_another_seed_others() -> None:
    with loaded(seed=3) as (url, _, _):
        a = [tuple(r) for r in _doses(url)]
    with loaded(seed=3) as (url, _, _):
        b = [tuple(r) for r in _doses(url)]
    with loaded(seed=4) as (url, _, _):
        c = [tuple(r) for r in _doses(url)]
    assert a == b
    assert a != c


def test_exemptions_stop_the_antigen_they_cover() -> None:
    with loaded(people=3000) as (url, _, counts):
        assert counts["immunization_exemption"] > 0
        engine = create_engine(sync_url(url))
        with engine.connect() as c:
            ex = c.execute(
                text("SELECT person_id, antigen, starts_on, kind FROM immunization_exemption")
            ).all()
            for person_id, antigen, starts, kind in ex:
                assert kind in ("refusal", "contraindication")
                later = c.execute(
                    text(
                        "SELECT count(*) FROM immunization_dose WHERE person_id = :p "
                        "AND given_on >= :s AND (CAST(:a AS VARCHAR(32)) IS NULL OR antigen = :a)"
                    ),
                    {"p": person_id, "s": _day(starts), "a": antigen},
                ).scalar()
                assert later == 0
        engine.dispose()


@pytest.mark.anyio
async def test_the_coverage_service_equals_a_recount_of_the_rows() -> None:
    with loaded(people=2000) as (url, pop, _):
        rows = _doses(url)
        sessions = session_factory(url)
        cohort = AS_OF.year - 2
        async with sessions() as s:
            cov = await immunization.immunization_coverage(s, ANALYST, cohort=cohort, today=AS_OF)
        # judged again from the dates (WHO reference), not from the stored verdicts
        given: dict[int, list[tuple[str, date]]] = defaultdict(list)
        for r in rows:
            if r.status == "completed":
                given[r.person_id].append((r.antigen, _day(r.given_on)))
        sequence = {"penta": "dtp", "dtp": "dtp", "mmr": "mmr", "pcv": "pcv"}
        indicators, _ = immunization.coverage_indicators("UZ")
        for ind in indicators:
            eligible = covered = 0
            for i in range(len(pop)):
                birth = date.fromordinal(pop.birth[i])
                if birth.year != cohort or birth + timedelta(days=ind.by_days) > AS_OF:
                    continue
                if pop.deceased[i] and pop.deceased[i] - pop.birth[i] <= ind.by_days:
                    continue
                doses = given.get(pop.person_id[i], [])
                places = who_places(birth, doses)

                def by_age(on: date | None, birth: date = birth) -> bool:
                    return on is not None and 0 <= (on - birth).days <= ind.by_days  # noqa: B023

                if ind.among is not None and not by_age(
                    places.get((sequence[ind.among[0][0]], ind.among[1]))
                ):
                    continue
                eligible += 1
                seq = sequence[ind.antigens[0]]
                if ind.series_complete:
                    covered += by_age(who_complete_on(birth, seq, doses))
                else:
                    covered += by_age(places.get((seq, ind.dose)))  # type: ignore[arg-type]
            figure = cov.total.figures[ind.code]
            assert (figure.eligible, figure.covered) == (eligible, covered), ind.code
        assert cov.total.figures["dtp3"].eligible > 10
        assert cov.total.figures["dtp3"].covered > 0
        await get_engine(url).dispose()
