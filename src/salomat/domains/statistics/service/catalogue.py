"""The indicator catalogue: definitions shared by the packs (``country/indicators.yaml``)
and each pack's targets and live-birth criterion (``country/<CC>/indicators.yaml``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from salomat.core.config import get_settings
from salomat.core.errors import N_, FieldError, Invalid, NotFound
from salomat.core.i18n import gettext
from salomat.country import pack
from salomat.domains.statistics.schemas import Indicator, LiveBirthCriterion, Target

__all__ = [
    "CAUSE_CLASSES",
    "catalogue",
    "cause_classes",
    "get_indicator",
    "indicator_or_422",
    "live_birth_criterion",
    "targets",
]

_SHARED = Path(pack.PACKS_DIR) / "indicators.yaml"

# the names, so that the catalogue extractor sees every msgid (indicators.yaml's `name`)
_NAMES = (
    N_("Live births"),
    N_("Crude birth rate"),
    N_("Crude death rate"),
    N_("Infant mortality rate"),
    N_("Neonatal mortality rate"),
    N_("Early neonatal mortality rate"),
    N_("Perinatal mortality rate"),
    N_("Under-five mortality rate"),
    N_("Maternal mortality ratio"),
    N_(
        "Probability of dying between 30 and 70 from cardiovascular disease, cancer, "
        "diabetes or chronic respiratory disease"
    ),
    N_("Life expectancy at birth"),
    N_("Immunization coverage (first dose of measles-containing vaccine)"),
    N_("Antenatal care coverage (at least four contacts)"),
)


@lru_cache
def _shared() -> dict[str, Any]:
    with _SHARED.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def cause_classes() -> dict[str, list[str]]:
    """Underlying-cause classes (ICD-10 ranges) the deaths are counted by."""
    return {k: list(v) for k, v in _shared()["cause_classes"].items()}


CAUSE_CLASSES = ("maternal", "ncd4")


def _pack_file(country: str) -> dict[str, Any]:
    try:
        return pack.load(country, "indicators")
    except pack.PackError:
        return {}


def live_birth_criterion(country: str | None = None) -> LiveBirthCriterion:
    data = _pack_file(country or get_settings().country).get("live_birth_criterion") or {}
    return LiveBirthCriterion(
        text=data.get("text", "WHO definition (ICD-10 vol. 2)"),
        stillbirth_min_ga_days=int(data.get("stillbirth_min_ga_days", 154)),
        source=data.get("source", "UNVERIFIED"),
    )


def targets(country: str | None = None) -> list[Target]:
    out = []
    for t in _pack_file(country or get_settings().country).get("targets") or []:
        source = str(t.get("source", "UNVERIFIED"))
        out.append(
            Target(
                indicator=t["indicator"],
                area=str(t["area"]) if t.get("area") is not None else None,
                kind=t["kind"],
                value=t.get("value"),
                reduction=t.get("reduction"),
                baseline_year=t.get("baseline_year"),
                baseline_value=t.get("baseline_value"),
                year=int(t["year"]),
                source=source,
                unverified="UNVERIFIED" in source,
            )
        )
    return out


def catalogue(country: str | None = None) -> list[Indicator]:
    """Every indicator with its definition and the pack's targets."""
    ts = targets(country)
    return [
        Indicator(
            **{**spec, "name": gettext(spec["name"])},
            targets=[t for t in ts if t.indicator == spec["code"]],
        )
        for spec in _shared()["indicators"]
    ]


def get_indicator(code: str, country: str | None = None) -> Indicator:
    """The indicator; NotFound for a code the catalogue lacks."""
    for i in catalogue(country):
        if i.code == code:
            return i
    raise NotFound(N_("No indicator has code %(code)s."), params={"code": code})


def indicator_or_422(code: str) -> Indicator:
    """The indicator named by a query parameter; an unknown one is a 422 naming it."""
    try:
        return get_indicator(code)
    except NotFound as e:
        raise Invalid.fields(
            [FieldError("indicator", N_("no indicator has code %(code)s"), {"code": code})]
        ) from e
