"""Synthetic newborn records, growth measurements and well-child visits (salomat synth).

Children under five get the pack's well-child visits up to their age (some
missed), each with a measurement. Each child keeps its own track: a z-score
per indicator drawn once (mean and spread from the pack's ``synthetic``
section of ``child.yaml``), plus a little noise per visit. Children of five
and over get nothing here: school checks are not in the passport's schedule.

The measurement is made from the z-score through the WHO LMS tables that
pygrowup ships (the inverse of the transform), rounded as a nurse writes it
(length 0.1 cm, weight 0.01 kg), and its z-scores are then computed from the
rounded values with ``who``'s functions, as ``assess`` computes them (the
tests check a sample); the implausible flags are ``who``'s and the
classification comes from the app's own ``classify`` on the z-scores' bands.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, time
from typing import Any

from salomat.core.synth import SynthContext
from salomat.country.pack import load
from salomat.domains.child.models import GrowthMeasurement, NewbornRecord, WellChildVisit
from salomat.domains.child.service import who
from salomat.domains.child.service.growth import LENGTH_UNTIL_DAYS, Assessment, classify
from salomat.domains.child.service.who import UNDER_FIVE_DAYS
from salomat.domains.registry.schemas import SyntheticPopulation

__all__ = ["synthesize_child_health"]

BY = "synth"
#: children measured: under five (the age of the last visit the schedule has in the standards)
UNDER_FIVE = 5 * 365
MEASUREMENT_COLUMNS = (
    "id", "person_id", "measured_on", "age_days", "sex", "weight_kg", "length_or_height_cm",
    "measured_lying", "head_circumference_cm", "muac_cm", "bmi", "wfa_z", "lhfa_z", "wfl_or_wfh",
    "wfl_or_wfh_z", "bmifa_z", "hcfa_z", "implausible", "classification", "facility_id",
    "recorded_by", "recorded_at", "version",
)  # fmt: skip
VISIT_COLUMNS = (
    "id", "person_id", "on", "age_days", "milestones", "feeding", "notes", "illnesses",
    "facility_id", "recorded_by", "recorded_at",
)  # fmt: skip
NEWBORN_COLUMNS = (
    "id", "person_id", "from_birth_record", "birth_weight_g", "birth_length_cm", "apgar_1",
    "apgar_5", "ga_days", "screening", "screened_on", "facility_id", "recorded_by", "updated_at",
    "version",
)  # fmt: skip
WFL_CM, WFH_CM = who.LENGTH_RANGE["wfl"], who.LENGTH_RANGE["wfh"]
FLUSH_EVERY = 50_000
#: the indicators in the order of the flags kept per measurement
INDICATORS = ("lhfa", "wfl_or_wfh", "wfa", "bmifa", "hcfa")
#: a z-score inside each of classify()'s intervals (under five: -3, -2, +2, +3)
_MIDS = (-4.0, -2.5, 0.0, 2.5, 4.0)


def _band(z: float) -> int:
    """Which of classify's intervals z falls in (0: below -3 ... 4: above +3)."""
    if z < -3:
        return 0
    if z < -2:
        return 1
    if z <= 2:
        return 2
    return 3 if z <= 3 else 4


def _mid(z: float | None, implausible: bool) -> float | None:
    """A z-score in the same band as ``z`` (what classify sees is only the band)."""
    if z is None:
        return None
    return 9.0 if implausible else _MIDS[_band(z)]


LMS = who.LMS


def lms_tables() -> dict[str, dict[str, dict[int, LMS]]]:
    """The by-day tables (key: age in days; wfl and wfh: tenths of a cm), in floats."""
    out = {name: who.table(name, "day") for name in ("lfa", "wfa", "hcfa", "bmifa")}
    out["wfl"], out["wfh"] = who.table("wfl", "length"), who.table("wfh", "length")
    return out


def _value(lms: LMS, z: float) -> float:
    """The measurement at z-score ``z`` (the inverse Box-Cox transform)."""
    lam, m, s = lms
    if abs(lam) < 1e-9:
        return m * math.exp(s * z)
    base = 1 + lam * s * z
    if base <= 0:  # far outside the tables' range: the most extreme value that has one
        base = 1e-3
    return float(m * base ** (1 / lam))


def synthesize_child_health(
    ctx: SynthContext, population: SyntheticPopulation, births: dict[int, tuple[int, int]]
) -> dict[str, int]:
    """Write newborn records, well-child visits and measurements; return rows per table."""
    p = population
    rng = ctx.rng("child")
    pack = load(ctx.country, "child")
    syn = pack["synthetic"]
    visits_due = [
        (int(v["age_days"]), int(v["before"]), int(v["after"]))
        for v in pack["well_child_visits"]["visits"]
    ]
    w = ctx.writer
    tables = lms_tables()
    lfa, wfa, hcfa, bmifa = tables["lfa"], tables["wfa"], tables["hcfa"], tables["bmifa"]
    wfl, wfh = tables["wfl"], tables["wfh"]
    today = ctx.as_of.toordinal()
    attendance = float(syn["visit_attendance"])
    haz_mean, haz_sd = float(syn["haz"]["mean"]), float(syn["haz"]["sd"])
    whz_mean, whz_sd = float(syn["whz"]["mean"]), float(syn["whz"]["sd"])
    hcz_mean, hcz_sd = float(syn["hcz"]["mean"]), float(syn["hcz"]["sd"])
    within = float(syn["within_child_sd"])
    hc_until = int(syn["head_circumference_until_days"])
    eb_share = float(syn["exclusive_breastfeeding_under_6m"])
    abnormal = syn["screening_abnormal"]
    not_done = float(syn["screening_not_done"])
    zscore, flagged = who.zscore, who.implausible
    #: (bands of the z-scores classify reads, implausible flags) -> the two JSON columns
    judged: dict[tuple[Any, ...], tuple[Any, Any]] = {}
    pg = w.dialect == "postgresql"
    js: Any = json.dumps if pg else (lambda v: v)
    none: Any = "[]" if pg else []
    ill_json = js(["acute respiratory infection"])
    measurements: list[tuple[Any, ...]] = []
    visits: list[tuple[Any, ...]] = []
    newborns: list[tuple[Any, ...]] = []
    written = {"growth_measurement": 0, "well_child_visit": 0, "newborn_record": 0}

    def flush() -> None:
        for table, columns, rows in (
            (NewbornRecord, NEWBORN_COLUMNS, newborns),
            (WellChildVisit, VISIT_COLUMNS, visits),
            (GrowthMeasurement, MEASUREMENT_COLUMNS, measurements),
        ):
            if rows:
                written[table.__tablename__] += w.write(table.__table__, columns, rows)
                rows.clear()

    children = [
        i for i in range(len(p)) if not p.is_duplicate[i] and 0 <= today - p.birth[i] < UNDER_FIVE
    ]
    task = ctx.progress.start("child health", len(children))
    with w.deferred([t.__tablename__ for t in (NewbornRecord, WellChildVisit, GrowthMeasurement)]):
        for done, i in enumerate(children, 1):
            born = p.birth[i]
            until = min(today, p.deceased[i]) if p.deceased[i] else today
            sex = "female" if p.sex[i] else "male"
            fid = p.facility_id[i] or None
            person = p.person_id[i]
            birth = births.get(i)
            if birth is not None:
                grams, weeks = birth
                screened = born + 3
                screening: dict[str, str] = {}
                if screened <= until and rng.random() >= not_done:
                    for test, share in abnormal.items():
                        bad = rng.random() < float(share)
                        if test == "hearing":
                            screening[test] = "refer" if bad else "pass"
                        else:
                            screening[test] = "abnormal" if bad else "normal"
                newborns.append(
                    (w.next_id(NewbornRecord.__table__), person, True, grams,
                     round(30 + grams * 0.0058, 1), None, None, weeks * 7, js(screening),
                     date.fromordinal(screened) if screening else None, fid, BY,
                     datetime.combine(date.fromordinal(min(born + 3, until)), time(12), tzinfo=UTC),
                     1)
                )  # fmt: skip
            # the child's own track
            haz = rng.gauss(haz_mean, haz_sd)
            if birth is not None and birth[0] < 2500:
                haz -= 0.7
            whz = rng.gauss(whz_mean, whz_sd)
            hcz = rng.gauss(hcz_mean, hcz_sd)
            lt, wt, ht, bt = lfa[sex], wfa[sex], hcfa[sex], bmifa[sex]
            ltab, htab = wfl[sex], wfh[sex]
            for due, before, after in visits_due:
                if rng.random() >= attendance:
                    continue
                age = due + rng.randint(-(before // 2), after // 2)
                if (
                    age < 1 or born + age > until or age >= UNDER_FIVE_DAYS
                ):  # classify bands: under 5
                    continue
                on = born + age
                at = datetime.combine(date.fromordinal(on), time(10), tzinfo=UTC)
                lying = age < LENGTH_UNTIL_DAYS
                cm = round(_value(lt[age], haz + rng.gauss(0, within)), 1)
                zw = whz + rng.gauss(0, within)
                table, kind, (lo, hi) = (ltab, "wfl", WFL_CM) if lying else (htab, "wfh", WFH_CM)
                key = round(cm * 10)
                if birth is not None and age <= 14:
                    kg = round(birth[0] / 1000 * (0.95 if age <= 5 else 1.0), 2)
                elif lo <= cm <= hi and key in table:
                    kg = round(_value(table[key], zw), 2)
                else:
                    kg = round(_value(wt[age], zw + haz * 0.5), 2)
                hc = (
                    round(_value(ht[age], hcz + rng.gauss(0, within)), 1)
                    if age < hc_until
                    else None
                )
                # the z-scores, as assess computes them (length on a 0.1-cm row: no interpolation)
                lhfa_z = zscore(cm, lt[age], False)
                wfa_z = zscore(kg, wt[age], True)
                bmi_exact = kg / (cm / 100) ** 2
                bmi = round(bmi_exact, 2)
                bmifa_z = zscore(bmi_exact, bt[age], True)
                wflh_z = None
                if lo <= cm <= hi and key in table:
                    wflh_z = zscore(kg, table[key], True)
                hcfa_z = zscore(hc, ht[age], False) if hc is not None else None
                flags = (
                    flagged("lhfa", lhfa_z),
                    flagged("wfl_or_wfh", wflh_z),
                    flagged("wfa", wfa_z),
                    flagged("bmifa", bmifa_z),
                    flagged("hcfa", hcfa_z),
                )
                key_z = (
                    None if flags[0] or lhfa_z is None else _band(lhfa_z),
                    None if flags[1] or wflh_z is None else _band(wflh_z),
                    None if flags[2] or wfa_z is None else _band(wfa_z),
                    flags,
                )
                found = judged.get(key_z)
                if found is None:
                    # classify() on a stand-in with the same bands gives the same codes
                    a = Assessment(
                        age_days=age, lhfa=_mid(lhfa_z, flags[0]),
                        wfl_or_wfh_z=_mid(wflh_z, flags[1]), wfa=_mid(wfa_z, flags[2]),
                        bmifa=_mid(bmifa_z, flags[3]), hcfa=_mid(hcfa_z, flags[4]),
                    )  # fmt: skip
                    bad = {n for n, flag in zip(INDICATORS, flags, strict=True) if flag}
                    # in the order assess() lists them
                    a.implausible = [n for n in who.IMPLAUSIBLE if n in bad]
                    found = judged[key_z] = (js(a.implausible), js(classify(age, a)))
                measurements.append(
                    (w.next_id(GrowthMeasurement.__table__), person, date.fromordinal(on), age,
                     sex, kg, cm, lying, hc, None, bmi, wfa_z, lhfa_z, kind, wflh_z, bmifa_z,
                     hcfa_z, found[0], found[1], fid, BY, at, 1)
                )  # fmt: skip
                if age < 183:
                    r = rng.random()
                    feeding = (
                        "exclusive_breastfeeding"
                        if r < eb_share
                        else "mixed"
                        if r < 0.85
                        else "formula"
                    )
                else:
                    feeding = "complementary"
                ill = ill_json if rng.random() < 0.1 else none
                visits.append(
                    (w.next_id(WellChildVisit.__table__), person, date.fromordinal(on), age, none,
                     feeding, None, ill, fid, BY, at)
                )  # fmt: skip
            if len(measurements) >= FLUSH_EVERY:
                flush()
            if done % 1000 == 0:
                task(1000)
        flush()
    for table, n in written.items():
        ctx.count(table, n)
    return written
