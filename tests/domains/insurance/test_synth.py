"""Synthetic insurance fund (``salomat synth``): payers and contributions at the pack's
shares and amounts, twelve months a covered person, stoppers, protected categories, claims
at the pack's rate with a few wrong lines for the control rules to find (KZ); claims only
under the universal scheme (UZ).

On the registry's synthetic population of 10,000 people. The reference values are
computed here from the population and the pack's figures as the law states them (3 % /
2 % of the wage capped at 10 minimum wages, 5 % of 1 or 1.4 minimum wages, 1.8 % of the
average wage two years before; children under 18, pensioners from 63 (men) and 61
(women)), not by the generator's code; counts within four standard deviations.
"""

from __future__ import annotations

import csv
import math
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from salomat.core import synth
from salomat.country import pack
from salomat.domains.insurance.service.synth import synthesize_insurance
from salomat.domains.registry import service as registry
from salomat.domains.registry.schemas import SyntheticPopulation
from tests.domains.maternal.test_synth import Silent, day, rows
from tests.synth_support import AS_OF, empty_database

PEOPLE = 10_000
Loaded = tuple[str, SyntheticPopulation, dict[str, int]]
#: the twelve months before AS_OF (2026-11-23): November 2025 to October 2026
MONTHS = [date(2025, 11, 1), date(2025, 12, 1)] + [date(2026, m, 1) for m in range(1, 11)]
FIRST, LAST = MONTHS[0], MONTHS[-1]
MW = 85_000  # the minimum wage of 2025 and 2026, KZT
AVERAGE = {2023: 363_224, 2024: 402_694}  # average wages the state's rate reads, KZT


def _load(country: str) -> Iterator[Loaded]:
    with empty_database() as url:
        with synth.run(
            url, country=country, people=PEOPLE, seed=11, as_of=AS_OF, progress=Silent()
        ) as ctx:
            population = registry.synthesize_population(ctx, PEOPLE)
            counts = synthesize_insurance(ctx, population)
        yield url, population, counts


@pytest.fixture(scope="module")
def kz_loaded() -> Iterator[Loaded]:
    yield from _load("KZ")


@pytest.fixture(scope="module")
def uz_loaded() -> Iterator[Loaded]:
    yield from _load("UZ")


def _round(x: Decimal) -> int:
    return int(x.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _protected(born: date, sex: str, on: date) -> bool:
    """A child under 18 or a pensioner (men 63, women 61): the state pays."""
    age = _age(born, on)
    return age < 18 or age >= (63 if sex == "male" else 61)


def _month_end(m: date) -> date:
    nxt = date(m.year + m.month // 12, m.month % 12 + 1, 1)
    return date.fromordinal(nxt.toordinal() - 1)


def _people(pop: SyntheticPopulation) -> list[dict[str, Any]]:
    out = []
    for i in range(len(pop)):
        if pop.is_duplicate[i]:
            continue
        died = date.fromordinal(pop.deceased[i]) if pop.deceased[i] else None
        if died and died < FIRST:
            continue
        born = date.fromordinal(pop.birth[i])
        out.append(
            {
                "id": pop.person_id[i],
                "born": born,
                "sex": "female" if pop.sex[i] else "male",
                "died": died,
            }
        )
    return out


def _working_age(people: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Adults at the window's end not protected the whole window through."""
    return [
        p
        for p in people
        if _age(p["born"], LAST) >= 18
        and not (_protected(p["born"], p["sex"], FIRST) and _protected(p["born"], p["sex"], LAST))
    ]


def _within(observed: int, share: float, n: int) -> bool:
    mean = share * n
    return abs(observed - mean) <= 4 * math.sqrt(n * share * (1 - share)) + 1


# ---- KZ: payers and contributions ---------------------------------------------------------


def test_payers_at_the_packs_shares(kz_loaded: Loaded) -> None:
    url, pop, counts = kz_loaded
    cfg = pack.load("KZ", "insurance")["synth"]
    adults = _working_age(_people(pop))
    n = len(adults)
    employees = {r["person_id"] for r in rows(url, "SELECT person_id FROM ins_employment")}
    assert counts["ins_employment"] == len(employees)
    assert _within(len(employees), cfg["employed_share"], n), (len(employees), n)
    assert employees <= {p["id"] for p in adults}
    kinds = Counter(r["kind"] for r in rows(url, "SELECT kind FROM ins_payer"))
    assert kinds["state"] == 1
    assert _within(kinds["entrepreneur"], cfg["entrepreneur_share"], n), (kinds, n)
    assert _within(kinds["independent"], cfg["independent_share"], n), (kinds, n)
    # every employer payer is a registry employer, named by its business id
    employers = rows(
        url,
        "SELECT p.code, e.business_id FROM ins_payer p JOIN employer e ON e.id = p.employer_id "
        "WHERE p.kind = 'employer'",
    )
    assert employers
    assert len(employers) == kinds["employer"]
    assert all(r["code"] == r["business_id"] and len(r["code"]) == 12 for r in employers)
    # an entrepreneur's or an independent payer's row is named after the person
    selves = rows(
        url,
        "SELECT p.kind, p.name, s.family_name, s.given_name FROM ins_payer p "
        "JOIN person s ON s.id = p.person_id WHERE p.kind IN ('entrepreneur', 'independent')",
    )
    assert len(selves) == kinds["entrepreneur"] + kinds["independent"]
    for r in selves:
        form = "ИП " if r["kind"] == "entrepreneur" else ""
        assert r["name"] == f"{form}{r['family_name']} {r['given_name']}", r


def test_amounts_are_the_laws(kz_loaded: Loaded) -> None:
    url, _pop, _ = kz_loaded
    wages = {
        (r["payer_id"], r["person_id"]): r["monthly_wage"]
        for r in rows(url, "SELECT payer_id, person_id, monthly_wage FROM ins_employment")
    }
    cap = 10 * MW * 100
    seen = Counter()
    for r in rows(url, "SELECT person_id, payer_id, kind, month, amount FROM ins_contribution"):
        m, kind = day(r["month"]), r["kind"]
        if kind in ("employer", "employee"):
            wage = wages[(r["payer_id"], r["person_id"])]
            rate = Decimal("0.03") if kind == "employer" else Decimal("0.02")
            expected = _round(min(Decimal(wage), Decimal(cap)) * rate)
        elif kind == "independent":
            expected = 425_000  # 5 % of 85,000 KZT, in tiyn
        elif kind == "entrepreneur":
            expected = 595_000  # 5 % of 1.4 x 85,000 KZT
        else:
            assert kind == "state"
            expected = _round(Decimal(AVERAGE[m.year - 2]) * 100 * Decimal("0.018"))
        assert r["amount"] == expected, r
        seen[kind] += 1
    assert set(seen) == {"employer", "employee", "independent", "entrepreneur", "state"}
    # a wage above the cap pays on the cap (drawn around 300,000 KZT: some above 850,000)
    assert any(w > cap for w in wages.values())


def test_twelve_months_a_payer_and_the_stoppers(kz_loaded: Loaded) -> None:
    url, pop, _ = kz_loaded
    cfg = pack.load("KZ", "insurance")["synth"]
    people = {p["id"]: p for p in _people(pop)}
    died = {pid: p["died"] for pid, p in people.items()}
    months: dict[tuple[int, str], list[date]] = defaultdict(list)
    paid_on: dict[tuple[int, str], set[date]] = defaultdict(set)
    for r in rows(url, "SELECT person_id, kind, month, paid_on FROM ins_contribution"):
        months[(r["person_id"], r["kind"])].append(day(r["month"]))
        paid_on[(r["person_id"], r["kind"])].add(day(r["paid_on"]))
        d = died[r["person_id"]]
        # nobody pays for a month after their death, nothing is paid after the run's day
        assert d is None or day(r["month"]) <= d, r
        assert day(r["paid_on"]) < AS_OF
    monthly = []
    advances = 0
    for (pid, kind), ms in months.items():
        ms.sort()
        assert len(ms) == len(set(ms)), (pid, kind)  # one line a month and kind
        if kind == "independent" and len(paid_on[(pid, kind)]) == 1 and len(ms) > 1:
            # the 12-month advance: paid once in the window's first month for the next
            # twelve, the current month excluded
            (paid,) = paid_on[(pid, kind)]
            assert paid.replace(day=1) == FIRST
            ahead = [date(2025, 12, 1)] + [date(2026, m, 1) for m in range(1, 12)]
            assert ms == ahead[: len(ms)], (pid, ms)
            advances += 1
            continue
        p = people[pid]
        steady = not any(_protected(p["born"], p["sex"], m) for m in (FIRST, LAST))
        if kind in ("employer", "entrepreneur", "independent") and not p["died"] and steady:
            assert ms == MONTHS[: len(ms)], (pid, kind, ms)
            monthly.append(len(ms))
    assert advances > 0
    stopped = sum(1 for n in monthly if n < 12)
    assert stopped > 0
    assert _within(stopped, cfg["stop_paying_share"], len(monthly))
    assert all(1 <= n <= 12 for n in monthly)


def test_the_state_pays_for_the_protected(kz_loaded: Loaded) -> None:
    url, pop, counts = kz_loaded
    state = defaultdict(set)
    for r in rows(url, "SELECT person_id, month FROM ins_contribution WHERE kind = 'state'"):
        state[r["person_id"]].add(day(r["month"]))
    members = {r["person_id"]: r for r in rows(url, "SELECT * FROM ins_category_member")}
    assert counts["ins_category_member"] == len(members) > 0
    categories = {c["code"] for c in pack.load("KZ", "insurance")["protected_categories"]}
    assert {r["category"] for r in members.values()} <= categories - {"child", "pensioner"}
    for p in _people(pop):
        for m in MONTHS:
            if p["born"] > _month_end(m) or (p["died"] and p["died"] < m):
                continue
            if _protected(p["born"], p["sex"], m):
                assert m in state[p["id"]], (p, m)
    people = {p["id"]: p for p in _people(pop)}
    for pid, r in members.items():
        start, end = day(r["start_on"]), day(r["end_on"]) if r["end_on"] else date.max
        p = people[pid]
        for m in state[pid]:
            held = start <= _month_end(m) and m <= end
            assert held or _protected(p["born"], p["sex"], m), (r, m)


# ---- claims ------------------------------------------------------------------------------


def _services(country: str) -> dict[str, dict[str, str]]:
    text = (pack.PACKS_DIR / country / "insurance_services.csv").read_text("utf-8")
    return {r["code"]: r for r in csv.DictReader(text.splitlines())}


def _person_months(pop: SyntheticPopulation) -> int:
    n = 0
    for p in _people(pop):
        for m in MONTHS:
            if p["born"] <= _month_end(m) and not (p["died"] and p["died"] < m):
                n += 1
    return n


def _check_claims(url: str, pop: SyntheticPopulation, country: str) -> None:
    rate = float(pack.load(country, "insurance")["synth"]["claims_per_person_month"])
    services = _services(country)
    people = {p["id"]: p for p in _people(pop)}
    lines = rows(url, "SELECT * FROM ins_claim_line")
    claims = {r["id"]: r for r in rows(url, "SELECT * FROM ins_claim")}
    seen: set[tuple[Any, ...]] = set()
    ordinary = 0
    after_death = duplicates = sex_wrong = 0
    for r in lines:
        s = services[r["service_code"]]
        on = day(r["service_on"])
        p = people[r["person_id"]]
        assert r["package"] == s["package"]
        assert r["amount_claimed"] == round(float(s["tariff"]) * 100) * r["quantity"]
        assert r["status"] == "entered"
        claim = claims[r["claim_id"]]
        assert claim["facility_id"] == r["facility_id"]
        assert day(claim["month"]) == on.replace(day=1)
        assert FIRST <= on < AS_OF
        assert on >= p["born"]
        key = (r["person_id"], r["service_code"], on)
        if p["died"] and on > p["died"]:
            after_death += 1
        elif key in seen:
            duplicates += 1
        else:
            ordinary += 1
        seen.add(key)
        if s["sex"] and s["sex"] != p["sex"]:
            sex_wrong += 1
    expected = rate * _person_months(pop)
    # lines beyond the rate: the volume outlier's and the many-providers' few
    assert abs(ordinary - expected) <= 4 * math.sqrt(expected) + 0.01 * expected, (
        ordinary,
        expected,
    )
    assert after_death > 0
    assert duplicates > 0
    assert sex_wrong > 0
    providers = defaultdict(set)
    for r in lines:
        providers[(r["person_id"], day(r["service_on"]))].add(r["facility_id"])
    assert max(len(v) for v in providers.values()) > 3


def test_kz_claims_at_the_packs_rate_with_lines_to_flag(kz_loaded: Loaded) -> None:
    url, pop, _ = kz_loaded
    _check_claims(url, pop, "KZ")


def test_uz_universal_claims_only(uz_loaded: Loaded) -> None:
    url, pop, counts = uz_loaded
    for table in ("ins_payer", "ins_contribution", "ins_employment", "ins_category_member"):
        assert rows(url, f"SELECT count(*) AS n FROM {table}")[0]["n"] == 0
    assert not any(t in counts for t in ("ins_payer", "ins_contribution"))
    assert counts["ins_claim_line"] > 0
    _check_claims(url, pop, "UZ")
