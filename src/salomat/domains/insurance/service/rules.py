"""The country pack's insurance rules (``<CC>/insurance.yaml`` and
``<CC>/insurance_services.csv``), read once per country.

Pure: no database. Sources and UNVERIFIED values are noted in the YAML
(../shared/domain/insurance.md); the code never holds one country's numbers.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

from salomat.core.config import get_settings
from salomat.core.errors import N_, FieldError, Invalid
from salomat.country import pack

__all__ = [
    "FIRST_YEAR",
    "LAST_YEAR",
    "CapitationGroup",
    "Category",
    "InsuranceRules",
    "Rate",
    "Service",
    "add_months",
    "insurance_rules",
    "month_end",
    "month_of",
    "months_between",
    "parse_month",
]

#: minor units per major unit (tiyn per tenge, tiyin per sum)
MINOR = 100

#: the years a month typed into the fund's pages, API and commands may name: the rules
#: reach a few months either side of a month (the grace before it, the month after it),
#: which stays within the calendar's years 1..9999 from here to there
FIRST_YEAR, LAST_YEAR = 1900, 9998


def month_of(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def month_end(month: date) -> date:
    """The last day of ``month``'s month."""
    return add_months(month_of(month), 1) - timedelta(days=1)


def months_between(a: date, b: date) -> int:
    """Whole months from ``a``'s month to ``b``'s month (negative when b is earlier)."""
    return (b.year - a.year) * 12 + b.month - a.month


def parse_month(value: str, field: str = "month") -> date:
    """``YYYY-MM`` (or a date) as the month's first day, of the years ``FIRST_YEAR`` to
    ``LAST_YEAR``; ``Invalid`` naming the field."""
    try:
        parts = [int(p) for p in value.strip().split("-")]
        if len(parts) not in (2, 3):
            raise ValueError
        month = date(parts[0], parts[1], 1)
    except (ValueError, IndexError):
        raise Invalid.fields([FieldError(field, N_("must be a month as YYYY-MM"))]) from None
    if not FIRST_YEAR <= month.year <= LAST_YEAR:
        raise Invalid.fields(
            [
                FieldError(
                    field,
                    N_("must be a month from %(first)s to %(last)s"),
                    {"first": f"{FIRST_YEAR}-01", "last": f"{LAST_YEAR}-12"},
                )
            ]
        )
    return month


@dataclass(frozen=True)
class Rate:
    rate: Decimal
    base: str  # wage | minimum_wage | average_wage_2y | income
    base_mw: Decimal = Decimal(1)
    cap_mw: Decimal | None = None


@dataclass(frozen=True)
class Category:
    code: str
    names: dict[str, str]
    #: derived from the register: under this age (children)
    age_below: int | None = None
    #: derived from the register: from this age, by sex (pensioners)
    age_from: dict[str, int] | None = None

    @property
    def derived(self) -> bool:
        return self.age_below is not None or self.age_from is not None

    def holds(self, birth: date, sex: str, day: date) -> bool:
        """Whether a person of this birth date and sex falls in the derived category."""
        age = day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))
        if self.age_below is not None and age < self.age_below:
            return True
        if self.age_from is not None and sex in self.age_from:
            return age >= self.age_from[sex]
        return False


@dataclass(frozen=True)
class Service:
    code: str
    package: str
    kind: str
    #: minor units per unit of service
    tariff: int
    sex: str | None
    age_min: int | None
    age_max: int | None
    names: dict[str, str]

    def impossible_for(self, sex: str, age: int) -> str | None:
        """``sex`` or ``age`` when this person can't have had the service, else None."""
        if self.sex is not None and sex != self.sex:
            return "sex"
        if self.age_min is not None and age < self.age_min:
            return "age"
        if self.age_max is not None and age > self.age_max:
            return "age"
        return None


@dataclass(frozen=True)
class CapitationGroup:
    age_to: int
    male: Decimal
    female: Decimal


@dataclass(frozen=True)
class InsuranceRules:
    country: str
    scheme: str  # contributory | universal
    currency: str
    grace_months: int
    arrears_months: int
    arrears_first_kinds: frozenset[str]
    advance_kinds: frozenset[str]
    advance_months: int
    minimum_wage: dict[int, int]
    average_wage: dict[int, int]
    rates: tuple[tuple[int, dict[str, Rate]], ...]
    categories: dict[str, Category]
    packages: dict[str, dict[str, Any]]
    services: dict[str, Service]
    capitation_base: int  # minor units per person-month
    capitation_groups: tuple[CapitationGroup, ...]
    control: dict[str, dict[str, Any]]
    synth: dict[str, Any] = field(default_factory=dict)

    @property
    def universal(self) -> bool:
        return self.scheme == "universal"

    def rates_for(self, year: int) -> dict[str, Rate]:
        """The rates in force in ``year`` (the latest row not after it), {} before any."""
        found: dict[str, Rate] = {}
        for start, rates in self.rates:
            if start <= year:
                found = rates
        return found

    def expected(self, kind: str, month: date, wage: int | None = None) -> int | None:
        """The contribution a payer of ``kind`` owes for ``month`` in minor units
        (``wage`` in minor units for wage- and income-based kinds), None where the pack
        sets no amount for the kind in that year."""
        r = self.rates_for(month.year).get(kind)
        if r is None:
            return None
        mw = self.minimum_wage.get(month.year)
        if r.base in ("wage", "income"):
            if wage is None:
                return None
            base = Decimal(wage)
            if r.cap_mw is not None:
                if mw is None:
                    return None
                base = min(base, r.cap_mw * mw * MINOR)
        elif r.base == "minimum_wage":
            if mw is None:
                return None
            base = r.base_mw * mw * MINOR
        elif r.base == "average_wage_2y":
            avg = self.average_wage.get(month.year - 2)
            if avg is None:
                return None
            base = Decimal(avg) * MINOR
        else:
            return None
        return int((base * r.rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))

    def capitation_coefficient(self, sex: str, age: int) -> Decimal:
        for g in self.capitation_groups:
            if age <= g.age_to:
                return g.male if sex == "male" else g.female
        last = self.capitation_groups[-1]
        return last.male if sex == "male" else last.female

    def group_label(self, age: int) -> str:
        low = 0
        last = len(self.capitation_groups) - 1
        for i, g in enumerate(self.capitation_groups):
            if age <= g.age_to or i == last:
                return f"{low}+" if i == last else f"{low}-{g.age_to}"
            low = g.age_to + 1
        return f"{low}+"

    def rule_on(self, rule: str) -> bool:
        return bool(self.control.get(rule, {}).get("enabled", False))


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


def _names(row: dict[str, str]) -> dict[str, str]:
    return {k[5:]: v for k, v in row.items() if k.startswith("name_") and v}


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value not in (None, "") else None


@lru_cache
def _load(country: str) -> InsuranceRules:
    data = pack.load(country, "insurance")
    rates = []
    for row in data.get("rates") or []:
        start = int(row["from"])
        kinds = {
            k: Rate(
                rate=_dec(v["rate"]),
                base=str(v["base"]),
                base_mw=_dec(v.get("base_mw", 1)),
                cap_mw=_dec(v["cap_mw"]) if v.get("cap_mw") is not None else None,
            )
            for k, v in row.items()
            if k != "from"
        }
        rates.append((start, kinds))
    rates.sort(key=lambda x: x[0])
    categories = {
        c["code"]: Category(
            code=c["code"],
            names=dict(c.get("name") or {}),
            age_below=c.get("age_below"),
            age_from=dict(c["age_from"]) if c.get("age_from") else None,
        )
        for c in data.get("protected_categories") or []
    }
    text = (pack.PACKS_DIR / country / "insurance_services.csv").read_text("utf-8")
    services = {}
    for row in csv.DictReader(io.StringIO(text)):
        services[row["code"]] = Service(
            code=row["code"],
            package=row["package"],
            kind=row["kind"],
            tariff=int(_dec(row["tariff"]) * MINOR),
            sex=row.get("sex") or None,
            age_min=_int_or_none(row.get("age_min")),
            age_max=_int_or_none(row.get("age_max")),
            names=_names(row),
        )
    for s in services.values():
        if s.package not in data["packages"]:
            raise pack.PackError(f"{country}/insurance_services.csv: {s.code} names no package")
    cap = data["capitation"]
    groups = tuple(
        CapitationGroup(int(g["age_to"]), _dec(g["male"]), _dec(g["female"])) for g in cap["groups"]
    )
    advance = data.get("advance") or {}
    return InsuranceRules(
        country=country,
        scheme=str(data["scheme"]),
        currency=str(data["currency"]),
        grace_months=int(data.get("grace_months", 0)),
        arrears_months=int(data.get("arrears_months", 0)),
        arrears_first_kinds=frozenset(data.get("arrears_first_kinds") or ()),
        advance_kinds=frozenset(advance.get("kinds") or ()),
        advance_months=int(advance.get("months", 0)),
        minimum_wage={int(k): int(v) for k, v in (data.get("minimum_wage") or {}).items()},
        average_wage={int(k): int(v) for k, v in (data.get("average_wage") or {}).items()},
        rates=tuple(rates),
        categories=categories,
        packages=dict(data["packages"]),
        services=services,
        capitation_base=int(_dec(cap["base_rate"]) * MINOR),
        capitation_groups=groups,
        control=dict(data.get("control") or {}),
        synth=dict(data.get("synth") or {}),
    )


def insurance_rules(country: str | None = None) -> InsuranceRules:
    """The deployed country's rules (read once per country)."""
    return _load((country or get_settings().country).upper())
