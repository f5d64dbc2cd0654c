"""The pregnancy register: reading a pregnancy, and what its use cases share.

Every read and write of a pregnancy goes through ``policy.require_person``
(scope check and audit row in one call): an out-of-scope clinician gets 404,
as for a missing record (``_open``). Writes check every field before anything
is added to the session, so a refused request stores nothing.

The use cases that write: ``pregnancy_opening`` (registration),
``pregnancy_contacts`` (antenatal contacts), ``pregnancy_closing`` (an outcome
other than a birth, and a death); ``pregnancy_merge`` follows the registry's
merges. After each write the rules (``service.rules``, the WHO ANC DAK
decision tables) run over the whole pregnancy (``evaluation``): the advice
they give replaces the active set, and the risk level and level of care are
stored on the pregnancy.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.errors import (
    N_,
    FieldError,
    NotFound,
    PreconditionFailed,
)
from salomat.core.policy import require_person
from salomat.core.security import Principal
from salomat.domains.maternal.models import (
    AdviceItem,
    AntenatalContact,
    Pregnancy,
    Referral,
)
from salomat.domains.maternal.schemas import (
    AdviceOut,
    ContactOut,
    PregnancyDetail,
    PregnancyOut,
)

# re-exported: the other maternal modules read the facts and dates through ``pregnancy``
from salomat.domains.maternal.service.evaluation import (
    _contacts as _contacts,
)
from salomat.domains.maternal.service.evaluation import (
    _country as _country,
)
from salomat.domains.maternal.service.evaluation import (
    _diagnoses,
    diagnoses_out,
    evaluate,
    ga_on,
)
from salomat.domains.maternal.service.evaluation import (
    _facts as _facts,
)
from salomat.domains.maternal.service.evaluation import (
    _json as _json,
)
from salomat.domains.maternal.service.evaluation import (
    _save as _save,
)
from salomat.domains.maternal.service.evaluation import (
    _start as _start,
)
from salomat.domains.registry import service as registry

__all__ = [
    "current_pregnancy_of",
    "evaluate",
    "get_pregnancy",
    "list_advice",
    "list_contacts",
    "list_pregnancies",
]

#: FHIR's name for a pregnancy record (an episode of antenatal care), in the audit
RESOURCE = "EpisodeOfCare"
#: an antenatal contact, in the audit
CONTACT = "Encounter"
_CODE_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_")


def weeks(days: int) -> str:
    return f"{days // 7}w{days % 7}d"


# ---- reading --------------------------------------------------------------------------


async def _load(session: AsyncSession, principal: Principal, pregnancy_id: int) -> Pregnancy:
    p = await session.get(Pregnancy, pregnancy_id)
    if p is None:
        await audit.denied(
            session,
            principal,
            resource_type=RESOURCE,
            resource_id=str(pregnancy_id),
            detail="no such pregnancy",
        )
        raise NotFound(N_("Pregnancy %(id)s not found."), params={"id": pregnancy_id})
    return p


async def _open(
    session: AsyncSession, principal: Principal, pregnancy_id: int, *, action: str, what: str
) -> Pregnancy:
    """Load and check scope: an out-of-scope pregnancy is ``NotFound`` like a missing one."""
    p = await _load(session, principal, pregnancy_id)
    try:
        await require_person(
            session, principal, p.person_id, action=action, resource_type=what, purpose=None
        )
    except NotFound:
        raise NotFound(N_("Pregnancy %(id)s not found."), params={"id": pregnancy_id}) from None
    return p


def _out(p: Pregnancy) -> PregnancyOut:
    out = PregnancyOut.model_validate(p)
    out.ga_days = ga_on(p, p.closed_on or date.today())
    out.ga_weeks = weeks(out.ga_days)
    return out


def _contact_out(c: AntenatalContact) -> ContactOut:
    out = ContactOut.model_validate(c)
    out.ga_weeks = weeks(c.ga_days)
    return out


async def _advice(
    session: AsyncSession, pregnancy_id: int, *, retired: bool = False
) -> list[AdviceOut]:
    q = select(AdviceItem).where(AdviceItem.pregnancy_id == pregnancy_id)
    if not retired:
        q = q.where(AdviceItem.active.is_(True))
    rows = await session.execute(q.order_by(AdviceItem.id))
    return [AdviceOut.model_validate(a) for a in rows.scalars()]


async def _detail(session: AsyncSession, p: Pregnancy) -> PregnancyDetail:
    out = PregnancyDetail.model_validate(_out(p).model_dump())
    contacts = await _contacts(session, p.id)
    out.contacts = [_contact_out(c) for c in contacts]
    out.advice = await _advice(session, p.id)
    out.diagnoses = diagnoses_out(await _diagnoses(session, p.id), contacts)
    return out


async def get_pregnancy(
    session: AsyncSession, principal: Principal, pregnancy_id: int
) -> PregnancyDetail:
    """The pregnancy with its contacts, its active advice and its risk level."""
    p = await _open(session, principal, pregnancy_id, action="read", what=RESOURCE)
    return await _detail(session, p)


async def list_pregnancies(
    session: AsyncSession, principal: Principal, person_id: int
) -> list[PregnancyOut]:
    """Her pregnancies, the newest first."""
    await require_person(session, principal, person_id, action="read", resource_type=RESOURCE)
    rows = await session.execute(
        select(Pregnancy)
        .where(Pregnancy.person_id == person_id)
        .order_by(Pregnancy.edd.desc(), Pregnancy.id.desc())
    )
    return [_out(p) for p in rows.scalars()]


async def current_pregnancy_of(
    session: AsyncSession, principal: Principal, person_id: int
) -> PregnancyOut | None:
    await require_person(session, principal, person_id, action="read", resource_type=RESOURCE)
    p = await _current(session, person_id)
    return _out(p) if p is not None else None


async def _current(session: AsyncSession, person_id: int) -> Pregnancy | None:
    return (
        await session.execute(
            select(Pregnancy).where(Pregnancy.person_id == person_id, Pregnancy.status == "current")
        )
    ).scalar_one_or_none()


async def list_contacts(
    session: AsyncSession, principal: Principal, pregnancy_id: int
) -> list[ContactOut]:
    await _open(session, principal, pregnancy_id, action="read", what=CONTACT)
    return [_contact_out(c) for c in await _contacts(session, pregnancy_id)]


async def list_advice(
    session: AsyncSession, principal: Principal, pregnancy_id: int, *, retired: bool = False
) -> list[AdviceOut]:
    """The active advice (with ``retired``, every evaluation's, oldest first)."""
    await _open(session, principal, pregnancy_id, action="read", what=RESOURCE)
    return await _advice(session, pregnancy_id, retired=retired)


# ---- shared by the writes --------------------------------------------------------------


def _check_version(p: Pregnancy, expected: int | None) -> None:
    if expected is None:
        raise PreconditionFailed(N_("Send If-Match with the version you read (its ETag)."))
    if expected != p.version:
        raise PreconditionFailed(
            N_(
                "The pregnancy record changed since you read it (version %(version)s, you "
                "sent %(sent)s); reload and retry."
            ),
            params={"version": p.version, "sent": expected},
        )


def _codes(values: list[str], field: str) -> tuple[list[str], list[FieldError]]:
    """Lower-case snake_case codes, each once, in the order given."""
    out: list[str] = []
    errors = []
    for v in values:
        code = v.strip().lower()
        if not code or not set(code) <= _CODE_CHARS or len(code) > 64:
            errors.append(
                FieldError(
                    field,
                    N_("%(value)s is not a code (lower-case letters, digits, _)"),
                    {"value": repr(v)},
                )
            )
        elif code not in out:
            out.append(code)
    return out, errors


async def _end_referral_care(session: AsyncSession, p: Pregnancy) -> None:
    """The outcome ends the care its accepted or seen referrals opened.

    The receiving centre loses her record with the pregnancy; the referrals
    keep their status (the centre did not return them).
    """
    rels = await session.scalars(
        select(Referral.care_relationship_id).where(
            Referral.pregnancy_id == p.id,
            Referral.status.in_(("accepted", "seen")),
            Referral.care_relationship_id.is_not(None),
        )
    )
    for rel_id in rels.all():
        await registry.close_care_relationship(session, rel_id)
