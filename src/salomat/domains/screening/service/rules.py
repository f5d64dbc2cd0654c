"""The pack's screening and DMP rules (``<CC>/screening.yaml``), read once per country.

An edition applies from its ``valid_from`` until the next edition's: a screening on a
day is judged by the rules in force that day. Ages are whole years, both bounds
included; a bound of ``None`` is open. A programme with no ages invites nobody (its
visits are recorded as opportunistic).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from salomat.core.config import get_settings
from salomat.core.errors import N_, FieldError, Invalid
from salomat.country import pack

__all__ = [
    "Dmp",
    "Edition",
    "Measurement",
    "Programme",
    "ScreeningRules",
    "add_years",
    "age_on",
    "screening_rules",
]

_ICD = re.compile(r"^([A-Z])(\d{2})(?:\.(\w{1,4}))?$")
#: a WHO ATC code at any of its levels (C, C09, C09A, C09AA, C09AA02)
_ATC = re.compile(r"^[ABCDGHJLMNPRSV](?:[0-9]{2}(?:[A-Z](?:[A-Z](?:[0-9]{2})?)?)?)?$")


def add_years(day: date, years: int) -> date:
    """``day`` plus whole years; 29 February falls on 1 March in a common year (a yearly
    interval from a leap day is due once the full year has passed)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def age_on(birth: date, day: date) -> int:
    """Whole years from ``birth`` to ``day``."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


@dataclass(frozen=True)
class Programme:
    code: str
    names: dict[str, str]
    sex: str  # any | female | male
    min_age: int | None
    max_age: int | None
    interval_years: int | None
    measures: tuple[str, ...]
    excluded_by_dmp: tuple[str, ...]
    reason_code: str | None
    source: str

    @property
    def invites(self) -> bool:
        """Whether the programme has a target group (ages and an interval)."""
        return self.min_age is not None and self.interval_years is not None

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names.get("en") or self.code

    def in_age_and_sex(self, sex: str, birth: date, day: date) -> bool:
        if not self.invites or (self.sex != "any" and sex != self.sex):
            return False
        age = age_on(birth, day)
        return age >= (self.min_age or 0) and (self.max_age is None or age <= self.max_age)

    def due_on(self, last: date | None) -> date | None:
        """The day the next screening is due after ``last`` (None: never screened, due now)."""
        if last is None or self.interval_years is None:
            return None
        return add_years(last, self.interval_years)


@dataclass(frozen=True)
class Dmp:
    code: str
    names: dict[str, str]
    #: (letter, first, last) three-character category ranges: I10-I15 is ("I", 10, 15)
    diagnoses: tuple[tuple[str, int, int], ...]
    visit_interval_days: int
    source: str
    #: the medicine classes the programme treats with, as WHO ATC prefixes (``medicines:``);
    #: the card lists the patient's prescriptions of these classes
    medicines: tuple[str, ...] = ()
    medicines_source: str = ""

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names.get("en") or self.code

    def qualifies(self, code: str) -> bool:
        m = _ICD.match(code.strip().upper())
        if not m:
            return False
        letter, number = m[1], int(m[2])
        return any(letter == a and lo <= number <= hi for a, lo, hi in self.diagnoses)

    @property
    def diagnoses_text(self) -> str:
        return ", ".join(
            f"{a}{lo:02d}" if lo == hi else f"{a}{lo:02d}-{a}{hi:02d}"
            for a, lo, hi in self.diagnoses
        )


@dataclass(frozen=True)
class Measurement:
    kind: str
    loinc: str | None
    canonical: str | None
    #: unit -> (multiply_by, add): canonical = value * multiply_by + add
    units: dict[str, tuple[float, float]]
    low: float | None
    high: float | None
    #: blood pressure only
    systolic: tuple[int, int] | None
    diastolic: tuple[int, int] | None
    codes: tuple[str, ...]
    abnormal: tuple[str, ...]


@dataclass(frozen=True)
class Edition:
    id: str
    valid_from: date
    source: str
    programmes: dict[str, Programme]
    dmps: dict[str, Dmp]
    targets: dict[str, Any]
    high_risk: dict[str, Any]


@dataclass(frozen=True)
class ScreeningRules:
    country: str
    editions: tuple[Edition, ...]  # oldest first
    measurements: dict[str, Measurement]

    def edition(self, day: date) -> Edition:
        """The edition in force on ``day`` (before the first: the first)."""
        return pack.in_force(self.editions, day)

    def programme(self, code: str, day: date, field: str = "programme") -> Programme:
        p = self.edition(day).programmes.get(code)
        if p is None:
            raise Invalid.fields(
                [
                    FieldError(
                        field,
                        N_("%(value)s is not a screening programme of this country"),
                        {"value": code},
                    )
                ]
            )
        return p

    def dmp(self, code: str, day: date, field: str = "programme") -> Dmp:
        d = self.edition(day).dmps.get(code)
        if d is None:
            raise Invalid.fields(
                [
                    FieldError(
                        field,
                        N_("%(value)s is not a disease-management programme of this country"),
                        {"value": code},
                    )
                ]
            )
        return d


def _ranges(specs: list[str]) -> tuple[tuple[str, int, int], ...]:
    out = []
    for spec in specs:
        a, _, b = str(spec).partition("-")
        b = b or a
        if not (a[:1].isalpha() and a[:1] == b[:1]):
            raise pack.PackError(f"screening.yaml: not an ICD-10 category or range: {spec!r}")
        out.append((a[0], int(a[1:3]), int(b[1:3])))
    return tuple(out)


def _medicines(code: str, spec: dict[str, Any] | None) -> tuple[tuple[str, ...], str]:
    """``medicines: {atc: [C08, C09], source: ...}``: the ATC prefixes, each checked."""
    if not spec:
        return (), ""
    atc = tuple(str(a).strip() for a in spec.get("atc") or ())
    wrong = [a for a in atc if not _ATC.fullmatch(a)]
    if wrong or not atc:
        raise pack.PackError(f"screening.yaml: {code} medicines: not ATC codes: {wrong or atc!r}")
    return atc, str(spec.get("source", ""))


def _dmp(d: dict[str, Any]) -> Dmp:
    medicines, medicines_source = _medicines(d["code"], d.get("medicines"))
    return Dmp(
        code=d["code"],
        names=dict(d.get("names") or {}),
        diagnoses=_ranges(d["diagnoses"]),
        visit_interval_days=int(d.get("visit_interval_days", 28)),
        source=str(d.get("source", "")),
        medicines=medicines,
        medicines_source=medicines_source,
    )


def _measurement(kind: str, spec: dict[str, Any]) -> Measurement:
    units: dict[str, tuple[float, float]] = {}
    for unit, conv in (spec.get("units") or {}).items():
        if isinstance(conv, dict):
            if "divide_by" in conv:
                units[unit] = (1.0 / float(conv["divide_by"]), 0.0)
            else:
                units[unit] = (float(conv.get("multiply_by", 1)), float(conv.get("add", 0)))
        else:
            units[unit] = (float(conv), 0.0)
    rng = spec.get("range") or {}
    sys_ = spec.get("systolic")
    dia = spec.get("diastolic")
    return Measurement(
        kind=kind,
        loinc=spec.get("loinc"),
        canonical=spec.get("canonical"),
        units=units,
        low=rng.get("min"),
        high=rng.get("max"),
        systolic=(int(sys_["min"]), int(sys_["max"])) if sys_ else None,
        diastolic=(int(dia["min"]), int(dia["max"])) if dia else None,
        codes=tuple(str(c) for c in spec.get("codes") or ()),
        abnormal=tuple(str(c) for c in spec.get("abnormal") or ()),
    )


def _edition(e: dict[str, Any]) -> Edition:
    programmes = {
        p["code"]: Programme(
            code=p["code"],
            names=dict(p.get("names") or {}),
            sex=p.get("sex", "any"),
            min_age=p.get("min_age"),
            max_age=p.get("max_age"),
            interval_years=p.get("interval_years"),
            measures=tuple(p.get("measures") or ()),
            excluded_by_dmp=tuple(p.get("excluded_by_dmp") or ()),
            reason_code=p.get("reason_code"),
            source=str(p.get("source", "")),
        )
        for p in e.get("screening") or []
    }
    dmps = {d["code"]: _dmp(d) for d in e.get("dmp") or []}
    return Edition(
        id=str(e["id"]),
        valid_from=e["valid_from"],
        source=str(e.get("source", "")),
        programmes=programmes,
        dmps=dmps,
        targets=dict(e.get("targets") or {}),
        high_risk=dict(e.get("high_risk") or {}),
    )


@lru_cache(maxsize=4)
def _load(country: str) -> ScreeningRules:
    data = pack.load(country, "screening")
    editions = tuple(sorted((_edition(e) for e in data["editions"]), key=lambda e: e.valid_from))
    if not editions:
        raise pack.PackError(f"{country}/screening.yaml has no edition")
    for e in editions:
        for p in e.programmes.values():
            unknown = set(p.excluded_by_dmp) - set(e.dmps)
            if unknown:
                raise pack.PackError(
                    f"{country}/screening.yaml {e.id}: {p.code} excluded by an unknown DMP "
                    f"{sorted(unknown)}"
                )
    measurements = {k: _measurement(k, v) for k, v in (data.get("measurements") or {}).items()}
    return ScreeningRules(country, editions, measurements)


def screening_rules(country: str | None = None) -> ScreeningRules:
    return _load((country or get_settings().country).upper())
