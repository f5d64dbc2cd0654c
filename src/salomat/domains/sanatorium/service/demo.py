"""The demo sanatorium's beds, periods, referrals and stays (the ``sanatorium`` section of a
pack's demo.yaml).

Everything goes through the use cases a doctor, the sanatorium's staff, a citizen and the
sweep use (``set_beds``, ``publish_period``, ``refer``, ``self_apply``, ``sweep``,
``accept_offer``, ``decline_offer``, ``arrive``, ``discharge``, ``record_noshow``), so the
pack's rules (indications, entitlement, tiers, the offer rules, one bed per stay) hold for
the demo as they do for a clinic. The loader acts as a family doctor of the demo
polyclinic, as the demo sanatorium's admin, and as each holder for her own offers, all
named ``cli:demo-load`` in the audit trail.

The past is replayed in order. An entry whose offer has a day (``offer.when``) is history:
it is referred, the sweep runs *on that day* (the services take ``today`` and ``now``) and
offers it the period, which it accepts; then it arrives, is discharged or is recorded as a
no-show on the period's days. History entries go one at a time, oldest offer first, and
each period is published on the day of its first offer, so the sweep of a past day sees
only what existed then and offers the place to that entry alone. Then, at the time of
loading, the remaining periods are published, the other entries referred (or applying
themselves), and the sweep runs until every offer the file names has been made and
decided (accepted, declined; one left open for the citizen). The loader checks that the
queue made exactly the offers the file names: a file whose order would not, is refused.

Two timestamps are stamped "now" by the services and are set back here, with an UPDATE
through the ORM (``_backdate``), because the demo needs a past that the services cannot
write: ``applied_at`` of a referral (the queue's order key: applications spread over
months give the queue an order to show) and ``booked_at`` of a stay (the waiting-time
range counts the bookings of the last three whole months). The queue's log
(``sanatorium_queue_event``) is append-only and keeps the time of loading; so do the
audit trail and the rows' ``created_at``.

A sanatorium that already has beds is left alone (a ``--force`` load adds nothing
twice): the section is loaded whole or not at all.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.config import get_settings
from salomat.core.errors import N_, FieldError, Invalid, SalomatError
from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.registry import service as registry
from salomat.domains.sanatorium.models import (
    SanatoriumBed,
    SanatoriumOffer,
    SanatoriumReferral,
    SanatoriumStay,
)
from salomat.domains.sanatorium.schemas import (
    ArriveIn,
    BedsIn,
    DischargeIn,
    PeriodIn,
    ReferralIn,
    SelfApplyIn,
)
from salomat.domains.sanatorium.service.catalogue import publish_period, set_beds
from salomat.domains.sanatorium.service.offers import accept_offer, decline_offer, sweep
from salomat.domains.sanatorium.service.referrals import refer, self_apply
from salomat.domains.sanatorium.service.rules import local_today, sanatorium_rules
from salomat.domains.sanatorium.service.stays import arrive, discharge, record_noshow

__all__ = ["load_demo_sanatorium"]

LOADER = "cli:demo-load"
SECTION = "sanatorium"
#: the hour (local) a past offer is made; it is accepted an hour later
OFFER_HOUR = 10


def _bad(key: str, message: str, params: dict[str, Any] | None = None) -> Invalid:
    return Invalid.fields([FieldError(f"{SECTION}.{key}", message, params)])


def _named(key: str, e: SalomatError) -> SalomatError:
    """The service's refusal with each field named inside the demo file's entry (a
    refusal that names no field names the entry)."""
    if isinstance(e, Invalid) and e.errors:
        return Invalid.fields(
            [FieldError(f"{SECTION}.{key}.{fe.field}", fe.msgid, fe.params) for fe in e.errors]
        )
    return type(e)(
        e.msgid, params=e.params, errors=[FieldError(f"{SECTION}.{key}", e.msgid, e.params)]
    )


def _day(spec: Any, today: date, key: str) -> date:
    """``-3``: three days before ``today`` (``10``: ten days after); ``{month: -2, day:
    18}``: the 18th of the second whole month before the current one (the month's last
    day if it is shorter)."""
    if isinstance(spec, int):
        return today + timedelta(days=spec)
    if isinstance(spec, dict) and set(spec) == {"month", "day"}:
        y, m = today.year, today.month + int(spec["month"])
        while m <= 0:
            y, m = y - 1, m + 12
        while m > 12:
            y, m = y + 1, m - 12
        return date(y, m, min(int(spec["day"]), calendar.monthrange(y, m)[1]))
    raise _bad(key, N_("must be a number of days, or a month and a day"))


def _at(day: date, hour: int) -> datetime:
    tz = pack.time_zone(get_settings().country)
    return datetime.combine(day, time(hour), tzinfo=tz).astimezone(UTC)


def _person_principal(person_id: int) -> Principal:
    return Principal(
        user_id=0, username=LOADER, role="citizen", session_id="cli", person_id=person_id
    )


async def _facility(session: AsyncSession, code: str, role: str, key: str) -> Principal:
    facility_id = await registry.facility_id_by_code(session, code)
    if facility_id is None:
        raise _bad(key, N_("no facility has code %(code)s"), {"code": code})
    return Principal(
        user_id=0,
        username=LOADER,
        role=role,
        session_id="cli",
        facility_id=facility_id,
        facility_code=code,
    )


async def _person(
    session: AsyncSession, person_ids: dict[str, int], national_id: str, key: str
) -> int:
    found = person_ids.get(national_id) or await registry.person_id_by_national_id(
        session, national_id
    )
    if found is None:
        raise _bad(key, N_("no demo person has national id %(id)s"), {"id": national_id})
    return found


async def _backdate(session: AsyncSession, model: Any, row_id: int, **values: datetime) -> None:
    """Set a time the service stamped "now" to the demo's past (see the module's note)."""
    row = await session.get(model, row_id)
    assert row is not None
    for name, value in values.items():
        setattr(row, name, value)
    await session.flush()


@dataclass
class _Entry:
    index: int
    spec: dict[str, Any]
    person_id: int = 0
    referral_id: int = 0
    offered_on: date | None = None

    @property
    def key(self) -> str:
        return f"referrals[{self.index}]"

    @property
    def period(self) -> str | None:
        offer = self.spec.get("offer")
        return offer.get("period") if isinstance(offer, dict) else None


@dataclass
class _Demo:
    session: AsyncSession
    doctor: Principal
    staff: Principal
    today: date
    periods: dict[str, dict[str, Any]]
    period_ids: dict[str, int]

    async def publish(self, key: str, on: date) -> int:
        """The period ``key``, published on ``on`` (or its first day, if that is earlier)."""
        if key in self.period_ids:
            return self.period_ids[key]
        spec = self.periods[key]
        starts = _day(spec["starts"], self.today, f"periods.{key}.starts")
        try:
            p = await publish_period(
                self.session,
                self.staff,
                PeriodIn(
                    profile=spec["profile"],
                    starts_on=starts,
                    ends_on=(
                        _day(spec["ends"], self.today, f"periods.{key}.ends")
                        if "ends" in spec
                        else None
                    ),
                    capacity=spec.get("capacity"),
                ),
                today=min(on, starts),
            )
        except SalomatError as e:
            raise _named(f"periods.{key}", e) from e
        self.period_ids[key] = p.id
        return p.id

    async def refer(self, e: _Entry) -> None:
        spec = e.spec
        applied = _day(spec["applied"], self.today, f"{e.key}.applied")
        if applied > self.today:
            raise _bad(f"{e.key}.applied", N_("is in the future"))
        try:
            if spec.get("self"):
                r = await self_apply(
                    self.session,
                    _person_principal(e.person_id),
                    SelfApplyIn(profile=spec["profile"], category=spec["category"]),
                    today=applied,
                )
            else:
                r = await refer(
                    self.session,
                    self.doctor,
                    e.person_id,
                    ReferralIn(
                        indication=spec["indication"],
                        profile=spec.get("profile"),
                        category=spec["category"],
                        conditions=spec.get("conditions", []),
                    ),
                    today=applied,
                )
        except SalomatError as err:
            raise _named(e.key, err) from err
        e.referral_id = r.id
        await _backdate(self.session, SanatoriumReferral, r.id, applied_at=_at(applied, 9))

    async def open_offer(self, e: _Entry) -> SanatoriumOffer | None:
        return (
            await self.session.execute(
                select(SanatoriumOffer).where(
                    SanatoriumOffer.referral_id == e.referral_id, SanatoriumOffer.status == "open"
                )
            )
        ).scalar_one_or_none()

    async def offered(self, e: _Entry) -> list[tuple[int, str]]:
        rows = await self.session.execute(
            select(SanatoriumOffer.period_id, SanatoriumOffer.status)
            .where(SanatoriumOffer.referral_id == e.referral_id)
            .order_by(SanatoriumOffer.id)
        )
        return [(p, s) for p, s in rows]

    def not_offered(self, e: _Entry) -> Invalid:
        return _bad(
            f"{e.key}.offer",
            N_(
                "the queue did not offer period %(period)s to this person: order the "
                "entries (tier, application day) so that it does"
            ),
            {"period": e.period or ""},
        )

    async def stay_of(self, e: _Entry) -> SanatoriumStay:
        s = (
            await self.session.execute(
                select(SanatoriumStay).where(SanatoriumStay.referral_id == e.referral_id)
            )
        ).scalar_one()
        return s

    async def history(self, e: _Entry) -> None:
        """Referred, offered on ``offer.when`` by that day's sweep, accepted an hour later,
        then arrived and discharged, or a no-show, on the period's days."""
        spec = e.spec
        assert e.offered_on is not None
        assert e.period is not None
        if spec.get("accept") is not True:
            raise _bad(f"{e.key}.accept", N_("a past offer must be accepted"))
        period_id = await self.publish(e.period, e.offered_on)
        await self.refer(e)
        offered_at = _at(e.offered_on, OFFER_HOUR)
        await sweep(self.session, now=offered_at, today=e.offered_on)
        o = await self.open_offer(e)
        if o is None or o.period_id != period_id:
            raise self.not_offered(e)
        holder = _person_principal(e.person_id)
        accepted_at = offered_at + timedelta(hours=1)
        try:
            await accept_offer(self.session, holder, o.id, now=accepted_at, today=e.offered_on)
        except SalomatError as err:
            raise _named(e.key, err) from err
        s = await self.stay_of(e)
        await _backdate(self.session, SanatoriumStay, s.id, booked_at=accepted_at)
        await self.after_booking(e, s)

    async def after_booking(self, e: _Entry, s: SanatoriumStay) -> None:
        spec = e.spec
        try:
            if spec.get("noshow"):
                grace = sanatorium_rules().noshow_grace_days
                await record_noshow(
                    self.session, self.staff, s.id, today=s.starts_on + timedelta(days=grace + 1)
                )
                return
            if "arrive" not in spec:
                return
            on = s.starts_on + timedelta(days=int(spec["arrive"]))
            if on > self.today:
                raise _bad(f"{e.key}.arrive", N_("is in the future"))
            await arrive(self.session, self.staff, s.id, ArriveIn(arrived_on=on), today=on)
            out = spec.get("discharge")
            if out is None:
                return
            off = s.starts_on + timedelta(days=int(out["day"]))
            if off > self.today:
                raise _bad(f"{e.key}.discharge.day", N_("is in the future"))
            await discharge(
                self.session,
                self.staff,
                s.id,
                DischargeIn(discharged_on=off, summary=out.get("summary")),
                today=off,
            )
        except SalomatError as err:
            if err.errors and all(fe.field.startswith(f"{SECTION}.") for fe in err.errors):
                raise
            raise _named(e.key, err) from err

    async def current(self, entries: list[_Entry]) -> None:
        """The sweep of the time of loading, again after each round of decisions, until
        every offer the file names is made; then each is as the file says."""
        decided: set[int] = set()
        for _ in range(len(entries) + 1):
            await sweep(self.session, today=self.today)
            progressed = False
            for e in entries:
                if e.index in decided or e.period is None:
                    continue
                if not ("accept" in e.spec or "decline" in e.spec):
                    continue
                o = await self.open_offer(e)
                if o is None or o.period_id != self.period_ids[e.period]:
                    continue
                holder = _person_principal(e.person_id)
                try:
                    if e.spec.get("accept"):
                        await accept_offer(self.session, holder, o.id, today=self.today)
                    else:
                        await decline_offer(self.session, holder, o.id, e.spec.get("decline"))
                except SalomatError as err:
                    raise _named(e.key, err) from err
                decided.add(e.index)
                progressed = True
            if not progressed:
                break
        for e in entries:
            if e.period is None:
                continue
            wanted = self.period_ids[e.period]
            made = await self.offered(e)
            if e.spec.get("accept"):
                status = "accepted"
            elif "decline" in e.spec:
                status = "declined"
            else:
                status = "open"
            if (wanted, status) not in made:
                raise self.not_offered(e)


#: the keys the file may use (a YAML 1.1 ``on:`` reads as ``True``: refused, not ignored)
SECTION_KEYS = {"at", "beds", "periods", "referrals"}
PERIOD_KEYS = {"key", "profile", "starts", "ends", "capacity"}
REFERRAL_KEYS = {
    "person",
    "category",
    "indication",
    "profile",
    "conditions",
    "applied",
    "self",
    "offer",
    "accept",
    "decline",
    "arrive",
    "discharge",
    "noshow",
}
OFFER_KEYS = {"period", "when"}


def _keys(found: dict[str, Any], allowed: set[str], key: str) -> None:
    unknown = sorted(str(k) for k in found if k not in allowed)
    if unknown:
        raise _bad(
            key,
            N_("has unknown keys %(keys)s (allowed: %(allowed)s)"),
            {"keys": ", ".join(unknown), "allowed": ", ".join(sorted(allowed))},
        )


def _check(spec: dict[str, Any]) -> None:
    """The file's shape, before anything is entered."""
    _keys(spec, SECTION_KEYS, "")
    if not isinstance(spec.get("at"), str):
        raise _bad("at", N_("must name the demo sanatorium's facility code"))
    periods = spec.get("periods", [])
    for i, p in enumerate(periods):
        _keys(p, PERIOD_KEYS, f"periods[{i}]")
    keys = [p.get("key") for p in periods]
    if len(keys) != len(set(keys)) or not all(isinstance(k, str) for k in keys):
        raise _bad("periods", N_("each period needs a key of its own"))
    for i, r in enumerate(spec.get("referrals", [])):
        _keys(r, REFERRAL_KEYS, f"referrals[{i}]")
        if "offer" not in r:
            continue
        offer = r["offer"]
        if not isinstance(offer, dict):
            raise _bad(f"referrals[{i}].offer", N_("must name a period"))
        _keys(offer, OFFER_KEYS, f"referrals[{i}].offer")
        if offer.get("period") not in keys:
            raise _bad(f"referrals[{i}].offer.period", N_("names no period of the file"))


async def load_demo_sanatorium(
    session: AsyncSession,
    spec: dict[str, Any],
    person_ids: dict[str, int],
    *,
    facility_code: str,
    today: date | None = None,
) -> int:
    """Enter the demo sanatorium (``spec``: the pack's ``sanatorium`` section); returns
    how many referrals were entered (0: none, or the sanatorium already has beds).

    ``person_ids``: national id -> person id of the people just loaded (others are looked
    up); ``facility_code``: the demo polyclinic, whose family doctor refers. A wrong
    entry, or one the pack's rules refuse, raises ``Invalid`` naming
    ``sanatorium.<field>``.
    """
    if not spec:
        return 0
    _check(spec)
    today = today or local_today()  # the pack's day, as the sanatorium counts days
    staff = await _facility(session, spec["at"], "sanatorium_admin", "at")
    doctor = await _facility(session, facility_code, "family_doctor", "polyclinic")
    has_beds = await session.scalar(
        select(SanatoriumBed.id).where(SanatoriumBed.facility_id == staff.facility_id).limit(1)
    )
    if has_beds is not None:
        return 0
    for profile, beds in (spec.get("beds") or {}).items():
        try:
            await set_beds(session, staff, BedsIn(profile=profile, beds=beds))
        except SalomatError as e:
            raise _named(f"beds.{profile}", e) from e
    demo = _Demo(
        session=session,
        doctor=doctor,
        staff=staff,
        today=today,
        periods={p["key"]: p for p in spec.get("periods", [])},
        period_ids={},
    )
    entries = []
    for i, r in enumerate(spec.get("referrals", [])):
        e = _Entry(i, r)
        e.person_id = await _person(session, person_ids, r["person"], f"{e.key}.person")
        on = (r.get("offer") or {}).get("when")
        if on is not None:
            e.offered_on = _day(on, today, f"{e.key}.offer.when")
            if e.offered_on >= today:
                raise _bad(f"{e.key}.offer.when", N_("must be in the past"))
        entries.append(e)
    for e in sorted((e for e in entries if e.offered_on), key=lambda e: (e.offered_on, e.index)):
        await demo.history(e)
    for key in demo.periods:
        await demo.publish(key, today)
    current = [e for e in entries if e.offered_on is None]
    for e in current:
        await demo.refer(e)
    await demo.current(current)
    return len(entries)
