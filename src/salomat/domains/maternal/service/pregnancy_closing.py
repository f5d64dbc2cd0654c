"""Closing a pregnancy: a miscarriage or a termination, and her death.

A live birth or a stillbirth closes the pregnancy through ``birth``
(``record_birth``, which registers the babies).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import events
from salomat.core.errors import N_, FieldError, Invalid, InvalidState
from salomat.core.security import Principal
from salomat.domains.maternal.schemas import CloseIn, PregnancyDetail
from salomat.domains.maternal.service.evaluation import _contacts, _save, _start, ga_on
from salomat.domains.maternal.service.pregnancy import (
    RESOURCE,
    _check_version,
    _current,
    _detail,
    _end_referral_care,
    _open,
    weeks,
)
from salomat.domains.registry import service as registry

__all__ = ["close_pregnancy"]

#: outcomes that only a birth record gives (it registers the babies)
BIRTH_OUTCOMES = ("live_birth", "stillbirth")
#: from 22 completed weeks a fetal death is a stillbirth, not a miscarriage (WHO, ICD-10)
STILLBIRTH_FROM_DAYS = 22 * 7


async def close_pregnancy(
    session: AsyncSession,
    principal: Principal,
    pregnancy_id: int,
    data: CloseIn,
    *,
    expected_version: int | None,
) -> PregnancyDetail:
    """Record a miscarriage or termination; she may then have a new pregnancy registered.

    A live birth or stillbirth is recorded with ``record_birth`` (the babies are
    registered), a maternal death by registering the death: both close the
    pregnancy themselves, so ``close`` refuses those outcomes, naming ``outcome``. Closed
    already with this outcome (and date, if one is sent): answered as it is, whatever
    version was read.
    """
    p = await _open(session, principal, pregnancy_id, action="update", what=RESOURCE)
    if (
        expected_version is not None
        and p.status == "closed"
        and p.outcome == data.outcome
        and data.closed_on in (None, p.closed_on)
    ):
        return await _detail(session, p)
    _check_version(p, expected_version)
    if p.status != "current":
        raise InvalidState(N_("Pregnancy %(id)s is already closed."), params={"id": pregnancy_id})
    closed_on = data.closed_on or date.today()
    errors = []
    if data.outcome in BIRTH_OUTCOMES:
        errors.append(
            FieldError(
                "outcome",
                N_(
                    "a live birth or a stillbirth is recorded as a birth, with its babies "
                    "(POST /api/v1/pregnancies/%(id)s/birth), which closes the pregnancy"
                ),
                {"id": p.id},
            )
        )
    elif data.outcome == "miscarriage" and ga_on(p, closed_on) >= STILLBIRTH_FROM_DAYS:
        errors.append(
            FieldError(
                "outcome",
                N_(
                    "at %(ga)s a fetal death is a stillbirth (from 22 weeks, ICD-10 / WHO): "
                    "record it as a birth"
                ),
                {"ga": weeks(ga_on(p, closed_on))},
            )
        )
    elif data.outcome == "maternal_death":
        errors.append(
            FieldError(
                "outcome",
                N_(
                    "register her death on her patient record (the medical death "
                    "certificate); that closes the pregnancy"
                ),
            )
        )
    if closed_on > date.today():
        errors.append(FieldError("closed_on", N_("is in the future")))
    if closed_on < _start(p):
        errors.append(FieldError("closed_on", N_("is before this pregnancy began")))
    last = max((c.on for c in await _contacts(session, p.id)), default=None)
    if last is not None and closed_on < last:
        errors.append(
            FieldError(
                "closed_on",
                N_("is before the last contact (%(day)s)"),
                {"day": f"{last:%d.%m.%Y}"},
            )
        )
    if errors:
        raise Invalid.fields(errors)
    p.status, p.closed_on, p.outcome = "closed", closed_on, data.outcome
    await _end_referral_care(session, p)
    await _save(session, p)
    return await _detail(session, p)


# ---- events from the registry -----------------------------------------------------------


@events.subscribe(registry.PersonDied)
async def close_at_death(session: AsyncSession, event: registry.PersonDied) -> None:
    """A death closes her current pregnancy with outcome ``maternal_death``."""
    p = await _current(session, event.person_id)
    if p is not None:
        p.status, p.outcome = "closed", "maternal_death"
        p.closed_on = max(event.deceased_on, _start(p))
        await _end_referral_care(session, p)
        await _save(session, p)
