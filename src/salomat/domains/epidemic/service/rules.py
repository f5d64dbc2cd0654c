"""The pack's epidemic parameters (``<CC>/epidemic.yaml``), read, checked and frozen once
per country: the serial interval, Rt's prior and windows, the forecast's horizon and
scenarios, the hospital parameters, the matrix's editions and the revaccination target.

A malformed file is refused on load with ``pack.PackError`` naming the file and the field
(a serial interval that does not sum to 1, an edition with an unknown metric...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

import numpy as np

from salomat.core.config import get_settings
from salomat.core.errors import N_, Invalid
from salomat.country import pack
from salomat.domains.epidemic.service import distributions as dist
from salomat.domains.epidemic.service.forecast import HospitalParameters
from salomat.domains.epidemic.service.matrix import Edition, EditionError, parse_edition
from salomat.domains.epidemic.service.rt import Prior

__all__ = [
    "EpidemicPack",
    "RtRules",
    "Scenario",
    "SyntheticBeds",
    "current",
    "epidemic_pack",
    "parse_pack",
    "synthetic_beds",
]


@dataclass(frozen=True)
class RtRules:
    prior: Prior
    window_days: int
    cv_max: float
    truncate_days: int
    interval: tuple[float, float]
    source: str


@dataclass(frozen=True)
class Scenario:
    code: str
    multiplier: float
    names: Mapping[str, str]

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names.get("en") or self.code


@dataclass(frozen=True, eq=False)
class EpidemicPack:
    country: str
    serial_interval: np.ndarray  # read-only, w_0 = 0
    serial_interval_source: str
    #: alternative serial intervals to run Rt again with (sensitivity)
    sensitivity: tuple[np.ndarray, ...]
    rt: RtRules
    horizon_days: int
    horizon_range: tuple[int, int]
    quantiles: tuple[float, float, float]
    scenarios: tuple[Scenario, ...]
    hospital: HospitalParameters
    hospital_source: str
    editions: tuple[Edition, ...]  # by valid_from
    revaccination_target: Decimal
    revaccination_interval_months: int
    revaccination_source: str

    def scenario_multipliers(self) -> dict[str, float]:
        return {s.code: s.multiplier for s in self.scenarios}

    def edition(self, code: str | None = None, on: date | None = None) -> Edition:
        """The edition ``code`` (an unknown one is a 422 naming ``edition``), or the one in
        force on ``on`` (today in the country)."""
        unknown = N_("Unknown matrix edition: %(code)s (known: %(known)s)")
        return pack.edition(self.editions, code, on or pack.today(self.country), unknown=unknown)


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=float)
    a.flags.writeable = False
    return a


def _delay(raw: Any, where: str, *, serial: bool = False) -> np.ndarray:
    """A distribution: ``pmf: [...]``, ``fixed: days`` or ``{distribution: gamma, mean,
    sd, max_days}``; checked as a serial interval (w_0 = 0) with ``serial``."""
    if not isinstance(raw, Mapping):
        raise pack.PackError(f"{where}: must be a mapping")
    if "pmf" in raw:
        values = raw["pmf"]
    elif "fixed" in raw:
        values = dist.fixed_days(int(raw["fixed"]))
    elif raw.get("distribution") == "gamma":
        mean, sd, days = float(raw["mean"]), float(raw["sd"]), int(raw["max_days"])
        try:
            values = (
                dist.serial_interval_from_gamma(mean, sd, days)
                if serial
                else dist.discrete_gamma(mean, sd, days)
            )
        except ValueError as e:
            raise pack.PackError(f"{where}: {e}") from e
    else:
        raise pack.PackError(f"{where}: give pmf, fixed or distribution: gamma")
    try:
        if serial:
            return _frozen(dist.validate_serial_interval(values, where))
        return _frozen(dist.validate_pmf(values, where))
    except Invalid as e:
        raise pack.PackError(f"{where}: {e.errors[0].english}") from e


def parse_pack(country: str, data: Mapping[str, Any]) -> EpidemicPack:
    where = f"{country}/epidemic.yaml"
    si = data.get("serial_interval") or {}
    serial = _delay(si, f"{where}: serial_interval", serial=True)
    sens = tuple(
        _frozen(
            _delay(
                {"distribution": "gamma", "max_days": si.get("max_days", 30), **s},
                f"{where}: serial_interval.sensitivity[{i}]",
                serial=True,
            )
        )
        for i, s in enumerate(si.get("sensitivity") or [])
    )
    r = data.get("rt") or {}
    interval = tuple(float(x) for x in r.get("interval", (0.025, 0.975)))
    if len(interval) != 2 or not 0 < interval[0] < interval[1] < 1:
        raise pack.PackError(f"{where}: rt.interval must be two ordered probabilities")
    rt_rules = RtRules(
        prior=Prior(float(r.get("prior_mean", 5)), float(r.get("prior_sd", 5))),
        window_days=int(r.get("window_days", 7)),
        cv_max=float(r.get("cv_max", 0.3)),
        truncate_days=int(r.get("truncate_days", 5)),
        interval=(interval[0], interval[1]),
        source=str(r.get("source") or ""),
    )
    if rt_rules.prior.mean <= 0 or rt_rules.prior.sd <= 0:
        raise pack.PackError(f"{where}: rt.prior_mean and rt.prior_sd must be positive")
    if rt_rules.window_days < 1:
        raise pack.PackError(f"{where}: rt.window_days must be at least 1")
    if rt_rules.truncate_days < 0:
        raise pack.PackError(f"{where}: rt.truncate_days may not be negative")
    if rt_rules.cv_max <= 0:
        raise pack.PackError(f"{where}: rt.cv_max must be positive")
    f = data.get("forecast") or {}
    horizon_range = (int(f.get("horizon_min_days", 14)), int(f.get("horizon_max_days", 28)))
    horizon = int(f.get("horizon_days", horizon_range[0]))
    if not 1 <= horizon_range[0] <= horizon <= horizon_range[1]:
        raise pack.PackError(f"{where}: forecast.horizon_days must lie in its min..max")
    q = tuple(float(x) for x in f.get("quantiles", (0.025, 0.5, 0.975)))
    if len(q) != 3 or not 0 < q[0] < q[1] < q[2] < 1:
        raise pack.PackError(f"{where}: forecast.quantiles must be three ordered probabilities")
    scenarios = []
    for i, s in enumerate(f.get("scenarios") or []):
        m = s.get("multiplier")
        if isinstance(m, bool) or not isinstance(m, int | float) or m < 0:
            raise pack.PackError(f"{where}: forecast.scenarios[{i}].multiplier must be >= 0")
        if not s.get("code") or not s.get("names"):
            raise pack.PackError(f"{where}: forecast.scenarios[{i}] needs a code and names")
        scenarios.append(Scenario(str(s["code"]), float(m), dict(s["names"])))
    if not scenarios or len({s.code for s in scenarios}) != len(scenarios):
        raise pack.PackError(f"{where}: forecast.scenarios: none, or two share a code")
    h = data.get("hospital") or {}
    try:
        hospital = HospitalParameters(
            hospitalisation_ratio=float(h["hospitalisation_ratio"]),
            icu_share=float(h["icu_share"]),
            admission_delay=_delay(h.get("admission_delay"), f"{where}: hospital.admission_delay"),
            los=_delay(h.get("los"), f"{where}: hospital.los"),
            icu_los=_delay(h.get("icu_los"), f"{where}: hospital.icu_los"),
            illustrative=bool(h.get("illustrative", False)),
        )
    except Invalid as e:
        raise pack.PackError(f"{where}: hospital.{e.errors[0].field}: {e.errors[0].english}") from e
    m = data.get("matrix") or {}
    editions = tuple(
        sorted(
            (
                parse_edition(e, f"{where}: matrix.editions[{i}]")
                for i, e in enumerate(m.get("editions") or [])
            ),
            key=lambda e: e.valid_from,
        )
    )
    if not editions:
        raise EditionError(f"{where}: matrix.editions: no edition")
    if len({e.code for e in editions}) != len(editions):
        raise EditionError(f"{where}: matrix.editions: two editions share a code")
    v = data.get("revaccination") or {}
    target = Decimal(str(v.get("target_percent")))
    months = v.get("interval_months")
    if not 0 < target <= 100:
        raise pack.PackError(f"{where}: revaccination.target_percent must be in (0, 100]")
    if isinstance(months, bool) or not isinstance(months, int) or months < 0:
        raise pack.PackError(f"{where}: revaccination.interval_months must be a whole number")
    return EpidemicPack(
        country=country,
        serial_interval=_frozen(serial),
        serial_interval_source=str(si.get("source") or ""),
        sensitivity=sens,
        rt=rt_rules,
        horizon_days=horizon,
        horizon_range=horizon_range,
        quantiles=(q[0], q[1], q[2]),
        scenarios=tuple(scenarios),
        hospital=hospital,
        hospital_source=str(h.get("source") or ""),
        editions=editions,
        revaccination_target=target,
        revaccination_interval_months=months,
        revaccination_source=str(v.get("source") or ""),
    )


@lru_cache(maxsize=4)
def _load(country: str) -> EpidemicPack:
    try:
        return parse_pack(country, pack.load(country, "epidemic"))
    except pack.PackError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as e:
        raise pack.PackError(f"{country}/epidemic.yaml is malformed: {e!r}") from e


def epidemic_pack(country: str | None = None) -> EpidemicPack:
    """The deployed (or ``country``'s) epidemic parameters, read and checked once."""
    return _load((country or get_settings().country).upper())


def current() -> EpidemicPack:
    """The deployed country's epidemic parameters (the services call this; tests replace
    it)."""
    return epidemic_pack()


@dataclass(frozen=True)
class NamedCode:
    """A notifiable disease (an ICD-10 code or category) or a bed profile, with its names."""

    code: str
    names: Mapping[str, str]

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names.get("en") or self.code


@dataclass(frozen=True)
class Notifiable:
    diseases: tuple[NamedCode, ...]
    source: str
    unverified: bool

    def match(self, icd10: str) -> NamedCode | None:
        """The listed entry covering ``icd10``: the code itself, else its three-character
        category (``A01.0`` is covered by ``A01``; ``U07.1`` only by ``U07.1``)."""
        by_code = {d.code: d for d in self.diseases}
        return by_code.get(icd10) or by_code.get(icd10[:3])


def _named(raw: Any, where: str) -> tuple[NamedCode, ...]:
    if not isinstance(raw, list) or not raw:
        raise pack.PackError(f"{where}: a non-empty list is required")
    out = []
    for i, d in enumerate(raw):
        if (
            not isinstance(d, Mapping)
            or not d.get("code")
            or not isinstance(d.get("names"), Mapping)
        ):
            raise pack.PackError(f"{where}[{i}]: needs a code and names")
        out.append(NamedCode(str(d["code"]), dict(d["names"])))
    if len({d.code for d in out}) != len(out):
        raise pack.PackError(f"{where}: two entries share a code")
    return tuple(out)


@lru_cache(maxsize=4)
def notifiable(country: str | None = None) -> Notifiable:
    """The pack's notifiable diseases (``notifiable`` in ``<CC>/epidemic.yaml``)."""
    cc = (country or get_settings().country).upper()
    raw = pack.load(cc, "epidemic").get("notifiable") or {}
    return Notifiable(
        diseases=_named(raw.get("diseases"), f"{cc}/epidemic.yaml: notifiable.diseases"),
        source=str(raw.get("source") or ""),
        unverified=bool(raw.get("unverified", False)),
    )


@lru_cache(maxsize=4)
def bed_profiles(country: str | None = None) -> tuple[NamedCode, ...]:
    """The pack's bed profiles (``bed_profiles``: infectious, icu, general)."""
    cc = (country or get_settings().country).upper()
    return _named(
        pack.load(cc, "epidemic").get("bed_profiles"), f"{cc}/epidemic.yaml: bed_profiles"
    )


@dataclass(frozen=True)
class SyntheticBeds:
    """The pack's ``synthetic_beds``, read by ``salomat synth --epidemic-r`` only: beds per
    100 000 people served by each profile, at the facility kinds that hold beds, and the
    share of each profile's beds taken by patients other than the epidemic's."""

    facility_kinds: tuple[str, ...]
    per_100k: Mapping[str, float]
    background_occupancy: Mapping[str, float]
    illustrative: bool
    source: str


def _shares(raw: Any, where: str, profiles: set[str], *, share: bool) -> dict[str, float]:
    if not isinstance(raw, Mapping) or set(raw) != profiles:
        named = ", ".join(sorted(profiles))
        raise pack.PackError(f"{where}: one value for each bed profile ({named})")
    out = {}
    for code, v in raw.items():
        if isinstance(v, bool) or not isinstance(v, int | float) or v < 0 or (share and v > 1):
            limit = "between 0 and 1" if share else ">= 0"
            raise pack.PackError(f"{where}.{code}: must be a number {limit}")
        out[str(code)] = float(v)
    return out


@lru_cache(maxsize=4)
def synthetic_beds(country: str | None = None) -> SyntheticBeds:
    """The pack's beds for the synthetic population (``synthetic_beds``); a malformed block
    is refused with ``pack.PackError`` naming the field."""
    cc = (country or get_settings().country).upper()
    where = f"{cc}/epidemic.yaml: synthetic_beds"
    raw = pack.load(cc, "epidemic").get("synthetic_beds")
    if not isinstance(raw, Mapping):
        raise pack.PackError(f"{where}: must be a mapping")
    profiles = {p.code for p in bed_profiles(cc)}
    kinds = raw.get("facility_kinds")
    if not isinstance(kinds, list) or not kinds or not all(isinstance(k, str) for k in kinds):
        raise pack.PackError(f"{where}.facility_kinds: a non-empty list of facility kinds")
    return SyntheticBeds(
        facility_kinds=tuple(kinds),
        per_100k=_shares(raw.get("per_100k"), f"{where}.per_100k", profiles, share=False),
        background_occupancy=_shares(
            raw.get("background_occupancy"), f"{where}.background_occupancy", profiles, share=True
        ),
        illustrative=bool(raw.get("illustrative", False)),
        source=str(raw.get("source") or ""),
    )
