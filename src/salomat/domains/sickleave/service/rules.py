"""The country pack's sick-leave rules (``<CC>/sick_leave.yaml``), read once per country.

Pure: no database. The sources and the UNVERIFIED values are noted in the YAML
(../shared/domain/sick-leave.md); the code never holds one country's numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from salomat.core.config import get_settings
from salomat.country import pack

__all__ = [
    "MaternityRules",
    "ReasonRule",
    "SickLeaveRules",
    "days_between",
    "granted_as_for_role",
    "last_day",
    "sick_leave_rules",
]

#: roles that grant as a doctor or as a mid-level practitioner
_DOCTOR_ROLES = frozenset({"family_doctor", "obstetrician", "oncologist"})
_MID_LEVEL_ROLES = frozenset({"nurse"})


@dataclass(frozen=True)
class ReasonRule:
    name: str
    kind: str
    max_days: int | None = None
    vkk_to_open: bool = False
    child_max_age_years: int | None = None


@dataclass(frozen=True)
class Practitioner:
    may_issue: bool
    alone_days: int
    cosign_after_days: int | None = None


@dataclass(frozen=True)
class MaternityRules:
    start_week: int
    days: int
    extension_days: int
    complicated_birth_modes: frozenset[str]
    zone_start_week: int | None = None
    zone_days: int | None = None
    before_start_week_live: int | None = None
    before_start_week_stillborn: int | None = None


@dataclass(frozen=True)
class SickLeaveRules:
    country: str
    practitioners: dict[str, Practitioner]
    vkk_min_members: int
    backdate_days: int
    reasons: dict[str, ReasonRule]
    #: three-character ICD-10 category -> the longest certificate
    diagnosis_max_days: dict[str, int]
    maternity: MaternityRules
    long_certificate_days: int
    outlier_factor: float
    synth: dict[str, Any] = field(default_factory=dict)

    def max_days(self, reason: str, diagnosis: str | None) -> int | None:
        """The longest certificate before disability assessment (a diagnosis may lengthen it)."""
        base = self.reasons[reason].max_days
        if diagnosis:
            longer = self.diagnosis_max_days.get(diagnosis[:3])
            if longer is not None and (base is None or longer > base):
                return longer
        return base


def days_between(first: date, last: date) -> int:
    """Days from ``first`` to ``last``, both counted."""
    return (last - first).days + 1


def last_day(first: date, days: int) -> date:
    return first + timedelta(days=days - 1)


def granted_as_for_role(role: str) -> str | None:
    if role in _DOCTOR_ROLES:
        return "doctor"
    if role in _MID_LEVEL_ROLES:
        return "mid_level"
    return None


@lru_cache
def _rules(country: str) -> SickLeaveRules:
    data = pack.load(country, "sick_leave")
    m = data["maternity"]
    zone = m.get("test_site_zone") or {}
    before = m.get("before_start_week") or {}
    limits: dict[str, int] = {}
    for item in data.get("diagnosis_limits", []):
        for cat in item["categories"]:
            limits[str(cat).upper()] = int(item["max_days"])
    return SickLeaveRules(
        country=country,
        practitioners={
            k: Practitioner(
                may_issue=bool(v.get("may_issue", True)),
                alone_days=int(v["alone_days"]),
                cosign_after_days=v.get("cosign_after_days"),
            )
            for k, v in data["practitioners"].items()
        },
        vkk_min_members=int(data.get("vkk_min_members", 3)),
        backdate_days=int(data.get("backdate_days", 0)),
        reasons={
            k: ReasonRule(
                name=k,
                kind=v["kind"],
                max_days=v.get("max_days"),
                vkk_to_open=bool(v.get("vkk_to_open", False)),
                child_max_age_years=v.get("child_max_age_years"),
            )
            for k, v in data["reasons"].items()
        },
        diagnosis_max_days=limits,
        maternity=MaternityRules(
            start_week=int(m["start_week"]),
            days=int(m["days"]),
            extension_days=int(m["extension_days"]),
            complicated_birth_modes=frozenset(m.get("complicated_birth_modes", [])),
            zone_start_week=zone.get("start_week"),
            zone_days=zone.get("days"),
            before_start_week_live=before.get("live"),
            before_start_week_stillborn=before.get("stillborn"),
        ),
        long_certificate_days=int(data.get("long_certificate_days", 30)),
        outlier_factor=float(data.get("outlier_factor", 3.0)),
        synth=dict(data.get("synth") or {}),
    )


def sick_leave_rules(country: str | None = None) -> SickLeaveRules:
    """The deployed country's rules (``SALOMAT_COUNTRY``), or the named country's."""
    return _rules((country or get_settings().country).upper())
