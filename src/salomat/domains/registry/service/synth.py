"""Synthetic national territory, facilities and people (``salomat synth``).

Everything is drawn from the country pack (``population.yaml`` for the
demography and the network norms, ``pack.yaml`` for facility types and
positions) with ``ctx.rng``, so one seed gives one population. People are
drawn from the age-sex pyramid settlement by settlement and then gathered
into households (couples of close ages, children under a mother 18-42 years
older, some widowed parents), so the pyramid holds exactly while families
look like families. Territory is scaled down with the square root of the
share of the real population asked for: a 1M-person Uzbekistan keeps every
region and a few districts in each, instead of 200 districts of 5,000 people.

Rows are plain tuples written through the bulk writer in person order; the
arrays handed on (``SyntheticPopulation``) are the ids written.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time
from itertools import accumulate
from operator import mul
from random import Random
from typing import Any

from sqlalchemy import Table

from salomat.core.synth import SynthContext
from salomat.country import names, pack
from salomat.domains.registry.models import (
    Attachment,
    Facility,
    Person,
    PersonRelation,
    Population,
    Practitioner,
    PractitionerRole,
    Section,
    SyntheticDuplicate,
    Territory,
)
from salomat.domains.registry.schemas import SyntheticFacility, SyntheticPopulation
from salomat.domains.registry.service.synth_names import (
    POOLS,
    female_family,
    patronymic,
    written,
)
from salomat.domains.registry.service.synth_vital import draw_deaths, vital_rates

__all__ = ["synthesize_population"]

BANDS = 18
RECORDED_BY = "synth"
_YEAR = 365.2425


def _weighted(rng: Random, weights: dict[Any, float]) -> Any:
    keys = list(weights)
    return rng.choices(keys, weights=[float(weights[k]) for k in keys])[0]


def _cum(weights: list[float]) -> list[float]:
    return list(accumulate(weights))


def _split(total: int, weights: list[float]) -> list[int]:
    """``total`` split by ``weights`` (largest remainder): the parts sum to ``total``."""
    s = sum(weights) or 1.0
    raw = [total * w / s for w in weights]
    parts = [int(r) for r in raw]
    rest = total - sum(parts)
    for i in sorted(range(len(raw)), key=lambda i: (parts[i] - raw[i], i))[:rest]:
        parts[i] += 1
    return parts


def _initials(kind: str) -> str:
    return "".join(w[0] for w in kind.split("_")).upper()


def _living_pyramid(cfg: dict[str, Any]) -> list[float]:
    """The pack's pyramid (male bands, then female), its 0-4 band rescaled so that the
    children born each year are the pack's crude birth rate of the people."""
    pyramid = cfg["pyramid"]
    male = [float(x) for x in pyramid["male"]]
    female = [float(x) for x in pyramid["female"]]
    total = sum(male) + sum(female)
    young = male[0] + female[0]
    share = 5 * vital_rates(cfg).crude_birth_rate / 1000
    factor = share * (total - young) / (1 - share) / young
    return [male[0] * factor, *male[1:], female[0] * factor, *female[1:]]


def _pyramid(cfg: dict[str, Any], as_of: date) -> list[float]:
    """Who is drawn, by sex and 5-year band (male bands, then female), so that after the
    history's deaths the LIVING follow ``_living_pyramid``: each band is raised by the
    share of it that dies over the history (``synth_vital``'s draw, solved for its fixed
    point)."""
    v = vital_rates(cfg)
    living = _living_pyramid(cfg)
    years = (as_of - date(as_of.year - v.history_years, 1, 1)).days / _YEAR
    per_year = v.crude_death_rate / 1000 - v.crude_birth_rate * v.under5_mortality / 1e6
    risk = [float(x) for x in cfg["death_risk"]] * 2
    drawn = list(living)
    for _ in range(30):
        adult = [i for i in range(2 * BANDS) if i % BANDS]
        mean_risk = sum(drawn[i] * risk[i] for i in adult) / sum(drawn)
        drawn = [
            w if i % BANDS == 0 else w / (1 - min(0.95, per_year * years * risk[i] / mean_risk))
            for i, w in enumerate(living)
        ]
    return drawn


class _Territory:
    """Regions, districts and settlements, with how many people each settlement gets."""

    def __init__(self, ctx: SynthContext, cfg: dict[str, Any], people: int, rng: Random) -> None:
        country = ctx.country
        langs: list[str] = pack.load(country)["languages"]
        self.lang = pack.load(country)["default_language"]
        words = cfg["territory_words"]
        scale = math.sqrt(min(1.0, people / cfg["national_population"]))
        #: (id, code, level, parent_id, name, names, is_rural, lat, lon)
        self.rows: list[tuple[Any, ...]] = []
        self.region_of: dict[int, int] = {}
        self.district_of: dict[int, int] = {}
        #: per settlement: id, district id, region index, is_rural, code, names
        self.settlements: list[tuple[int, int, int, bool, str, dict[str, str]]] = []
        self.districts: list[tuple[int, int, str]] = []  # id, region index, code
        self.regions: list[tuple[int, str]] = []
        weights: list[float] = []
        regions = cfg["regions"]
        total_share = sum(r["share"] for r in regions)
        n_districts = sum(
            max(1, min(r["districts"], round(r["districts"] * scale))) for r in regions
        )
        first = ctx.writer.next_id(Territory.__table__, len(regions) + 2 * n_districts + 10)
        self._next = first
        self._limit = first + len(regions) + 2 * n_districts + 10
        rows = self.rows
        pending: list[tuple[Any, ...]] = []
        for ri, r in enumerate(regions):
            code = r["code"] if country != "KZ" else f"{r['code']}0000000"
            rid = self._id()
            rnames = {k: r["names"][k] for k in langs if k in r["names"]}
            rows.append(
                (rid, code, "region", None, rnames[self.lang], rnames, None, r["lat"], r["lon"])
            )
            self.regions.append((rid, code))
            r_people = people * r["share"] / total_share
            nd = max(1, min(r["districts"], round(r["districts"] * scale)))
            dw = [rng.uniform(0.6, 1.4) * (2.0 if d == 0 else 1.0) for d in range(nd)]
            dws = sum(dw)
            city = r["urban"] >= 1.0
            for d in range(nd):
                did = self._id()
                dcode = (
                    f"{r['code']}{d + 1:02d}00000" if country == "KZ" else f"{code}{201 + d:03d}"
                )
                dnames = {k: f"{rnames[k]} {words['district'][k]} {d + 1:02d}" for k in rnames}
                dlat = r["lat"] + rng.uniform(-0.6, 0.6) * (0.1 if city else 1)
                dlon = r["lon"] + rng.uniform(-0.6, 0.6) * (0.1 if city else 1)
                rows.append(
                    (did, dcode, "district", rid, dnames[self.lang], dnames, None, dlat, dlon)
                )
                self.region_of[did] = rid
                self.districts.append((did, ri, dcode))
                d_people = r_people * dw[d] / dws
                urban = d_people * r["urban"]
                rural = d_people - urban
                nv = 0 if city else max(1, round(rural / cfg["village_people"]))
                vw = [rng.uniform(0.4, 1.6) for _ in range(nv)]
                vws = sum(vw) or 1.0
                shares = [urban] + [rural * w / vws for w in vw]
                for s, share in enumerate(shares):
                    rural_s = s > 0
                    word = words["village" if rural_s else "town"]
                    snames = {k: f"{rnames[k]} {word[k]} {d + 1:02d}-{s + 1:02d}" for k in rnames}
                    scode = (
                        f"{r['code']}{d + 1:02d}{s + 1:05d}"
                        if country == "KZ"
                        else f"{dcode}{s + 1:03d}"
                    )
                    pending.append(
                        (
                            scode,
                            did,
                            snames,
                            rural_s,
                            dlat + rng.uniform(-0.15, 0.15),
                            dlon + rng.uniform(-0.15, 0.15),
                            ri,
                        )
                    )
                    weights.append(share)
        sfirst = ctx.writer.next_id(Territory.__table__, len(pending))
        for k, (scode, did, snames, rural_s, lat, lon, ri) in enumerate(pending):
            sid = sfirst + k
            rows.append(
                (sid, scode, "settlement", did, snames[self.lang], snames, rural_s, lat, lon)
            )
            self.district_of[sid] = did
            self.settlements.append((sid, did, ri, rural_s, scode, snames))
        self.quota = _split(people, weights)

    def _id(self) -> int:
        i = self._next
        if i >= self._limit:
            raise RuntimeError("territory ids exhausted")  # never: reserved above
        self._next += 1
        return i


def _birth_ids(country: str, rules: dict[str, Any]) -> Any:
    """A function (birth ordinal, female) -> a valid national id unique to that birth and sex."""
    serials: dict[tuple[int, int], int] = {}
    weights: list[int] = rules["check_weights"]
    second: list[int] = rules.get("check_weights_second", [])
    century = {18: 1, 19: 3, 20: 5}
    w13 = [weights[i % len(weights)] for i in range(13)]

    def pinfl(birth: int, female: int) -> str:
        b = date.fromordinal(birth)
        s = serials.get((birth, female), 0)
        serials[(birth, female)] = s + 1
        body = (
            f"{century[b.year // 100] + female}{b.day:02d}{b.month:02d}{b.year % 100:02d}"
            f"{100 + s % 900:03d}{s // 900 % 1000:03d}"
        )
        check = sum(map(mul, map(int, body), w13)) % 10
        return body + str(check)

    def iin(birth: int, female: int) -> str:
        b = date.fromordinal(birth)
        s = serials.get((birth, female), 0)
        head = f"{b.year % 100:02d}{b.month:02d}{b.day:02d}{century[b.year // 100] + female}"
        while True:
            body = head + f"{s % 10000:04d}"
            s += 1
            d = list(map(int, body))
            r = sum(map(mul, d, weights)) % 11
            if r == 10:
                r = sum(map(mul, d, second)) % 11
            if r != 10:
                serials[(birth, female)] = s
                return body + str(r)

    return iin if rules["scheme"] == "iin" else pinfl


class _People:
    """People drawn from the pyramid, gathered into households, named (in person order)."""

    def __init__(self, ctx: SynthContext, cfg: dict[str, Any], terr: _Territory) -> None:
        self.country = ctx.country
        self.cfg = cfg
        self.terr = terr
        self.rng = ctx.rng("registry.people")
        self.today = ctx.as_of.toordinal()
        self.sex = bytearray()
        self.birth = array("i")
        self.settlement = array("i")
        self.household = array("i")
        self.mother = array("i")
        self.father = array("i")
        self.fam: list[tuple[str, str, str]] = []
        self.giv: list[tuple[str, str, str]] = []
        self.pat: list[tuple[str, str, str] | None] = []
        self.script: list[str] = []
        self.address: list[str | None] = []
        self.households = 0
        self.cum = _cum(_pyramid(cfg, ctx.as_of))
        self.eth_cum = _cum([float(e["share"]) for e in cfg["ethnic"]])

    def draw(self, progress: Any) -> None:
        for index, sett in enumerate(self.terr.settlements):
            q = self.terr.quota[index]
            if q:
                self._settlement(sett[0], sett[5][self.terr.lang], q)
                progress(q)

    def _settlement(self, sid: int, sname: str, q: int) -> None:
        rng = self.rng
        cum, top = self.cum, self.cum[-1]
        last = 2 * BANDS - 1
        ages: list[float] = []
        sexes: list[int] = []
        for _ in range(q):
            female, band = divmod(min(bisect_right(cum, rng.random() * top), last), BANDS)
            if band == BANDS - 1:
                ages.append(85 + min(19.5, rng.expovariate(0.18)))
            else:
                ages.append(band * 5 + rng.random() * 5)
            sexes.append(female)
        order = sorted(range(q), key=ages.__getitem__)
        women = [i for i in order if sexes[i] and ages[i] >= 18]
        men = [i for i in order if not sexes[i] and ages[i] >= 18]
        w_ages = [ages[i] for i in women]
        m_ages = [ages[i] for i in men]
        husband: dict[int, int] = {}
        wife_of: dict[int, int] = {}
        for w in women:
            a = ages[w]
            p = 0.0 if a < 19 else 0.55 if a < 25 else 0.85 if a < 62 else 0.5
            if rng.random() >= p:
                continue
            lo, hi = bisect_left(m_ages, a), bisect_right(m_ages, a + 8)
            for _ in range(6 if lo < hi else 0):
                m = men[rng.randrange(lo, hi)]
                if m not in wife_of:
                    husband[w], wife_of[m] = m, w
                    break
        # a mother 18-42 years older for every child, and for half the unmarried under 25
        mom = [-1] * q
        kids: dict[int, list[int]] = {}
        for i in range(q):
            a = ages[i]
            if a >= 18 and (a >= 25 or i in husband or i in wife_of or rng.random() < 0.5):
                continue
            lo, hi = bisect_left(w_ages, a + 18), bisect_right(w_ages, a + 42)
            for _ in range(6 if lo < hi else 0):
                cand = women[rng.randrange(lo, hi)]
                if len(kids.get(cand, ())) < 8:
                    mom[i] = cand
                    kids.setdefault(cand, []).append(i)
                    break
        # family units: a couple or a mother at the top of her line, with her unmarried
        # descendants; married children make their own
        placed = bytearray(q)
        units: list[list[int]] = []
        mother_of_unit: list[int] = []
        for w in reversed(women):
            if w in husband:
                members = [husband[w], w]
            elif mom[w] < 0 and w in kids:
                members = [w]
            else:
                continue
            stack = list(kids.get(w, ()))
            while stack:
                k = stack.pop()
                if placed[k] or k in husband or k in wife_of:
                    continue
                members.append(k)
                stack.extend(kids.get(k, ()))
            for m in members:
                placed[m] = 1
            units.append(members)
            mother_of_unit.append(w)
        families = len(units)
        for i in order:
            if placed[i]:
                continue
            if ages[i] < 18 and families:
                units[rng.randrange(families)].append(i)
            else:
                units.append([i])
                mother_of_unit.append(-1)
        self._gather(units, mother_of_unit, families, ages, sexes, mom, q)
        homes = [u for u in units if u]
        base = len(self.sex)
        where = [0] * q
        pos = base
        for members in homes:
            for m in members:
                where[m] = pos
                pos += 1
        own_father = {w: m for w, m in husband.items()}
        self._name(homes, ages, sexes, mom, own_father, where, sid, sname)

    def _gather(
        self,
        units: list[list[int]],
        mother_of_unit: list[int],
        families: int,
        ages: list[float],
        sexes: list[int],
        mom: list[int],
        q: int,
    ) -> None:
        """Merge family units into households until their mean size is the pack's.

        Young adults stay with their parents, widowed elders live with a married
        child, young couples with the husband's parents: in that order, as far as
        the pack's mean household size asks (a merged unit empties in place).
        """
        rng = self.rng
        sizes = self.cfg["household_size"]
        mean = sum(int(k) * float(v) for k, v in sizes.items()) / sum(map(float, sizes.values()))
        excess = len(units) - max(1, round(q / mean))
        if excess <= 0 or not families:
            return
        hosts = sorted(range(families), key=lambda u: ages[units[u][0]])
        host_ages = [ages[units[u][0]] for u in hosts]
        root = list(range(len(units)))

        def find(u: int) -> int:
            while root[u] != u:
                root[u] = root[root[u]]
                u = root[u]
            return u

        def merge(u: int, lo_age: float, hi_age: float) -> int:
            lo, hi = bisect_left(host_ages, lo_age), bisect_right(host_ages, hi_age)
            for _ in range(6 if lo < hi else 0):
                h = hosts[rng.randrange(lo, hi)]
                r = find(h)
                if r != find(u):
                    units[r].extend(units[u])
                    units[u] = []
                    root[u] = r
                    return h
            return -1

        singles = [u for u in range(families, len(units))]
        young = [u for u in singles if ages[units[u][0]] < 35]
        old = [u for u in singles if ages[units[u][0]] >= 55]
        couples = [u for u in range(families) if len(units[u]) >= 2 and not sexes[units[u][0]]]
        rest = [u for u in singles if 35 <= ages[units[u][0]] < 55]
        for group, down in ((young, True), (old, False), (couples, True), (rest, None)):
            rng.shuffle(group)
            for u in group:
                if excess <= 0:
                    return
                if not units[u]:
                    continue
                person = units[u][0]
                a = ages[person]
                if down is None:
                    h = merge(u, a - 12, a + 12)
                elif down:
                    h = merge(u, a + 18, a + 45)
                    mf = mother_of_unit[h] if h >= 0 else -1
                    if mf >= 0 and mom[person] < 0 and 18 <= ages[mf] - a <= 45:
                        mom[person] = mf
                else:
                    h = merge(u, a - 45, a - 18)
                    head = units[h][0] if h >= 0 and units[h] else -1
                    if head >= 0 and sexes[person] and mom[head] < 0:
                        mom[head] = person
                if h >= 0:
                    excess -= 1

    def _name(
        self,
        homes: list[list[int]],
        ages: list[float],
        sexes: list[int],
        mom: list[int],
        husband: dict[int, int],
        where: list[int],
        sid: int,
        sname: str,
    ) -> None:
        rng, country, today = self.rng, self.country, self.today
        ethnic, eth_cum = self.cfg["ethnic"], self.eth_cum
        streets: list[str] = self.cfg["streets"]
        for members in homes:
            hh = self.households
            self.households += 1
            e = ethnic[min(bisect_right(eth_cum, rng.random() * eth_cum[-1]), len(ethnic) - 1)]
            male_pool, female_pool, family_pool = POOLS[e["pool"]]
            latin = float(e["latin"])
            stem = rng.choice(family_pool)
            head = members[0]
            given = {m: rng.choice(female_pool if sexes[m] else male_pool) for m in members}
            grandfather = next(
                (m for m in members[2:] if not sexes[m] and ages[m] >= ages[head] + 18), -1
            )
            head_father = given[grandfather] if grandfather >= 0 else rng.choice(male_pool)
            addr = f"{sname}, {streets[rng.randrange(len(streets))]} {rng.randint(1, 150)}"
            # one clerk registers a family: one script for the household
            script = "latn" if rng.random() < latin else "cyrl"
            for m in members:
                female = sexes[m]
                father = husband.get(mom[m], -1) if mom[m] >= 0 else -1
                if father >= 0 and father in given:
                    dad = given[father]
                elif m == head:
                    dad = head_father
                else:
                    dad = rng.choice(male_pool)
                    father = -1
                self.sex.append(female)
                self.birth.append(today - int(ages[m] * _YEAR) - 1)
                self.settlement.append(sid)
                self.household.append(hh)
                self.mother.append(where[mom[m]] if mom[m] >= 0 else -1)
                self.father.append(where[father] if father >= 0 else -1)
                self.fam.append(written(female_family(stem) if female else stem, script, country))
                self.giv.append(written(given[m], script, country))
                dad_written = written(dad, script, country)[0]
                self.pat.append(written(patronymic(dad_written, bool(female)), script, country))
                self.script.append(script)
                self.address.append(addr)


def _deaths(ctx: SynthContext, cfg: dict[str, Any], pop: _People) -> tuple[array, list[str]]:
    """Deaths over the pack's history of years at its vital rates (0: alive); see synth_vital."""
    return draw_deaths(
        ctx.rng("registry.deaths"), vital_rates(cfg), ctx.as_of, pop.birth, pop.sex, pop.mother
    )


KINDS = ("typo", "transliteration", "day_month_swap", "patronymic_missing")
_SPELLING_LATN = [("x", "h"), ("h", "x"), ("o'", "o"), ("g'", "g"), ("ye", "e"), ("yev", "ev")]


def _respell(text: str, rng: Random) -> str | None:
    """One of the Latin spelling variants clerks use (x/h, o'/o, ye/e, -ov/-ev), if any fits."""
    low = text.lower()
    options = [(a, b) for a, b in _SPELLING_LATN if a in low]
    if low.endswith("ov"):
        options.append(("ov", "ev"))
    if not options:
        return None
    a, b = rng.choice(options)
    at = low.rfind(a) if (a, b) == ("ov", "ev") else low.find(a)
    out = text[:at] + b + text[at + len(a) :]
    return out[:1].upper() + out[1:] if text[:1].isupper() else out


def _typo(text: str, rng: Random) -> str:
    """One letter dropped or changed (never the first: clerks get that one right)."""
    if len(text) < 4:
        return text + text[-1]
    at = rng.randrange(1, len(text) - 1)
    if rng.random() < 0.5:
        return text[:at] + text[at + 1 :]
    letters = "абвгдежзиклмнопрстуфхшы" if names.script_of(text) == "cyrl" else "abdeiklmnorstuz"
    new = rng.choice([c for c in letters if c != text[at].lower()])
    return text[:at] + new + text[at + 1 :]


class _Duplicate:
    __slots__ = ("birth", "fam", "giv", "kind", "original", "pat", "script", "settlement")

    def __init__(self, **kw: Any) -> None:
        for k, v in kw.items():
            setattr(self, k, v)


def _duplicates(
    ctx: SynthContext, cfg: dict[str, Any], pop: _People, deceased: array, terr: _Territory
) -> list[_Duplicate]:
    """Second records of ~1 % of the living, as a clerk without the document would make them."""
    rng = ctx.rng("registry.duplicates")
    conf = cfg["duplicates"]
    width = SyntheticDuplicate.__table__.c.kind.type.length
    for kind in conf["kinds"]:
        # a birth day that can't be swapped (day > 12) makes it a typo instead
        fallback = "+".join(k for k in KINDS if k in kind.replace("day_month_swap", "typo"))
        if max(len(kind), len(fallback)) > width or not set(kind.split("+")) <= set(KINDS):
            raise ValueError(f"population.yaml duplicates.kinds: {kind!r} is not writable")
    n = len(pop.sex)
    want = min(round(n * float(conf["rate"])), n)
    alive = [i for i in range(n) if deceased[i] == 0]
    chosen = sorted(rng.sample(alive, min(want, len(alive))))
    by_district: dict[int, list[int]] = {}
    for sid, did, *_ in terr.settlements:
        by_district.setdefault(did, []).append(sid)
    country = ctx.country
    out: list[_Duplicate] = []
    for i in chosen:
        kind = str(_weighted(rng, conf["kinds"]))
        applied: list[str] = []
        fam, giv, pat, script = pop.fam[i][0], pop.giv[i][0], pop.pat[i], pop.script[i]
        pat_text = pat[0] if pat else None
        born = pop.birth[i]
        parts = kind.split("+")
        if "day_month_swap" in parts:
            b = date.fromordinal(born)
            if b.day <= 12 and b.day != b.month:
                born = date(b.year, b.day, b.month).toordinal()
                applied.append("day_month_swap")
            else:
                parts.append("typo")
        if "transliteration" in parts:
            variant = _respell(fam, rng) if script == "latn" and rng.random() < 0.5 else None
            if variant is None and script == "latn" and rng.random() < 0.5:
                variant = _respell(giv, rng)
                if variant is not None:
                    giv = variant
                    variant = fam
            if variant is not None:
                fam = variant
            else:
                script = "cyrl" if script == "latn" else "latn"
                fam, giv = pop.fam[i][1], pop.giv[i][1]
                pat_text = pat[1] if pat else None
            applied.append("transliteration")
        if "typo" in parts:
            if rng.random() < 0.6:
                fam = _typo(fam, rng)
            else:
                giv = _typo(giv, rng)
            applied.append("typo")
        if "patronymic_missing" in parts:
            pat_text = None
            applied.append("patronymic_missing")
        sid = pop.settlement[i]
        if rng.random() < float(conf["elsewhere"]):
            near = by_district[terr.district_of[sid]]
            sid = near[rng.randrange(len(near))]
        convert = names.cyrl_to_latn if script == "cyrl" else names.latn_to_cyrl
        out.append(
            _Duplicate(
                original=i,
                kind="+".join(k for k in KINDS if k in applied),
                fam=(fam, convert(fam, country), names.skeleton(fam)),
                giv=(giv, convert(giv, country), names.skeleton(giv)),
                pat=(pat_text, convert(pat_text, country), names.skeleton(pat_text))
                if pat_text
                else None,
                script=script,
                birth=born,
                settlement=sid,
            )
        )
    return out


class _Network:
    """Facilities by the pack's norms, their sections and staff, and who is attached where."""

    def __init__(
        self, ctx: SynthContext, cfg: dict[str, Any], main_pack: dict[str, Any], terr: _Territory
    ) -> None:
        self.types = {t["code"]: t for t in main_pack["facility_types"]}
        self.net = cfg["network"]
        for role in self.net:
            if role != "section_people" and self.kind(role) not in self.types:
                raise ValueError(
                    f"population.yaml network.{role}: {self.kind(role)!r} is not a facility type "
                    f"of the {ctx.country} pack"
                )
        self.terr = terr
        self.lang = terr.lang
        #: id, code, kind, role, settlement, district, region index, perinatal level
        self.facilities: list[tuple[int, str, str, str, int, int, int, int | None]] = []
        self._codes: dict[str, int] = {}

    def kind(self, role: str) -> str:
        v = self.net[role]
        return str(v["kind"] if isinstance(v, dict) else v)

    def norm(self, role: str) -> float:
        return float(self.net[role]["people"])

    def primary(self, kind: str) -> bool:
        return bool(self.types[kind].get("primary_care"))

    def _add(self, role: str, sett: tuple[Any, ...], level: int | None = None) -> None:
        kind = self.kind(role)
        prefix = f"{sett[4]}-{_initials(kind)}"
        k = self._codes.get(prefix, 0) + 1
        self._codes[prefix] = k
        self.facilities.append(
            (0, f"{prefix}{k:02d}", kind, role, sett[0], sett[1], sett[2], level)
        )

    def build(self, people_in: dict[int, int]) -> None:
        terr = self.terr
        by_district: dict[int, list[tuple[Any, ...]]] = {}
        for s in terr.settlements:
            by_district.setdefault(s[1], []).append(s)
        seen_regions: set[int] = set()
        levels = self.types[self.kind("district_hospital")].get("perinatal_level") or [None]
        for did, ri, _ in terr.districts:
            setts = by_district[did]
            town = setts[0]
            capital = ri not in seen_regions
            if capital:
                seen_regions.add(ri)
                self._add("perinatal_centre", town, 3)
                self._add("screening_centre", town)
            self._add("district_hospital", town, levels[-1] if capital else levels[0])
            self._add("district_polyclinic", town)
            for _ in range(max(1, round(people_in.get(town[0], 0) / self.norm("urban_primary")))):
                self._add("urban_primary", town)
            villages = sorted(setts[1:], key=lambda s: (-people_in.get(s[0], 0), s[0]))
            if villages:
                rural = sum(people_in.get(s[0], 0) for s in villages)
                for k in range(max(1, round(rural / self.norm("rural_primary")))):
                    self._add("rural_primary", villages[k % len(villages)])
            everywhere = [town, *villages]
            total = sum(people_in.get(s[0], 0) for s in everywhere)
            for k in range(max(1, round(total / self.norm("pharmacy")))):
                self._add("pharmacy", everywhere[k % len(everywhere)])

    def number(self, first: int) -> None:
        self.facilities = [(first + k, *f[1:]) for k, f in enumerate(self.facilities)]  # type: ignore[misc]

    def targets(self) -> dict[int, list[int]]:
        """Settlement -> the primary-care facilities its people attach to."""
        own: dict[int, list[int]] = {}
        district: dict[int, list[int]] = {}
        towns: dict[int, list[int]] = {}
        for fid, _, kind, role, sid, did, _, _ in self.facilities:
            if not self.primary(kind):
                continue
            own.setdefault(sid, []).append(fid)
            if role == "rural_primary":
                district.setdefault(did, []).append(fid)
            else:
                towns.setdefault(did, []).append(fid)
        out: dict[int, list[int]] = {}
        for sid, did, *_ in self.terr.settlements:
            out[sid] = own.get(sid) or district.get(did) or towns[did]
        return out


def _practitioner_rows(
    ctx: SynthContext, cfg: dict[str, Any], main_pack: dict[str, Any], count: int
) -> list[tuple[Any, ...]]:
    rng = ctx.rng("registry.practitioners")
    male, female, family = POOLS[cfg["ethnic"][0]["pool"]]
    script = main_pack["scripts"]["official"]
    country = ctx.country
    rows = []
    for _ in range(count):
        woman = rng.random() < 0.6
        fam = written(rng.choice(family), script, country)[0]
        rows.append(
            (
                female_family(fam) if woman else fam,
                written(rng.choice(female if woman else male), script, country)[0],
                patronymic(written(rng.choice(male), script, country)[0], woman),
                "female" if woman else "male",
            )
        )
    return rows


_Job = tuple[Table, list[str], Callable[[], Iterable[Sequence[Any]]], Callable[[int], None] | None]


def _write_all(ctx: SynthContext, jobs: list[_Job]) -> None:
    """Write independent row streams; on PostgreSQL two at a time.

    Loading is bound by the server checking foreign keys row by row, one core
    per COPY: two concurrent COPYs keep both cores of a small server busy.
    SQLite takes one writer at a time, so there they run in turn.
    """
    writer = ctx.writer
    if writer.dialect != "postgresql":
        for table, cols, rows, progress in jobs:
            ctx.count(table.name, writer.write(table, cols, rows(), progress))
        return
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [
            (table.name, pool.submit(writer.write, table, cols, rows(), progress))
            for table, cols, rows, progress in jobs
        ]
        for name, future in futures:
            ctx.count(name, future.result())


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def synthesize_population(ctx: SynthContext, people: int) -> SyntheticPopulation:
    """Write territory, facilities, staff, ``people`` people and ~1 % duplicates of them."""
    country, as_of, writer = ctx.country, ctx.as_of, ctx.writer
    cfg = pack.load(country, "population")
    main_pack = pack.load(country)
    stamp = datetime.combine(as_of, time(9, 0), tzinfo=UTC)
    today = as_of.toordinal()

    terr = _Territory(ctx, cfg, people, ctx.rng("registry.territory"))
    pop = _People(ctx, cfg, terr)
    pop.draw(ctx.progress.start("people (drawing)", people))
    n = len(pop.sex)
    deceased, cause = _deaths(ctx, cfg, pop)
    dups = _duplicates(ctx, cfg, pop, deceased, terr)
    total = n + len(dups)

    # national ids and phones of the originals
    rng = ctx.rng("registry.contacts")
    make_id = _birth_ids(country, main_pack["national_id"])
    share = float(cfg["national_id_share"])
    national_id: list[str | None] = [
        make_id(pop.birth[i], pop.sex[i]) if rng.random() < share else None for i in range(n)
    ]
    cc = main_pack["phone_country_code"]
    prefixes = cfg["phone_prefixes"]
    adult = today - int(18 * _YEAR)
    phone_share = float(cfg["phone_share"])
    phone: list[str | None] = [
        f"{cc}{rng.choice(prefixes)}{rng.randrange(10**7):07d}"
        if pop.birth[i] < adult and rng.random() < phone_share
        else None
        for i in range(n)
    ]

    # facilities, attachments, sections
    people_in: dict[int, int] = {}
    for s in pop.settlement:
        people_in[s] = people_in.get(s, 0) + 1
    network = _Network(ctx, cfg, main_pack, terr)
    network.build(people_in)
    network.number(writer.next_id(Facility.__table__, len(network.facilities)))
    targets = network.targets()
    dup_settlement = [d.settlement for d in dups]
    home = list(pop.household) + [pop.household[d.original] for d in dups]
    where = list(pop.settlement) + dup_settlement
    facility = array("i", bytes(4 * total))
    attached: dict[int, int] = {}
    for i in range(total):
        t = targets[where[i]]
        f = t[home[i] % len(t)]
        facility[i] = f
        attached[f] = attached.get(f, 0) + 1
    per_section = float(cfg["network"]["section_people"])
    staff = cfg["staff"]
    section_staff = cfg["section_staff"]
    #: facility id -> first section id and how many
    sections: dict[int, tuple[int, int]] = {}
    n_sections = {
        f[0]: max(1, round(attached.get(f[0], 0) / per_section))
        for f in network.facilities
        if network.primary(f[2])
    }
    next_section = writer.next_id(Section.__table__, sum(n_sections.values()))
    for fid, k in n_sections.items():
        sections[fid] = (next_section, k)
        next_section += k
    section = array("i", bytes(4 * total))
    for i in range(total):
        first_s, k = sections[facility[i]]
        section[i] = first_s + (home[i] // 7) % k

    # staff: the section teams, then each facility's roster
    roles: list[tuple[int, int, str, str, int | None]] = []  # facility, staff no, position...
    for f in network.facilities:
        fid = f[0]
        if fid in sections:
            first_s, k = sections[fid]
            for j in range(k):
                for position, specialty in section_staff:
                    roles.append((fid, len(roles), position, specialty, first_s + j))
        for position, specialty, how_many in staff.get(f[3], []):
            for _ in range(int(how_many)):
                roles.append((fid, len(roles), position, specialty, None))
    who = _practitioner_rows(ctx, cfg, main_pack, len(roles))
    first_pr = writer.next_id(Practitioner.__table__, len(roles))
    first_role = writer.next_id(PractitionerRole.__table__, len(roles))
    practitioners_at: dict[int, list[int]] = {}
    section_doctor: dict[int, int] = {}
    for fid, k, _, _, sec in roles:
        practitioners_at.setdefault(fid, []).append(first_pr + k)
        if sec is not None and sec not in section_doctor:
            section_doctor[sec] = first_pr + k

    # ---- write ------------------------------------------------------------------------
    w = writer.write
    t_cols = [
        "id",
        "code",
        "level",
        "parent_id",
        "name",
        "names",
        "is_rural",
        "latitude",
        "longitude",
        "version",
    ]
    ctx.count("territory", w(Territory.__table__, t_cols, ((*r, 1) for r in terr.rows)))
    pr_cols = [
        "id",
        "family_name",
        "given_name",
        "patronymic",
        "sex",
        "specialty",
        "active",
        "version",
        "updated_at",
    ]
    ctx.count(
        "practitioner",
        w(
            Practitioner.__table__,
            pr_cols,
            ((first_pr + k, *who[k], specialty, True, 1, stamp) for _, k, _, specialty, _ in roles),
        ),
    )
    names_of = {s[0]: s[5] for s in terr.settlements}
    lang = terr.lang
    f_cols = [
        "id",
        "code",
        "name",
        "names",
        "kind",
        "perinatal_level",
        "settlement_id",
        "address",
        "is_open",
        "opened_on",
        "version",
        "updated_at",
    ]
    opened = date(as_of.year - 10, 1, 1)

    def facility_rows() -> Iterator[tuple[Any, ...]]:
        for fid, code, kind, _, sid, _, _, level in network.facilities:
            tn = network.types[kind]["name"]
            fnames = {
                k: f"{tn[k]} {code[-2:]}, {names_of[sid][k]}" for k in names_of[sid] if k in tn
            }
            yield (
                fid,
                code,
                fnames.get(lang, code),
                fnames,
                kind,
                level,
                sid,
                names_of[sid].get(lang),
                True,
                opened,
                1,
                stamp,
            )

    ctx.count("facility", w(Facility.__table__, f_cols, facility_rows()))
    code_of = {f[0]: f[1] for f in network.facilities}
    ctx.count(
        "care_section",
        w(
            Section.__table__,
            ["id", "facility_id", "code", "name", "practitioner_id"],
            (
                (
                    first_s + j,
                    fid,
                    f"{j + 1:02d}",
                    f"{code_of[fid]}/{j + 1:02d}",
                    section_doctor.get(first_s + j),
                )
                for fid, (first_s, k) in sections.items()
                for j in range(k)
            ),
        ),
    )
    started = date(as_of.year - 5, 1, 1)
    ctx.count(
        "practitioner_role",
        w(
            PractitionerRole.__table__,
            [
                "id",
                "practitioner_id",
                "facility_id",
                "position",
                "section_id",
                "start_on",
                "version",
            ],
            (
                (first_role + k, first_pr + k, fid, position, sec, started, 1)
                for fid, k, position, _, sec in roles
            ),
        ),
    )

    first_person = writer.next_id(Person.__table__, total)
    sex_name = ("male", "female")
    p_cols = [
        "id", "national_id", "family_name", "given_name", "patronymic", "name_script",
        "family_name_alt", "given_name_alt", "patronymic_alt", "name_key", "family_key",
        "birth_date", "sex", "phone", "settlement_id", "address", "attached_facility_id",
        "section_id", "deceased_on", "death_cause", "version", "created_at", "updated_at",
    ]  # fmt: skip

    def person_rows(lo: int, hi: int) -> Iterator[tuple[Any, ...]]:
        fromordinal = date.fromordinal
        for i in range(lo, hi):
            if i < n:
                f, g, p = pop.fam[i], pop.giv[i], pop.pat[i]
                script, born, nid, tel = pop.script[i], pop.birth[i], national_id[i], phone[i]
                addr, sx, dead, why = pop.address[i], pop.sex[i], deceased[i], cause[i]
            else:
                d = dups[i - n]
                f, g, p, script, born = d.fam, d.giv, d.pat, d.script, d.birth
                o = d.original
                nid, tel, sx, dead, why = None, None, pop.sex[o], 0, ""
                addr = pop.address[o] if d.settlement == pop.settlement[o] else None
            key = f"{f[2]} {g[2]} {p[2]}" if p and p[2] else f"{f[2]} {g[2]}"
            yield (
                first_person + i, nid, f[0], g[0], p[0] if p else None, script,
                f[1], g[1], p[1] if p else None, key.strip()[:320], f[2][:100],
                fromordinal(born), sex_name[sx], tel, where[i], addr, facility[i],
                section[i], fromordinal(dead) if dead else None, why or None, 1, stamp, stamp,
            )  # fmt: skip

    births = array("i", pop.birth)
    births.extend(d.birth for d in dups)
    attach_from = today - 3 * 365

    def attachment_rows(lo: int, hi: int) -> Iterator[tuple[Any, ...]]:
        fromordinal = date.fromordinal
        for i in range(lo, hi):
            yield (
                first_person + i, first_person + i, facility[i], section[i],
                fromordinal(max(births[i], attach_from - home[i] % 700)),
                "synthetic population", RECORDED_BY, stamp,
            )  # fmt: skip

    child_from = today - int(18 * _YEAR)
    relation_rows: list[tuple[Any, ...]] = []
    for i in range(n):
        if pop.birth[i] <= child_from:
            continue
        born = date.fromordinal(pop.birth[i])
        doc = f"birth certificate {pop.household[i] % 100000:05d}{i % 100:02d}"
        for parent, kind in ((pop.mother[i], "mother"), (pop.father[i], "father")):
            if parent >= 0 and pop.household[parent] == pop.household[i]:
                relation_rows.append(
                    (first_person + i, first_person + parent, kind, born, doc, RECORDED_BY, stamp)
                )
    first_rel = writer.next_id(PersonRelation.__table__, len(relation_rows))

    task = ctx.progress.start("people", total)
    half = total // 2
    a_cols = ["id", "person_id", "facility_id", "section_id", "start_on", "reason",
              "recorded_by", "recorded_at"]  # fmt: skip
    r_cols = ["id", "person_id", "related_person_id", "kind", "starts_on", "document",
              "recorded_by", "recorded_at"]  # fmt: skip
    deferred = ["person", "attachment", "person_relation", "synthetic_duplicate"]
    with writer.deferred(deferred):
        _write_all(
            ctx,
            [
                (Person.__table__, p_cols, lambda: person_rows(0, half), task),
                (Person.__table__, p_cols, lambda: person_rows(half, total), task),
            ],
        )
        _write_all(
            ctx,
            [
                (Attachment.__table__, a_cols, lambda: attachment_rows(0, half), None),
                (Attachment.__table__, a_cols, lambda: attachment_rows(half, total), None),
                (
                    PersonRelation.__table__,
                    r_cols,
                    lambda: ((first_rel + k, *r) for k, r in enumerate(relation_rows)),
                    None,
                ),
                (
                    SyntheticDuplicate.__table__,
                    ["person_id", "original_id", "kind"],
                    lambda: (
                        (first_person + n + k, first_person + d.original, d.kind)
                        for k, d in enumerate(dups)
                    ),
                    None,
                ),
            ],
        )

    # denominators: the living originals by settlement, sex and band on the as-of day
    counts: dict[tuple[int, int, int], int] = {}
    for i in range(n):
        if deceased[i]:
            continue
        band = min(BANDS - 1, _age(date.fromordinal(pop.birth[i]), as_of) // 5)
        key3 = (pop.settlement[i], pop.sex[i], band)
        counts[key3] = counts.get(key3, 0) + 1
    ctx.count(
        "territory_population",
        w(
            Population.__table__,
            ["territory_id", "year", "sex", "age_from", "count"],
            (
                (sid, as_of.year, sex_name[sx], band * 5, c)
                for (sid, sx, band), c in sorted(counts.items())
            ),
        ),
    )

    mothers = array("i", pop.mother)
    mothers.extend([-1] * len(dups))
    dead_all = array("i", deceased)
    dead_all.extend([0] * len(dups))
    households = array("i", pop.household)
    households.extend(pop.household[d.original] for d in dups)
    sexes = bytearray(pop.sex)
    sexes.extend(pop.sex[d.original] for d in dups)
    region_ids = [r[0] for r in terr.regions]
    return SyntheticPopulation(
        country=country,
        as_of=as_of,
        person_id=array("q", range(first_person, first_person + total)),
        sex=sexes,
        birth=births,
        settlement_id=array("i", where),
        facility_id=facility,
        section_id=section,
        household=households,
        mother=mothers,
        deceased=dead_all,
        is_duplicate=bytearray(n) + bytearray(b"\x01" * len(dups)),
        national_id=national_id + [None] * len(dups),
        facilities=[
            SyntheticFacility(
                id=fid,
                code=code,
                kind=kind,
                settlement_id=sid,
                district_id=did,
                region_id=region_ids[ri],
                perinatal_level=level,
                practitioners=tuple(practitioners_at.get(fid, ())),
            )
            for fid, code, kind, _, sid, did, ri, level in network.facilities
        ],
        district_of=dict(terr.district_of),
        region_of=dict(terr.region_of),
    )
