"""Claims to the fund: one per pharmacy and month, one line per reimbursed dispensing.

Each ``MedicineDispensed`` (published by ``dispensing`` in its transaction)
adds a line with the fund's share to the pharmacy's claim for the month of the
dispensing (local time of the country), creating the claim on the first
dispensing; under a race the unique index on (pharmacy, month) decides and
the loser re-reads the winner's claim. The anomaly rules then run on the
line; each that fires adds ``{rule, reason}`` and sets the line ``flagged``
for the fund's reviewer. Rules never refuse a dispensing: they only ask a
person to look.

The rules are data (the country pack's ``prescription_rules.yaml``) and the
small pure functions below, each tested at its boundary. The prescriber
outlier rule compares a month's prescribers with each other, so it is a
batch (``flag_outliers``) rather than a per-dispensing check.

Reading, submitting and reviewing claims: ``claim_review``.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import events
from salomat.core.config import get_settings
from salomat.core.errors import Conflict, FieldError, Invalid, NotFound
from salomat.country import pack
from salomat.domains.insurance.service.settlement import record_pharmacy_claim
from salomat.domains.prescription.models import (
    Claim,
    ClaimLine,
    Dispensing,
    Prescription,
)
from salomat.domains.prescription.schemas import (
    ClaimFlag,
)
from salomat.domains.prescription.service.dispensing import MedicineDispensed
from salomat.domains.registry import service as registry

__all__ = [
    "RULES",
    "after_death",
    "claim_month",
    "flag_outliers",
    "local_day",
    "lock_claims",
    "many_pharmacies",
    "on_medicine_dispensed",
    "outside_validity",
    "parse_month",
    "prescriber_outliers",
    "report_to_fund",
    "rules_config",
]

#: the rules a line can carry (``late``: the line came after its claim was submitted)
RULES = ("after_death", "many_pharmacies", "prescriber_outlier", "outside_validity", "late")
RESOURCE = "Claim"
#: most lines one worklist answer holds
WORKLIST_LIMIT = 500


# ---- the rules: data and pure functions ------------------------------------------------


def rules_config(country: str | None = None) -> dict[str, Any]:
    """The country pack's thresholds (``prescription_rules.yaml``)."""
    return pack.load(country or get_settings().country, "prescription_rules")


def _enabled(cfg: dict[str, Any], rule: str) -> bool:
    return bool(cfg.get(rule, {}).get("enabled", True))


def local_day(when: datetime, country: str | None = None) -> date:
    """The calendar day of an instant in the country's time zone (the pack's ``timezone``)."""
    tz = ZoneInfo(str(pack.load(country or get_settings().country)["timezone"]))
    return when.astimezone(tz).date()


def claim_month(day: date) -> date:
    """The month a day is claimed in: its first day."""
    return day.replace(day=1)


def parse_month(value: str, field: str = "month") -> date:
    """``YYYY-MM`` (or a full date) as the month's first day; else ``Invalid`` naming the field."""
    try:
        parts = [int(p) for p in value.strip().split("-")]
        return date(parts[0], parts[1], 1)
    except (ValueError, IndexError):
        raise Invalid.fields([FieldError(field, "must be a month as YYYY-MM")]) from None


def after_death(dispensed_on: date, deceased_on: date | None) -> ClaimFlag | None:
    """Dispensed on or after the registry's date of death (a date has no hour: from that day)."""
    if deceased_on is None or dispensed_on < deceased_on:
        return None
    return ClaimFlag(
        rule="after_death",
        reason=f"dispensed on {dispensed_on:%d.%m.%Y}; the registry records the patient's "
        f"death on {deceased_on:%d.%m.%Y}",
    )


def many_pharmacies(
    dispensed_on: date,
    facility_id: int,
    earlier: Iterable[tuple[int, date]],
    *,
    min_pharmacies: int,
    window_days: int,
) -> ClaimFlag | None:
    """The same INN for one patient at ``min_pharmacies`` pharmacies within ``window_days``.

    ``earlier``: (pharmacy, day) of the patient's other dispensings of the INN.
    Counted: this pharmacy and those with a dispensing at most ``window_days``
    days before this one.
    """
    start = dispensed_on - timedelta(days=window_days)
    places = {facility_id} | {f for f, day in earlier if start <= day <= dispensed_on}
    if len(places) < min_pharmacies:
        return None
    return ClaimFlag(
        rule="many_pharmacies",
        reason=f"the same INN dispensed to this patient at {len(places)} pharmacies within "
        f"{window_days} days (threshold {min_pharmacies})",
    )


def outside_validity(dispensed_on: date, issued_on: date, valid_until: date) -> ClaimFlag | None:
    """Dispensed before the prescription was issued or after its last valid day."""
    if dispensed_on < issued_on:
        return ClaimFlag(
            rule="outside_validity",
            reason=f"dispensed on {dispensed_on:%d.%m.%Y}, before the prescription was issued "
            f"on {issued_on:%d.%m.%Y}",
        )
    if dispensed_on > valid_until:
        return ClaimFlag(
            rule="outside_validity",
            reason=f"dispensed on {dispensed_on:%d.%m.%Y}, after the prescription's validity "
            f"ended on {valid_until:%d.%m.%Y}",
        )
    return None


@dataclass(frozen=True)
class Outlier:
    prescriber: str
    count: int
    median: float
    k: float


def prescriber_outliers(
    counts_by_group: dict[str, dict[str, int]],
    *,
    k: float,
    min_prescriptions: int,
    min_peers: int,
) -> dict[str, Outlier]:
    """Prescribers whose count exceeds ``k`` × their group's median (groups of ``min_peers``+).

    ``counts_by_group``: group (facility type) -> prescriber -> reimbursed
    prescriptions issued in the month. A count must also reach
    ``min_prescriptions``, so small numbers raise nothing.
    """
    out: dict[str, Outlier] = {}
    for counts in counts_by_group.values():
        if len(counts) < min_peers:
            continue
        median = statistics.median(counts.values())
        for who, n in counts.items():
            if n >= min_prescriptions and n > k * median:
                out[who] = Outlier(who, n, float(median), k)
    return out


def _outlier_flag(o: Outlier, kind: str) -> ClaimFlag:
    return ClaimFlag(
        rule="prescriber_outlier",
        reason=f"prescriber {o.prescriber} issued {o.count} reimbursed prescriptions this month, "
        f"more than {o.k:g} × the median ({o.median:g}) of prescribers at {kind} facilities",
    )


def _add_flags(line: ClaimLine, flags: Sequence[ClaimFlag]) -> bool:
    """Adds new rules' flags (a rule once only); an unreviewed line becomes ``flagged``."""
    have = {f["rule"] for f in line.flags or []}
    new = [f.model_dump() for f in flags if f.rule not in have]
    if not new:
        return False
    line.flags = [*(line.flags or []), *new]  # a new list, so the change is seen
    if line.status == "entered":
        line.status = "flagged"
    return True


async def lock_claims(session: AsyncSession, claim_ids: Iterable[int]) -> list[Claim]:
    """The claims, read afresh and locked until the transaction ends (PostgreSQL ``FOR NO
    KEY UPDATE``, in id order): a write that reports a claim's totals to the fund holds
    its claim from its start, so of two reviews of one claim at once the second waits
    and sums the lines after the first's commit. A dispensing's new line (its key check)
    is not held up."""
    ids = sorted(set(claim_ids))
    if not ids:
        return []
    q = (
        select(Claim)
        .where(Claim.id.in_(ids))
        .order_by(Claim.id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    return list((await session.execute(q)).scalars())


# ---- a dispensing makes a claim line ---------------------------------------------------


async def _find_claim(session: AsyncSession, facility_id: int, month: date) -> Claim | None:
    return (
        await session.execute(
            select(Claim).where(Claim.facility_id == facility_id, Claim.month == month)
        )
    ).scalar_one_or_none()


async def _claim_for(session: AsyncSession, facility_id: int, month: date) -> Claim:
    """The pharmacy's claim for the month, made on its first line (the unique index decides)."""
    found = await _find_claim(session, facility_id, month)
    if found is not None:
        return found
    claim = Claim(facility_id=facility_id, month=month, status="open")
    try:
        async with session.begin_nested():
            session.add(claim)
            await session.flush()
    except IntegrityError:
        # another transaction made it first: use theirs
        found = await _find_claim(session, facility_id, month)
        if found is None:
            raise Conflict("The month's claim is being created elsewhere; retry.") from None
        return found
    return claim


async def _rule_flags(
    session: AsyncSession, d: Dispensing, p: Prescription, cfg: dict[str, Any]
) -> list[ClaimFlag]:
    day = local_day(d.dispensed_at)
    flags: list[ClaimFlag | None] = []
    if _enabled(cfg, "after_death"):
        died = (await registry.death_dates(session, [d.person_id])).get(d.person_id)
        flags.append(after_death(day, died))
    if _enabled(cfg, "many_pharmacies"):
        rule = cfg["many_pharmacies"]
        window = int(rule["window_days"])
        since = d.dispensed_at - timedelta(days=window + 1)
        rows = await session.execute(
            select(Dispensing.facility_id, Dispensing.dispensed_at)
            .join(Prescription, Prescription.id == Dispensing.prescription_id)
            .where(
                Dispensing.person_id == d.person_id,
                Prescription.inn == p.inn,
                Dispensing.id != d.id,
                Dispensing.dispensed_at >= since,
                Dispensing.dispensed_at <= d.dispensed_at,
            )
        )
        earlier = [(f, local_day(at)) for f, at in rows.all()]
        flags.append(
            many_pharmacies(
                day,
                d.facility_id,
                earlier,
                min_pharmacies=int(rule["min_pharmacies"]),
                window_days=window,
            )
        )
    if _enabled(cfg, "outside_validity"):
        flags.append(outside_validity(day, p.issued_on, p.valid_until))
    return [f for f in flags if f is not None]


async def add_claim_line(session: AsyncSession, event: MedicineDispensed) -> ClaimLine | None:
    """The line of one dispensing (none for a prescription the fund does not reimburse)."""
    d = await session.get(Dispensing, event.dispensing_id)
    p = await session.get(Prescription, event.prescription_id)
    if d is None or p is None:
        raise NotFound(f"Dispensing {event.dispensing_id} not found.")
    if not p.reimbursed:
        return None
    existing = (
        await session.execute(select(ClaimLine).where(ClaimLine.dispensing_id == d.id))
    ).scalar_one_or_none()
    if existing is not None:  # the same event twice: one line
        return existing
    month = claim_month(local_day(event.dispensed_at))
    claim = await _claim_for(session, event.facility_id, month)
    if claim.status != "open":  # a late line reports the claim: hold it first
        claim = (await lock_claims(session, [claim.id]))[0]
    line = ClaimLine(
        claim_id=claim.id,
        dispensing_id=d.id,
        person_id=event.person_id,
        amount=event.amount,
        status="entered",
        flags=[],
    )
    flags = await _rule_flags(session, d, p, rules_config())
    if claim.status != "open":
        flags.append(
            ClaimFlag(
                rule="late",
                reason=f"recorded after the claim for {month:%m.%Y} was submitted",
            )
        )
    _add_flags(line, flags)
    session.add(line)
    await session.flush()
    if claim.status != "open":  # a late line: the fund's figures count it as claimed
        await report_to_fund(session, [claim])
    return line


@events.subscribe(MedicineDispensed)
async def on_medicine_dispensed(session: AsyncSession, event: MedicineDispensed) -> None:
    await add_claim_line(session, event)


# ---- the fund's settlement ---------------------------------------------------------------


async def report_to_fund(session: AsyncSession, claims: Sequence[Claim]) -> None:
    """Each claim's totals join the pharmacy's monthly settlement with the fund
    (``insurance`` settlement): claimed, and what is paid as things stand -- approved
    lines and lines no rule flagged (accepted by default, as the fund's service lines);
    flagged lines once approved. Called when a claim is submitted, on each review, and
    for the submitted claims whose lines a later rule flags (a late line, the outlier
    batch). One statement for the claims' sums, then one report a claim."""
    if not claims:
        return
    await session.flush()
    # held (already, by a caller that locked them first): the sums below read every
    # other write of these claims that committed before
    await lock_claims(session, [c.id for c in claims])
    paid = case((ClaimLine.status.in_(("approved", "entered")), ClaimLine.amount), else_=0)
    sums = {
        int(cid): (int(claimed or 0), int(approved or 0))
        for cid, claimed, approved in (
            await session.execute(
                select(ClaimLine.claim_id, func.sum(ClaimLine.amount), func.sum(paid))
                .where(ClaimLine.claim_id.in_([c.id for c in claims]))
                .group_by(ClaimLine.claim_id)
            )
        ).all()
    }
    for c in claims:
        claimed, approved = sums.get(c.id, (0, 0))
        await record_pharmacy_claim(
            session, c.id, c.facility_id, c.month, c.status, claimed, approved
        )


# ---- the prescriber outlier batch ------------------------------------------------------


def _month_bounds(month: date) -> tuple[date, date]:
    start = claim_month(month)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


async def flag_outliers(session: AsyncSession, month: date) -> int:
    """Flags the lines of outlier prescribers' reimbursed prescriptions of ``month``.

    Run once a month before the claims are reviewed (and again safely: a line
    carries a rule once). Returns how many lines were newly flagged.
    """
    cfg = rules_config()
    if not _enabled(cfg, "prescriber_outlier"):
        return 0
    rule = cfg["prescriber_outlier"]
    start, end = _month_bounds(month)
    rows = (
        await session.execute(
            select(Prescription.facility_id, Prescription.prescriber_username, func.count())
            .where(
                Prescription.reimbursed.is_(True),
                Prescription.issued_on >= start,
                Prescription.issued_on < end,
            )
            .group_by(Prescription.facility_id, Prescription.prescriber_username)
        )
    ).all()
    names = await registry.facility_names(session, {f for f, _, _ in rows})
    kinds = {facility_id: f.kind for facility_id, f in names.items()}
    groups: dict[str, dict[str, int]] = {}
    kind_of: dict[str, str] = {}
    for facility_id, who, n in rows:
        kind = kinds[facility_id]
        group = groups.setdefault(kind, {})
        group[who] = group.get(who, 0) + int(n)
        kind_of[who] = kind
    outliers = prescriber_outliers(
        groups,
        k=float(rule["k"]),
        min_prescriptions=int(rule["min_prescriptions"]),
        min_peers=int(rule["min_peers"]),
    )
    if not outliers:
        return 0
    of_outliers = (
        select(ClaimLine.claim_id)
        .join(Dispensing, Dispensing.id == ClaimLine.dispensing_id)
        .join(Prescription, Prescription.id == Dispensing.prescription_id)
        .where(
            Prescription.reimbursed.is_(True),
            Prescription.issued_on >= start,
            Prescription.issued_on < end,
            Prescription.prescriber_username.in_(list(outliers)),
        )
    )
    # the claims held before their lines change (as a review holds its claim): the
    # lines are read after any review of them committed
    await lock_claims(session, (await session.execute(of_outliers.distinct())).scalars())
    wanted = of_outliers.with_only_columns(ClaimLine, Prescription.prescriber_username)
    lines = await session.execute(wanted.execution_options(populate_existing=True))
    changed = 0
    touched: set[int] = set()
    for line, who in lines.all():
        if line.status in ("approved", "rejected"):
            continue
        if _add_flags(line, [_outlier_flag(outliers[who], kind_of[who])]):
            changed += 1
            touched.add(line.claim_id)
    await session.flush()
    # a submitted claim's newly flagged lines no longer pay until reviewed: the fund's
    # settlement hears it (once a claim)
    if touched:
        sent = await session.execute(
            select(Claim).where(Claim.id.in_(sorted(touched)), Claim.status != "open")
        )
        await report_to_fund(session, list(sent.scalars()))
    return changed
