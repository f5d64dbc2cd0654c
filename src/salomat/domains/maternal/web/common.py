"""What the maternal pages share: the router, form helpers and her latest birth."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from salomat.core.errors import N_, FieldError, Invalid, NotFound
from salomat.core.params import parse_version
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.maternal import service
from salomat.domains.maternal.schemas import BirthOut, PregnancyOut
from salomat.domains.maternal.web.labels import (
    BABY_OUTCOMES,
    BIRTH_MODES,
    SEXES,
    STILLBIRTH_TYPES,
)
from salomat.ui import forms

web = router(include_in_schema=False)


# ---- helpers -------------------------------------------------------------------------


def _errors_of(errors: list[FieldError]) -> dict[str, list[str]]:
    return forms.errors_by_field(errors, {"ga_days_at_scan": "ga_at_scan"})


def _or_none(value: str) -> str | None:
    return value or None


async def _last_birth(
    session: DbSession, principal: Principal, person_id: int
) -> tuple[PregnancyOut | None, BirthOut | None]:
    """Her latest pregnancy (when none is current) and its birth record, if one was recorded."""
    pregnancies = await service.list_pregnancies(session, principal, person_id)
    if not pregnancies:
        return None, None
    last = max(pregnancies, key=lambda p: (p.closed_on or date.min, p.id))
    if last.outcome not in ("live_birth", "stillbirth"):
        return last, None
    try:
        return last, await service.get_birth(session, principal, last.id)
    except NotFound:  # closed through the API with a birth outcome but no birth record
        return last, None


def _birth_ctx(birth: BirthOut | None) -> dict[str, Any]:
    """What the birth summary (``_birth.html``) needs."""
    return {
        "birth": birth,
        "birth_modes": BIRTH_MODES,
        "baby_outcomes": BABY_OUTCOMES,
        "stillbirth_types": STILLBIRTH_TYPES,
        "sexes": SEXES,
    }


def _number(text: str) -> int | None:
    """A small whole number typed in a form (weeks, days, rows), 0 included: ASCII digits
    only ("²".isdigit() is true, and int("²") raises), at most 4 of them; else None."""
    return int(text) if re.fullmatch(r"[0-9]{1,4}", text) else None


def _version(posted: Any) -> int | None:
    return parse_version(forms.text(posted, "version"))


async def _current_of(
    session: DbSession, principal: Principal, person_id: int, pregnancy_id: str
) -> PregnancyOut:
    """Her current pregnancy, which must be the one the form was read for."""
    current = await service.current_pregnancy_of(session, principal, person_id)
    if current is None or str(current.id) != pregnancy_id:
        raise Invalid.fields([FieldError("pregnancy_id", N_("not her current pregnancy"))])
    return current


def _ga_text(days: int) -> tuple[str, str]:
    return str(days // 7), str(days % 7)
