"""Synthetic sanatoria, referrals, queues, offers and stays (``salomat synth``).

Rates are the pack's ``synth`` section of ``sanatorium.yaml``:

- ``places_per_100k``: places a year per 100,000 people, shared among the profiles as the
  referrals are (``profiles``; children's categories go to the paediatric profile). A
  profile has the beds its places need at ``floor(365 / (course + turnover))`` courses a
  bed a year, at least one; a small population's few places are fewer periods a year (at
  least one), not a fraction of a bed. The registry's synthetic network
  has no sanatorium, so this generator adds them (facilities of kind ``sanatorium``,
  one per 60 beds, at least one, in the largest regions' first towns), unless the
  population already has some.
- Arrival periods (заезды): every profile's beds of a sanatorium in one period after
  another (spaced out when there are fewer a year than courses fit), over the past year
  and the next 90 days, each published 90 days before it
  starts. Where the pack keeps regional queues, each period is given to one region's
  queue, the regions in turn by their people (the places a region's branch hands out), so
  every queue gets places in proportion to its region's size.
- ``referrals_per_1000``: new referrals a year per 1,000 people, in the past year, by
  ``categories``' shares (tier and ``direct`` from the pack; a category's ages from
  ``ages``, default 18 to 100), from a doctor of the person's polyclinic, one person one
  referral. Before the year, a backlog of applications brings each queue to
  ``queue_years`` years of its places when the run's day comes.
- Every period's places are offered at publication to the first in line by (tier,
  application time, sequence), as the sweep does: ``decline_share`` declined,
  ``lapse_share`` left to lapse after the pack's hold (the person's place then follows
  the pack's ``on_decline`` / ``on_lapse``), the rest accepted (a booked bed). Direct
  (after-care) referrals book a published period's places first, as a doctor books a
  free place. A decision falling after the run's day leaves the offer open.
- Stays as of the run's day: not yet begun (booked), under way (arrived), over
  (completed, discharged on the departure day), or, for ``noshow_share`` of them past
  the pack's grace, no-shows.

Every change writes its queue event, as the app does. No stay overlaps another on a bed:
a profile's periods at a sanatorium follow one another and each booking of a period takes
a bed of its own (the database refuses an overlap anyway). Care relationships (the
sanatorium staff's scope over their guests) are the registry's and are not synthesised.
"""

from __future__ import annotations

import heapq
import json
import math
from array import array
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import bindparam, text

from salomat.core.db import Base
from salomat.core.synth import SynthContext
from salomat.country import pack
from salomat.domains.registry.schemas import SyntheticPopulation
from salomat.domains.sanatorium.models import (
    SanatoriumBed,
    SanatoriumOffer,
    SanatoriumPeriod,
    SanatoriumQueueEvent,
    SanatoriumReferral,
    SanatoriumStay,
)
from salomat.domains.sanatorium.service.common import VOUCHER_ALPHABET
from salomat.domains.sanatorium.service.rules import SanatoriumRules, sanatorium_rules

__all__ = ["INDICATIONS", "synthesize_sanatorium"]

#: days back from the run's day in which referrals are made and periods start
WINDOW_DAYS = 365
#: periods are created up to this many days after the run's day
HORIZON_DAYS = 90
#: a period is published this many days before it starts
PUBLISH_DAYS = 90
#: beds of one synthetic sanatorium (the UZ mean: 1,722 beds in about 30 sanatoria)
BEDS_PER_SANATORIUM = 60
#: ages of a category the pack does not name
DEFAULT_AGES = (18, 100)
#: who the synthetic queue's automatic steps are by (as the sweep)
SYSTEM = "system"
#: an indication per profile: a leaf ICD-10 code the pack's table maps to it
INDICATIONS: dict[str, str] = {
    "cardiology": "I25.1",
    "nervous": "I69.3",
    "musculoskeletal": "M17.1",
    "digestive": "K29.5",
    "respiratory": "J44.9",
    "endocrine": "E11.9",
    "tuberculosis": "B90.9",
    "paediatric": "G80.0",
}
_NUMBER_SPACE = 9 * 10**9
_HOUR = time(9, tzinfo=UTC)

REFERRAL_COLUMNS = (
    "id", "number", "person_id", "profile", "region", "category", "tier", "direct",
    "indication", "conditions", "warnings", "status", "applied_at", "facility_id",
    "referred_by", "source", "created_at", "updated_at", "version",
)  # fmt: skip
OFFER_COLUMNS = (
    "id", "referral_id", "person_id", "period_id", "status", "offered_at", "expires_at",
    "decided_at", "decided_by",
)  # fmt: skip
STAY_COLUMNS = (
    "id", "referral_id", "person_id", "period_id", "bed_id", "facility_id", "starts_on",
    "ends_on", "status", "voucher_code", "offer_id", "booked_at", "booked_by", "arrived_on",
    "discharged_on", "updated_at", "version",
)  # fmt: skip
EVENT_COLUMNS = ("id", "referral_id", "person_id", "kind", "reason", "detail", "at", "by")
PERIOD_COLUMNS = (
    "id", "facility_id", "profile", "region", "starts_on", "ends_on", "capacity", "status",
    "created_by", "created_at", "version",
)  # fmt: skip
BED_COLUMNS = ("id", "facility_id", "profile", "label", "active")
FACILITY_COLUMNS = (
    "id", "code", "name", "names", "kind", "settlement_id", "address", "is_open", "opened_on",
    "version", "updated_at",
)  # fmt: skip


def synthetic_referrer(practitioner_id: int) -> str:
    """The ``referred_by`` of a synthetic referral (practitioners have no account), as the
    other synthetic records name their doctors."""
    return f"synth-doctor-{practitioner_id}"


@dataclass
class _Entry:
    """One referral while the queue is played."""

    id: int
    person: int
    category: str
    tier: int
    direct: bool
    profile: str
    region: str
    facility_id: int
    referred_by: str
    created_at: datetime
    applied_at: datetime
    status: str = "queued"
    updated_at: datetime | None = None

    def key(self) -> tuple[int, datetime, int]:
        return (self.tier, self.applied_at, self.id)


@dataclass
class _Period:
    id: int
    facility_id: int
    profile: str
    region: str
    starts_on: date
    ends_on: date
    capacity: int
    published: datetime
    beds: list[int] = field(default_factory=list)
    taken: int = 0


def _weighted(rng: Any, weights: dict[Any, float]) -> Any:
    r = rng.random() * sum(weights.values())
    for value, w in weights.items():
        r -= w
        if r <= 0:
            return value
    return next(reversed(weights))


def _rotation(weights: dict[str, float]) -> Any:
    """Smooth weighted round robin: the next region of a run of periods."""
    current = dict.fromkeys(weights, 0.0)
    total = sum(weights.values())
    while True:
        for k, w in weights.items():
            current[k] += w
        pick = max(current, key=lambda k: (current[k], k))
        current[pick] -= total
        yield pick


class _Writer:
    """Ids handed out in order, rows written per table at the end (a few tens of thousands)."""

    def __init__(self, ctx: SynthContext) -> None:
        self.ctx = ctx
        self.tables = {
            "facility": (Base.metadata.tables["facility"], FACILITY_COLUMNS),
            "bed": (SanatoriumBed.__table__, BED_COLUMNS),
            "period": (SanatoriumPeriod.__table__, PERIOD_COLUMNS),
            "referral": (SanatoriumReferral.__table__, REFERRAL_COLUMNS),
            "offer": (SanatoriumOffer.__table__, OFFER_COLUMNS),
            "stay": (SanatoriumStay.__table__, STAY_COLUMNS),
            "event": (SanatoriumQueueEvent.__table__, EVENT_COLUMNS),
        }
        self.rows: dict[str, list[tuple[Any, ...]]] = {k: [] for k in self.tables}
        self.next: dict[str, int] = {}
        self.first: dict[str, int] = {}

    def take(self, name: str) -> int:
        if name not in self.next:
            table = self.tables[name][0]
            self.next[name] = self.first[name] = self.ctx.writer.next_id(table, 0)  # type: ignore[arg-type]
        self.next[name] += 1
        return self.next[name] - 1

    def finish(self) -> dict[str, int]:
        written = {}
        for name, (table, columns) in self.tables.items():
            if name in self.next:
                self.ctx.writer.next_id(table, self.next[name] - self.first[name])  # type: ignore[arg-type]
            n = self.ctx.writer.write(table, columns, self.rows[name]) if self.rows[name] else 0  # type: ignore[arg-type]
            self.ctx.count(table.name, n)
            written[table.name] = n
        return written


class _Generator:
    def __init__(self, ctx: SynthContext, rules: SanatoriumRules, pop: SyntheticPopulation):
        self.ctx, self.rules, self.pop = ctx, rules, pop
        self.cfg = rules.synth
        self.rng = ctx.rng("sanatorium")
        self.out = _Writer(ctx)
        self.today = ctx.as_of
        self.now = datetime.combine(self.today, _HOUR)
        self.hold = timedelta(hours=rules.offer.hold_hours)
        self.k = 0
        self.number_a = self.rng.randrange(10**8, _NUMBER_SPACE) | 1
        while math.gcd(self.number_a, _NUMBER_SPACE) != 1:
            self.number_a += 2
        self.number_b = self.rng.randrange(_NUMBER_SPACE)
        self.entries: list[_Entry] = []
        self.periods: list[_Period] = []
        self.stays = 0

    # ---- identifiers --------------------------------------------------------------------

    def number(self) -> str:
        """Unique without a lookup: ``10^9 + (k * A + B) mod 9·10^9`` (A prime to the
        modulus: a bijection), 10 digits grouped 3-3-4, the first never 0."""
        raw = str(10**9 + (self.k * self.number_a + self.number_b) % _NUMBER_SPACE)
        self.k += 1
        return f"{raw[:3]}-{raw[3:6]}-{raw[6:]}"

    def voucher(self) -> str:
        return "".join(self.rng.choice(VOUCHER_ALPHABET) for _ in range(6))

    def event(
        self,
        e: _Entry,
        kind: str,
        at: datetime,
        by: str = SYSTEM,
        detail: dict[str, Any] | None = None,
        reason: str | None = None,
    ) -> None:
        out = self.out
        out.rows["event"].append(
            (out.take("event"), e.id, e.person, kind, reason, detail or {}, at, by)
        )
        e.updated_at = at


def _read_territory(ctx: SynthContext, ids: set[int]) -> dict[int, tuple[str, dict[str, str]]]:
    """Code and names of territorial units, from the registry's rows the run wrote."""
    if not ids:
        return {}
    query = text("SELECT id, code, names FROM territory WHERE id IN :ids").bindparams(
        bindparam("ids", expanding=True)
    )
    out = {}
    with ctx.writer.engine.connect() as conn:
        for tid, code, names in conn.execute(query, {"ids": sorted(ids)}):
            if isinstance(names, str):
                names = json.loads(names)
            out[int(tid)] = (str(code), dict(names or {}))
    return out


def synthesize_sanatorium(ctx: SynthContext, population: SyntheticPopulation) -> dict[str, int]:
    """Write sanatoria (where the population has none), beds, periods, referrals, offers,
    stays and the queue's log."""
    rules = sanatorium_rules(ctx.country)
    if not rules.synth:
        raise ValueError(f"{ctx.country}/sanatorium.yaml has no synth section")
    g = _Generator(ctx, rules, population)
    task = ctx.progress.start("sanatorium", None)
    people = _people(g)
    network = _network(g, people)
    _periods(g, network)
    _referrals(g, people, network)
    _play(g)
    task(1)
    return g.out.finish()


# ---- who is referred -----------------------------------------------------------------------


Ages = tuple[int, int]


@dataclass
class _People:
    #: people alive and attached to a facility
    alive: int
    region_of_facility: dict[int, str]
    #: (ages, region code) -> indices of the people of those ages attached there
    pools: dict[tuple[Ages, str], array]
    #: region code -> people attached there (the regions' weights)
    per_region: dict[str, int]
    #: the same by the region's territory id
    per_region_id: dict[int, int]

    def regions(self, ages: Ages) -> dict[str, float]:
        return {r: float(len(pool)) for (a, r), pool in self.pools.items() if a == ages and pool}


def _ages(g: _Generator, category: str) -> Ages:
    raw = (g.cfg.get("ages") or {}).get(category)
    return (int(raw[0]), int(raw[1])) if raw else DEFAULT_AGES


def _people(g: _Generator) -> _People:
    p, rules = g.pop, g.rules
    fac_region = {f.id: f.region_id for f in p.facilities}
    codes = _read_territory(g.ctx, set(fac_region.values()))
    region_of_facility = {
        fid: (codes[rid][0] if rules.queue_by_region and rid in codes else "")
        for fid, rid in fac_region.items()
    }
    today = g.today.toordinal()
    ranges = sorted({_ages(g, c) for c in g.cfg["categories"] if c in rules.categories})
    pools: dict[tuple[Ages, str], array] = {}
    per_region: dict[str, int] = {}
    per_region_id: dict[int, int] = {}
    alive = 0
    for i in range(len(p)):
        fid = p.facility_id[i]
        if not p.alive(i) or not fid or fid not in region_of_facility:
            continue
        alive += 1
        region = region_of_facility[fid]
        per_region[region] = per_region.get(region, 0) + 1
        per_region_id[fac_region[fid]] = per_region_id.get(fac_region[fid], 0) + 1
        age = (today - p.birth[i]) // 365
        for low, high in ranges:
            if low <= age <= high:
                pools.setdefault(((low, high), region), array("i")).append(i)
    return _People(alive, region_of_facility, pools, per_region, per_region_id)


def _child_category(g: _Generator, category: str) -> bool:
    return _ages(g, category)[1] < g.rules.child_age_below


def _profile_weights(g: _Generator) -> dict[str, float]:
    """Expected share of referrals per profile: adults by ``profiles``, children's
    categories to the paediatric profile."""
    shares = {c: float(w) for c, w in g.cfg["categories"].items() if c in g.rules.categories}
    total = sum(shares.values()) or 1.0
    child = sum(w for c, w in shares.items() if _child_category(g, c)) / total
    adult = {k: float(v) for k, v in g.cfg["profiles"].items() if k in g.rules.profiles}
    s = sum(adult.values()) or 1.0
    out = {k: (1 - child) * v / s for k, v in adult.items()}
    if child and "paediatric" in g.rules.profiles:
        out["paediatric"] = out.get("paediatric", 0.0) + child
    return {k: v for k, v in out.items() if v > 0}


# ---- the network ---------------------------------------------------------------------------


@dataclass
class _Network:
    #: facility id -> profile -> bed ids
    beds: dict[int, dict[str, list[int]]]
    profile_weights: dict[str, float]
    region_weights: dict[str, float]
    #: profile -> periods a year of each of its wings
    periods_a_year: dict[str, int]


def _courses_a_year(rules: SanatoriumRules) -> int:
    return max(1, 365 // (rules.course_days + rules.turnover_days))


def _network(g: _Generator, people: _People) -> _Network:
    rules, p, out = g.rules, g.pop, g.out
    weights = _profile_weights(g)
    places = float(g.cfg["places_per_100k"]) * people.alive / 100_000
    courses = _courses_a_year(rules)
    per_profile = {k: max(1, math.ceil(places * w / courses)) for k, w in weights.items()}
    # a small population's few places: fewer periods a year (at least one), not fewer beds
    periods = {
        k: min(courses, max(1, round(places * weights[k] / n))) for k, n in per_profile.items()
    }
    existing = [f for f in p.facilities if f.kind == "sanatorium"]
    if existing:
        sanatoria = [f.id for f in existing]
    else:
        sanatoria = _add_sanatoria(g, people, sum(per_profile.values()))
    beds: dict[int, dict[str, list[int]]] = {fid: {} for fid in sanatoria}
    n = len(sanatoria)
    for k, (profile, count) in enumerate(sorted(per_profile.items())):
        for j in range(count):
            fid = sanatoria[(k + j) % n]
            bed = out.take("bed")
            number = len(beds[fid].setdefault(profile, [])) + 1
            beds[fid][profile].append(bed)
            out.rows["bed"].append((bed, fid, profile, f"{profile[:4].upper()}-{number:03d}", True))
    region_weights = {r: float(c) for r, c in sorted(people.per_region.items()) if c}
    return _Network(beds, weights, region_weights, periods)


def _add_sanatoria(g: _Generator, people: _People, beds: int) -> list[int]:
    """Sanatoria in the first towns of the most populous regions (one per 60 beds)."""
    p, out = g.pop, g.out
    n = max(1, round(beds / BEDS_PER_SANATORIUM))
    town: dict[int, int] = {}
    for f in p.facilities:
        town.setdefault(f.region_id, f.settlement_id)
    regions = sorted(town, key=lambda r: (-people.per_region_id.get(r, 0), r))
    chosen = [regions[k % len(regions)] for k in range(n)]
    names = _read_territory(g.ctx, {town[r] for r in chosen})
    kinds = {t["code"]: t for t in pack.load(g.ctx.country)["facility_types"]}
    type_names = kinds["sanatorium"]["name"]
    lang = pack.load(g.ctx.country)["default_language"]
    opened = date(g.today.year - 10, 1, 1)
    ids = []
    for k, rid in enumerate(chosen):
        sid = town[rid]
        code, place = names[sid]
        fid = out.take("facility")
        fcode = f"{code}-SAN{k + 1:02d}"
        fnames = {
            lg: f"{type_names[lg]} {k + 1:02d}, {place[lg]}" for lg in place if lg in type_names
        }
        out.rows["facility"].append(
            (fid, fcode, fnames.get(lang, fcode), fnames, "sanatorium", sid, place.get(lang),
             True, opened, 1, g.now)
        )  # fmt: skip
        ids.append(fid)
    return ids


def _periods(g: _Generator, network: _Network) -> None:
    """Each sanatorium's profile runs one period after another; each period goes to one
    region's queue, the regions in turn by their weight."""
    rules, out = g.rules, g.out
    first = g.today - timedelta(days=WINDOW_DAYS)
    last = g.today + timedelta(days=HORIZON_DAYS)
    turns = {profile: _rotation(network.region_weights) for profile in network.profile_weights}
    for fid, profiles in sorted(network.beds.items()):
        for profile, beds in sorted(profiles.items()):
            step = max(
                rules.course_days + rules.turnover_days, 365 // network.periods_a_year[profile]
            )
            start = first + timedelta(days=g.rng.randrange(step))
            while start <= last:
                region = next(turns[profile]) if g.rules.queue_by_region else ""
                published = datetime.combine(start - timedelta(days=PUBLISH_DAYS), _HOUR)
                pid = out.take("period")
                ends = start + timedelta(days=rules.course_days)
                g.periods.append(
                    _Period(pid, fid, profile, region, start, ends, len(beds), published, beds)
                )
                out.rows["period"].append(
                    (pid, fid, profile, region, start, ends, len(beds), "open", "synth",
                     published, 1)
                )  # fmt: skip
                start += timedelta(days=step)


# ---- referrals -----------------------------------------------------------------------------


def _moment(g: _Generator, first: date, days: int) -> datetime:
    """A working-hours moment in ``days`` days from ``first``."""
    day = first + timedelta(days=g.rng.randrange(max(1, days)))
    return datetime.combine(day, time(3, tzinfo=UTC)) + timedelta(minutes=g.rng.randrange(600))


def _referrals(g: _Generator, people: _People, network: _Network) -> None:
    """The year's referrals at the pack's rate, and the backlog that brings each queue to
    ``queue_years`` of its places."""
    rules, cfg = g.rules, g.cfg
    shares = {c: float(w) for c, w in cfg["categories"].items() if c in rules.categories}
    queued_shares = {c: w for c, w in shares.items() if not rules.categories[c].direct}
    used: set[int] = set()
    year = round(float(cfg["referrals_per_1000"]) * people.alive / 1000)
    first = g.today - timedelta(days=WINDOW_DAYS)
    for _ in range(year):
        _refer(g, people, _weighted(g.rng, shares), used, _moment(g, first, WINDOW_DAYS))
    # the backlog: each queue's target less what the year leaves in it
    places: dict[tuple[str, str], int] = {}
    for p in g.periods:
        if p.published <= g.now:
            places[(p.profile, p.region)] = places.get((p.profile, p.region), 0) + p.capacity
    queued: dict[tuple[str, str], int] = {}
    direct: dict[tuple[str, str], int] = {}
    for e in g.entries:
        into = direct if e.direct else queued
        into[(e.profile, e.region)] = into.get((e.profile, e.region), 0) + 1
    years = float(cfg["queue_years"])
    since = max(rules.effective_from, first - timedelta(days=round(365 * years)))
    span = max(30, (first - since).days)
    yearly = {q: n * 365 / (WINDOW_DAYS + HORIZON_DAYS) for q, n in places.items()}
    for (profile, region), per_year in sorted(yearly.items()):
        target = years * per_year
        served = places[(profile, region)] - direct.get((profile, region), 0)
        backlog = round(target - queued.get((profile, region), 0) + served)
        child = profile == "paediatric"
        options = {c: w for c, w in queued_shares.items() if _child_category(g, c) == child}
        if not options:
            continue
        for _ in range(max(0, backlog)):
            _refer(
                g,
                people,
                _weighted(g.rng, options),
                used,
                _moment(g, since, span),
                profile=profile,
                region=region,
            )
    g.entries.sort(key=lambda e: e.id)


def _refer(
    g: _Generator,
    people: _People,
    category: str,
    used: set[int],
    at: datetime,
    *,
    profile: str | None = None,
    region: str | None = None,
) -> None:
    """One referral of a person of the category's ages not yet referred, in ``region``
    (default: a region drawn by its people of those ages); a few draws, then none."""
    ages = _ages(g, category)
    if region is None:
        weights = people.regions(ages)
        if not weights:
            return
        region = _weighted(g.rng, weights)
    pool = people.pools.get((ages, region))
    if not pool:
        return
    p, rules = g.pop, g.rules
    for _ in range(12):
        i = pool[g.rng.randrange(len(pool))]
        if i in used:
            continue
        used.add(i)
        fid = p.facility_id[i]
        cat = rules.categories[category]
        if profile is None:
            if _child_category(g, category) and "paediatric" in rules.profiles:
                profile = "paediatric"
            else:
                adult = {k: float(v) for k, v in g.cfg["profiles"].items() if k in rules.profiles}
                profile = _weighted(g.rng, adult)
        doctors = p.facility(fid).practitioners
        by = synthetic_referrer(doctors[g.rng.randrange(len(doctors))]) if doctors else "synth"
        e = _Entry(
            id=g.out.take("referral"),
            person=p.person_id[i],
            category=category,
            tier=cat.tier,
            direct=cat.direct,
            profile=profile,
            region=people.region_of_facility[fid],
            facility_id=fid,
            referred_by=by,
            created_at=at,
            applied_at=at,
            status="referred" if cat.direct else "queued",
        )
        g.entries.append(e)
        g.event(e, "joined", at, by, {"tier": e.tier, "category": category, "direct": e.direct})
        return


# ---- the queues, played in time -------------------------------------------------------------


class _Queue:
    """One queue: entries waiting to be admitted (by the time they may be offered) and the
    line itself (by tier, application time, sequence)."""

    def __init__(self) -> None:
        self.pending: list[tuple[datetime, int, _Entry]] = []
        self.line: list[tuple[tuple[int, datetime, int], _Entry]] = []

    def add(self, e: _Entry, available: datetime) -> None:
        heapq.heappush(self.pending, (available, e.id, e))

    def admit(self, now: datetime) -> None:
        while self.pending and self.pending[0][0] <= now:
            _, _, e = heapq.heappop(self.pending)
            heapq.heappush(self.line, (e.key(), e))

    def pop(self) -> _Entry | None:
        return heapq.heappop(self.line)[1] if self.line else None


def _play(g: _Generator) -> None:
    """Every queue played in time, as the sweep and the people would: a period's places are
    offered when it is published, each declined or lapsed place to the next in line when
    that is known, across all the periods of the queue in the order of those moments."""
    rules, cfg, out, rng = g.rules, g.cfg, g.out, g.rng
    decline, lapse = float(cfg["decline_share"]), float(cfg["lapse_share"])
    queues: dict[tuple[str, str], _Queue] = {}
    direct: dict[tuple[str, str], list[_Entry]] = {}
    for e in g.entries:
        if e.direct:
            direct.setdefault((e.profile, e.region), []).append(e)
        else:
            queues.setdefault((e.profile, e.region), _Queue()).add(e, e.applied_at)
    for waiting in direct.values():
        waiting.sort(key=lambda e: (e.created_at, e.id), reverse=True)
    periods = sorted(g.periods, key=lambda p: (p.published, p.id))
    #: (moment, 0 publication / 1 a place to offer, period index, place)
    moments = [(p.published, 0, i, -1) for i, p in enumerate(periods) if p.published <= g.now]
    heapq.heapify(moments)
    refused: dict[int, set[int]] = {}
    while moments:
        t, kind, i, k = heapq.heappop(moments)
        p = periods[i]
        key = (p.profile, p.region)
        if kind == 0:
            # the doctors of direct referrals book the published places first
            waiting = direct.get(key, [])
            while waiting and p.taken < p.capacity and waiting[-1].created_at <= t:
                at = t + timedelta(hours=rng.uniform(1, 48))
                if at > g.now:
                    break
                e = waiting.pop()
                _book(g, e, p, at, None, e.referred_by)
            for place in range(p.capacity - p.taken):
                heapq.heappush(moments, (t, 1, i, place))
            continue
        q = queues.get(key)
        if q is None:
            continue
        q.admit(t)
        not_here = refused.setdefault(p.id, set())
        skipped = []
        e = q.pop()
        while e is not None and e.id in not_here:
            skipped.append(e)
            e = q.pop()
        for s in skipped:
            heapq.heappush(q.line, (s.key(), s))
        if e is None:
            continue  # nobody in line: the place stays free
        oid = out.take("offer")
        expires = t + g.hold
        g.event(e, "offered", t, detail={"offer": oid, "period": p.id})
        u = rng.random()
        outcome = "declined" if u < decline else "lapsed" if u < decline + lapse else "accepted"
        decided = expires if outcome == "lapsed" else t + g.hold * rng.uniform(0.02, 0.9)
        if decided > g.now:  # still open on the run's day: the place is held
            out.rows["offer"].append((oid, e.id, e.person, p.id, "open", t, expires, None, None))
            e.status = "offered"
            p.taken += 1
            continue
        holder = f"synth-citizen-{e.person}"
        if outcome == "accepted":
            out.rows["offer"].append(
                (oid, e.id, e.person, p.id, "accepted", t, expires, decided, holder)
            )
            _book(g, e, p, decided, oid, holder)
            continue
        who = holder if outcome == "declined" else SYSTEM
        out.rows["offer"].append((oid, e.id, e.person, p.id, outcome, t, expires, decided, who))
        if outcome == "declined":
            g.event(e, "declined", decided, who, {"offer": oid})
        else:
            g.event(e, "lapsed", decided, who, {"offer": oid, "period": p.id})
        rule = rules.offer.on_decline if outcome == "declined" else rules.offer.on_lapse
        why = "offer declined" if outcome == "declined" else "offer lapsed"
        if rule == "withdraw":
            e.status = "cancelled"
            g.event(e, "withdrawn", decided, who, reason=why)
        else:
            if rule == "end_of_queue":
                before = {"applied_at_before": e.applied_at.isoformat()}
                g.event(e, "requeued", decided, who, before, why)
                e.applied_at = decided
            not_here.add(e.id)  # never offered this period again
            q.add(e, decided)  # back in line once decided
        heapq.heappush(moments, (decided, 1, i, k))
    _write_referrals(g)


def _book(g: _Generator, e: _Entry, p: _Period, at: datetime, offer: int | None, by: str) -> None:
    """A bed of the period for the entry, and the stay as of the run's day."""
    out, rules, rng = g.out, g.rules, g.rng
    bed = p.beds[p.taken]
    p.taken += 1
    sid = out.take("stay")
    g.event(e, "booked", at, by, {"period": p.id, "stay": sid, "offer": offer})
    today = g.today
    arrived_on = discharged_on = None
    status = "booked"
    updated = at
    if p.starts_on <= today:
        grace_over = today > p.starts_on + timedelta(days=rules.noshow_grace_days)
        if rng.random() < float(g.cfg["noshow_share"]):
            if grace_over:
                status = "noshow"
                updated = datetime.combine(
                    p.starts_on + timedelta(days=rules.noshow_grace_days + 1), _HOUR
                )
                g.event(e, "noshow", updated, detail={"stay": sid, "period": p.id})
        else:
            status, arrived_on = "arrived", p.starts_on
            updated = datetime.combine(p.starts_on, _HOUR) + timedelta(hours=3)
            g.event(e, "arrived", updated, f"synth-staff-{p.facility_id}", {"stay": sid})
            if p.ends_on <= today:
                status, discharged_on = "fulfilled", p.ends_on
                updated = datetime.combine(p.ends_on, _HOUR)
                g.event(e, "discharged", updated, f"synth-staff-{p.facility_id}", {"stay": sid})
    e.status = {"booked": "booked", "arrived": "arrived", "fulfilled": "discharged"}.get(
        status, "noshow"
    )
    out.rows["stay"].append(
        (sid, e.id, e.person, p.id, bed, p.facility_id, p.starts_on, p.ends_on, status,
         g.voucher(), offer, at, by, arrived_on, discharged_on, updated, 1)
    )  # fmt: skip
    g.stays += 1


def _write_referrals(g: _Generator) -> None:
    for e in g.entries:
        indication = INDICATIONS[e.profile]
        g.out.rows["referral"].append(
            (e.id, g.number(), e.person, e.profile, e.region, e.category, e.tier, e.direct,
             indication, [], [], e.status, e.applied_at, e.facility_id, e.referred_by, "local",
             e.created_at, e.updated_at or e.created_at, 1)
        )  # fmt: skip
