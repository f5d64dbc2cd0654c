"""Synthetic prescriptions, dispensings and reimbursement claims (salomat synth).

Adults treated for chronic conditions on the pack's reimbursement list
(hypertension, type 2 diabetes, asthma, ...; prevalence by age band in the
pack's ``synthetic`` section) get a monthly reimbursed prescription per INN
over the last 12 months from a doctor of the facility they are attached to,
dispensed at a pharmacy of their district in one or two visits; each
reimbursed dispensing is a line of the pharmacy's claim for the month. Some
adults get one non-reimbursed acute prescription. Everything is computed as
the application computes it: quantity (``quantity_units``), validity (the
pack's types), the fund's share and the co-payment (``dispensing_amounts``).

Statuses agree with the dates as of the run's day: a prescription past its
validity that was not fully dispensed is ``expired``, one dispensed in full
``dispensed``, the current month's still open one ``active`` (at most one
per person and INN: the next is issued only after the last one lapsed).
Nothing a claim rule would flag is made: dispensings fall within validity,
before a death, and at no more than two pharmacies per patient.

Codes are unique without a lookup: the k-th prescription's code is
``(k * A + B) mod 31^10`` written in the code alphabet, with ``A`` (prime to
31) and ``B`` drawn from the run's seed: a bijection, so no two collide.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_right
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import text

from salomat.core.synth import SynthContext
from salomat.country import pack
from salomat.domains.prescription.models import (
    Claim,
    ClaimLine,
    Dispensing,
    Medicine,
    Prescription,
)
from salomat.domains.prescription.service.dispensing import PHARMACY_KIND, dispensing_amounts
from salomat.domains.prescription.service.formulary import (
    PrescriptionRules,
    check_formulary_csv,
    diagnosis_qualifies,
    prescription_rules,
)
from salomat.domains.prescription.service.prescribing import (
    CODE_ALPHABET,
    CODE_LENGTH,
    quantity_units,
)
from salomat.domains.registry.schemas import SyntheticPopulation

__all__ = ["synthesize_prescriptions", "synthetic_prescriber"]

#: people handled per batch of COPY (prescriptions first, then their dispensings)
BATCH = 20_000
_ISSUE_HOUR = time(5, tzinfo=UTC)
_BASE = len(CODE_ALPHABET)
_SPACE = _BASE**CODE_LENGTH


def synthetic_prescriber(practitioner_id: int) -> str:
    """The ``prescriber_username`` of a synthetic prescription (practitioners have no account)."""
    return f"synth-doctor-{practitioner_id}"


def _code(n: int) -> str:
    chars = []
    for _ in range(CODE_LENGTH):
        n, r = divmod(n, _BASE)
        chars.append(CODE_ALPHABET[r])
    raw = "".join(chars)
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def _formulary(ctx: SynthContext, rules: PrescriptionRules) -> dict[str, tuple[int, int, int]]:
    """INN -> (medicine id, units per package, reference price): the first package per INN.

    Loads the pack's formulary file (checked by the import's own parser) when
    the table is empty.
    """
    engine = ctx.writer.engine
    query = text(
        "SELECT id, inn, units_per_package, reference_price FROM medicine "
        "WHERE active ORDER BY code"
    )
    with engine.connect() as c:
        found = c.execute(query).all()
    if not found and rules.formulary_file:
        csv_text = (pack.PACKS_DIR / rules.country / rules.formulary_file).read_text("utf-8")
        rows, errors = check_formulary_csv(csv_text)
        if errors:
            raise pack.PackError(f"{rules.country}/{rules.formulary_file}: {errors[0]}")
        table = Medicine.__table__
        first = ctx.writer.next_id(table, len(rows))  # type: ignore[arg-type]
        now = datetime.combine(ctx.as_of, _ISSUE_HOUR)
        columns = ("id", *rows[0].keys(), "active", "updated_at")
        ctx.writer.write(
            table,  # type: ignore[arg-type]
            columns,
            [(first + k, *r.values(), True, now) for k, r in enumerate(rows)],
        )
        ctx.count("medicine", len(rows))
        with engine.connect() as c:
            found = c.execute(query).all()
    out: dict[str, tuple[int, int, int]] = {}
    for mid, inn, upp, price in found:
        out.setdefault(inn, (int(mid), int(upp), int(price)))
    return out


def _by_age(bands: dict[Any, float]) -> list[float]:
    """Probability by age in years (0..120) from ``{lower bound: share}``."""
    bounds = sorted((int(k), float(v)) for k, v in bands.items())
    lows = [b for b, _ in bounds]
    return [bounds[k - 1][1] if (k := bisect_right(lows, age)) else 0.0 for age in range(121)]


def synthesize_prescriptions(ctx: SynthContext, population: SyntheticPopulation) -> dict[str, int]:
    """Write medicines (if none), prescriptions, dispensings, claims and claim lines."""
    rules = prescription_rules(ctx.country)
    cfg = pack.load(ctx.country, "prescription").get("synthetic")
    if not cfg:
        raise pack.PackError(f"{ctx.country}/prescription.yaml has no synthetic section")
    rng = ctx.rng("prescription")
    random, bits, randrange = rng.random, rng.getrandbits, rng.randrange
    medicines = _formulary(ctx, rules)
    as_of = ctx.as_of.toordinal()
    window = as_of - 365
    chronic_type = rules.types["reimbursed"]
    acute_type = rules.types["regular"]
    step_low, step_high = (int(x) for x in cfg["interval_days"])

    # conditions: (probability by age, diagnosis, [(cumulative share, [item, ...])])
    conditions = []
    for cond in cfg["conditions"]:
        regimens, total = [], 0.0
        for reg in cond["regimens"]:
            total += float(reg["share"])
            items = []
            for it in reg["items"]:
                inn = it["inn"]
                rule = rules.reimbursement.get(inn)
                if rule is None or not diagnosis_qualifies(cond["diagnosis"], rule.diagnoses):
                    raise pack.PackError(
                        f"synthetic condition {cond['code']}: {inn} is not reimbursed "
                        f"for {cond['diagnosis']}"
                    )
                if inn not in medicines:
                    raise pack.PackError(f"synthetic condition {cond['code']}: no {inn} package")
                qty = quantity_units(it["dose_units"], it["times_per_day"], it["days"])
                if qty * math.ceil(rule.period_days / step_low) > rule.max_units:
                    raise pack.PackError(
                        f"synthetic {inn}: {qty} units every {step_low} days pass the limit "
                        f"of {rule.max_units} per {rule.period_days} days"
                    )
                mid, upp, ref = medicines[inn]
                items.append(
                    (
                        inn,
                        mid,
                        upp,
                        ref,
                        float(it["dose_units"]),
                        int(it["times_per_day"]),
                        int(it["days"]),
                        qty,
                        rule.rate_pct,
                    )
                )
            regimens.append((total, items))
        conditions.append((_by_age(cond["prevalence"]), cond["diagnosis"], regimens))
    acute = []
    total = 0.0
    for it in cfg["acute"]:
        total += float(it["share"])
        mid, upp, ref = medicines[it["inn"]]
        qty = quantity_units(it["dose_units"], it["times_per_day"], it["days"])
        acute.append(
            (
                total,
                (
                    it["inn"],
                    mid,
                    upp,
                    ref,
                    float(it["dose_units"]),
                    int(it["times_per_day"]),
                    int(it["days"]),
                    qty,
                    0,
                ),
                it.get("diagnosis"),
            )
        )

    # pharmacies by district (else region, else all), each with its own prices
    pharmacies = [f for f in population.facilities if f.kind == PHARMACY_KIND]
    low, high = (float(x) for x in cfg["markup"])
    price_of: dict[tuple[int, int], int] = {}
    for ph in pharmacies:
        markup = low + (high - low) * random()
        for mid, _upp, ref in medicines.values():
            price_of[(ph.id, mid)] = round(ref * markup)
    by_district: dict[int, list[int]] = {}
    by_region: dict[int, list[int]] = {}
    for ph in pharmacies:
        by_district.setdefault(ph.district_id, []).append(ph.id)
        by_region.setdefault(ph.region_id, []).append(ph.id)
    all_pharmacies = [ph.id for ph in pharmacies]
    staff = {f.id: f.practitioners for f in population.facilities if f.practitioners}

    not_dispensed = float(cfg["not_dispensed"])
    two_visits = not_dispensed + float(cfg["two_visits"])
    partial = two_visits + float(cfg["partial"])
    cancelled = float(cfg["cancelled"])
    delay_max = int(cfg["dispensing_delay_max"])
    second_share = float(cfg["second_pharmacy"])
    acute_share = float(cfg["acute_share"])

    code_a = randrange(_SPACE // 3, _SPACE)
    if code_a % _BASE == 0:
        code_a += 1
    code_b = randrange(_SPACE)

    w = ctx.writer
    rx_table, d_table = Prescription.__table__, Dispensing.__table__
    rx_next = w.next_id(rx_table, 0)  # type: ignore[arg-type]
    d_next = w.next_id(d_table, 0)  # type: ignore[arg-type]
    code_k = rx_next
    claims: dict[tuple[int, int], int] = {}
    claim_next = w.next_id(Claim.__table__, 0)  # type: ignore[arg-type]
    line_claim, line_disp, line_person, line_amount = (array("q") for _ in range(4))

    dates: dict[int, date] = {}

    def day(o: int) -> date:
        d = dates.get(o)
        if d is None:
            d = dates[o] = date.fromordinal(o)
        return d

    rx_columns = (
        "id",
        "code",
        "person_id",
        "inn",
        "medicine_id",
        "diagnosis",
        "reimbursed",
        "reimbursement_pct",
        "kind",
        "dose_units",
        "times_per_day",
        "days",
        "quantity_units",
        "dispensed_units",
        "status",
        "issued_on",
        "valid_until",
        "facility_id",
        "prescriber_username",
        "practitioner_id",
        "cancelled_at",
        "cancel_reason",
        "created_at",
        "updated_at",
        "source",
        "version",
    )
    d_columns = (
        "id",
        "prescription_id",
        "person_id",
        "facility_id",
        "pharmacist_username",
        "medicine_id",
        "units",
        "packages",
        "price",
        "reimbursed_amount",
        "copayment",
        "dispensed_at",
    )
    rx_rows: list[tuple[Any, ...]] = []
    d_rows: list[tuple[Any, ...]] = []
    written = {"prescription": 0, "dispensing": 0}

    def flush() -> None:
        written["prescription"] += w.write(rx_table, rx_columns, rx_rows)  # type: ignore[arg-type]
        written["dispensing"] += w.write(d_table, d_columns, d_rows)  # type: ignore[arg-type]
        rx_rows.clear()
        d_rows.clear()

    def prescribe(
        pid: int,
        item: tuple[Any, ...],
        diagnosis: str | None,
        reimbursed: bool,
        kind: str,
        validity: int,
        issued: int,
        last_day: int,
        facility: int,
        doctor: int,
        home: int,
        other: int,
    ) -> None:
        """One prescription and its dispensings (``last_day``: the last day anything happens)."""
        nonlocal rx_next, d_next, code_k, claim_next
        inn, mid, upp, _ref, dose, times, days, qty, pct = item
        rx_id = rx_next
        rx_next += 1
        code = _code((code_k * code_a + code_b) % _SPACE)
        code_k += 1
        until = issued + validity - 1
        end = min(until, last_day)
        given = 0
        changed = issued
        status = "active"
        cancelled_at = cancel_reason = None
        u = random()
        if random() < cancelled and issued + 1 <= last_day:
            status = "cancelled"
            changed = issued + 1
            cancel_reason = "Treatment changed"
            cancelled_at = datetime.combine(day(changed), _ISSUE_HOUR) + timedelta(hours=4)
        elif u >= not_dispensed:
            first = issued + randrange(delay_max + 1)
            if first <= end:
                visits = [(first, qty)]
                if u < two_visits:
                    second = first + 7 + randrange(8)
                    half = (qty + 1) // 2
                    visits = [(first, half)] + ([(second, qty - half)] if second <= end else [])
                elif u < partial:
                    visits = [(first, max(1, qty // 2))]
                for on, units in visits:
                    if units <= 0:
                        continue
                    pharmacy = other if (other and random() < 0.3) else home
                    price, fund, copay = dispensing_amounts(
                        price_of[(pharmacy, mid)], _ref, units, upp, pct if reimbursed else 0
                    )
                    at = datetime.combine(day(on), _ISSUE_HOUR) + timedelta(
                        hours=1 + bits(3), minutes=bits(6) % 60
                    )
                    d_rows.append(
                        (
                            d_next,
                            rx_id,
                            pid,
                            pharmacy,
                            f"synth-pharmacist-{pharmacy}",
                            mid,
                            units,
                            round(units / upp, 4),
                            price,
                            fund,
                            copay,
                            at,
                        )
                    )
                    if reimbursed:
                        d_on = day(on)
                        key = (pharmacy, d_on.year * 12 + d_on.month - 1)
                        claim = claims.get(key)
                        if claim is None:
                            claim = claims[key] = claim_next
                            claim_next += 1
                        line_claim.append(claim)
                        line_disp.append(d_next)
                        line_person.append(pid)
                        line_amount.append(fund)
                    d_next += 1
                    given += units
                    changed = on
        if status != "cancelled":
            if given >= qty:
                status = "dispensed"
            elif until < as_of:
                status = "expired"
        created = datetime.combine(day(issued), _ISSUE_HOUR)
        rx_rows.append(
            (
                rx_id,
                code,
                pid,
                inn,
                mid,
                diagnosis,
                reimbursed,
                pct if reimbursed else 0,
                kind,
                dose,
                times,
                days,
                qty,
                given,
                status,
                day(issued),
                day(until),
                facility,
                synthetic_prescriber(doctor),
                doctor,
                cancelled_at,
                cancel_reason,
                created,
                created if changed == issued else datetime.combine(day(changed), _ISSUE_HOUR),
                "local",
                1,
            )
        )

    n = len(population)
    advance = ctx.progress.start("prescriptions: people", n)
    pids, births, dead, dup = (
        population.person_id,
        population.birth,
        population.deceased,
        population.is_duplicate,
    )
    fac, settlement = population.facility_id, population.settlement_id
    adult = ctx.as_of.replace(year=ctx.as_of.year - 18).toordinal()
    district_of, region_of = population.district_of, population.region_of
    with w.deferred(["prescription", "dispensing", "reimbursement_claim_line"]):
        for i in range(n):
            if i % BATCH == BATCH - 1:
                flush()
                advance(BATCH)
            b = births[i]
            if dup[i] or b > adult:
                continue
            died = dead[i]
            if died and died <= window + 1:
                continue
            facility = fac[i]
            doctors = staff.get(facility)
            if not doctors:
                continue
            age = min((as_of - b) // 365, 120)
            regimen: dict[str, tuple[tuple[Any, ...], str]] = {}
            for probability, diagnosis, regimens in conditions:
                if random() < probability[age]:
                    pick = random() * regimens[-1][0]
                    for cumulative, items in regimens:
                        if pick <= cumulative:
                            for item in items:
                                regimen.setdefault(item[0], (item, diagnosis))
                            break
            has_acute = random() < acute_share
            if not regimen and not has_acute:
                continue
            pid = pids[i]
            doctor = doctors[bits(16) % len(doctors)]
            district = district_of.get(settlement[i], 0)
            local = (
                by_district.get(district)
                or by_region.get(region_of.get(district, 0), [])
                or all_pharmacies
            )
            if not local:
                continue
            home = local[bits(16) % len(local)]
            other = 0
            if len(local) > 1 and random() < second_share:
                other = local[bits(16) % len(local)]
                other = 0 if other == home else other
            last_day = min(as_of, died - 1) if died else as_of
            if regimen:
                issued = window + randrange(step_high)
                while issued <= last_day:
                    for item, diagnosis in regimen.values():
                        prescribe(
                            pid,
                            item,
                            diagnosis,
                            True,
                            chronic_type.name,
                            chronic_type.validity_days,
                            issued,
                            last_day,
                            facility,
                            doctor,
                            home,
                            other,
                        )
                    issued += step_low + randrange(step_high - step_low + 1)
            if has_acute:
                pick = random() * acute[-1][0]
                item, diagnosis = next((it, dg) for c, it, dg in acute if pick <= c)
                issued = last_day - randrange(365)
                if issued > window:
                    prescribe(
                        pid,
                        item,
                        diagnosis,
                        False,
                        acute_type.name,
                        acute_type.validity_days,
                        issued,
                        last_day,
                        facility,
                        doctor,
                        home,
                        0,
                    )
        flush()
        advance(n % BATCH)
        w.next_id(rx_table, rx_next - w.next_id(rx_table, 0))  # type: ignore[arg-type]
        w.next_id(d_table, d_next - w.next_id(d_table, 0))  # type: ignore[arg-type]

        # the claims: months before the run's month submitted, the current one open
        current = ctx.as_of.year * 12 + ctx.as_of.month - 1
        claim_rows = []
        for (pharmacy, month), claim_id in claims.items():
            first_day = date(month // 12, month % 12 + 1, 1)
            submitted = None
            if month < current:
                after = date((month + 1) // 12, (month + 1) % 12 + 1, 5)
                submitted = datetime.combine(after, _ISSUE_HOUR)
            claim_rows.append(
                (claim_id, pharmacy, first_day, "submitted" if submitted else "open", submitted, 1)
            )
        claim_table = Claim.__table__
        w.write(
            claim_table,  # type: ignore[arg-type]
            ("id", "facility_id", "month", "status", "submitted_at", "version"),
            claim_rows,
        )
        w.next_id(claim_table, len(claim_rows))  # type: ignore[arg-type]
        line_table = ClaimLine.__table__
        line_first = w.next_id(line_table, len(line_claim))  # type: ignore[arg-type]
        w.write(
            line_table,  # type: ignore[arg-type]
            ("id", "claim_id", "dispensing_id", "person_id", "amount", "status", "flags"),
            (
                (
                    line_first + k,
                    line_claim[k],
                    line_disp[k],
                    line_person[k],
                    line_amount[k],
                    "entered",
                    [],
                )
                for k in range(len(line_claim))
            ),
        )
    counts = {
        "prescription": written["prescription"],
        "dispensing": written["dispensing"],
        "reimbursement_claim": len(claim_rows),
        "reimbursement_claim_line": len(line_claim),
    }
    for table_name, count in counts.items():
        ctx.count(table_name, count)
    return counts
