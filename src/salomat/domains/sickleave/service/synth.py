"""Synthetic sick-leave certificates and maternity leave (``salomat synth``).

Rates are the pack's ``synth`` section of ``sick_leave.yaml``: certificates a
year per 1,000 people of working age (``WORKING_AGE``), the share of each
reason, and the mean length of a certificate per reason. People alive on the
run's day, of working age and attached to a facility with staff get
certificates that started in the last 365 days, from a practitioner of that
facility (``synthetic_issuer``); care of a sick child goes to mothers of a child
under the pack's age limit, for that child. Lengths are drawn from a gamma
distribution (shape 2) around the reason's mean, capped at the longest the pack
allows.

A certificate is made of periods as the app makes them: the first no longer
than the practitioner may grant alone (the pack's ``alone_days``), extensions
at follow-up visits every 3 to 5 days, co-signed past ``cosign_after_days``
where the pack asks for it; past ``alone_days`` each period rests on a
decision of the commission (VKK) recorded the day before it, extending to its
last day. Sanatorium after-care opens on a decision of the commission. The
periods satisfy the table's chain (``prev_seq``, ``prev_ends_on``). As of the
run's day a certificate whose last day has passed is closed (back to work the
day after); one still running is open with the periods granted so far. Every
change writes its version, with the certificate as it became, as the app does.

Maternity leave: every pregnancy of the register (written by the maternal
generator) whose leave started in the last 365 days gets it from the pack's
week (126 days; a complicated birth or two or more babies adds the pack's
extension as a second period granted on the birth record; a birth before that
week gets the pack's early-birth days from the birth), for women of working age.
The pregnancies are read back from the maternal tables the generator wrote
(the maternal service is async and per person; a load reads what it wrote).
No illness certificate overlaps a maternity leave or another certificate of
the same person.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import text

from salomat.core.synth import SynthContext, poisson
from salomat.domains.registry.schemas import SyntheticPopulation
from salomat.domains.sickleave.models import (
    SickLeaveCertificate,
    SickLeavePeriod,
    SickLeaveVersion,
    VkkDecision,
)
from salomat.domains.sickleave.service.common import CHECK_ALPHABET, snapshot
from salomat.domains.sickleave.service.rules import SickLeaveRules, sick_leave_rules

__all__ = ["synthesize_sick_leave", "synthetic_issuer"]

#: working age (years, both counted), as the pack's rates count it
WORKING_AGE = (18, 62)
#: days back from the run's day in which certificates start
WINDOW_DAYS = 365
#: draws of a first day before a certificate that keeps overlapping is given up
START_DRAWS = 8
#: people handled per batch of rows written
BATCH = 20_000
#: the ICD-10 codes drawn per reason, with their weights (leaf codes the app accepts)
DIAGNOSES: dict[str, tuple[tuple[str, float], ...]] = {
    "own_illness": (
        ("J06.9", 0.30), ("J11.1", 0.12), ("J20.9", 0.08), ("M54.5", 0.10), ("I10", 0.05),
        ("K29.7", 0.05), ("A09.9", 0.05), ("N39.0", 0.04), ("J18.9", 0.04), ("I11.9", 0.02),
        ("K80.2", 0.02), ("M17.9", 0.02), ("F32.9", 0.02), ("H10.9", 0.03), ("L03.1", 0.02),
        ("G43.9", 0.02), ("N20.0", 0.02), ("A15.0", 0.005), ("I21.9", 0.005),
    ),
    "injury": (
        ("S52.5", 0.2), ("S93.4", 0.25), ("S82.6", 0.1), ("S62.6", 0.15), ("T14.0", 0.15),
        ("S06.0", 0.1), ("S42.2", 0.05),
    ),
    "care": (("J06.9", 0.5), ("A09.9", 0.2), ("J20.9", 0.15), ("B01.9", 0.1), ("J18.9", 0.05)),
    "quarantine": (("Z20.8", 1.0),),
    "sanatorium_aftercare": (("I21.9", 0.4), ("I63.9", 0.3), ("Z54.0", 0.3)),
}  # fmt: skip
_HOUR = time(9, tzinfo=UTC)
_NUMBER_SPACE = 10**10
CERTIFICATE_COLUMNS = (
    "id", "number", "check_code", "person_id", "kind", "reason", "diagnosis", "cared_person_id",
    "pregnancy_id", "status", "starts_on", "ends_on", "closed_on", "closure",
    "return_to_work_on", "facility_id", "issued_by", "practitioner_id", "duplicate_no",
    "source", "created_at", "updated_at", "version",
)  # fmt: skip
PERIOD_COLUMNS = (
    "id", "certificate_id", "person_id", "seq", "starts_on", "ends_on", "prev_seq",
    "prev_ends_on", "granted_as", "granted_by", "practitioner_id", "facility_id",
    "vkk_decision_id", "cosigned_by", "created_at",
)  # fmt: skip
VKK_COLUMNS = (
    "id", "certificate_id", "person_id", "decided_on", "decision", "extend_until",
    "protocol_number", "chair", "members", "facility_id", "recorded_by", "created_at",
)  # fmt: skip
VERSION_COLUMNS = (
    "id", "certificate_id", "person_id", "version", "change", "reason", "snapshot", "by", "at",
)  # fmt: skip
#: the commission of every facility (names are not checked against the staff)
VKK_MEMBERS = ["Chair of the VKK", "Deputy chief physician", "Head of department"]
COSIGNER = "Head of department"


def synthetic_issuer(practitioner_id: int) -> str:
    """The ``issued_by`` of a synthetic certificate (practitioners have no account); the
    same name the synthetic prescriptions carry."""
    return f"synth-doctor-{practitioner_id}"


def _at(day: date, hours: int = 0) -> datetime:
    return datetime.combine(day, _HOUR) + timedelta(hours=hours)


def _pick(rng: Any, options: tuple[tuple[Any, float], ...]) -> Any:
    r = rng.random() * sum(w for _, w in options)
    for value, w in options:
        r -= w
        if r <= 0:
            return value
    return options[-1][0]


def _split(rng: Any, rules: SickLeaveRules, days: int) -> list[tuple[int, str]]:
    """Period lengths and who grants them: the doctor up to ``alone_days`` in visits of 3 to
    5 days, then the commission in periods of up to 10 days."""
    alone = rules.practitioners["doctor"].alone_days
    out: list[tuple[int, str]] = []
    total = 0
    while total < days:
        if total < alone:
            step = min(days - total, alone - total, rng.randint(3, 5))
            out.append((step, "doctor"))
        else:
            step = min(days - total, rng.randint(5, 10))
            out.append((step, "vkk"))
        total += step
    return out


class _Writer:
    """Rows buffered per table and written in foreign-key order by ``flush``."""

    def __init__(self, ctx: SynthContext) -> None:
        self.ctx = ctx
        w = ctx.writer
        self.tables = [
            (SickLeaveCertificate.__table__, CERTIFICATE_COLUMNS),
            (VkkDecision.__table__, VKK_COLUMNS),
            (SickLeavePeriod.__table__, PERIOD_COLUMNS),
            (SickLeaveVersion.__table__, VERSION_COLUMNS),
        ]
        self.rows: list[list[tuple[Any, ...]]] = [[] for _ in self.tables]
        self.next = [w.next_id(t, 0) for t, _ in self.tables]  # type: ignore[arg-type]
        self.first = list(self.next)
        self.written = [0] * len(self.tables)

    def take(self, k: int) -> int:
        self.next[k] += 1
        return self.next[k] - 1

    def flush(self) -> None:
        for k, (table, columns) in enumerate(self.tables):
            if self.rows[k]:
                self.written[k] += self.ctx.writer.write(table, columns, self.rows[k])  # type: ignore[arg-type]
                self.rows[k] = []

    def finish(self) -> None:
        self.flush()
        for k, (table, _) in enumerate(self.tables):
            self.ctx.writer.next_id(table, self.next[k] - self.first[k])  # type: ignore[arg-type]
            self.ctx.count(table.name, self.written[k])


class _Generator:
    def __init__(self, ctx: SynthContext, rules: SickLeaveRules) -> None:
        self.ctx, self.rules = ctx, rules
        self.rng = ctx.rng("sick_leave")
        self.out = _Writer(ctx)
        self.today = ctx.as_of
        self.number_a = self.rng.randrange(_NUMBER_SPACE // 3, _NUMBER_SPACE) | 1
        if self.number_a % 5 == 0:
            self.number_a += 2
        self.number_b = self.rng.randrange(_NUMBER_SPACE)
        self.k = 0
        self.protocols = 0

    def number(self, issued: date) -> str:
        """Unique without a lookup: the k-th number is ``(k * A + B) mod 10^10`` (A prime
        to 10, a bijection) after the two digits of the year of issue."""
        serial = (self.k * self.number_a + self.number_b) % _NUMBER_SPACE
        raw = f"{issued.year % 100:02d}{serial:010d}"
        self.k += 1
        return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"

    def certificate(
        self,
        person_id: int,
        facility_id: int,
        practitioner_id: int,
        reason: str,
        diagnosis: str | None,
        start: date,
        plan: list[tuple[int, str]],
        *,
        cared: int | None = None,
        pregnancy_id: int | None = None,
        born_on: date | None = None,
    ) -> None:
        """One certificate with its periods, decisions and versions, as of the run's day."""
        rules, out, rng = self.rules, self.out, self.rng
        by = synthetic_issuer(practitioner_id)
        kind = rules.reasons[reason].kind
        cid = out.take(0)
        cosign = rules.practitioners["doctor"].cosign_after_days
        c = SimpleNamespace(
            number=self.number(start),
            status="open",
            kind=kind,
            reason=reason,
            diagnosis=diagnosis,
            cared_person_id=cared,
            pregnancy_id=pregnancy_id,
            starts_on=start,
            ends_on=start,
            closed_on=None,
            closure=None,
            return_to_work_on=None,
            duplicate_no=0,
        )
        periods: list[Any] = []
        version = 0
        last_at = _at(start, 2)
        day = start
        total = 0

        def write_version(change: str, at: datetime, reason_text: str | None = None) -> None:
            nonlocal version, last_at
            version += 1
            last_at = at
            out.rows[3].append(
                (out.take(3), cid, person_id, version, change, reason_text,
                 snapshot(c, periods), by, at)  # type: ignore[arg-type]
            )  # fmt: skip

        for seq, (length, granted_as) in enumerate(plan, 1):
            # granted at the visit the day before it starts; the extension of a maternity
            # leave when the birth was recorded
            granted_on = day if seq == 1 else day - timedelta(days=1)
            if granted_as == "birth_record" and born_on is not None:
                granted_on = born_on
            if granted_on > self.today:
                break  # not granted yet
            end = day + timedelta(days=length - 1)
            total += length
            decision = None
            if granted_as == "vkk":
                decided = day if seq == 1 else day - timedelta(days=1)
                decision = out.take(1)
                self.protocols += 1
                out.rows[1].append(
                    (decision, cid, person_id, decided, "extend", end,
                     f"VKK-{self.protocols}/{decided.year}", VKK_MEMBERS[0], VKK_MEMBERS,
                     facility_id, by, _at(decided, 1))
                )  # fmt: skip
                if seq > 1:
                    write_version("vkk", _at(decided, 1), f"VKK-{self.protocols}/{decided.year}")
            cosigned = (
                COSIGNER
                if kind != "maternity"
                and cosign is not None
                and cosign < total <= rules.practitioners["doctor"].alone_days
                else None
            )
            prev = periods[-1] if periods else None
            p = SimpleNamespace(
                seq=seq,
                starts_on=day,
                ends_on=end,
                granted_as=granted_as,
                granted_by=by,
            )
            periods.append(p)
            out.rows[2].append(
                (out.take(2), cid, person_id, seq, day, end, prev.seq if prev else None,
                 prev.ends_on if prev else None, granted_as, by,
                 practitioner_id if granted_as != "birth_record" else None, facility_id,
                 decision, cosigned, _at(granted_on, 2))
            )  # fmt: skip
            c.ends_on = end
            write_version("opened" if seq == 1 else "extended", _at(granted_on, 2))
            day = end + timedelta(days=1)
        created = _at(start, 2)
        if c.ends_on < self.today:
            c.status = "closed"
            c.closed_on = c.ends_on
            if kind == "maternity":
                c.closure = "end_of_leave"
            else:
                c.closure = "return_to_work"
                c.return_to_work_on = c.ends_on + timedelta(days=1)
            write_version("closed", _at(c.ends_on + timedelta(days=1), 3))
        check = "".join(rng.choice(CHECK_ALPHABET) for _ in range(6))
        out.rows[0].append(
            (cid, c.number, check, person_id, kind, reason, diagnosis, cared, pregnancy_id,
             c.status, start, c.ends_on, c.closed_on, c.closure, c.return_to_work_on,
             facility_id, by, practitioner_id, 0, "local", created, last_at, version)
        )  # fmt: skip


def _free_start(
    rng: Any, first: date, days: int, busy: list[tuple[date, date]], child_born: int | None
) -> date | None:
    """A first day in the window on which the person has no certificate for ``days`` days
    (and the cared child is born); a few draws, then None."""
    for _ in range(START_DRAWS):
        start = first + timedelta(days=rng.randrange(WINDOW_DAYS))
        if child_born is not None and start.toordinal() < child_born:
            continue
        end = start + timedelta(days=days - 1)
        if not any(s <= end and start <= e for s, e in busy):
            return start
    return None


def _pregnancies(ctx: SynthContext, first: date) -> list[tuple[Any, ...]]:
    """Pregnancies of the register whose leave could fall in the window, with their birth:
    (id, person id, edd, status, born_on, mode, ga_days, babies, live babies)."""
    query = text(
        "SELECT p.id, p.person_id, p.edd, p.status, b.born_on, b.mode, b.ga_days, "
        "(SELECT count(*) FROM birth_baby x WHERE x.birth_id = b.id), "
        "(SELECT count(*) FROM birth_baby x WHERE x.birth_id = b.id AND x.outcome = 'live') "
        "FROM pregnancy p LEFT JOIN birth_record b ON b.pregnancy_id = p.id "
        "WHERE p.edd >= :first ORDER BY p.id"
    )
    with ctx.writer.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(query, {"first": first - timedelta(days=400)})]


def _day(v: Any) -> date | None:
    if v is None or isinstance(v, date):
        return v
    return date.fromisoformat(str(v)[:10])


def synthesize_sick_leave(ctx: SynthContext, population: SyntheticPopulation) -> dict[str, int]:
    """Write certificates, their periods, the commission's decisions and the versions."""
    rules = sick_leave_rules(ctx.country)
    cfg = rules.synth
    if not cfg:
        raise ValueError(f"{ctx.country}/sick_leave.yaml has no synth section")
    g = _Generator(ctx, rules)
    rng = g.rng
    p, today = population, ctx.as_of
    first = today - timedelta(days=WINDOW_DAYS - 1)
    as_of = today.toordinal()
    young, old = WORKING_AGE
    staff = {f.id: f.practitioners for f in p.facilities if f.practitioners}
    n = len(p)

    def age(i: int) -> int:
        return (as_of - p.birth[i]) // 365

    def eligible(i: int) -> bool:
        return (
            not p.is_duplicate[i]
            and not p.deceased[i]
            and young <= age(i) <= old
            and p.facility_id[i] in staff
        )

    # busy days per person index (maternity first, then each certificate)
    busy: dict[int, list[tuple[date, date]]] = {}
    index_of = {pid: i for i, pid in enumerate(p.person_id)}
    m = rules.maternity
    task = ctx.progress.start("sick leave", n)
    tables = [t.name for t, _ in g.out.tables]
    with ctx.writer.deferred(tables):
        for row in _pregnancies(ctx, first):
            preg_id, pid, edd, status, born, mode, ga, babies, live = row
            i = index_of.get(pid)
            if i is None or not eligible(i):
                continue
            edd, born = _day(edd), _day(born)
            assert edd is not None
            week_day = edd - timedelta(days=280 - m.start_week * 7)
            if born is not None and ga is not None and ga < m.start_week * 7:
                days = m.before_start_week_live if live else m.before_start_week_stillborn
                start, extended = born, False
            elif status == "closed" and born is None:
                continue  # ended before the leave (miscarriage, termination)
            else:
                days = m.days
                start = week_day
                extended = born is not None and (
                    (mode or "") in m.complicated_birth_modes or (babies or 0) >= 2
                )
            if not days or not first <= start <= today:
                continue
            plan = [(days, "doctor")]
            if extended:
                plan.append((m.extension_days, "birth_record"))
            doctors = staff[p.facility_id[i]]
            g.certificate(
                pid,
                p.facility_id[i],
                doctors[rng.getrandbits(16) % len(doctors)],
                "maternity",
                None,
                start,
                plan,
                pregnancy_id=preg_id,
                born_on=born,
            )
            end = start + timedelta(days=sum(d for d, _ in plan) - 1)
            busy.setdefault(i, []).append((start, end))

        # who may get what: everyone eligible, and mothers of young children for their care
        care_age = rules.reasons["care"].child_max_age_years or 14
        children: dict[int, list[int]] = {}
        for c in range(n):
            mother = p.mother[c]
            if mother >= 0 and not p.is_duplicate[c] and not p.deceased[c] and age(c) < care_age:
                children.setdefault(mother, []).append(c)
        working = sum(
            1
            for i in range(n)
            if not p.is_duplicate[i] and not p.deceased[i] and young <= age(i) <= old
        )
        people = [i for i in range(n) if eligible(i)]
        mothers = [i for i in people if i in children]
        target = float(cfg["per_1000_working_age"]) * working / 1000
        weights = {k: float(v) for k, v in cfg["reasons"].items() if k in rules.reasons}
        care_share = weights.get("care", 0.0) / (sum(weights.values()) or 1.0)
        shares = {k: v for k, v in weights.items() if k != "care"}
        lam_other = target * (1 - care_share) / len(people) if people else 0.0
        lam_care = target * care_share / len(mothers) if mothers else 0.0
        mix = tuple(shares.items())
        mother_set = set(mothers)
        done = 0
        for i in people:
            done += 1
            if done % BATCH == 0:
                g.out.flush()
                task(BATCH)
            draws: list[tuple[str, int | None]] = [
                (_pick(rng, mix), None) for _ in range(poisson(rng, lam_other))
            ]
            if i in mother_set:
                kids = children[i]
                draws += [
                    ("care", kids[rng.getrandbits(16) % len(kids)])
                    for _ in range(poisson(rng, lam_care))
                ]
            if not draws:
                continue
            mine = busy.setdefault(i, [])
            doctors = staff[p.facility_id[i]]
            for reason, child in draws:
                mean = float(cfg["mean_days"][reason])
                longest = rules.reasons[reason].max_days or 10_000
                days = max(1, min(longest, 1 + round(rng.gammavariate(2.0, (mean - 1) / 2))))
                child_born = p.birth[child] if child is not None else None
                start = _free_start(rng, first, days, mine, child_born)
                if start is None:
                    continue
                end = start + timedelta(days=days - 1)
                diagnosis = _pick(rng, DIAGNOSES[reason])
                # sanatorium after-care opens on the commission's decision, for its whole length
                if rules.reasons[reason].vkk_to_open:
                    plan = [(days, "vkk")]
                else:
                    plan = _split(rng, rules, days)
                g.certificate(
                    p.person_id[i],
                    p.facility_id[i],
                    doctors[rng.getrandbits(16) % len(doctors)],
                    reason,
                    diagnosis,
                    start,
                    plan,
                    cared=p.person_id[child] if child is not None else None,
                )
                mine.append((start, end))
        task(done % BATCH)
        g.out.finish()
    names = ("sick_leave_certificate", "sick_leave_vkk_decision", "sick_leave_period")
    return {name: g.out.written[k] for k, name in enumerate(names)} | {
        "sick_leave_version": g.out.written[3]
    }
