"""Synthetic screening and disease-management records (``salomat synth``).

Rates are the ``screening`` section of the pack's ``population.yaml`` (each with its
source or UNVERIFIED); ages, intervals, target groups, visit intervals and control targets
are the pack's ``screening.yaml`` (``rules``), in the edition in force on the run's day.

- **Enrolments.** Each original adult (18 or over on the run's day) attached to a
  primary-care facility has each programme's condition with the prevalence of her age band
  (``dmp.<code>.prevalence``); diabetes and heart failure are ``with_hypertension`` times as
  likely among the hypertensive, scaled so that each band's marginal prevalence stays the
  pack's. Of the prevalent, ``registered`` are enrolled, on a day drawn evenly over the last
  ``history_years`` (from the 18th birthday, before a death), at the attached facility,
  with a qualifying ICD-10 code of ``diagnoses``. One enrolment per person and programme.
- **Follow-up.** One visit timeline a patient over the last ``years`` (from the first
  enrolment if later): visits ``visit_interval_days`` x a lognormal factor apart; a
  ``dropout_share`` of patients stop coming at a day drawn evenly between enrolment and the
  run's day (those who stopped over a year ago are HEARTS' lost to follow-up; a
  ``withdrawn_share`` of them have the enrolment ended as withdrawn). At each visit every
  enrolment open that day gets a ``dmp_visit``; a blood pressure is taken (not at
  ``no_bp_share`` of visits), below 140/90 with the patient's own chance (``controlled_share``
  plus a normal spread), the first one at enrolment mostly above; a diabetic gets an HbA1c
  every ``hba1c_every_days`` and a fasting glucose at ``glucose_share`` of visits. The
  registry's deaths (the last year) stop the visits; ``died_ended_share`` of those
  enrolments are ended as died, the others stay open (the indicators read the registry).
- **Screenings.** Each inviting programme's target group on the run's day (attached,
  living, of its ages and sex, not enrolled in a DMP it excludes) is screened with the
  pack's ``coverage`` in the current round of its interval (a day drawn evenly among the
  round's days she was of age), and again in the round before; ``opportunistic_share`` of
  people up to five years too young are screened anyway (opportunistic), and of adults for a
  programme without a target group. ``after_screening_share`` of the enrolments in the
  follow-up years follow a screening days before (abnormal, next step: enrol). Results
  follow the measurements (a blood pressure of 140/90, a fasting glucose of 7.0 mmol/L, an
  HbA1c of 6.5 per cent or an intraocular pressure over 21 mm Hg, or a coded result the pack
  calls abnormal: abnormal, referred).

Rows go through the bulk writer (COPY on PostgreSQL) a chunk of people at a time, ids
reserved as they are written; one pass over the population with ``ctx.rng("screening")``,
so a seed gives the same rows.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any

from salomat.core.synth import SynthContext
from salomat.country import pack
from salomat.domains.registry.schemas import SyntheticPopulation
from salomat.domains.screening.models import (
    DmpEnrolment,
    DmpVisit,
    ScreeningObservation,
    ScreeningVisit,
)
from salomat.domains.screening.service.rules import Programme, add_years, screening_rules

__all__ = ["SYNTH_RECORDED_BY", "prevalence_of", "synthesize_screening"]

#: ``recorded_by`` of every synthetic row
SYNTH_RECORDED_BY = "synth"
_HOUR = time(9, tzinfo=UTC)
#: people per chunk written (each chunk: one write per table)
CHUNK = 20_000
ADULT = 18
#: an opportunistic screening: at most this many years below the programme's lower age
OPPORTUNISTIC_YEARS = 5

ENROLMENT_COLUMNS = (
    "id", "person_id", "facility_id", "programme", "diagnosis_code", "enrolled_on",
    "next_visit_due", "prior_mi_stroke", "ended_on", "end_reason", "recorded_by", "version",
    "created_at",
)  # fmt: skip
VISIT_COLUMNS = (
    "id", "person_id", "enrolment_id", "facility_id", "visited_on", "next_visit_due", "notes",
    "recorded_by", "created_at",
)  # fmt: skip
SCREENING_COLUMNS = (
    "id", "person_id", "facility_id", "programme", "performed_on", "opportunistic", "result",
    "next_step", "notes", "recorded_by", "created_at",
)  # fmt: skip
OBSERVATION_COLUMNS = (
    "id", "person_id", "facility_id", "observed_on", "kind", "systolic", "diastolic", "value",
    "unit", "value_entered", "unit_entered", "code", "loinc", "screening_visit_id",
    "enrolment_id", "dmp_visit_id", "recorded_by", "created_at",
)  # fmt: skip


def settings(country: str) -> dict[str, Any]:
    """The ``screening`` section of the pack's ``population.yaml``."""
    data = pack.load(country, "population").get("screening")
    if not data:
        raise pack.PackError(f"{country}/population.yaml has no screening section")
    return data


def prevalence_of(bands: dict[int, float], age: int) -> float:
    """The prevalence of the band ``age`` falls in (0 below the first band)."""
    share = 0.0
    for lo in sorted(bands):
        if age >= lo:
            share = float(bands[lo])
    return share


def _age(birth: int, day: int) -> int:
    b, d = date.fromordinal(birth), date.fromordinal(day)
    return d.year - b.year - ((d.month, d.day) < (b.month, b.day))


def _birthday(birth: int, years: int) -> int:
    return add_years(date.fromordinal(birth), years).toordinal()


def _cutoff(day: date, years: int) -> int:
    """The last day that is a full interval before ``day`` (``target_groups.interval_cutoff``)."""
    try:
        return day.replace(year=day.year - years).toordinal()
    except ValueError:
        return day.replace(year=day.year - years, day=28).toordinal()


def _weighted(table: dict[str, float]) -> Callable[[float], str]:
    keys = list(table)
    total = float(sum(table.values()))
    acc, cum = 0.0, []
    for k in keys:
        acc += float(table[k]) / total
        cum.append(acc)

    def pick(u: float) -> str:
        return keys[min(bisect.bisect_left(cum, u), len(keys) - 1)]

    return pick


class _Ids:
    """Ids of one table reserved as they are written."""

    def __init__(self, ctx: SynthContext, table: Any) -> None:
        self.ctx, self.table = ctx, table
        self.next = ctx.writer.next_id(table, 0)
        self.rows: list[tuple[Any, ...]] = []
        self.written = 0

    def add(self, *row: Any) -> int:
        rid = self.next
        self.next += 1
        self.rows.append((rid, *row))
        return rid

    def flush(self, columns: tuple[str, ...]) -> None:
        if self.rows:
            n = self.ctx.writer.write(self.table, columns, self.rows)
            self.ctx.writer.next_id(self.table, n)
            self.written += n
            self.rows = []


def synthesize_screening(ctx: SynthContext, population: SyntheticPopulation) -> dict[str, int]:
    """Write enrolments, follow-up visits, screenings and their readings; rows per table."""
    cfg = settings(ctx.country)
    rules = screening_rules(ctx.country)
    edition = rules.edition(ctx.as_of)
    rng = ctx.rng("screening")
    random, gauss = rng.random, rng.gauss
    as_of = ctx.as_of.toordinal()
    fu = cfg["follow_up"]
    sc = cfg.get("screening") or {}

    # ---- programmes ------------------------------------------------------------------
    dmp_cfg: dict[str, dict[str, Any]] = {
        k: v for k, v in (cfg.get("dmp") or {}).items() if k in edition.dmps
    }
    dmp_codes = list(dmp_cfg)  # hypertension first when present: it conditions the others
    if "hypertension" in dmp_codes:
        dmp_codes.remove("hypertension")
        dmp_codes.insert(0, "hypertension")
    diag_pick = {k: _weighted(v["diagnoses"]) for k, v in dmp_cfg.items()}
    interval = {k: edition.dmps[k].visit_interval_days for k in dmp_codes}
    history_days = round(float(fu["history_years"]) * 365.25)
    follow_from = as_of - round(float(fu["years"]) * 365.25)
    gap_mu, gap_sigma = math.log(float(fu["gap"]["median"])), float(fu["gap"]["sigma"])
    dropout, withdrawn = float(fu["dropout_share"]), float(fu["withdrawn_share"])
    no_bp = float(fu["no_bp_share"])
    ctrl_mean, ctrl_sd = float(fu["controlled_share"]), float(fu["controlled_spread"])
    first_high = float(fu["uncontrolled_at_enrolment"])
    died_ended = float(fu["died_ended_share"])
    prior_yes = float(fu["prior_mi_stroke"]["recorded"])
    prior_unknown = float(fu["prior_mi_stroke"]["not_asked"])
    hba1c_every = int(fu["hba1c_every_days"])
    glucose_share = float(fu["glucose_share"])
    sugar_ok = float(fu["sugar_controlled_share"])
    after_screening = float(fu["after_screening_share"])

    # per age (0..120): each programme's prevalence given hypertension or not (prevalent,
    # enrolled or not); the registered share is drawn after
    max_age = 121
    htn_bands = dmp_cfg.get("hypertension", {}).get("prevalence", {})
    chance: dict[str, list[tuple[float, float]]] = {}
    registered = {k: float(v["registered"]) for k, v in dmp_cfg.items()}
    for k in dmp_codes:
        bands = dmp_cfg[k]["prevalence"]
        rr = float(dmp_cfg[k].get("with_hypertension", 1.0)) if k != "hypertension" else 1.0
        row = []
        for a in range(max_age):
            p = prevalence_of(bands, a)
            h = prevalence_of(htn_bands, a)
            base = p / (rr * h + 1 - h) if (rr * h + 1 - h) else p
            row.append((min(1.0, rr * base), min(1.0, base)))
        chance[k] = row

    # screening programmes of the edition
    coverage = {k: float(v) for k, v in (sc.get("coverage") or {}).items()}
    opportunistic = float(sc.get("opportunistic_share", 0.0))
    inviting = [p for p in edition.programmes.values() if p.invites]
    others = [p for p in edition.programmes.values() if not p.invites]
    measurements = rules.measurements

    def loinc(kind: str) -> str | None:
        m = measurements.get(kind)
        return m.loinc if m else None

    days: dict[int, tuple[date, datetime]] = {}

    def day_of(o: int) -> tuple[date, datetime]:
        got = days.get(o)
        if got is None:
            d = date.fromordinal(o)
            got = days[o] = (d, datetime.combine(d, _HOUR))
        return got

    enrolments = _Ids(ctx, DmpEnrolment.__table__)
    visits = _Ids(ctx, DmpVisit.__table__)
    screenings = _Ids(ctx, ScreeningVisit.__table__)
    observations = _Ids(ctx, ScreeningObservation.__table__)

    # ---- readings ----------------------------------------------------------------------

    def bp_value(controlled: bool) -> tuple[int, int]:
        if controlled:
            s = int(min(139, max(95, gauss(126, 7))))
            d = int(min(89, max(58, gauss(79, 5))))
            return s, d
        s = int(min(230, max(118, gauss(154, 14))))
        d = int(min(130, max(62, gauss(93, 9))))
        if s < 140 and d < 90:
            s = 140 + int(random() * 20)
        return s, d

    def observe(
        pid: int, fid: int, on: int, kind: str, *, bp: tuple[int, int] | None = None,
        value: float | None = None, code: str | None = None, visit: int | None = None,
        enrolment: int | None = None, dmp_visit: int | None = None,
    ) -> None:  # fmt: skip
        m = measurements.get(kind)
        unit = m.canonical if m else None
        d, at = day_of(on)
        if bp is not None:
            entered: str | None = f"{bp[0]}/{bp[1]}"
        elif value is not None:
            entered = f"{value:g}"
        else:
            entered = code
        observations.add(
            pid, fid, d, kind, bp[0] if bp else None, bp[1] if bp else None, value,
            unit if code is None else None, entered, unit if code is None else None, code,
            loinc(kind), visit, enrolment, dmp_visit, SYNTH_RECORDED_BY, at,
        )  # fmt: skip

    def screening_value(kind: str) -> tuple[tuple[int, int] | None, float | None, str | None, bool]:
        """(bp, value, code, abnormal) of one measurement at a screening."""
        if kind == "bp":
            s = int(min(220, max(90, gauss(124, 14))))
            d = int(min(125, max(55, gauss(79, 9))))
            return (s, d), None, None, s >= 140 or d >= 90
        if kind == "glucose_fasting":
            v = round(min(25.0, max(3.0, gauss(5.3, 0.8))), 1)
            return None, v, None, v >= 7.0
        if kind == "hba1c":
            v = round(min(14.0, max(4.0, gauss(5.4, 0.5))), 1)
            return None, v, None, v >= 6.5
        if kind == "cholesterol":
            return None, round(min(12.0, max(2.5, gauss(5.0, 1.0))), 1), None, False
        if kind == "bmi":
            return None, round(min(55.0, max(15.0, gauss(26.0, 4.5))), 1), None, False
        if kind == "iop":
            v = round(min(45.0, max(8.0, gauss(16.0, 3.0))), 0)
            return None, v, None, v > 21
        m = measurements.get(kind)
        codes = m.codes if m else ()
        if not codes:
            return None, None, None, False
        bad = m.abnormal if m else ()
        if kind == "smoking":
            u = random()
            return None, None, ("never" if u < 0.7 else "former" if u < 0.8 else "current"), False
        if kind == "mammography":
            u = random()
            code = (
                "1"
                if u < 0.6
                else "2"
                if u < 0.9
                else "3"
                if u < 0.95
                else "0"
                if u < 0.98
                else "4"
            )
            return None, None, code, code in bad
        normal = [c for c in codes if c not in bad] or list(codes)
        code = bad[int(random() * len(bad))] if bad and random() < 0.06 else normal[0]
        return None, None, code, code in bad

    def screen(
        pid: int, fid: int, on: int, p: Programme, *, opportunistic_: bool,
        enrol_for: str | None = None,
    ) -> None:  # fmt: skip
        readings = []
        abnormal = False
        for kind in p.measures:
            if enrol_for is not None and kind == "bp" and enrol_for in ("hypertension", "chf"):
                bp_, value, code, bad = bp_value(False), None, None, True
            elif enrol_for == "t2dm" and kind == "glucose_fasting":
                bp_, value, code, bad = None, round(7.2 + random() * 6, 1), None, True
            elif enrol_for == "t2dm" and kind == "hba1c":
                bp_, value, code, bad = None, round(6.6 + random() * 4, 1), None, True
            else:
                bp_, value, code, bad = screening_value(kind)
            abnormal = abnormal or bad
            readings.append((kind, bp_, value, code))
        if enrol_for is not None:
            abnormal = True
        step = ("enrol" if enrol_for else "refer") if abnormal else "none"
        d, at = day_of(on)
        vid = screenings.add(
            pid, fid, p.code, d, opportunistic_, "abnormal" if abnormal else "normal", step,
            None, SYNTH_RECORDED_BY, at,
        )  # fmt: skip
        for kind, bp_, value, code in readings:
            observe(pid, fid, on, kind, bp=bp_, value=value, code=code, visit=vid)

    def in_band(p: Programme, sex: int, birth: int, on: int) -> bool:
        """In the programme's target group by age and sex on the day (``in_age_and_sex``)."""
        if not p.invites or (p.sex != "any" and p.sex != ("female" if sex else "male")):
            return False
        a = _age(birth, on)
        return a >= (p.min_age or 0) and (p.max_age is None or a <= p.max_age)

    # ---- one person --------------------------------------------------------------------

    def person(i: int) -> None:
        pid = population.person_id[i]
        birth = population.birth[i]
        fid = population.facility_id[i]
        died = population.deceased[i]
        sex = population.sex[i]
        last_day = (died - 1) if died else as_of
        age = _age(birth, as_of)
        adult_from = _birthday(birth, ADULT)
        mine: list[list[Any]] = []  # [code, enrolment id, enrolled_on, ended_on, reason]
        if age >= ADULT:
            htn = False
            a = min(age, max_age - 1)
            for k in dmp_codes:
                with_h, without_h = chance[k][a]
                if random() >= (with_h if htn else without_h):
                    continue
                if k == "hypertension":
                    htn = True
                if random() >= registered[k]:
                    continue
                first = max(adult_from, as_of - history_days)
                if first > last_day:
                    continue
                on = first + int(random() * (last_day - first + 1))
                mine.append([k, 0, on, None, None])
        stop = last_day
        dropped = False
        if mine:
            start = min(m[2] for m in mine)
            if random() < dropout:
                dropped = True
                stop = start + int(random() * (last_day - start + 1))
            for m in mine:
                if died and random() < died_ended:
                    m[3], m[4] = died, "died"
                elif dropped and random() < withdrawn and stop + 1 <= as_of and stop >= m[2]:
                    m[3], m[4] = stop + 1, "withdrawn"
        # screenings first: an enrolment after a screening needs her group on the day
        ends = {m[0]: (m[2], m[3]) for m in mine}
        if fid and not died:
            for p in inviting:
                if not in_band(p, sex, birth, as_of):
                    if (
                        opportunistic
                        and p.min_age is not None
                        and (p.sex == "any" or p.sex == ("female" if sex else "male"))
                        and p.min_age - OPPORTUNISTIC_YEARS <= age < p.min_age
                        and random() < opportunistic
                    ):
                        on = as_of - int(random() * 365)
                        if on >= birth:
                            screen(pid, fid, on, p, opportunistic_=True)
                    continue
                # excluded today by an open enrolment in a DMP it excludes
                lo_block = 0
                excluded = False
                for k in p.excluded_by_dmp:
                    if k in ends:
                        _on, end_ = ends[k]
                        if end_ is None or end_ > as_of:
                            excluded = True
                        else:
                            lo_block = max(lo_block, end_)
                if excluded:
                    continue
                cov = coverage.get(p.code, 0.0)
                assert p.interval_years is not None
                assert p.min_age is not None
                cut = _cutoff(ctx.as_of, p.interval_years)
                prev = _cutoff(date.fromordinal(cut), p.interval_years)
                of_age = _birthday(birth, p.min_age)
                for lo, hi in ((cut + 1, as_of), (prev + 1, cut)):
                    lo = max(lo, of_age, lo_block)
                    if lo > hi or random() >= cov:
                        continue
                    screen(pid, fid, lo + int(random() * (hi - lo + 1)), p, opportunistic_=False)
            for p in others:
                if age >= ADULT and opportunistic and random() < opportunistic:
                    screen(pid, fid, as_of - int(random() * 365), p, opportunistic_=True)
        if not mine or not fid:
            return
        # enrolments, the first perhaps after a screening
        mine.sort(key=lambda m: m[2])
        first_on = mine[0][2]
        if first_on >= follow_from and random() < after_screening:
            on = first_on - 1 - int(random() * 14)
            k = mine[0][0]
            want = "glucose_fasting" if k == "t2dm" else "bp"
            fits = [p for p in inviting + others if want in p.measures]
            fits.sort(key=lambda p: not in_band(p, sex, birth, on))
            if fits and on >= birth:
                p = fits[0]
                screen(pid, fid, on, p, opportunistic_=not in_band(p, sex, birth, on), enrol_for=k)
        u = random()
        prior = True if u < prior_yes else None if u < prior_yes + prior_unknown else False
        # ids reserved now (the visits refer to them), the rows written after the visits
        # with their next due day, in the same order
        for j, m in enumerate(mine):
            m[1] = enrolments.next + j
        # follow-up visits
        tendency = min(0.97, max(0.03, gauss(ctrl_mean, ctrl_sd)))
        diabetic = "t2dm" in ends
        step = min(interval[m[0]] for m in mine)
        day = max(first_on, follow_from)
        if day > first_on:
            day += int(random() * step * math.exp(gap_mu))
        last_hba1c = -(10**9)
        due: dict[str, int] = {m[0]: m[2] + interval[m[0]] for m in mine}
        while day <= stop:
            d, at = day_of(day)
            open_here = [m for m in mine if m[2] <= day and (m[3] is None or m[3] > day)]
            if open_here:
                ids = {}
                for m in open_here:
                    nxt = day + interval[m[0]]
                    ids[m[0]] = visits.add(pid, m[1], fid, d, day_of(nxt)[0], None,
                                           SYNTH_RECORDED_BY, at)  # fmt: skip
                    due[m[0]] = nxt
                main = open_here[0]
                if random() >= no_bp:
                    at_enrolment = day == main[2]
                    ok = random() >= first_high if at_enrolment else random() < tendency
                    observe(pid, fid, day, "bp", bp=bp_value(ok), enrolment=main[1],
                            dmp_visit=ids[main[0]])  # fmt: skip
                if diabetic and "t2dm" in ids:
                    t2 = next(m for m in open_here if m[0] == "t2dm")
                    if day - last_hba1c >= hba1c_every:
                        last_hba1c = day
                        good = random() < sugar_ok
                        v = 5.4 + random() * 1.5 if good else 7.0 + random() * 5.5
                        observe(pid, fid, day, "hba1c", value=round(min(v, 6.9) if good else v, 1),
                                enrolment=t2[1], dmp_visit=ids["t2dm"])  # fmt: skip
                    if random() < glucose_share:
                        good = random() < sugar_ok
                        v = 4.5 + random() * 2.4 if good else 7.0 + random() * 8.0
                        observe(pid, fid, day, "glucose_fasting", value=round(v, 1),
                                enrolment=t2[1], dmp_visit=ids["t2dm"])  # fmt: skip
            day += max(7, int(step * math.exp(gauss(gap_mu, gap_sigma))))
        for m in mine:
            enrolments.add(
                pid, fid, m[0], diag_pick[m[0]](random()), day_of(m[2])[0],
                day_of(due[m[0]])[0] if m[3] is None else None, prior,
                day_of(m[3])[0] if m[3] is not None else None, m[4], SYNTH_RECORDED_BY, 1,
                day_of(m[2])[1],
            )  # fmt: skip

    n = len(population)
    advance = ctx.progress.start("screening: people", n)
    tables = ["dmp_enrolment", "dmp_visit", "screening_visit", "screening_observation"]
    with ctx.writer.deferred(tables):
        for start in range(0, n, CHUNK):
            for i in range(start, min(n, start + CHUNK)):
                if population.is_duplicate[i]:
                    continue
                person(i)
            enrolments.flush(ENROLMENT_COLUMNS)
            visits.flush(VISIT_COLUMNS)
            screenings.flush(SCREENING_COLUMNS)
            observations.flush(OBSERVATION_COLUMNS)
            advance(min(n, start + CHUNK) - start)
    counts = {
        "dmp_enrolment": enrolments.written,
        "dmp_visit": visits.written,
        "screening_visit": screenings.written,
        "screening_observation": observations.written,
    }
    for t, k in counts.items():
        ctx.count(t, k)
    return counts
