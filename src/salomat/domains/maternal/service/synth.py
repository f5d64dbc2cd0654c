"""Synthetic pregnancies, antenatal contacts, births and postnatal contacts (salomat synth).

Every child of the population born in the last two years whose mother is in
it gets the pregnancy that ended in its birth; women of child-bearing age get
the current pregnancies a population of this size has, and a few pregnancies
that ended without a live birth. Rates come from the pack's ``synthetic``
section of ``maternal.yaml``.

Each pregnancy is evaluated by the app's own pure rules (``rules.evaluate``
and ``rules.risk`` over the contacts generated), so its risk level, level of
care and active advice are what the register would show, and the dashboard,
the worklists and the referral inboxes read realistic figures. Only the last
evaluation is stored (the register keeps earlier ones retired; they matter to
no figure).

Accepted referrals carry no care relationship (that table is the registry's):
the receiving facility sees them in its inbox, not the women in its scope.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any

from salomat.core.synth import SynthContext
from salomat.country.pack import load
from salomat.domains.maternal.models import (
    AdviceItem,
    AntenatalContact,
    Baby,
    BirthRecord,
    Diagnosis,
    PostnatalContact,
    Pregnancy,
    Referral,
)
from salomat.domains.maternal.service import rules, standing
from salomat.domains.maternal.service.dating import OPTIMAL_SCAN_BEFORE_DAYS, PREGNANCY_DAYS
from salomat.domains.registry.schemas import SyntheticFacility, SyntheticPopulation

__all__ = ["synthesize_pregnancies"]

#: who the rows say entered them (the IT operator entering paper records)
BY = "synth"
#: children born this many days before ``as_of`` or later get their pregnancy
BIRTHS_WITHIN_DAYS = 730
#: stillbirths at 22-27 weeks per stillbirth at 28 weeks or more (UNVERIFIED: the WHO
#: stillbirth reports put about a quarter of those from 22 weeks below 28)
EARLY_STILLBIRTHS = 0.3
#: from this GA a planned place of birth is expected (as the worklist has it)
BIRTH_PLAN_FROM_DAYS = 36 * 7
#: pregnancies buffered before their rows are written (FK order: pregnancy first)
FLUSH_EVERY = 5_000
#: birth weight median (g) by completed week of gestation, boys; girls ~100 g less.
#: UNVERIFIED: rounded from the Fenton 2013 / INTERGROWTH-21st medians
WEIGHT_BY_WEEK = {
    22: 500, 23: 560, 24: 650, 25: 750, 26: 850, 27: 980, 28: 1100, 29: 1250, 30: 1450,
    31: 1620, 32: 1800, 33: 2050, 34: 2300, 35: 2500, 36: 2750, 37: 2950, 38: 3150,
    39: 3300, 40: 3400, 41: 3500, 42: 3550,
}  # fmt: skip
#: weeks at birth at term and their shares; preterm weeks (shares within preterm births)
TERM_WEEKS = ((37, 0.10), (38, 0.20), (39, 0.30), (40, 0.28), (41, 0.12))
PRETERM_WEEKS = (
    (24, 0.01), (25, 0.01), (26, 0.02), (27, 0.02), (28, 0.03), (29, 0.03), (30, 0.04),
    (31, 0.05), (32, 0.07), (33, 0.09), (34, 0.14), (35, 0.21), (36, 0.28),
)  # fmt: skip
PREGNANCY_COLUMNS = (
    "id", "person_id", "status", "registered_on", "age_years", "lmp", "scan_on",
    "ga_days_at_scan", "edd", "dating_method", "suboptimally_dated", "dating_discrepancy_days",
    "gravida", "parity", "previous_caesarean", "previous_pre_eclampsia", "previous_pph",
    "previous_instrumental_birth", "previous_convulsions", "previous_severe_tear", "stillbirths",
    "miscarriages", "multiple_pregnancy", "conditions", "facility_id", "settlement_id",
    "registered_by", "risk_level", "care_level", "evaluated_at", "opened_at", "closed_on",
    "outcome", "planned_birth_facility_id", "version", "created_at", "updated_at",
)  # fmt: skip
CONTACT_COLUMNS = (
    "id", "pregnancy_id", "person_id", "on", "ga_days", "facility_id", "recorded_by",
    "recorded_at", "systolic_1", "diastolic_1", "systolic_2", "diastolic_2", "temperature_c_1",
    "pulse_1", "fetal_heart_rate_1", "fetal_heartbeat_absent", "fundal_height_cm", "weight_kg",
    "height_cm", "urine_protein", "haemoglobin_g_l", "pallor", "fasting_glucose_mmol_l",
    "ogtt_1h_mmol_l", "ogtt_2h_mmol_l", "danger_signs", "symptoms", "abnormal_presentation",
    "ultrasound_done", "hiv_test_done", "syphilis_test_done", "hiv_positive",
)  # fmt: skip
ADVICE_COLUMNS = (
    "id", "pregnancy_id", "person_id", "contact_id", "rule_id", "code", "values", "details",
    "action", "urgency", "source", "created_at", "active",
)  # fmt: skip
REFERRAL_COLUMNS = (
    "id", "pregnancy_id", "person_id", "from_facility_id", "to_facility_id", "kind",
    "required_level", "reason", "status", "conclusion", "sent_by", "updated_by", "sent_at",
    "accepted_at", "seen_at", "returned_at", "declined_at", "updated_at", "version",
)  # fmt: skip
BIRTH_COLUMNS = (
    "id", "pregnancy_id", "person_id", "born_on", "mode", "ga_days", "facility_id",
    "recorded_by", "recorded_at",
)  # fmt: skip
BABY_COLUMNS = (
    "id", "birth_id", "pregnancy_id", "mother_person_id", "person_id", "birth_order", "outcome",
    "stillbirth_type", "sex", "birth_weight_g", "length_cm", "apgar_1", "apgar_5",
)  # fmt: skip
POSTNATAL_COLUMNS = (
    "id", "pregnancy_id", "person_id", "on", "day", "facility_id", "recorded_by", "recorded_at",
    "systolic", "diastolic", "temperature_c", "pulse", "bleeding", "danger_signs",
    "baby_person_id", "baby_weight_g", "baby_temperature_c", "breastfeeding", "baby_danger_signs",
)  # fmt: skip
DIAGNOSIS_COLUMNS = (
    "id", "pregnancy_id", "person_id", "family", "code", "rule_id", "values", "action",
    "urgency", "source", "first_contact_id", "first_on", "contact_id", "raised_at", "status",
)  # fmt: skip
TABLES = (
    Pregnancy,
    AntenatalContact,
    AdviceItem,
    Referral,
    BirthRecord,
    Baby,
    PostnatalContact,
    Diagnosis,
)
COLUMNS = (
    PREGNANCY_COLUMNS,
    CONTACT_COLUMNS,
    ADVICE_COLUMNS,
    REFERRAL_COLUMNS,
    BIRTH_COLUMNS,
    BABY_COLUMNS,
    POSTNATAL_COLUMNS,
    DIAGNOSIS_COLUMNS,
)


def _at(ordinal: int, hour: int) -> datetime:
    return datetime.combine(date.fromordinal(ordinal), time(hour), tzinfo=UTC)


def _json(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return value


def _weighted(rng: Any, options: tuple[tuple[Any, float], ...]) -> Any:
    r = rng.random() * sum(w for _, w in options)
    for value, w in options:
        r -= w
        if r < 0:
            return value
    return options[-1][0]


class _Network:
    """Where a woman of a district or region gives birth and is referred to."""

    def __init__(self, population: SyntheticPopulation) -> None:
        self.population = population
        perinatal = [f for f in population.facilities if f.perinatal_level]
        self.best_of_region: dict[int, SyntheticFacility] = {}
        self.birth_of_district: dict[int, SyntheticFacility] = {}
        for f in sorted(perinatal, key=lambda f: (-(f.perinatal_level or 0), f.id)):
            self.best_of_region.setdefault(f.region_id, f)
        for f in sorted(perinatal, key=lambda f: (f.perinatal_level or 0, f.id)):
            self.birth_of_district.setdefault(f.district_id, f)
        self.national = (
            max(perinatal, key=lambda f: (f.perinatal_level or 0, -f.id)) if perinatal else None
        )
        self.by_id = {f.id: f for f in population.facilities}

    def place(self, i: int) -> tuple[int | None, int | None, int | None]:
        """(attached facility, settlement, district) of woman ``i``."""
        p = self.population
        fid = p.facility_id[i] or None
        sid = p.settlement_id[i] or None
        if sid is None and fid is not None:
            sid = self.by_id[fid].settlement_id
        district = p.district_of.get(sid) if sid is not None else None
        if district is None and fid is not None:
            district = self.by_id[fid].district_id
        return fid, sid, district

    def centre(self, district: int | None) -> SyntheticFacility | None:
        region = self.population.region_of.get(district) if district is not None else None
        return self.best_of_region.get(region) if region is not None else self.national

    def birth_place(self, district: int | None, care_level: int) -> SyntheticFacility | None:
        local = self.birth_of_district.get(district) if district is not None else None
        if local is not None and (local.perinatal_level or 0) >= care_level:
            return local
        return self.centre(district) or local


class _Generator:
    def __init__(self, ctx: SynthContext, population: SyntheticPopulation) -> None:
        self.ctx = ctx
        self.p = population
        self.rng = ctx.rng("maternal")
        pack = load(ctx.country, "maternal")
        self.pack = pack
        # JSON columns: COPY takes the text (written here once, not once per value)
        pg = ctx.writer.dialect == "postgresql"
        self.js: Any = json.dumps if pg else (lambda v: v)
        self.none: Any = "[]" if pg else []
        self.risks: dict[tuple[Any, ...], tuple[str, int]] = {}
        self.syn: dict[str, Any] = pack["synthetic"]
        self.schedule = sorted(int(w) for w in pack.get("schedule_weeks") or [])
        self.country = ctx.country
        self.today = ctx.as_of.toordinal()
        self.net = _Network(population)
        self.rows: list[list[tuple[Any, ...]]] = [[] for _ in TABLES]
        self.written: list[int] = [0] * len(TABLES)
        self.pending = 0
        self.births: dict[int, tuple[int, int]] = {}
        risks = self.syn["risks"]
        self.p_ght = float(risks["gestational_hypertension"])
        self.p_severe = float(risks["severe_of_hypertension"])
        self.p_gdm = float(risks["gestational_diabetes"])
        self.p_cht = float(risks["chronic_hypertension"])
        self.p_dm = float(risks["diabetes"])
        self.p_hiv = float(risks["hiv"])
        hb = self.syn["haemoglobin_g_l"]
        self.hb_mean, self.hb_sd = float(hb["mean"]), float(hb["sd"])
        self.contact_bands = [(int(a), int(b), float(s)) for a, b, s in self.syn["contacts"]]
        self.early_share = float(self.syn["early_registration_share"])
        self.caesarean = float(self.syn["caesarean_share"])
        self.elective = float(self.syn["elective_share_of_caesarean"])
        self.postnatal_days = [int(d) for d in self.syn["postnatal_days"]]
        self.postnatal_attendance = float(self.syn["postnatal_attendance"])
        #: each mother's children's birth ordinals, sorted (parity and spacing)
        self.kids: dict[int, list[int]] = {}

    # ---- one pregnancy ---------------------------------------------------------------

    def _evaluate(
        self, facts: rules.Facts, held: Sequence[Any] = ()
    ) -> tuple[list[rules.Advice], str, int]:
        """``rules.evaluate`` joined with the standing diagnosis rows ``held``, and
        ``rules.risk``, with the pack read once.

        The same rule functions in the same order; only the pack is not
        re-read (``pack.load`` copies it: 3 ms a pregnancy, the generator's
        largest cost). The risk of each set of codes is asked of ``rules.risk``
        once and remembered.
        """
        fired: list[rules.Advice] = []
        for rule in rules.FACT_RULES:
            fired.extend(rule(facts))
        for pack_rule in rules.PACK_RULES:
            fired.extend(pack_rule(facts, self.pack))
        seen: set[tuple[str, str]] = set()
        advice: list[rules.Advice] = []
        for a in fired:
            if (a.rule_id, a.code) not in seen:
                seen.add((a.rule_id, a.code))
                advice.append(a)
        advice = standing.with_standing(advice, held)
        key = tuple(
            (a.code, tuple(f) if isinstance(f := a.values.get("factors"), list | tuple) else ())
            for a in advice
        )
        found = self.risks.get(key)
        if found is None:
            found = self.risks[key] = rules.risk(advice, self.country)
        return advice, found[0], found[1]

    def _standing(
        self,
        f: rules.Facts,
        pid: int,
        person_id: int,
        contact_ids: list[int],
        at: datetime,
    ) -> list[SimpleNamespace]:
        """The diagnoses her contacts gave, as ``evaluate`` stores them (``standing``)."""
        held = []
        for ch in standing.plan(standing.findings_by_contact(f), [], {}, {}):
            a = ch.advice
            d = SimpleNamespace(
                id=self.ctx.writer.next_id(Diagnosis.__table__),
                family=ch.family,
                code=a.code,
                rule_id=a.rule_id,
                values=_json(a.values),
                action=a.action,
                urgency=a.urgency,
                source=a.source,
                first_contact_id=contact_ids[ch.first_index],
                first_on=f.contacts[ch.first_index].on,
            )
            held.append(d)
            self.rows[7].append(
                (d.id, pid, person_id, d.family, d.code, d.rule_id, self.js(d.values), d.action,
                 d.urgency, d.source, d.first_contact_id, d.first_on,
                 contact_ids[ch.contact_index], at, "active")
            )  # fmt: skip
        return held

    def _contact_days(self, reg_ga: int, end_ga: int) -> list[int]:
        """GA (days) of her contacts: registration, then the schedule's weeks she kept."""
        rng = self.rng
        r = rng.random()
        band = self.contact_bands[-1]
        for band in self.contact_bands:
            r -= band[2]
            if r < 0:
                break
        n = rng.randint(band[0], band[1])
        later = [w * 7 + rng.randint(-5, 5) for w in self.schedule if w * 7 - 5 > reg_ga + 7]
        if len(later) > n - 1:
            later = sorted(rng.sample(later, n - 1)) if n > 1 else []
        else:
            top = max(reg_ga + 15, 280)
            later += [rng.randint(reg_ga + 14, top) for _ in range(n - 1 - len(later))]
        days = sorted({reg_ga, *(d for d in later if reg_ga < d < end_ga)})
        return days

    def pregnancy(
        self,
        i: int,
        lmp: int,
        end: int | None,
        outcome: str | None,
        babies: Sequence[int] = (),
        stillborn: int = 0,
    ) -> None:
        """Write the rows of one pregnancy: ``end`` is the day it closed (None: current)."""
        rng, p, today = self.rng, self.p, self.today
        ctx = self.ctx
        stop = end if end is not None else today + 1
        end_ga = stop - lmp
        reg_ga = rng.randint(42, 90) if rng.random() < self.early_share else rng.randint(91, 180)
        if outcome in ("miscarriage", "termination"):
            reg_ga = min(reg_ga, max(35, end_ga - rng.randint(7, 21)))
        if end is None and reg_ga >= end_ga:
            reg_ga = rng.randint(28, max(28, end_ga - 1))  # registered early, some time ago
        reg_ga = min(reg_ga, end_ga - 1)
        reg_ga = max(reg_ga, 28)
        registered = lmp + reg_ga
        fid, sid, district = self.net.place(i)
        birth = p.birth[i]
        on, born = date.fromordinal(registered), date.fromordinal(birth)
        age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
        kids = self.kids.get(i, [])
        parity = bisect.bisect_left(kids, lmp)
        miscarriages = 1 if rng.random() < 0.1 else 0
        gravida = parity + miscarriages + 1
        prev_cs = parity > 0 and rng.random() < self.caesarean * 0.8
        conditions: list[str] = []
        if rng.random() < self.p_cht:
            conditions.append("chronic_hypertension")
        if rng.random() < self.p_dm:
            conditions.append("diabetes")
        hiv = rng.random() < self.p_hiv
        if hiv:
            conditions.append("hiv")
        # dating: the LMP known for most; an ultrasound at registration before 22 weeks
        lmp_known = rng.random() < 0.85
        scanned = reg_ga < OPTIMAL_SCAN_BEFORE_DAYS and (not lmp_known or rng.random() < 0.8)
        if not lmp_known and not scanned:
            scanned = True
        scan_ga = reg_ga + (rng.randint(-2, 2) if lmp_known else 0) if scanned else None
        edd = lmp + PREGNANCY_DAYS
        # her risks, as the contacts will show them
        ght_from = rng.randint(140, 245) if rng.random() < self.p_ght else 10_000
        severe = ght_from < 10_000 and rng.random() < self.p_severe
        chronic = "chronic_hypertension" in conditions
        gdm = rng.random() < self.p_gdm
        hb = rng.gauss(self.hb_mean, self.hb_sd)
        weight = max(42.0, min(120.0, rng.gauss(62, 10)))
        height = round(max(140.0, min(185.0, rng.gauss(160, 6))), 0)
        pid = self.ctx.writer.next_id(Pregnancy.__table__)
        js, none = self.js, self.none
        contacts_rows = self.rows[1]
        facts: list[rules.ContactFacts] = []
        contact_ids: list[int] = []
        last_id = None
        last_on = registered
        days = self._contact_days(reg_ga, end_ga)
        if end is None and rng.random() < self.syn["current_stopped_coming"]:
            # she has not come for a while: the worklist shows her contact overdue
            gap = end_ga - rng.randint(14, 42)
            days = [d for d in days if d <= gap] or days[:1]
        hb_due = True
        ogtt_due = True
        for n, ga in enumerate(days):
            on = lmp + ga
            if on > today:
                break
            cid = ctx.writer.next_id(AntenatalContact.__table__)
            high = ga >= ght_from or chronic
            if high:
                s1, d1 = rng.randint(140, 158), rng.randint(90, 104)
                if severe and ga >= ght_from:
                    s1, d1 = rng.randint(160, 175), rng.randint(105, 115)
                s2, d2 = s1 - rng.randint(0, 5), d1 - rng.randint(0, 3)
            else:
                s1, d1 = rng.randint(98, 132), rng.randint(60, 84)
                s2 = d2 = None
            protein = "++" if severe and ga >= ght_from and rng.random() < 0.6 else "none"
            late = ga >= rules.RETEST_FROM_DAYS
            test = n == 0 or (late and not any(c.ga_days >= rules.RETEST_FROM_DAYS for c in facts))
            hb_now = None
            if n == 0 or (hb_due and ga >= 168):
                hb_now = int(hb - (5 if ga >= 98 else 0))
                if n > 0:
                    hb_due = False
            fasting = round(rng.gauss(4.4, 0.35), 1) if n == 0 else None
            o1 = o2 = None
            if ogtt_due and 168 <= ga <= 202:
                ogtt_due = False
                if gdm:
                    fasting = round(rng.uniform(5.1, 6.5), 1)
                    o1, o2 = round(rng.uniform(9.0, 11.0), 1), round(rng.uniform(8.5, 10.5), 1)
                else:
                    fasting = round(rng.gauss(4.4, 0.35), 1)
                    o1, o2 = round(rng.uniform(5.5, 9.0), 1), round(rng.uniform(5.0, 7.8), 1)
            fhr = rng.randint(120, 160) if ga >= 140 else None
            fundal = round(ga / 7 + rng.uniform(-2, 2), 1) if ga >= 140 else None
            us = (n == 0 and scanned) or (140 <= ga < 154)
            w = round(weight + max(0, ga - 91) * 0.06, 1)
            contacts_rows.append(
                (cid, pid, p.person_id[i], date.fromordinal(on), ga, fid, BY, _at(on, 10),
                 s1, d1, s2, d2, 36.6, rng.randint(70, 96), fhr, False, fundal, w,
                 height if n == 0 else None, protein, hb_now, False, fasting, o1, o2, none, none,
                 False, us, test, test, hiv)
            )  # fmt: skip
            facts.append(
                rules.ContactFacts(
                    on=date.fromordinal(on),
                    ga_days=ga,
                    systolic=(s1,) if s2 is None else (s1, s2),
                    diastolic=(d1,) if d2 is None else (d1, d2),
                    temperature_c=(36.6,),
                    fetal_heart_rate=(fhr,) if fhr else (),
                    urine_protein=protein,
                    haemoglobin_g_l=hb_now,
                    fasting_glucose_mmol_l=fasting,
                    ogtt_1h_mmol_l=o1,
                    ogtt_2h_mmol_l=o2,
                    ultrasound_done=us,
                    hiv_test_done=test,
                    syphilis_test_done=test,
                    hiv_positive=hiv,
                )
            )
            contact_ids.append(cid)
            last_id, last_on = cid, on
        # the evaluation as the register stores it: as of today, or of the day it closed
        evaluated = min(today, end) if end is not None else today
        f = rules.Facts(
            today=date.fromordinal(evaluated),
            age_years=age,
            ga_days=evaluated - lmp,
            gravida=gravida,
            parity=parity,
            previous_caesarean=prev_cs,
            multiple_pregnancy=len(babies) + stillborn > 1,
            conditions=frozenset(conditions),
            contacts=tuple(facts),
            first_contact_on=facts[0].on if facts else None,
        )
        evaluated_at = _at(last_on, 11)
        held = self._standing(f, pid, p.person_id[i], contact_ids, evaluated_at)
        advice, risk, care = self._evaluate(f, held)
        for a in advice:
            self.rows[2].append(
                (ctx.writer.next_id(AdviceItem.__table__), pid, p.person_id[i], last_id,
                 a.rule_id, a.code, js(_json(a.values)), js(_json(a.details)), a.action, a.urgency,
                 a.source, evaluated_at, True)
            )  # fmt: skip
        # referral of a high-risk woman to the region's perinatal care
        centre = self.net.centre(district)
        if risk == "high" and centre is not None and rng.random() < self.syn["referral_share"]:
            self._referral(pid, i, fid, centre, care, last_on, end)
        planned = None
        place = self.net.birth_place(district, care)
        if place is not None:
            if end is None:
                late = end_ga >= BIRTH_PLAN_FROM_DAYS
                plan = rng.random() < (self.syn["birth_plan_share"] if late else 0.2)
            else:
                plan = outcome in ("live_birth", "stillbirth")
            planned = place.id if plan else None
        opened = _at(registered, 10)
        self.rows[0].append(
            (pid, p.person_id[i], "current" if end is None else "closed",
             date.fromordinal(registered), age, date.fromordinal(lmp) if lmp_known else None,
             date.fromordinal(registered) if scanned else None, scan_ga,
             date.fromordinal(edd), "lmp" if lmp_known else "ultrasound",
             scan_ga is None or scan_ga >= OPTIMAL_SCAN_BEFORE_DAYS,
             abs(scan_ga - reg_ga) if lmp_known and scan_ga is not None else None,
             gravida, parity, prev_cs, False, False, False, False, False, 0, miscarriages,
             len(babies) + stillborn > 1, js(conditions), fid, sid, BY, risk, care, evaluated_at,
             opened, date.fromordinal(end) if end is not None else None, outcome, planned, 1,
             opened, _at(end if end is not None else last_on, 12))
        )  # fmt: skip
        if outcome in ("live_birth", "stillbirth") and end is not None:
            self._birth(pid, i, end, end - lmp, place, babies, stillborn, rng)
        self.pending += 1
        if self.pending >= FLUSH_EVERY:
            self.flush()

    def _referral(
        self,
        pid: int,
        i: int,
        fid: int | None,
        centre: SyntheticFacility,
        care: int,
        last_on: int,
        end: int | None,
    ) -> None:
        """Sent at the contact that found her at high risk; answered, waiting or declined.

        Sent yesterday or today: still waiting (the clock decides whether it is
        over 24 hours). Older: answered (accepted, seen or returned), still
        waiting (the dashboard's "pending over 24 h"), or declined, in the
        pack's shares. A closed pregnancy's referral was returned.
        """
        rng, today, syn = self.rng, self.today, self.syn
        sent_at = _at(last_on, 12)
        cap = _at(today, 9)
        accepted = seen = returned = declined = None
        r = rng.random()
        if end is None and last_on >= today - 1:
            status = "sent"
        elif end is not None or r < syn["referral_answered"]:
            status = "returned" if end is not None else rng.choice(("accepted", "seen", "returned"))
            accepted = min(cap, sent_at + timedelta(hours=rng.randint(2, 20)))
            if status in ("seen", "returned"):
                seen = min(cap, accepted + timedelta(days=rng.randint(1, 5)))
            if status == "returned":
                returned = min(cap, (seen or accepted) + timedelta(hours=rng.randint(1, 6)))
        elif r < syn["referral_answered"] + syn["referral_pending_over_24h"]:
            status = "sent"
        else:
            status = "declined"
            declined = min(cap, sent_at + timedelta(hours=rng.randint(2, 30)))
        latest = max(t for t in (sent_at, accepted, seen, returned, declined) if t is not None)
        self.rows[3].append(
            (self.ctx.writer.next_id(Referral.__table__), pid, self.p.person_id[i], fid,
             centre.id, "perinatal", min(max(care, 1), centre.perinatal_level or 3),
             "High-risk pregnancy: assessment at the perinatal centre", status,
             "Seen; continue antenatal care with the plan given" if returned
             else "No place at the required level this week; refer again" if declined else None,
             BY, BY, sent_at, accepted, seen, returned, declined, latest, 1)
        )  # fmt: skip

    def _birth(
        self,
        pid: int,
        i: int,
        day: int,
        ga: int,
        place: SyntheticFacility | None,
        babies: Sequence[int],
        stillborn: int,
        rng: Any,
    ) -> None:
        p, w = self.p, self.ctx.writer
        bid = w.next_id(BirthRecord.__table__)
        mother = p.person_id[i]
        if rng.random() < self.caesarean or (len(babies) + stillborn > 1 and rng.random() < 0.5):
            mode = "caesarean_elective" if rng.random() < self.elective else "caesarean_emergency"
        else:
            mode = "vacuum" if rng.random() < 0.02 else "spontaneous_vaginal"
        at = _at(day, 14)
        self.rows[4].append(
            (bid, pid, mother, date.fromordinal(day), mode, ga, place.id if place else None, BY, at)
        )
        weeks = ga // 7
        median = WEIGHT_BY_WEEK[min(max(weeks, 22), 42)] * (0.9 if len(babies) > 1 else 1.0)
        order = 0
        first_baby = None
        first_weight = 0
        for c in babies:
            order += 1
            sex = "female" if p.sex[c] else "male"
            grams = int(rng.gauss(median - (100 if p.sex[c] else 0), median * 0.12))
            grams = max(400, min(5600, grams))
            apgar5 = rng.randint(8, 10) if weeks >= 37 else rng.randint(5, 9)
            self.rows[5].append(
                (w.next_id(Baby.__table__), bid, pid, mother, p.person_id[c], order, "live", None,
                 sex, grams, round(30 + grams * 0.0058, 1), max(0, apgar5 - rng.randint(0, 2)),
                 apgar5)
            )  # fmt: skip
            self.births[c] = (grams, weeks)
            if first_baby is None:
                first_baby, first_weight = c, grams
        for _ in range(stillborn):
            order += 1
            grams = max(300, min(5000, int(rng.gauss(median * 0.85, median * 0.15))))
            self.rows[5].append(
                (w.next_id(Baby.__table__), bid, pid, mother, None, order, "stillbirth",
                 rng.choice(("fresh", "macerated")), rng.choice(("male", "female")), grams,
                 None, 0, 0)
            )  # fmt: skip
        if first_baby is None:
            return
        fid = p.facility_id[i] or None
        for d in self.postnatal_days:
            on = day + d
            if on > self.today or rng.random() >= self.postnatal_attendance:
                continue
            baby_g = first_weight - first_weight // 20 if d <= 7 else first_weight + 25 * (d - 10)
            heavy = rng.random() < 0.01
            self.rows[6].append(
                (w.next_id(PostnatalContact.__table__), pid, mother, date.fromordinal(on), d,
                 fid if d > 2 else (place.id if place else fid), BY, _at(on, 11),
                 rng.randint(100, 130), rng.randint(60, 85), 36.7, rng.randint(68, 92),
                 "heavy" if heavy else "normal", self.none, p.person_id[first_baby], baby_g,
                 36.8, rng.random() < 0.95, self.none)
            )  # fmt: skip

    def flush(self) -> None:
        for k, (table, columns) in enumerate(zip(TABLES, COLUMNS, strict=True)):
            if self.rows[k]:
                self.written[k] += self.ctx.writer.write(table.__table__, columns, self.rows[k])
                self.rows[k] = []
        self.pending = 0


def synthesize_pregnancies(
    ctx: SynthContext, population: SyntheticPopulation
) -> dict[int, tuple[int, int]]:
    """Write the population's pregnancies; return ``{child index: (grams, weeks)}`` of births.

    Only original records (not injected duplicates) get pregnancies, as a real
    woman's history sits on one record.
    """
    g = _Generator(ctx, population)
    p, rng, today = population, g.rng, g.today
    n = len(p)
    # each mother's children, and the births of the last two years grouped by delivery
    deliveries: dict[tuple[int, int], list[int]] = {}
    for c in range(n):
        m = p.mother[c]
        if m < 0 or p.is_duplicate[c] or p.is_duplicate[m]:
            continue
        g.kids.setdefault(m, []).append(p.birth[c])
        if today - p.birth[c] < BIRTHS_WITHIN_DAYS and p.birth[c] <= today:
            deliveries.setdefault((m, p.birth[c]), []).append(c)
    for kids in g.kids.values():
        kids.sort()
    annual = sum(1 for c in range(n) if not p.is_duplicate[c] and 0 <= today - p.birth[c] < 365)
    preterm = float(g.syn["preterm_share"])
    tables = [t.__tablename__ for t in TABLES]
    task = ctx.progress.start("pregnancies", len(deliveries) + int(annual * 0.9) + 1)
    with ctx.writer.deferred(tables):
        # births: the pregnancy that ended on the child's birthday
        last_end: dict[int, int] = {}
        for (m, born), kids in sorted(deliveries.items()):
            weeks = (
                _weighted(rng, PRETERM_WEEKS)
                if rng.random() < preterm
                else _weighted(rng, TERM_WEEKS)
            )
            if len(kids) > 1:
                weeks = min(weeks, 37)
            ga = weeks * 7 + rng.randint(0, 6)
            lmp = born - ga
            age_at_lmp = (lmp - p.birth[m]) // 365
            if not 12 <= age_at_lmp <= 55 or lmp < last_end.get(m, 0) + 42:
                continue
            if p.deceased[m] and p.deceased[m] < born:
                continue
            g.pregnancy(m, lmp, born, "live_birth", kids)
            last_end[m] = born
            task(1)
        births_in_period = len(g.births)
        # women who may be pregnant now or lost a pregnancy: alive, 15-49, no recent birth
        weights = [float(x) for x in g.syn["fertility_by_age"]]
        eligible: list[tuple[int, float]] = []
        for i in range(n):
            if not p.sex[i] or p.deceased[i] or p.is_duplicate[i]:
                continue
            age = (today - p.birth[i]) // 365
            if not 15 <= age <= 49:
                continue
            kids = g.kids.get(i)
            if kids and kids[-1] > today - 400:
                continue
            eligible.append((i, weights[min((age - 15) // 5, len(weights) - 1)]))
        total_w = sum(w for _, w in eligible) or 1.0
        current_target = annual * float(g.syn["current_per_annual_birth"])
        others = dict(g.syn["other_outcomes"])
        # stillbirths at the population pack's rate (per 1,000 total births, >= 28 weeks),
        # and those of 22-27 weeks on top (about 3 for every 10 later ones; UNVERIFIED)
        still = float(load(ctx.country, "population")["vital"]["stillbirth_rate"]) / 1000
        others["stillbirth"] = still / (1 - still) * (1 + EARLY_STILLBIRTHS)
        other_target = births_in_period * sum(float(v) for v in others.values())
        for i, w in eligible:
            r = rng.random() * total_w
            if r < current_target * w:
                ga = rng.randint(28, 41 * 7 - 1)
                g.pregnancy(i, today - ga, None, None)
                task(1)
            elif r < (current_target + other_target) * w:
                outcome = _weighted(rng, tuple((k, float(v)) for k, v in others.items()))
                end = today - rng.randint(1, BIRTHS_WITHIN_DAYS - 1)
                if outcome == "miscarriage":
                    ga = rng.randint(8 * 7, 22 * 7 - 1)
                elif outcome == "termination":
                    ga = rng.randint(6 * 7, 12 * 7)
                elif rng.random() < EARLY_STILLBIRTHS / (1 + EARLY_STILLBIRTHS):
                    ga = rng.randint(22 * 7, 28 * 7 - 1)
                else:
                    ga = rng.randint(28 * 7, 40 * 7)
                kids = g.kids.get(i)
                if kids and end - ga < kids[-1] + 42:
                    continue
                if outcome == "stillbirth":
                    g.pregnancy(i, end - ga, end, "stillbirth", [], 1)
                else:
                    g.pregnancy(i, end - ga, end, str(outcome))
        g.flush()
    for table, count in zip(TABLES, g.written, strict=True):
        ctx.count(table.__tablename__, count)
    return g.births
