"""Synthetic immunization histories by the country calendar (salomat synth).

Every living child (under 18, originals only) gets the calendar's doses that
were due by today, as a registry fed for years would hold them: most a few
days late (lognormal, heavier tail for later doses), a share never given
(coverage per dose from the pack's ``synthetic`` section, so dropout between
doses follows), some given too early and stored invalid with the engine's own
reason (then repeated), a few records entered in error, and a small share of
contraindications and refusals. Adults get the pack's revaccination (Td) at a
low rate. Each dose is recorded with the number of the place it counts in
(``counted_as`` equals ``dose_number``; invalid ones count nowhere), and a
child whose first dose of a series falls in a catch-up band (a very late PCV
start) follows the reduced series, as the engine counts it.

Speed: about 7 million doses for a million people. The calendar is turned
into plain per-dose tuples once, calendar dates are memoised per birth date
(or per previous dose's date), and rows stream as tuples into COPY. The
engine (``schedule.check_dose``) is called only for the rare invalid dose, to
store the reason exactly as the application would.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from typing import Any

from salomat.core.synth import SynthContext
from salomat.country import pack
from salomat.domains.immunization.models import Dose, Exemption
from salomat.domains.immunization.service import schedule
from salomat.domains.registry.schemas import SyntheticPopulation

__all__ = ["SYNTH_RECORDED_BY", "synthesize_immunizations"]

#: ``recorded_by`` of every synthetic dose and exemption
SYNTH_RECORDED_BY = "synth"
#: doses are recorded at 09:00 UTC of the day given (14:00 in Tashkent and Almaty)
RECORD_HOUR = time(9, tzinfo=UTC)
#: how many draws each delay table holds (indexed by random bits)
_TABLE_BITS = 11
_ORAL = ("opv", "rota")
_EXEMPTION_REASONS = {
    "refusal": "Parent declined vaccination (signed refusal)",
    "contraindication": "Medical contraindication (commission decision)",
}


class _Memo(dict[int, int]):
    """ordinal -> ordinal of ``add_age(date, age)``: months and years need the calendar."""

    def __init__(self, age: schedule.Age | None) -> None:
        super().__init__()
        self.age = age

    def __missing__(self, key: int) -> int:
        value = (
            key
            if self.age is None
            else schedule.add_age(date.fromordinal(key), self.age).toordinal()
        )
        self[key] = value
        return value


def _settings(country: str) -> dict[str, Any]:
    data = pack.immunization(country).get("synthetic")
    if not data:
        raise pack.PackError(f"{country}/immunization.yaml has no synthetic section")
    return data


def _delay_table(rng: Any, median: float, sigma: float) -> list[int]:
    mu = math.log(max(median, 0.5))
    return [int(rng.lognormvariate(mu, sigma)) for _ in range(1 << _TABLE_BITS)]


def _site_for(antigen: str, sites: dict[str, str]) -> tuple[str | None, str | None, str | None]:
    """(infant site a, infant site b, older site) for the antigen, as the pack names sites."""
    if antigen in _ORAL and "oral" in sites:
        return "oral", "oral", "oral"
    if antigen == "bcg" and "intradermal_left_arm" in sites:
        return "intradermal_left_arm", "intradermal_left_arm", "intradermal_left_arm"
    return "left_thigh", "right_thigh", "left_arm"


def synthesize_immunizations(ctx: SynthContext, population: SyntheticPopulation) -> dict[str, int]:
    """Write the doses and exemptions; returns rows written per table."""
    cal = schedule.calendar(ctx.country)
    cfg = _settings(ctx.country)
    rng = ctx.rng("immunization")
    as_of = ctx.as_of.toordinal()
    delays = {k: _delay_table(rng, v["median"], v["sigma"]) for k, v in cfg["delay"].items()}
    coverage: dict[str, list[float]] = cfg["coverage"]
    sites = cal.sites

    # one tuple per calendar dose, in pack order (later series may wait for earlier ones)
    rules = []
    for s in cal.series:
        cov = coverage.get(s.antigen, [])
        # catch-up bands, read once: (from, until, doses, interval, repeat interval)
        plans = tuple(
            (
                _Memo(c.from_age),
                _Memo(c.until_age),
                len(c.rules),
                _Memo(c.min_interval) if c.min_interval is not None else None,
                _Memo(c.min_interval or schedule.REPEAT_AFTER_INVALID),
            )
            for c in s.catch_up
        )
        for j, r in enumerate(s.doses):
            share = cov[j] if j < len(cov) else (cov[-1] if cov else 0.0)
            before = cov[j - 1] if 0 < j <= len(cov) else 1.0
            keep = min(1.0, share / before) if before else 0.0
            age_days = (schedule.add_age(date(2001, 1, 1), r.age) - date(2001, 1, 1)).days
            kind = "first" if age_days < 7 else ("next" if age_days < 730 else "later")
            rules.append(
                (
                    s.antigen,
                    r.dose_number,
                    1 if s.sex == "female" else (0 if s.sex == "male" else -1),
                    keep,
                    _Memo(r.age),
                    _Memo(r.min_age),
                    _Memo(r.max_age) if r.max_age is not None else None,
                    r.after,
                    _Memo(r.min_interval) if r.min_interval is not None else None,
                    _Memo(r.min_interval or schedule.REPEAT_AFTER_INVALID),
                    delays[kind],
                    s.vaccines,
                    _site_for(s.antigen, sites),
                    plans if j == 0 else (),
                )
            )
    zero_dose = float(cfg["zero_dose"])
    invalid_share = float(cfg["invalid_share"])
    error_share = float(cfg["entered_in_error_share"])
    exemption_share = float(cfg["exemption_share"])
    booster_share = float(cfg.get("adult_booster_share", 0.0))
    boosters = [s for s in cal.series if s.booster_every is not None and s.doses]
    antigens = [s.antigen for s in cal.series]

    # lots: three per vaccine and quarter, expiring two years after the quarter
    lots: dict[tuple[str, int], list[tuple[str, date]]] = {}

    def lot_of(vaccine: str, day: int) -> tuple[str, date]:
        q = day // 91
        found = lots.get((vaccine, q))
        if found is None:
            d = date.fromordinal(q * 91)
            found = [
                (f"{vaccine[:3].upper()}{d:%y}{q % 100:02d}{k}{rng.randrange(1000):03d}", d)
                for k in range(3)
            ]
            found = [(code, d.replace(year=d.year + 2, day=min(d.day, 28))) for code, d in found]
            lots[(vaccine, q)] = found
        return found[day % 3]

    days: dict[int, tuple[date, datetime]] = {}

    def day_of(o: int) -> tuple[date, datetime]:
        got = days.get(o)
        if got is None:
            d = date.fromordinal(o)
            got = days[o] = (d, datetime.combine(d, RECORD_HOUR))
        return got

    facilities = {f.id: f.practitioners for f in population.facilities}
    adult_ord = schedule.add_age(ctx.as_of, schedule.Age(years=-18)).toordinal()
    exemptions: list[tuple[Any, ...]] = []
    table = Dose.__table__
    first_id = ctx.writer.next_id(table, 0)  # type: ignore[arg-type]
    advance = ctx.progress.start("immunization: people", len(population))
    random = rng.random
    bits = rng.getrandbits

    ids = [first_id]

    def rows() -> Iterator[tuple[Any, ...]]:
        n = len(population)
        pids, births, sexes = population.person_id, population.birth, population.sex
        dead, dup, fac = population.deceased, population.is_duplicate, population.facility_id
        for i in range(n):
            if i % 10_000 == 9_999:
                advance(10_000)
            b = births[i]
            if dup[i] or b > as_of:
                continue
            died = dead[i] or as_of + 1
            if died <= as_of:
                continue
            pid = pids[i]
            facility = fac[i] or None
            staff = facilities.get(facility or 0, ())
            if b <= adult_ord:
                if boosters and random() < booster_share:
                    yield from _adult(pid, b, facility, staff)
                continue
            if random() < zero_dose:
                continue
            sex = sexes[i]
            exempt_from = as_of + 1
            exempt_antigen: str | None = ""
            if random() < exemption_share:
                kind = "refusal" if random() < 0.7 else "contraindication"
                exempt_antigen = None if random() < 0.4 else antigens[bits(16) % len(antigens)]
                exempt_from = b + bits(20) % (as_of - b + 1)
                ends = None
                if kind == "contraindication" and random() < 0.5:
                    ends = date.fromordinal(exempt_from + 90 + bits(8))
                start = day_of(exempt_from)
                exemptions.append(
                    (
                        pid,
                        kind,
                        exempt_antigen,
                        _EXEMPTION_REASONS[kind],
                        start[0],
                        ends,
                        None,
                        facility,
                        SYNTH_RECORDED_BY,
                        start[1],
                    )
                )
            valid_on: dict[tuple[str, int], int] = {}
            history: list[tuple[str, int, date, bool]] = []
            stopped = ""
            # a late starter's series: doses still to give, and the plan's intervals
            plan_left: dict[str, int] = {}
            plan_step: dict[str, tuple[Any, Any]] = {}
            for (
                antigen,
                number,
                only_sex,
                keep,
                due_m,
                min_m,
                max_m,
                after,
                interval_m,
                repeat_m,
                table_,
                vaccines,
                site,
                plans,
            ) in rules:
                if antigen == stopped or (only_sex >= 0 and only_sex != sex):
                    continue
                if plan_left.get(antigen) == 0:
                    continue  # the reduced series is complete
                if antigen in plan_step:
                    interval_m, repeat_m = plan_step[antigen]
                if random() >= keep:
                    stopped = antigen
                    continue
                earliest = min_m[b]
                if after is not None:
                    prev = valid_on.get(after)
                    if prev is None:
                        stopped = antigen
                        continue
                    if interval_m is not None:
                        earliest = max(earliest, interval_m[prev])
                given = max(due_m[b], earliest) + table_[bits(_TABLE_BITS)]
                latest = max_m[b] if max_m is not None else died
                if given > as_of or given >= latest or given >= died:
                    stopped = antigen
                    continue
                if (
                    exempt_antigen != ""
                    and exempt_antigen in (None, antigen)
                    and (given >= exempt_from)
                ):
                    stopped = antigen
                    continue
                practitioner = staff[bits(16) % len(staff)] if staff else None
                vaccine = vaccines[0] if len(vaccines) == 1 or random() < 0.85 else vaccines[-1]
                if random() < invalid_share and earliest - 1 > b:
                    early = max(b, earliest - 1 - bits(4))
                    # after the dose it counts from, so that a replay in date order agrees
                    last = valid_on[after] if after is not None else b
                    if early > last:
                        d, at = day_of(early)
                        check = schedule.check_dose(
                            date.fromordinal(b),
                            antigen,
                            number,
                            d,
                            [schedule.GivenDose(*h) for h in history],
                            cal,
                        )
                        if not check.valid:
                            lot, expires = lot_of(vaccine, early)
                            yield (
                                ids[0],
                                pid,
                                antigen,
                                number,
                                d,
                                vaccine,
                                lot,
                                expires,
                                site[early % 2] if early - b < 365 else site[2],
                                facility,
                                practitioner,
                                False,
                                check.reason,
                                "completed",
                                at,
                                "entered",
                                SYNTH_RECORDED_BY,
                                1,
                                None,
                            )
                            ids[0] += 1
                            history.append((antigen, number, d, False))
                            given = max(given, repeat_m[early])
                            if given > as_of or given >= latest or given >= died:
                                stopped = antigen
                                continue
                d, at = day_of(given)
                lot, expires = lot_of(vaccine, given)
                where = site[given % 2] if given - b < 365 else site[2]
                yield (
                    ids[0],
                    pid,
                    antigen,
                    number,
                    d,
                    vaccine,
                    lot,
                    expires,
                    where,
                    facility,
                    practitioner,
                    True,
                    None,
                    "completed",
                    at,
                    "entered",
                    SYNTH_RECORDED_BY,
                    1,
                    number,
                )
                ids[0] += 1
                valid_on[(antigen, number)] = given
                history.append((antigen, number, d, True))
                if antigen in plan_left:
                    plan_left[antigen] -= 1
                for from_m, until_m, n_doses, plan_iv, plan_rep in plans:
                    if from_m[b] <= given < until_m[b]:
                        plan_left[antigen] = n_doses - 1
                        if plan_iv is not None:
                            plan_step[antigen] = (plan_iv, plan_rep)
                        break
                if random() < error_share:
                    wrong = min(as_of, given + 1 + bits(5))
                    d, at = day_of(wrong)
                    yield (
                        ids[0],
                        pid,
                        antigen,
                        number,
                        d,
                        vaccine,
                        lot,
                        expires,
                        where,
                        facility,
                        practitioner,
                        True,
                        None,
                        "entered_in_error",
                        at,
                        "entered",
                        SYNTH_RECORDED_BY,
                        1,
                        None,
                    )
                    ids[0] += 1
        advance(n % 10_000)

    def _adult(
        pid: int, b: int, facility: int | None, staff: tuple[int, ...]
    ) -> Iterator[tuple[Any, ...]]:
        s = boosters[bits(8) % len(boosters)]
        assert s.booster_from_age is not None
        from_ord = schedule.add_age(date.fromordinal(b), s.booster_from_age).toordinal()
        given = as_of - bits(16) % 3650
        if given < from_ord:
            return
        d, at = day_of(given)
        vaccine = s.vaccines[0]
        lot, expires = lot_of(vaccine, given)
        yield (
            ids[0],
            pid,
            s.antigen,
            s.doses[-1].dose_number + 1,
            d,
            vaccine,
            lot,
            expires,
            "left_arm",
            facility,
            staff[bits(16) % len(staff)] if staff else None,
            True,
            None,
            "completed",
            at,
            "entered",
            SYNTH_RECORDED_BY,
            1,
            # recorded as the revaccination, but with no earlier dose on the register it
            # counts as the series' first (flagged for review on the card)
            s.doses[0].dose_number,
        )
        ids[0] += 1

    columns = (
        "id",
        "person_id",
        "antigen",
        "dose_number",
        "given_on",
        "vaccine",
        "lot",
        "expires_on",
        "site",
        "facility_id",
        "practitioner_id",
        "valid",
        "invalid_reason",
        "status",
        "recorded_at",
        "source",
        "recorded_by",
        "version",
        "counted_as",
    )
    with ctx.writer.deferred(["immunization_dose", "immunization_exemption"]):
        written = ctx.writer.write(table, columns, rows())  # type: ignore[arg-type]
        ctx.writer.next_id(table, written)  # type: ignore[arg-type]
        ex_table = Exemption.__table__
        ex_first = ctx.writer.next_id(ex_table, len(exemptions))  # type: ignore[arg-type]
        ctx.writer.write(
            ex_table,  # type: ignore[arg-type]
            (
                "id",
                "person_id",
                "kind",
                "antigen",
                "reason",
                "starts_on",
                "ends_on",
                "withdrawn_on",
                "facility_id",
                "recorded_by",
                "recorded_at",
            ),
            ((ex_first + k, *row) for k, row in enumerate(exemptions)),
        )
    ctx.count("immunization_dose", written)
    ctx.count("immunization_exemption", len(exemptions))
    return {"immunization_dose": written, "immunization_exemption": len(exemptions)}
