"""Synthetic sanatoria, referrals, queues, offers and stays (``salomat synth``).

Built on the registry's synthetic population of 20,000 people (UZ and KZ) at the packs'
rates: the referral rate and categories, the ages, the queue's length in years of places,
the statuses a stay and its referral reach together, no overlapping stay on a bed, and
that the app reads what was written (positions, the dashboard). The offers' outcomes are
checked on the queue played alone with many places (a 20,000-people population has a few
dozen offers a year).
"""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from salomat.core import synth
from salomat.core.db import dispose_engines, session_factory
from salomat.core.security import Principal
from salomat.domains.registry import service as registry
from salomat.domains.registry.schemas import SyntheticPopulation
from salomat.domains.sanatorium import service
from salomat.domains.sanatorium.models import SanatoriumReferral
from salomat.domains.sanatorium.service.synth import (
    INDICATIONS,
    WINDOW_DAYS,
    _Entry,
    _Generator,
    _Period,
    _play,
)
from tests.domains.maternal.test_synth import Silent, day, rows
from tests.synth_support import AS_OF, empty_database

PEOPLE = 20_000
Loaded = tuple[str, SyntheticPopulation, dict[str, int]]


@pytest.fixture(scope="module", params=["UZ", "KZ"])
def loaded(request: pytest.FixtureRequest) -> Iterator[Loaded]:
    country = request.param
    with empty_database() as url:
        with synth.run(
            url, country=country, people=PEOPLE, seed=5, as_of=AS_OF, progress=Silent()
        ) as ctx:
            population = registry.synthesize_population(ctx, PEOPLE)
            counts = service.synthesize_sanatorium(ctx, population)
        yield url, population, counts


def _d(v: Any) -> date:
    """A day from a date, a datetime or their text (SQLite)."""
    return v.date() if isinstance(v, datetime) else day(v)


def _age(pop: SyntheticPopulation, person_id: int) -> int:
    i = pop.person_id.index(person_id)
    return registry.age_on(date.fromordinal(pop.birth[i]), AS_OF)


def _alive(pop: SyntheticPopulation) -> int:
    return sum(1 for i in range(len(pop)) if pop.alive(i) and pop.facility_id[i])


def test_referrals_at_the_packs_rate_categories_and_ages(loaded: Loaded) -> None:
    url, pop, counts = loaded
    rules = service.sanatorium_rules(pop.country)
    cfg = rules.synth
    refs = rows(url, "SELECT * FROM sanatorium_referral")
    assert counts["sanatorium_referral"] == len(refs)
    assert len({r["number"] for r in refs}) == len(refs)
    assert len({r["person_id"] for r in refs}) == len(refs)  # one referral a person
    first = datetime.combine(AS_OF - timedelta(days=WINDOW_DAYS), datetime.min.time())
    year = [r for r in refs if _d(r["created_at"]) >= first.date()]
    rate = len(year) / _alive(pop) * 1000
    assert rate == pytest.approx(cfg["referrals_per_1000"], rel=0.2)
    shares = {c: float(w) for c, w in cfg["categories"].items()}
    total = sum(shares.values())
    found = Counter(r["category"] for r in year)
    for category, w in shares.items():
        # a binomial share of a few dozen referrals: 4 standard errors (at least 8 points)
        p = w / total
        bound = max(0.08, 4 * math.sqrt(p * (1 - p) / len(year)))
        assert found[category] / len(year) == pytest.approx(p, abs=bound), category
    ages = cfg.get("ages") or {}
    for r in refs:
        cat = rules.categories[r["category"]]
        assert (r["tier"], bool(r["direct"])) == (cat.tier, cat.direct)
        low, high = ages.get(r["category"], (18, 100))
        assert low <= _age(pop, r["person_id"]) <= high + 1, r
        child = high < rules.child_age_below
        assert (r["profile"] == "paediatric") == child
        assert r["profile"] in rules.indicated_profiles(r["indication"], child=child)
        assert r["referred_by"].startswith("synth-doctor-")
        assert r["region"] == ("" if not rules.queue_by_region else r["region"])
    if rules.queue_by_region:
        facility_regions = {
            f.id: f.region_id for f in pop.facilities
        }  # each referral's queue is its polyclinic's region
        codes = {
            r["id"]: r["code"]
            for r in rows(url, "SELECT id, code FROM territory WHERE level = 'region'")
        }
        for r in refs:
            assert r["region"] == codes[facility_regions[r["facility_id"]]]


def test_the_queue_is_years_of_its_places(loaded: Loaded) -> None:
    """In the queues that were given places, the people in line are about the pack's years
    of those places (the backlog's target)."""
    url, pop, _ = loaded
    cfg = service.sanatorium_rules(pop.country).synth
    periods = rows(url, "SELECT profile, region, capacity, starts_on FROM sanatorium_period")
    assert periods
    span = max(_d(p["starts_on"]) for p in periods) - min(_d(p["starts_on"]) for p in periods)
    places: Counter[tuple[str, str]] = Counter()
    for p in periods:
        places[(p["profile"], p["region"])] += p["capacity"]
    yearly = sum(places.values()) * 365 / (span.days + 1)
    alive = _alive(pop)
    # the pack's rate (at least one period a year per profile on a small population)
    assert yearly >= cfg["places_per_100k"] * alive / 100_000 * 0.8
    in_line = Counter(
        (r["profile"], r["region"])
        for r in rows(
            url,
            "SELECT profile, region FROM sanatorium_referral WHERE status IN ('queued', 'offered')",
        )
    )
    served = sum(in_line[q] for q in places)
    assert served == pytest.approx(cfg["queue_years"] * yearly, rel=0.35)


def test_stays_and_referrals_agree_and_no_bed_holds_two(loaded: Loaded) -> None:
    url, pop, _ = loaded
    rules = service.sanatorium_rules(pop.country)
    grace = rules.noshow_grace_days
    refs = {r["id"]: r for r in rows(url, "SELECT * FROM sanatorium_referral")}
    periods = {p["id"]: p for p in rows(url, "SELECT * FROM sanatorium_period")}
    stays = rows(url, "SELECT * FROM sanatorium_stay")
    assert stays
    follows = {"booked": "booked", "arrived": "arrived", "fulfilled": "discharged"}
    for s in stays:
        r, p = refs[s["referral_id"]], periods[s["period_id"]]
        assert r["person_id"] == s["person_id"]
        assert (_d(s["starts_on"]), _d(s["ends_on"])) == (_d(p["starts_on"]), _d(p["ends_on"]))
        assert r["profile"] == p["profile"]
        assert r["region"] == p["region"]
        assert _d(s["booked_at"]) <= AS_OF
        assert _d(s["booked_at"]) >= _d(p["created_at"])  # published before it was booked
        assert r["status"] == follows.get(s["status"], s["status"])
        start = _d(s["starts_on"])
        if s["status"] == "noshow":
            assert start + timedelta(days=grace) < AS_OF
        elif s["status"] == "booked":
            assert start + timedelta(days=grace) >= AS_OF
        elif s["status"] == "fulfilled":
            assert _d(s["discharged_on"]) == _d(s["ends_on"]) <= AS_OF
        if s["offer_id"] is None:
            assert r["direct"]
    by_bed: dict[int, list[tuple[date, date]]] = defaultdict(list)
    for s in stays:
        if s["status"] in ("booked", "arrived", "fulfilled"):
            by_bed[s["bed_id"]].append((_d(s["starts_on"]), _d(s["ends_on"])))
    for spans in by_bed.values():
        spans.sort()
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start >= end  # half-open: the next may start on the departure day
    offers = rows(url, "SELECT * FROM sanatorium_offer")
    for o in offers:
        r = refs[o["referral_id"]]
        if o["status"] == "open":
            assert r["status"] == "offered"
            assert _d(o["expires_at"]) >= AS_OF
    capacity = Counter()
    for s in stays:
        if s["status"] in ("booked", "arrived", "fulfilled"):
            capacity[s["period_id"]] += 1
    for o in offers:
        if o["status"] == "open":
            capacity[o["period_id"]] += 1
    assert all(n <= periods[pid]["capacity"] for pid, n in capacity.items())
    events = Counter(e["kind"] for e in rows(url, "SELECT kind FROM sanatorium_queue_event"))
    assert events["joined"] == len(refs)
    assert events["booked"] == len(stays)
    assert events["offered"] == len(offers)


def test_sanatoria_are_facilities_of_the_registry(loaded: Loaded) -> None:
    url, _, _ = loaded
    facilities = {f["id"]: f for f in rows(url, "SELECT * FROM facility WHERE kind = 'sanatorium'")}
    assert facilities
    beds = rows(url, "SELECT facility_id, profile FROM sanatorium_bed")
    assert {b["facility_id"] for b in beds} <= set(facilities)
    assert all(f["settlement_id"] is not None and f["is_open"] for f in facilities.values())


def test_indications_are_codes_the_app_accepts_for_their_profile() -> None:
    for country in ("UZ", "KZ"):
        rules = service.sanatorium_rules(country)
        for profile, code in INDICATIONS.items():
            assert registry.icd10_cause(code, "indication") == code
            assert profile in rules.indicated_profiles(code, child=True), (country, profile)
            assert rules.contraindicated(code, profile) is None


@pytest.mark.anyio
async def test_the_app_reads_the_synthetic_queue(loaded: Loaded) -> None:
    url, _pop, _ = loaded
    [entry] = rows(
        url,
        "SELECT id FROM sanatorium_referral WHERE status = 'queued' ORDER BY id DESC LIMIT 1",
    )
    analyst = Principal(user_id=0, username="synth-test", role="analyst", session_id="t")
    try:
        async with session_factory(url)() as s:
            r = await s.get(SanatoriumReferral, entry["id"])
            assert r is not None
            position = await service.position_of(s, r, today=AS_OF)
            assert position.position >= 1
            a = await service.sanatorium_dashboard(
                s, analyst, month_from=f"{AS_OF - timedelta(days=330):%Y-%m}", today=AS_OF
            )
            assert a.queues_total.in_line > 0
            assert a.occupancy_total.bed_days_booked > 0
            assert a.queues_total.offers_made > 0
            await s.rollback()
    finally:
        await dispose_engines()


# ---- the queue played alone ------------------------------------------------------------------


class _Ids:
    def next_id(self, table: Any, count: int = 1) -> int:
        return 1


def _played(country: str, periods: int = 300, places: int = 8, people: int = 4000) -> Any:
    """One queue of ``people`` entries (tiers 1 to 3) and ``periods`` periods of ``places``
    each, published a day apart over the year before the run's day."""
    rules = service.sanatorium_rules(country)
    ctx = SimpleNamespace(
        rng=lambda name: random.Random(f"7:{name}"), as_of=AS_OF, writer=_Ids(), count=None
    )
    g = _Generator(ctx, rules, None)  # type: ignore[arg-type]
    rng = random.Random(3)
    start = datetime(AS_OF.year - 3, 1, 1, 9, tzinfo=UTC)
    for k in range(people):
        at = start + timedelta(minutes=rng.randrange(10**6))
        g.entries.append(
            _Entry(
                id=k + 1,
                person=k + 1,
                category="c",
                tier=rng.choice((1, 2, 3)),
                direct=False,
                profile="cardiology",
                region="R",
                facility_id=1,
                referred_by="d",
                created_at=at,
                applied_at=at,
            )
        )
    first = AS_OF - timedelta(days=periods + 100)
    for k in range(periods):
        s = first + timedelta(days=k)
        g.periods.append(
            _Period(
                id=k + 1,
                facility_id=1,
                profile="cardiology",
                region="R",
                starts_on=s + timedelta(days=90),
                ends_on=s + timedelta(days=102),
                capacity=places,
                published=datetime.combine(s, datetime.min.time(), tzinfo=UTC),
                beds=list(range(places)),
            )
        )
    _play(g)
    return g, rules


@pytest.mark.parametrize("country", ["UZ", "KZ"])
def test_offers_declines_lapses_and_no_shows_at_the_packs_shares(country: str) -> None:
    g, rules = _played(country)
    cfg = rules.synth
    offers = g.out.rows["offer"]
    decided = [o for o in offers if o[4] != "open"]
    by = Counter(o[4] for o in decided)
    assert by["declined"] / len(decided) == pytest.approx(cfg["decline_share"], abs=0.02)
    assert by["lapsed"] / len(decided) == pytest.approx(cfg["lapse_share"], abs=0.02)
    stays = g.out.rows["stay"]
    assert len(stays) == by["accepted"]
    due = [s for s in stays if s[6] <= AS_OF - timedelta(days=rules.noshow_grace_days + 1)]
    noshow = sum(1 for s in due if s[8] == "noshow")
    assert noshow / len(due) == pytest.approx(cfg["noshow_share"], abs=0.015)
    events = Counter(e[3] for e in g.out.rows["event"])
    assert events["requeued"] == (
        by["lapsed"] * (rules.offer.on_lapse == "end_of_queue")
        + by["declined"] * (rules.offer.on_decline == "end_of_queue")
    )


def test_each_place_goes_to_the_first_in_line() -> None:
    """Everyone applied before the first period: the first offer of each entry comes in the
    queue's order (tier, application time, sequence), whatever declines and lapses did to
    those already offered."""
    g, _ = _played("UZ", periods=60, places=3, people=500)
    entries = {e.id: e for e in g.entries}
    first: dict[int, tuple[datetime, int]] = {}
    for o in g.out.rows["offer"]:
        oid, rid, at = o[0], o[1], o[5]
        if rid not in first or (at, oid) < first[rid]:
            first[rid] = (at, oid)
    order = sorted(first, key=lambda rid: first[rid])
    keys = [(entries[rid].tier, entries[rid].created_at, rid) for rid in order]
    assert keys == sorted(keys)
    assert len(order) > 100
    offered_tiers = Counter(entries[rid].tier for rid in order)
    in_tier = Counter(e.tier for e in g.entries)
    assert offered_tiers[1] == in_tier[1]  # every tier-1 entry was offered a place
    assert offered_tiers[3] < in_tier[3]
