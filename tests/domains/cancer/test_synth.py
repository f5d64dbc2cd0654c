"""Synthetic cancer registry (``salomat synth``): tumours at the pack's rate, none the
IARC checks refuse, DCO cases from the registry's cancer deaths, notifications that make
their tumour, follow-up by the pack's schedule.

Built on the registry's synthetic population of 20,000 people (UZ and KZ). Reference
values are computed here from the population and the pack (person-years, Poisson and
binomial bounds, the ENCR and IARC rules as the domain notes state them), not by the
generator's code.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest

from salomat.core import synth
from salomat.domains.cancer.service import checks, icdo3
from salomat.domains.cancer.service.common import cancer_rules
from salomat.domains.cancer.service.synth import WINDOW_DAYS, synthesize_cancer
from salomat.domains.registry import service as registry
from salomat.domains.registry.schemas import SyntheticPopulation
from tests.domains.maternal.test_synth import Silent, day, rows
from tests.synth_support import AS_OF, empty_database

PEOPLE = 20_000
#: IARC basis of diagnosis, most valid first (death certificate only last)
RANK = [7, 6, 5, 4, 2, 1, 9, 0]
Loaded = tuple[str, SyntheticPopulation, dict[str, int]]


@pytest.fixture(scope="module", params=["UZ", "KZ"])
def loaded(request: pytest.FixtureRequest) -> Iterator[Loaded]:
    country = request.param
    with empty_database() as url:
        with synth.run(
            url, country=country, people=PEOPLE, seed=7, as_of=AS_OF, progress=Silent()
        ) as ctx:
            population = registry.synthesize_population(ctx, PEOPLE)
            counts = synthesize_cancer(ctx, population)
        yield url, population, counts


def _people(url: str) -> dict[int, dict[str, Any]]:
    return {
        r["id"]: r
        for r in rows(url, "SELECT id, sex, birth_date, deceased_on, death_cause FROM person")
    }


def _person_years(pop: SyntheticPopulation) -> tuple[float, float]:
    """Person-years of the original records in the five years before AS_OF (to the day
    before it), and in the last of them: birth and death cut them."""
    first = (AS_OF - timedelta(days=WINDOW_DAYS)).toordinal()
    last_year = (AS_OF - timedelta(days=365)).toordinal()
    end = AS_OF.toordinal() - 1
    total = recent = 0.0
    for i in range(len(pop)):
        if pop.is_duplicate[i]:
            continue
        stop = min(end, pop.deceased[i] - 1) if pop.deceased[i] else end
        total += max(0, stop - max(first, pop.birth[i]) + 1) / 365.25
        recent += max(0, stop - max(last_year, pop.birth[i]) + 1) / 365.25
    return total, recent


def _tumours(url: str) -> list[dict[str, Any]]:
    return rows(url, "SELECT * FROM cancer_tumour ORDER BY id")


def _notes(url: str) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for n in rows(url, "SELECT * FROM cancer_notification ORDER BY id"):
        out[n["tumour_id"] or 0].append(n)
    return out


def _json(v: Any) -> Any:
    return json.loads(v) if isinstance(v, str) else v


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def test_tumours_at_the_packs_crude_rate(loaded: Loaded) -> None:
    url, pop, counts = loaded
    cfg = cancer_rules(pop.country).synth
    tumours = _tumours(url)
    assert counts["cancer_tumour"] == len(tumours)
    years, _ = _person_years(pop)
    expected = float(cfg["crude_rate"]) * years / 100_000
    # a Poisson count: within four standard deviations of its mean
    assert abs(len(tumours) - expected) <= 4 * math.sqrt(expected), (len(tumours), expected)
    first = AS_OF - timedelta(days=WINDOW_DAYS)
    assert all(first <= day(t["incidence_date"]) < AS_OF for t in tumours)
    # one tumour a person, only original records
    assert len({t["person_id"] for t in tumours}) == len(tumours)
    duplicates = {pop.person_id[i] for i in range(len(pop)) if pop.is_duplicate[i]}
    assert not duplicates & {t["person_id"] for t in tumours}


def test_no_tumour_the_iarc_checks_refuse_and_the_person_facts_copied(loaded: Loaded) -> None:
    url, _pop, _ = loaded
    people = _people(url)
    territory = {r["id"]: r for r in rows(url, "SELECT id, parent_id, level FROM territory")}
    for t in _tumours(url):
        p = people[t["person_id"]]
        born, on = day(p["birth_date"]), day(t["incidence_date"])
        site = int(t["topography"][1:3])
        # sex/site (IARC Check, invalid): no male C51-C58, no female C60-C63
        assert t["sex"] == p["sex"]
        assert not (p["sex"] == "male" and 51 <= site <= 58), t
        assert not (p["sex"] == "female" and 60 <= site <= 63), t
        assert t["age"] == _age(born, on)
        assert born <= on
        died = day(p["deceased_on"]) if p["deceased_on"] else None
        if died is not None:
            assert on <= died
            assert day(t["death_date"]) == died
            assert t["vital_status"] == "dead"
            assert t["death_cause"] == p["death_cause"]
        else:
            assert t["vital_status"] == "alive"
            assert t["death_date"] is None
        morph = icdo3.Morphology(t["histology"], t["behaviour"])
        found = checks.check(
            sex=p["sex"], birth_date=born, incidence_date=on, death_date=died,
            topography=t["topography"], morphology=morph, today=AS_OF,
        )  # fmt: skip
        assert not checks.invalid(found), (t, found)
        rare = sorted({f.rule for f in checks.rare(found)})
        assert _json(t["pending_checks"]) == rare
        assert t["status"] == ("to_confirm" if rare else "registered")
        assert t["icd10"] == icdo3.icd10_of(t["topography"], morph)
        assert t["behaviour"] == 3
        # residence: the settlement's district's region
        settlement = territory[t["settlement_id"]]
        assert settlement["level"] == "settlement"
        district = territory[settlement["parent_id"]]
        assert t["region_id"] == district["parent_id"]
        assert territory[t["region_id"]]["level"] == "region"


def test_sex_specific_sites_only_for_their_sex(loaded: Loaded) -> None:
    """Sites the pack gives a sex are drawn for that sex; the others for both. (A death
    certificate's cancer is the registry's: those tumours are left out.)"""
    url, pop, _ = loaded
    sites = cancer_rules(pop.country).synth["sites"]
    sex_of = {s["topography"]: s.get("sex") for s in sites}
    notes = _notes(url)
    by_sex: dict[str, Counter[str]] = {"male": Counter(), "female": Counter()}
    for t in _tumours(url):
        if any(n["source"] == "death_certificate" for n in notes[t["id"]]):
            continue
        assert t["topography"] in sex_of, t
        assert sex_of[t["topography"]] in (None, t["sex"]), t
        by_sex[t["sex"]][t["topography"]] += 1
    assert by_sex["female"]
    assert by_sex["male"]


def test_dco_cases_come_from_cancer_deaths_at_the_packs_share(loaded: Loaded) -> None:
    url, pop, _ = loaded
    cfg = cancer_rules(pop.country).synth
    people = _people(url)
    notes = _notes(url)
    tumours = _tumours(url)
    dco = [t for t in tumours if t["basis"] == 0]
    for t in dco:
        p = people[t["person_id"]]
        [n] = notes[t["id"]]
        assert n["source"] == "death_certificate"
        assert n["basis"] == 0
        assert n["icd10"] == p["death_cause"]
        assert p["death_cause"].startswith("C")
        assert day(t["incidence_date"]) == day(p["deceased_on"]) == day(n["diagnosed_on"])
        assert t["incidence_level"] == 6
        assert t["vital_status"] == "dead"
        assert t["next_follow_up_on"] is None
    # every cancer death of the window reached the registry (a tumour's certificate, or
    # one waiting for the registrar)
    first = AS_OF - timedelta(days=WINDOW_DAYS)
    deaths = {
        pid
        for pid, p in people.items()
        if p["death_cause"]
        and p["death_cause"].startswith("C")
        and p["deceased_on"]
        and day(p["deceased_on"]) >= first
    }
    duplicates = {pop.person_id[i] for i in range(len(pop)) if pop.is_duplicate[i]}
    certified = {
        n["person_id"] for ns in notes.values() for n in ns if n["source"] == "death_certificate"
    }
    assert deaths - duplicates == certified
    # the share of the last year's tumours (the registry's deaths span one year): its
    # count is bounded by the deaths, and near the pack's share within a binomial bound
    last = [t for t in tumours if day(t["incidence_date"]) >= AS_OF - timedelta(days=365)]
    share = float(cfg["dco_share"])
    assert len(dco) <= len(deaths)
    bound = 4 * math.sqrt(share * (1 - share) * len(last)) + 1
    assert abs(len(dco) - min(share * len(last), len(deaths))) <= bound, (len(dco), len(last))


def test_basis_mix_and_notifications_that_make_the_tumour(loaded: Loaded) -> None:
    """The most valid basis of a tumour's notifications is its basis; its date of
    incidence is the earliest date of the best ENCR level among them; microscopic
    verification near the pack's share."""
    url, pop, counts = loaded
    cfg = cancer_rules(pop.country).synth
    notes = _notes(url)
    tumours = _tumours(url)
    assert counts["cancer_notification"] == sum(len(v) for v in notes.values())
    for t in tumours:
        ns = notes[t["id"]]
        assert ns
        assert all(n["person_id"] == t["person_id"] for n in ns)
        assert all(n["status"] == "consolidated" and n["decided_by"] == "rules" for n in ns)
        assert t["basis"] == min((n["basis"] for n in ns), key=RANK.index)
        best = min(n["date_level"] for n in ns)
        assert t["incidence_level"] == best
        assert day(t["incidence_date"]) == min(
            day(n["diagnosed_on"]) for n in ns if n["date_level"] == best
        )
        first = ns[0]
        assert first["decision_reason"] == "first_tumour"
        if first["basis"] in (5, 6, 7):
            assert (first["source"], first["date_level"]) == ("pathology", 1)
        elif first["basis"] != 0:
            assert first["source"] == "clinician"
            assert first["date_level"] in (2, 3)
        for n in ns:
            assert day(n["diagnosed_on"]) <= day(n["reported_on"]) < AS_OF
            assert (n["topography"], n["histology"]) == (t["topography"], t["histology"]) or (
                n["source"] == "death_certificate" and n["histology"] == 8000
            )
    assert sum(len(notes[t["id"]]) > 1 for t in tumours) > 0  # some reported twice
    # waiting for the registrar: only certificates the checks refuse for the person
    assert all(n["decision_reason"] == "invalid_on_certificate" for n in notes.get(0, []))
    mv = sum(t["basis"] in (5, 6, 7) for t in tumours)
    p = float(cfg["microscopic_share"])
    assert abs(mv - p * len(tumours)) <= 4 * math.sqrt(p * (1 - p) * len(tumours)) + 2


def _months(day_: date, months: int) -> date:
    y, m = divmod(day_.month - 1 + months, 12)
    for d in (day_.day, 30, 29, 28):
        try:
            return date(day_.year + y, m + 1, d)
        except ValueError:
            continue
    raise AssertionError


def test_follow_up_by_the_packs_schedule(loaded: Loaded) -> None:
    url, pop, counts = loaded
    schedule = [(r.get("until_years"), int(r["every_months"])) for r in _pack(pop.country)]
    contacts: dict[int, list[date]] = defaultdict(list)
    for f in rows(url, "SELECT tumour_id, contact_on FROM cancer_follow_up ORDER BY id"):
        contacts[f["tumour_id"]].append(day(f["contact_on"]))
    assert counts["cancer_follow_up"] == sum(len(v) for v in contacts.values()) > 0
    overdue = 0
    for t in _tumours(url):
        on, last = day(t["incidence_date"]), day(t["last_contact_on"])
        seen = contacts.get(t["id"], [])
        end = day(t["death_date"]) if t["death_date"] else AS_OF
        assert all(on < c <= end for c in seen)
        assert seen == sorted(seen)
        assert last == max([on, *seen]) or (not seen and last >= on)
        if t["vital_status"] == "dead":
            assert t["next_follow_up_on"] is None
            continue
        months = next(m for until, m in schedule if until is None or last < _months(on, 12 * until))
        assert day(t["next_follow_up_on"]) == _months(last, months)
        overdue += day(t["next_follow_up_on"]) < AS_OF
        assert t["followed_by_facility_id"] is None  # the synthetic network has no centre
    assert overdue > 0  # the worklist has patients due


def _pack(country: str) -> list[dict[str, Any]]:
    from salomat.country import pack

    return pack.load(country, "cancer")["follow_up"]


def _run(url: str, pop_people: int, seed: int, centre: bool = False) -> dict[str, list[Any]]:
    with synth.run(
        url, country="UZ", people=pop_people, seed=seed, as_of=AS_OF, progress=Silent()
    ) as ctx:
        population = registry.synthesize_population(ctx, pop_people)
        if centre:
            # make the first region's district hospital stand for its oncology centre
            f = next(f for f in population.facilities if f.kind == "district_hospital")
            population.facilities.append(replace(f, kind="oncology_centre"))
        synthesize_cancer(ctx, population)
    return {
        t: [dict(r) for r in rows(url, f"SELECT * FROM {t} ORDER BY id")]
        for t in ("cancer_tumour", "cancer_notification", "cancer_follow_up")
    } | {
        "region": [
            (f.id, f.region_id) for f in population.facilities if f.kind == "oncology_centre"
        ]
    }


def test_same_seed_same_register_and_the_regions_centre_follows_up() -> None:
    with empty_database() as a, empty_database() as b:
        one, two = _run(a, 5000, 11, centre=True), _run(b, 5000, 11, centre=True)
    assert one == two
    assert one["cancer_tumour"]
    [(centre, region)] = one["region"]
    tumours = one["cancer_tumour"]
    assert any(t["region_id"] == region for t in tumours)
    for t in tumours:
        expected = centre if t["region_id"] == region and t["basis"] != 0 else None
        assert t["followed_by_facility_id"] == expected, t
