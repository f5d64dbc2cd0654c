"""The country pack's sanatorium rules (``<CC>/sanatorium.yaml``), read once per country,
and the pure rules of the queue: order, entitlement, waiting-time range, yearly capacity.

Pure: no database. Sources are noted in the YAML (../shared/domain/sanatorium.md).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from salomat.core.config import get_settings
from salomat.country import pack

__all__ = [
    "DAYS_PER_MONTH",
    "RELEASE_MONTHS",
    "Category",
    "CodeRule",
    "OfferRules",
    "SanatoriumRules",
    "WaitRange",
    "as_utc",
    "code_matches",
    "entitled_from",
    "local_midnight",
    "local_today",
    "queue_order_key",
    "sanatorium_rules",
    "wait_range",
    "yearly_capacity",
]

#: the mean Gregorian month (365.25 / 12), for months of waiting turned into days
DAYS_PER_MONTH = 30.4375
#: whole months of releases a waiting time is estimated from (the citizen's range and
#: the dashboard's newcomer)
RELEASE_MONTHS = 3
_RANGE = re.compile(r"^([A-Z])(\d\d)(?:-([A-Z])(\d\d))?$")
OFFER_OUTCOMES = ("keep", "end_of_queue", "withdraw")


def code_matches(code: str, spec: str) -> bool:
    """An ICD-10 code (``I21.9``, ``I21``) against ``I20-I25`` or ``K58`` (categories)."""
    m = _RANGE.match(spec)
    if m is None:
        raise ValueError(f"not an ICD-10 category or range: {spec!r}")
    category = code.strip().upper()[:3]
    low = f"{m.group(1)}{m.group(2)}"
    high = f"{m.group(3)}{m.group(4)}" if m.group(3) else low
    return low <= category <= high


@dataclass(frozen=True)
class Category:
    code: str
    tier: int
    every_years: int
    direct: bool
    names: dict[str, str]


@dataclass(frozen=True)
class CodeRule:
    codes: tuple[str, ...]
    profiles: tuple[str, ...] = ()
    action: str = "refuse"
    label: str = ""
    except_profiles: tuple[str, ...] = ()

    def matches(self, code: str) -> bool:
        return any(code_matches(code, spec) for spec in self.codes)


@dataclass(frozen=True)
class OfferRules:
    hold_hours: int
    #: a place is not offered when less than this is left before its last bookable day
    min_hold_hours: int
    on_decline: str
    on_lapse: str
    offer_until_days_after_start: int


@dataclass(frozen=True)
class SanatoriumRules:
    country: str
    effective_from: date
    profiles: dict[str, dict[str, str]]
    child_age_below: int
    course_days: int
    turnover_days: int
    queue_by_region: bool
    self_application: bool
    offer: OfferRules
    noshow_grace_days: int
    categories: dict[str, Category]
    indications: tuple[CodeRule, ...]
    contraindications: tuple[CodeRule, ...]
    synth: dict[str, Any] = field(default_factory=dict)

    def indicated_profiles(self, code: str, *, child: bool) -> list[str]:
        """The profiles an indication may be treated in (a child's also paediatric)."""
        out: list[str] = []
        for rule in self.indications:
            if rule.matches(code):
                out += [p for p in rule.profiles if p not in out]
        if out and child and "paediatric" in self.profiles and "paediatric" not in out:
            out.append("paediatric")
        return out

    def contraindicated(self, code: str, profile: str) -> CodeRule | None:
        """The first contraindication a current condition matches for this profile."""
        for rule in self.contraindications:
            if rule.matches(code) and profile not in rule.except_profiles:
                return rule
        return None

    def profile_name(self, code: str, lang: str) -> str:
        names = self.profiles.get(code) or {}
        return names.get(lang) or names.get("en") or code


def _rules(items: list[dict[str, Any]], *, kind: str) -> tuple[CodeRule, ...]:
    out = []
    for item in items:
        rule = CodeRule(
            codes=tuple(item["codes"]),
            profiles=tuple(item.get("profiles", ())),
            action=item.get("action", "refuse"),
            label=item.get("label", ""),
            except_profiles=tuple(item.get("except_profiles", ())),
        )
        for spec in rule.codes:
            code_matches("A00", spec)  # a malformed range fails at load, not at a request
        if rule.action not in ("refuse", "warn"):
            raise ValueError(f"{kind}: action must be refuse or warn, not {rule.action!r}")
        out.append(rule)
    return tuple(out)


@lru_cache
def _load(country: str) -> SanatoriumRules:
    raw = pack.load(country, "sanatorium")
    profiles = {p["code"]: dict(p["name"]) for p in raw["profiles"]}
    offer = OfferRules(**raw["offer"])
    for outcome in (offer.on_decline, offer.on_lapse):
        if outcome not in OFFER_OUTCOMES:
            raise ValueError(f"offer outcome must be one of {OFFER_OUTCOMES}, not {outcome!r}")
    indications = _rules(raw["indications"], kind="indications")
    for rule in indications:
        unknown = set(rule.profiles) - set(profiles)
        if unknown:
            raise ValueError(f"indications name unknown profiles {sorted(unknown)}")
    return SanatoriumRules(
        country=country,
        effective_from=raw["effective_from"],
        profiles=profiles,
        child_age_below=int(raw["child_age_below"]),
        course_days=int(raw["course_days"]),
        turnover_days=int(raw.get("turnover_days", 0)),
        queue_by_region=bool(raw["queue_by_region"]),
        self_application=bool(raw["self_application"]),
        offer=offer,
        noshow_grace_days=int(raw["noshow_grace_days"]),
        categories={
            code: Category(
                code=code,
                tier=int(c["tier"]),
                every_years=int(c["every_years"]),
                direct=bool(c.get("direct", False)),
                names=dict(c["name"]),
            )
            for code, c in raw["categories"].items()
        },
        indications=indications,
        contraindications=_rules(raw["contraindications"], kind="contraindications"),
        synth=raw.get("synth", {}),
    )


def sanatorium_rules(country: str | None = None) -> SanatoriumRules:
    return _load((country or get_settings().country).upper())


def local_today() -> date:
    """Today in the pack's time zone: a server on UTC must not turn Tashkent's days over
    five hours late (arrivals, offers' last days and no-shows are local days)."""
    return datetime.now(pack.time_zone(get_settings().country)).date()


def as_utc(at: datetime) -> datetime:
    """A stored time as an aware UTC one (SQLite hands back naive UTC times)."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def local_midnight(day: date) -> datetime:
    """The start of ``day`` in the pack's time zone (an aware datetime)."""
    return datetime.combine(day, datetime.min.time(), tzinfo=pack.time_zone(get_settings().country))


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February into a common year
        return day.replace(year=day.year + years, day=28)


def entitled_from(category: Category, last_stay_ended_on: date | None) -> date | None:
    """The first day a person of this category may be offered a stay again: the end of
    the last stay plus the category's period (``None``: at once)."""
    if last_stay_ended_on is None or category.every_years <= 0:
        return None
    return _add_years(last_stay_ended_on, category.every_years)


def queue_order_key(tier: int, applied_at: datetime, seq: int) -> tuple[int, datetime, int]:
    """The queue's order: the priority tier (1 first), the application time, then the
    sequence number. A person's position is 1 + the entries with a smaller key."""
    return (tier, applied_at, seq)


@dataclass(frozen=True)
class WaitRange:
    #: days at the mean, the fastest and the slowest month's pace (None: unbounded)
    expected_days: float | None
    shortest_days: float | None
    longest_days: float | None


def wait_range(position: int, monthly_releases: list[int]) -> WaitRange:
    """The wait for ``position`` at the last months' pace (places released a month).

    Mean pace gives the estimate; the best month the shortest wait, the worst month the
    longest (no upper bound when a month released nothing; no estimate at all when
    nothing was released)."""
    if position <= 0:
        return WaitRange(0.0, 0.0, 0.0)
    if not monthly_releases or sum(monthly_releases) == 0:
        return WaitRange(None, None, None)
    mean = sum(monthly_releases) / len(monthly_releases)
    best, worst = max(monthly_releases), min(monthly_releases)
    return WaitRange(
        expected_days=position / mean * DAYS_PER_MONTH,
        shortest_days=position / best * DAYS_PER_MONTH,
        longest_days=position / worst * DAYS_PER_MONTH if worst > 0 else None,
    )


def yearly_capacity(beds: int, course_days: int, turnover_days: int = 0) -> int:
    """Places a year: beds × whole courses in a year (course plus turnover)."""
    return beds * math.floor(365 / (course_days + turnover_days))
