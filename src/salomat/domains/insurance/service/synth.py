"""Synthetic insurance fund: payers, employment, contributions, protected categories and
providers' claims (``salomat synth``).

Rates are the pack's ``synth`` section of ``insurance.yaml``; the window is the twelve
whole months before the run's day (``window``).

Contributory scheme (KZ):

- Who pays. A person in a category the register gives (children, pensioners: the pack's
  ``protected_categories`` with ages) is paid for by the state, month by month, while
  the category holds. Every other adult alive in the window is an employee with
  probability ``employed_share``, an individual entrepreneur with ``entrepreneur_share``,
  an independent payer with ``independent_share``; of the rest, ``category_share``
  (default ``CATEGORY_SHARE``) are in a listed protected category (unemployed, student,
  ...: a ``ins_category_member`` row, the state pays while it holds) and the others pay
  nothing (uninsured, unless a category or a former payment's grace holds).
- Employers: one per ``EMPLOYEES_PER_EMPLOYER`` employees on average (sizes skewed:
  a few large ones), registry employers made by ``registry.service.synthesize_employers`` (valid
  business ids), each a payer (``ins_payer``, code = its business id). An employee has
  one employment with a monthly wage drawn log-normally around ``wage_median`` (rounded
  to 1,000), and for each month the employer pays two lines: the employer's 3 % and
  the employee's 2 % it withholds, by the 25th of the next month.
- An entrepreneur or an independent payer is a payer of its own (code = the national
  id) paying its fixed amount in the month itself; ``ADVANCE_SHARE`` of the independent
  payers instead paid the next 12 months in advance in the window's first month (the
  rule since 05.09.2022: the current month excluded, so the months named run to the
  run's own month).
- ``stop_paying_share`` of the employees, entrepreneurs and monthly independent payers
  stop after a random month of the window (1 to 11 months paid): an employer that
  stopped paying for its employee (the employment goes on: arrears), a person who
  stopped paying for themself. Their status then runs out after the grace months.
- Amounts are the pack's (``InsuranceRules.expected``): wage-based ones with the cap,
  fixed ones from the minimum wage, the state's from the average wage two years before;
  a year the pack has no figures for takes its latest year's.
- Nobody pays after death; a death in the window ends the months paid for.

Universal scheme (UZ): no payers, contributions or categories (every resident is
covered); claims as below. Per-capita payment needs no rows of its own: it is computed
from the register's attached population at settlement.

Claims (both schemes): each person alive in the window has Poisson(``claims_per_person_
month`` x months alive) service lines, on random days of the months alive, the service
drawn by kind (``KIND_WEIGHTS``) among the pack's services the person's sex and age
allow, given by the facility the kind goes to (primary care and half the diagnostics at
the attached facility, specialists and the rest of diagnostics at the district's
outpatient clinic or screening centre, hospital and emergency care at the district
hospital; the nearest found, district then region then any). One claim per facility
and month (``external_id`` ``SYN-<facility>-<yyyymm>``), submitted in the first days of
the next month; every line ``entered`` at the pack's tariff, unflagged: the control
rules' nightly run finds what follows. So that it finds something, a few lines are
made wrong on purpose:

- ``AFTER_DEATH_SHARE`` of the people who died in the window have a line dated 1-30
  days after their death;
- ``DUPLICATE_SHARE`` of lines are claimed twice (same person, service and day);
- ``SEX_IMPOSSIBLE_SHARE`` of lines name a service of the other sex only;
- one person in ``MANY_PROVIDERS_PER`` is claimed by more providers on one day than the
  pack's ``many_providers.max_providers``;
- one primary-care facility in ``OUTLIER_PER`` (at least one) claims a laboratory test
  ``OUTLIER_FACTOR`` + 1 times in the last month for a few of its attached people, where
  others have it about once;
- uninsured people get insurance-package services like everyone else (KZ): the
  ``uninsured`` rule flags those.

Deterministic for a seed (``ctx.rng("insurance")``); rows written set-wise through the
bulk writer (COPY on PostgreSQL, many rows per INSERT on SQLite).
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar

from salomat.core.synth import SynthContext, poisson
from salomat.domains.insurance.models import (
    CategoryMember,
    ClaimLine,
    Contribution,
    Employment,
    Payer,
    ServiceClaim,
)
from salomat.domains.insurance.service.rules import (
    InsuranceRules,
    Service,
    add_months,
    insurance_rules,
    month_end,
    month_of,
)
from salomat.domains.registry.schemas import SyntheticPopulation
from salomat.domains.registry.service import age_on
from salomat.domains.registry.service.synth_employers import synthesize_employers
from salomat.domains.registry.service.synth_reads import synthetic_names

__all__ = [
    "STATE_PAYER_CODE",
    "synthesize_insurance",
    "window",
]

#: who the synthetic rows are recorded by
RECORDED_BY = "synth"
#: the state's payer code (the protected categories' contributions)
STATE_PAYER_CODE = "STATE"
#: listed protected categories among adults who neither work nor pay (UNVERIFIED)
CATEGORY_SHARE = 0.14
#: weights of the listed categories drawn (others of the pack's list: 1)
CATEGORY_WEIGHTS = {"unemployed": 30, "student": 25, "disability": 15, "childcare_leave": 10,
                    "pregnant_not_working": 5, "caring_for_child_under_3": 5}  # fmt: skip
EMPLOYEES_PER_EMPLOYER = 25
#: how an individual entrepreneur's name is written (KZ: ИП, UZ: YaTT)
ENTREPRENEUR_FORM = {"KZ": "ИП", "UZ": "YaTT"}
#: independent payers who paid 12 months in advance instead of monthly
ADVANCE_SHARE = 0.25
#: service kinds of the pack's services, by how often a line is of that kind
KIND_WEIGHTS = {"primary_care": 45, "diagnostic": 25, "specialist": 18, "emergency": 5,
                "hospital": 7}  # fmt: skip
AFTER_DEATH_SHARE = 0.25
DUPLICATE_SHARE = 0.004
SEX_IMPOSSIBLE_SHARE = 0.002
MANY_PROVIDERS_PER = 20_000
OUTLIER_PER = 50
OUTLIER_FACTOR = 6
_NOON = time(12, tzinfo=UTC)

PAYER_COLUMNS = ("id", "kind", "code", "name", "employer_id", "person_id", "created_at")
EMPLOYMENT_COLUMNS = ("id", "payer_id", "person_id", "start_on", "end_on", "monthly_wage",
                      "recorded_by", "recorded_at")  # fmt: skip
CONTRIBUTION_COLUMNS = ("person_id", "payer_id", "kind", "month", "amount", "paid_on",
                        "import_id", "recorded_by", "recorded_at")  # fmt: skip
CATEGORY_COLUMNS = ("id", "person_id", "category", "start_on", "end_on", "recorded_by",
                    "recorded_at")  # fmt: skip
CLAIM_COLUMNS = ("id", "facility_id", "month", "external_id", "status", "submitted_by",
                 "submitted_at")  # fmt: skip
LINE_COLUMNS = ("claim_id", "facility_id", "person_id", "service_code", "package", "service_on",
                "quantity", "amount_claimed", "amount_approved", "encounter_ref", "status",
                "flags", "decided_by", "decided_at", "decision_note", "version")  # fmt: skip

# roles of a person in the window
NONE, EMPLOYEE, ENTREPRENEUR, INDEPENDENT, ADVANCE, LISTED = range(6)


def window(as_of: date) -> list[date]:
    """The twelve whole months before the run's day, oldest first."""
    this = month_of(as_of)
    return [add_months(this, k) for k in range(-12, 0)]


@dataclass
class _Payments:
    """Who pays for whom, decided before any row is written."""

    role: bytearray
    #: month index (0-11) after which a stopper pays no more (12: never stops)
    stop_after: bytearray
    #: employees: index into the employers; -1 otherwise
    employer: array
    wage: array  # minor units


class _Generator:
    def __init__(self, ctx: SynthContext, rules: InsuranceRules, pop: SyntheticPopulation):
        self.ctx, self.rules, self.pop = ctx, rules, pop
        self.rng = ctx.rng("insurance")
        self.cfg = rules.synth
        self.months = window(ctx.as_of)
        self.first = self.months[0]
        self.last_day = ctx.as_of - timedelta(days=1)
        self.now = datetime.now(UTC)
        self.derived = [c for c in rules.categories.values() if c.derived]
        self.listed = [c.code for c in rules.categories.values() if not c.derived]
        self._amounts: dict[tuple[str, date, int | None], int | None] = {}
        latest = max(rules.minimum_wage) if rules.minimum_wage else None
        self.latest_year = latest

    # ---- people ------------------------------------------------------------------------

    def birth(self, i: int) -> date:
        return date.fromordinal(self.pop.birth[i])

    def sex(self, i: int) -> str:
        return "female" if self.pop.sex[i] else "male"

    def died(self, i: int) -> date | None:
        d = self.pop.deceased[i]
        return date.fromordinal(d) if d else None

    def months_alive(self, i: int) -> list[int]:
        """Indexes of the window's months the person was alive in (born by its end, not
        dead before its start)."""
        born, died = self.pop.birth[i], self.pop.deceased[i]
        out = []
        for k, m in enumerate(self.months):
            if born > month_end(m).toordinal():
                continue
            if died and died < m.toordinal():
                continue
            out.append(k)
        return out

    def derived_in(self, i: int, month: date) -> bool:
        birth, sex = self.birth(i), self.sex(i)
        return any(c.holds(birth, sex, month) for c in self.derived)

    # ---- money -------------------------------------------------------------------------

    def amount(self, kind: str, month: date, wage: int | None = None) -> int | None:
        key = (kind, month, wage)
        if key not in self._amounts:
            value = self.rules.expected(kind, month, wage)
            if value is None and self.latest_year is not None:
                value = self.rules.expected(kind, month.replace(year=self.latest_year), wage)
            self._amounts[key] = value
        return self._amounts[key]

    def paid_next_month(self, month: date) -> date:
        day = add_months(month, 1) + timedelta(days=self.rng.randint(4, 24))
        return min(day, self.last_day)

    def paid_in_month(self, month: date) -> date:
        day = month + timedelta(days=self.rng.randint(0, 24))
        return min(day, self.last_day)


# ---- contributions ---------------------------------------------------------------------------


def _decide(g: _Generator, alive: list[int]) -> _Payments:
    """Each person's role, stop month and wage (the employer comes with the payers)."""
    pop, rng, cfg = g.pop, g.rng, g.cfg
    n = len(pop)
    pay = _Payments(bytearray(n), bytearray(b"\x0c" * n), array("i", [-1]) * n, array("q", [0]) * n)
    shares = [
        (EMPLOYEE, float(cfg.get("employed_share", 0))),
        (ENTREPRENEUR, float(cfg.get("entrepreneur_share", 0))),
        (INDEPENDENT, float(cfg.get("independent_share", 0))),
    ]
    category_share = float(cfg.get("category_share", CATEGORY_SHARE))
    stop = float(cfg.get("stop_paying_share", 0))
    median = float(cfg.get("wage_median", 0)) or 1.0
    adult_from = 18
    for i in alive:
        birth, sex = g.birth(i), g.sex(i)
        first_derived = any(c.holds(birth, sex, g.first) for c in g.derived)
        last_derived = any(c.holds(birth, sex, g.months[-1]) for c in g.derived)
        if first_derived and last_derived:
            continue  # the state pays all year (a child, a pensioner)
        if age_on(birth, g.months[-1]) < adult_from:
            continue
        u = rng.random()
        role = NONE
        for r, share in shares:
            if u < share:
                role = r
                break
            u -= share
        else:
            if u < category_share * (1 - sum(s for _, s in shares)):
                role = LISTED
        if role == INDEPENDENT and rng.random() < ADVANCE_SHARE:
            role = ADVANCE
        pay.role[i] = role
        if role in (EMPLOYEE, ENTREPRENEUR, INDEPENDENT) and rng.random() < stop:
            pay.stop_after[i] = rng.randint(1, 11)
        if role == EMPLOYEE:
            wage = median * math.exp(rng.gauss(0.0, 0.55))
            pay.wage[i] = max(1000, round(wage / 1000) * 1000) * 100
    return pay


def _payers(g: _Generator, pay: _Payments, alive: list[int]) -> dict[str, Any]:
    """Write the payers (the state, employers, entrepreneurs, independent payers) and the
    employments; returns the payer ids by person and employer."""
    w, rng, pop = g.ctx.writer, g.rng, g.pop
    employees = [i for i in alive if pay.role[i] == EMPLOYEE]
    employers = synthesize_employers(
        g.ctx, pop, max(1, math.ceil(len(employees) / EMPLOYEES_PER_EMPLOYER)) if employees else 0
    )
    selves = [i for i in alive if pay.role[i] in (ENTREPRENEUR, INDEPENDENT, ADVANCE)]
    table = Payer.__table__
    first = w.next_id(table, 1 + len(employers) + len(selves))  # type: ignore[arg-type]
    state_id = first
    rows: list[tuple[Any, ...]] = [
        (state_id, "state", STATE_PAYER_CODE, "State", None, None, g.now)
    ]
    employer_payer = []
    for k, e in enumerate(employers):
        pid = first + 1 + k
        employer_payer.append(pid)
        rows.append((pid, "employer", e.business_id, e.name, e.id, None, g.now))
    self_payer: dict[int, int] = {}
    next_id = first + 1 + len(employers)
    names = synthetic_names(g.ctx.writer.engine, [pop.person_id[i] for i in selves])
    for i in selves:
        kind = "entrepreneur" if pay.role[i] == ENTREPRENEUR else "independent"
        code = pop.national_id[i] or f"P{pop.person_id[i]}"
        name = names.get(pop.person_id[i], code)
        if kind == "entrepreneur":
            name = f"{ENTREPRENEUR_FORM.get(g.ctx.country, '')} {name}".strip()
        rows.append((next_id, kind, code, name, None, pop.person_id[i], g.now))
        self_payer[i] = next_id
        next_id += 1
    g.ctx.count(table.name, w.write(table, PAYER_COLUMNS, rows))  # type: ignore[arg-type]

    # employees to employers: a few large employers, many small ones
    e_rows = []
    e_table = Employment.__table__
    e_first = w.next_id(e_table, len(employees))  # type: ignore[arg-type]
    for k, i in enumerate(employees):
        pay.employer[i] = int(len(employers) * rng.random() ** 2)
        start = g.first - timedelta(days=rng.randint(30, 4000))
        start = max(start, g.birth(i) + timedelta(days=18 * 366))
        e_rows.append((e_first + k, employer_payer[pay.employer[i]], pop.person_id[i], start,
                       None, pay.wage[i], RECORDED_BY, g.now))  # fmt: skip
    if e_rows:
        g.ctx.count(e_table.name, w.write(e_table, EMPLOYMENT_COLUMNS, e_rows))  # type: ignore[arg-type]
    return {"state": state_id, "employer": employer_payer, "self": self_payer}


def _categories(g: _Generator, pay: _Payments, alive: list[int]) -> dict[int, tuple[date, date]]:
    """Listed category members (``LISTED``): a row each; returns their span in the window."""
    rng = g.rng
    weights = [CATEGORY_WEIGHTS.get(c, 1) for c in g.listed]
    rows, spans = [], {}
    members = [i for i in alive if pay.role[i] == LISTED]
    table = CategoryMember.__table__
    first = g.ctx.writer.next_id(table, len(members))  # type: ignore[arg-type]
    end_of_window = month_end(g.months[-1])
    for k, i in enumerate(members):
        code = rng.choices(g.listed, weights=weights)[0]
        adult = g.birth(i) + timedelta(days=18 * 366)
        start = max(adult, g.first - timedelta(days=rng.randint(-300, 1500)))
        end = None
        if rng.random() < 0.2:
            end = start + timedelta(days=rng.randint(60, 400))
            if end >= end_of_window:
                end = None
        rows.append((first + k, g.pop.person_id[i], code, start, end, RECORDED_BY, g.now))
        spans[i] = (start, end or date.max)
    if rows:
        g.ctx.count(table.name, g.ctx.writer.write(table, CATEGORY_COLUMNS, rows))  # type: ignore[arg-type]
    return spans


def _contribution_rows(
    g: _Generator,
    pay: _Payments,
    alive: list[int],
    payers: dict[str, Any],
    spans: dict[int, tuple[date, date]],
) -> Iterator[tuple[Any, ...]]:
    pop, months = g.pop, g.months
    state = payers["state"]
    now = g.now
    for i in alive:
        pid = pop.person_id[i]
        role = pay.role[i]
        died = g.died(i)
        alive_months = g.months_alive(i)
        if role == ADVANCE:
            # paid in the window's first month for the next twelve (the current excluded)
            paid = g.paid_in_month(months[0])
            payer = payers["self"][i]
            for k in range(1, 13):
                m = add_months(months[0], k)
                if died and m > died:
                    break
                amount = g.amount("independent", m)
                if amount:
                    yield (pid, payer, "independent", m, amount, paid, None, RECORDED_BY, now)
        stop = pay.stop_after[i]
        for k in alive_months:
            m = months[k]
            if g.derived_in(i, m):  # the state pays for a child, a pensioner, whoever else pays
                amount = g.amount("state", m)
                if amount:
                    yield (pid, state, "state", m, amount, g.paid_next_month(m), None,
                           RECORDED_BY, now)  # fmt: skip
                continue
            if k >= stop or role == ADVANCE:
                continue
            if role == EMPLOYEE:
                payer = payers["employer"][pay.employer[i]]
                wage = pay.wage[i]
                paid = g.paid_next_month(m)
                for kind in ("employer", "employee"):
                    amount = g.amount(kind, m, wage)
                    if amount:
                        yield (pid, payer, kind, m, amount, paid, None, RECORDED_BY, now)
            elif role in (ENTREPRENEUR, INDEPENDENT):
                kind = "entrepreneur" if role == ENTREPRENEUR else "independent"
                amount = g.amount(kind, m)
                if amount:
                    yield (pid, payers["self"][i], kind, m, amount, g.paid_in_month(m), None,
                           RECORDED_BY, now)  # fmt: skip
            elif role == LISTED:
                start, end = spans[i]
                if start <= month_end(m) and end >= m:
                    amount = g.amount("state", m)
                    if amount:
                        yield (pid, state, "state", m, amount, g.paid_next_month(m), None,
                               RECORDED_BY, now)  # fmt: skip


def _contributions(g: _Generator, alive: list[int]) -> None:
    pay = _decide(g, alive)
    payers = _payers(g, pay, alive)
    spans = _categories(g, pay, alive)
    table = Contribution.__table__
    task = g.ctx.progress.start("insurance contributions", len(alive))
    with g.ctx.writer.deferred([table.name]):
        n = g.ctx.writer.write(
            table,  # type: ignore[arg-type]
            CONTRIBUTION_COLUMNS,
            _contribution_rows(g, pay, alive, payers, spans),
        )
    task(len(alive))
    g.ctx.count(table.name, n)


# ---- claims ------------------------------------------------------------------------------


class _Facilities:
    """Where each kind of service is given, by district, then region, then anywhere."""

    GIVEN_AT: ClassVar[dict[str, tuple[str, ...]]] = {
        "specialist": ("outpatient_clinic", "screening_centre", "district_hospital"),
        "diagnostic": ("screening_centre", "outpatient_clinic", "district_hospital"),
        "hospital": ("district_hospital", "perinatal_centre"),
        "emergency": ("district_hospital",),
    }

    def __init__(self, pop: SyntheticPopulation):
        self.pop = pop
        self.by_district: dict[tuple[str, int], list[int]] = {}
        self.by_region: dict[tuple[str, int], list[int]] = {}
        self.any: dict[str, list[int]] = {}
        self.clinical = [f.id for f in pop.facilities if f.kind != "pharmacy"]
        for f in pop.facilities:
            self.by_district.setdefault((f.kind, f.district_id), []).append(f.id)
            self.by_region.setdefault((f.kind, f.region_id), []).append(f.id)
            self.any.setdefault(f.kind, []).append(f.id)

    def for_kind(self, rng: Any, kind: str, i: int) -> int:
        pop = self.pop
        attached = pop.facility_id[i]
        here = kind == "primary_care" or (kind == "diagnostic" and rng.random() < 0.5)
        if here and attached:
            return int(attached)
        settlement = pop.settlement_id[i]
        district = pop.district_of.get(settlement, 0)
        region = pop.region_of.get(district, 0)
        for fkind in self.GIVEN_AT.get(kind, ()):
            for found in (
                self.by_district.get((fkind, district)),
                self.by_region.get((fkind, region)),
            ):
                if found:
                    return found[0] if len(found) == 1 else rng.choice(found)
        for fkind in self.GIVEN_AT.get(kind, ()):
            if self.any.get(fkind):
                return rng.choice(self.any[fkind])
        return int(attached) if attached else rng.choice(self.clinical)


@dataclass
class _Lines:
    facility: array
    person: array
    service: array
    day: array

    def add(self, facility: int, person: int, service: int, day: date) -> None:
        self.facility.append(facility)
        self.person.append(person)
        self.service.append(service)
        self.day.append(day.toordinal())

    def __len__(self) -> int:
        return len(self.person)


def _service_table(rules: InsuranceRules) -> tuple[list[Service], dict[tuple[int, int], Any]]:
    """The pack's services, and for each (sex 0/1, age 0-120) the services of each kind
    the person may have."""
    services = sorted(rules.services.values(), key=lambda s: s.code)
    fit: dict[tuple[int, int], Any] = {}
    for sex in (0, 1):
        for age in range(121):
            by_kind: dict[str, list[int]] = {}
            for k, s in enumerate(services):
                if s.impossible_for("female" if sex else "male", age) is None:
                    by_kind.setdefault(s.kind, []).append(k)
            fit[(sex, age)] = by_kind
    return services, fit


def _claims(g: _Generator, alive: list[int]) -> None:
    rules, pop, rng = g.rules, g.pop, g.ctx.rng("insurance.claims")
    services, fit = _service_table(rules)
    if not services:
        return
    kinds = [k for k in KIND_WEIGHTS if any(s.kind == k for s in services)]
    kinds += sorted({s.kind for s in services} - set(kinds))
    kind_weights = [KIND_WEIGHTS.get(k, 1) for k in kinds]
    other_sex = {
        sex: [k for k, s in enumerate(services) if s.sex and s.sex != sex]
        for sex in ("male", "female")
    }
    rate = float(g.cfg.get("claims_per_person_month", 0))
    where = _Facilities(pop)
    lines = _Lines(array("i"), array("q"), array("h"), array("i"))
    last = g.last_day.toordinal()
    task = g.ctx.progress.start("insurance claims", len(alive))

    def pick(i: int, on: date) -> int:
        age = min(120, max(0, age_on(g.birth(i), on)))
        by_kind = fit[(pop.sex[i], age)]
        for _ in range(5):
            kind = rng.choices(kinds, weights=kind_weights)[0]
            if by_kind.get(kind):
                return rng.choice(by_kind[kind])
        return rng.choice(next(iter(by_kind.values())))

    deaths_in_window = []
    for n, i in enumerate(alive):
        months = g.months_alive(i)
        if not months:
            continue
        born, died = pop.birth[i], pop.deceased[i]
        count = poisson(rng, rate * len(months))
        for _ in range(count):
            m = g.months[rng.choice(months)]
            lo = max(m.toordinal(), born)
            hi = min(month_end(m).toordinal(), last, died or last)
            if hi < lo:
                continue
            on = date.fromordinal(rng.randint(lo, hi))
            k = pick(i, on)
            sex = g.sex(i)
            if other_sex[sex] and rng.random() < SEX_IMPOSSIBLE_SHARE:
                k = rng.choice(other_sex[sex])
            lines.add(where.for_kind(rng, services[k].kind, i), pop.person_id[i], k, on)
        if died and g.first.toordinal() <= died <= last:
            deaths_in_window.append(i)
        if n % 50_000 == 49_999:
            task(50_000)
    task(len(alive) % 50_000)

    # a service after death
    for i in deaths_in_window:
        if rng.random() < AFTER_DEATH_SHARE:
            on = date.fromordinal(pop.deceased[i] + rng.randint(1, 30))
            if on <= g.last_day:
                k = pick(i, on)
                lines.add(where.for_kind(rng, services[k].kind, i), pop.person_id[i], k, on)
    # duplicates: the same line claimed twice
    for _ in range(round(len(lines) * DUPLICATE_SHARE)):
        j = rng.randrange(len(lines))
        lines.facility.append(lines.facility[j])
        lines.person.append(lines.person[j])
        lines.service.append(lines.service[j])
        lines.day.append(lines.day[j])
    # many providers on one day
    cap = int(rules.control.get("many_providers", {}).get("max_providers", 3))
    clinics = sorted(set(where.clinical))
    if len(clinics) > cap and alive:
        for _ in range(max(1, len(alive) // MANY_PROVIDERS_PER)):
            i = rng.choice(alive)
            months = g.months_alive(i)
            m = g.months[months[-1]]
            lo = max(m.toordinal(), pop.birth[i])
            hi = min(month_end(m).toordinal(), last, pop.deceased[i] or last)
            if hi < lo:
                continue
            on = date.fromordinal(rng.randint(lo, hi))
            for fid in rng.sample(clinics, cap + 1):
                lines.add(fid, pop.person_id[i], pick(i, on), on)
    _outliers(g, rng, lines, services, alive)
    _write_claims(g, lines, services)


def _outliers(
    g: _Generator, rng: Any, lines: _Lines, services: list[Service], alive: list[int]
) -> None:
    """One primary-care facility in ``OUTLIER_PER`` claims a laboratory test
    ``OUTLIER_FACTOR`` + 1 times for a few of its people in the last month."""
    pop = g.pop
    labs = [k for k, s in enumerate(services) if s.kind == "diagnostic" and not s.sex]
    if not labs:
        return
    lab = min(labs, key=lambda k: services[k].tariff)
    month = g.months[-1]
    lo, hi = month.toordinal(), min(month_end(month).toordinal(), g.last_day.toordinal())
    usual = Counter(
        lines.facility[j]
        for j in range(len(lines))
        if lines.service[j] == lab and lo <= lines.day[j] <= hi
    )
    attached: dict[int, list[int]] = {}
    for i in alive:
        f = pop.facility_id[i]
        if f and not pop.deceased[i]:
            attached.setdefault(int(f), []).append(i)
    primary = sorted(f for f, people in attached.items() if len(people) >= 20)
    if not primary:
        return
    days = list(range(lo, hi + 1))
    for f in rng.sample(primary, max(1, len(primary) // OUTLIER_PER)):
        # the test repeated for a few of its people, on days of their own: many lines a
        # person (the rule's measure) and ten lines at least
        repeats = min(len(days), OUTLIER_FACTOR + 1)
        for i in rng.sample(attached[f], min(len(attached[f]), 2 + usual.get(f, 0) // 2)):
            for on in rng.sample(days, repeats):
                lines.add(f, pop.person_id[i], lab, date.fromordinal(on))


def _write_claims(g: _Generator, lines: _Lines, services: list[Service]) -> None:
    w = g.ctx.writer
    keys = sorted({(lines.facility[j], month_of(date.fromordinal(lines.day[j])))
                   for j in range(len(lines))})  # fmt: skip
    c_table, l_table = ServiceClaim.__table__, ClaimLine.__table__
    first = w.next_id(c_table, len(keys))  # type: ignore[arg-type]
    claim_of = {key: first + k for k, key in enumerate(keys)}
    c_rows = []
    for (fid, month), cid in claim_of.items():
        submitted = datetime.combine(
            min(add_months(month, 1) + timedelta(days=g.rng.randint(0, 4)), g.ctx.as_of), _NOON
        )
        c_rows.append((cid, fid, month, f"SYN-{fid}-{month:%Y%m}", "submitted", RECORDED_BY,
                       submitted))  # fmt: skip
    if c_rows:
        g.ctx.count(c_table.name, w.write(c_table, CLAIM_COLUMNS, c_rows))  # type: ignore[arg-type]

    def rows() -> Iterator[tuple[Any, ...]]:
        for j in range(len(lines)):
            s = services[lines.service[j]]
            on = date.fromordinal(lines.day[j])
            fid = lines.facility[j]
            yield (claim_of[(fid, month_of(on))], fid, lines.person[j], s.code, s.package, on, 1,
                   s.tariff, s.tariff, None, "entered", [], None, None, None, 1)  # fmt: skip

    with w.deferred([l_table.name]):
        n = w.write(l_table, LINE_COLUMNS, rows())  # type: ignore[arg-type]
    g.ctx.count(l_table.name, n)


def synthesize_insurance(ctx: SynthContext, population: SyntheticPopulation) -> dict[str, int]:
    """Write payers, employment, contributions, protected categories and claims (see the
    module's text); returns the rows written by table."""
    rules = insurance_rules(ctx.country)
    if not rules.synth:
        raise ValueError(f"{ctx.country}/insurance.yaml has no synth section")
    before = dict(ctx.counts)
    g = _Generator(ctx, rules, population)
    alive = [
        i
        for i in range(len(population))
        if not population.is_duplicate[i]
        and not (population.deceased[i] and population.deceased[i] < g.first.toordinal())
    ]
    if not rules.universal:
        _contributions(g, alive)
    _claims(g, alive)
    return {t: n - before.get(t, 0) for t, n in ctx.counts.items() if n != before.get(t, 0)}
