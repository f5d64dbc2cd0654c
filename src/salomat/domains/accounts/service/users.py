"""User accounts: create, list, disable, link to a practitioner; they follow a merged person."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.config import get_settings
from salomat.core.db import utcnow
from salomat.core.errors import N_, Conflict, FieldError, Invalid, InvalidState, NotFound
from salomat.core.pagination import Page, PageParams
from salomat.core.policy import Role, facility_required
from salomat.core.security import Principal, hash_password
from salomat.country import pack
from salomat.domains.accounts.models import AuthSession, BreakGlassGrant, User
from salomat.domains.accounts.schemas import UserIn, UserOut
from salomat.domains.accounts.service import principal_cache
from salomat.domains.registry import service as registry
from salomat.domains.registry.schemas import PractitionerLinkOut

__all__ = [
    "count_users",
    "create_user",
    "facility_choices",
    "get_user",
    "link_practitioner",
    "list_users",
    "move_person_rows",
    "set_active",
]


async def create_user(session: AsyncSession, data: UserIn) -> UserOut:
    errors: list[FieldError] = []
    facility_id = None
    if facility_required(data.role):
        if not data.facility_code:
            errors.append(FieldError("facility_code", f"role {data.role} works for a facility"))
        else:
            fac = await registry.facility_by_code(session, data.facility_code)
            if fac is None:
                errors.append(
                    FieldError("facility_code", f"no facility has code {data.facility_code}")
                )
            else:
                facility_id = fac.id
    elif data.facility_code:
        errors.append(FieldError("facility_code", f"role {data.role} is not bound to a facility"))
    if data.role == Role.citizen:
        if data.person_id is None:
            errors.append(FieldError("person_id", "a citizen account opens one person's record"))
        elif not await registry.person_exists(session, data.person_id):
            errors.append(FieldError("person_id", f"no person has id {data.person_id}"))
    elif data.person_id is not None:
        errors.append(FieldError("person_id", "only citizen accounts are linked to a person"))
    employer_id = await _employer_id(session, data, errors)
    offered = pack.load(get_settings().country)["languages"]
    if data.language is not None and data.language not in offered:
        # the pack's languages: its own, ru and en (a kk preference on a UZ deployment is none)
        errors.append(FieldError("language", f"not a language of this country: {data.language}"))
    if errors:
        raise Invalid.fields(errors)
    taken = await session.execute(select(User.id).where(User.username == data.username))
    if taken.first():
        raise Conflict(
            f"The username {data.username} is taken.",
            errors=[FieldError("username", "already taken")],
        )
    user = User(
        username=data.username,
        password_hash=hash_password(data.password),
        role=data.role.value,
        full_name=data.full_name,
        facility_id=facility_id,
        person_id=data.person_id,
        employer_id=employer_id,
        language=data.language,
        is_active=True,
        created_at=utcnow(),
    )
    session.add(user)
    await session.flush()
    return await _out(session, user)


async def _employer_id(session: AsyncSession, data: UserIn, errors: list[FieldError]) -> int | None:
    """An ``employer`` account acts for exactly one active employer organisation, named by
    its business id; no other role is bound to one."""
    field = "employer_business_id"
    if data.role != Role.employer:
        if data.employer_business_id:
            errors.append(
                FieldError(
                    field,
                    N_("only employer accounts are bound to an employer organisation"),
                )
            )
        return None
    if not data.employer_business_id:
        errors.append(
            FieldError(field, N_("an employer account acts for one employer organisation"))
        )
        return None
    try:
        number = registry.normalise_business_id(data.employer_business_id, field=field)
    except Invalid as e:
        errors += e.errors
        return None
    employer = await registry.employer_by_business_id(session, number)
    if employer is None:
        errors.append(
            FieldError(
                field,
                N_("no employer is registered with the number %(business_id)s"),
                {"business_id": number},
            )
        )
        return None
    if not employer.active:
        errors.append(
            FieldError(
                field,
                N_("the employer %(name)s is no longer active"),
                {"name": employer.name},
            )
        )
        return None
    return employer.id


async def _out(session: AsyncSession, user: User) -> UserOut:
    out = UserOut.model_validate(user)
    if user.facility_id is not None:
        out.facility_code = (await registry.get_facility(session, user.facility_id)).code
    return out


async def get_user(session: AsyncSession, user_id: int) -> UserOut:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} not found.")
    return await _out(session, user)


async def list_users(session: AsyncSession, page: PageParams) -> Page[UserOut]:
    total = (await session.execute(select(func.count()).select_from(User))).scalar_one()
    rows = await session.execute(
        select(User, registry.facility_code_of(User.facility_id))
        .order_by(User.username)
        .limit(page.limit)
        .offset(page.offset)
    )
    items = []
    for user, code in rows:  # the facility's code in the same statement, not one read per user
        out = UserOut.model_validate(user)
        out.facility_code = code
        items.append(out)
    return Page[UserOut](
        items=items,
        total=int(total),
        limit=page.limit,
        offset=page.offset,
    )


async def facility_choices(session: AsyncSession) -> list[tuple[str, str]]:
    """(code, name) of open facilities, for the account form."""
    page = await registry.list_facilities(session, PageParams(limit=1000, offset=0))
    return [(f.code, f.name) for f in page.items if f.is_open]


async def count_users(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(User))).scalar_one())


async def set_active(
    session: AsyncSession, actor: Principal, user_id: int, active: bool
) -> UserOut:
    """Disabling revokes every open session of the account at once (in every process:
    this one forgets the account's principals now, the others within
    ``SALOMAT_AUTH_CACHE_SECONDS``)."""
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} not found.")
    if not active and user.id == actor.user_id:
        raise InvalidState("You cannot disable your own account.")
    user.is_active = active
    user.disabled_at = None if active else utcnow()
    principal_cache.forget(session, user_ids=[user.id])
    if not active:
        await _revoke_all(session, user.id)
    await session.flush()
    return await _out(session, user)


async def _revoke_all(session: AsyncSession, user_id: int) -> None:
    await session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def link_practitioner(
    session: AsyncSession, actor: Principal, user_id: int, practitioner_id: int | None
) -> PractitionerLinkOut:
    """Links a clinician's account to their practitioner record (``None`` unlinks).

    The account must work where the practitioner holds a current role, and one
    practitioner has at most one account (a database constraint as well). The link
    already there, sent again: answered as it is (nothing changes, nothing is audited).
    """
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} not found.")
    if practitioner_id == user.practitioner_id:
        return PractitionerLinkOut(
            user_id=user.id, username=user.username, practitioner_id=user.practitioner_id
        )
    if practitioner_id is not None:
        errors = []
        if user.role == Role.citizen:
            errors.append(FieldError("practitioner_id", "a citizen account is not a practitioner"))
        elif not await registry.practitioner_exists(session, practitioner_id):
            errors.append(
                FieldError("practitioner_id", f"no practitioner has id {practitioner_id}")
            )
        elif user.facility_id is not None and not await registry.practitioner_works_at(
            session, practitioner_id, user.facility_id
        ):
            errors.append(
                FieldError(
                    "practitioner_id",
                    "the practitioner holds no current role at the account's facility",
                )
            )
        if errors:
            raise Invalid.fields(errors)
        other = await session.scalar(
            select(User.username).where(User.practitioner_id == practitioner_id, User.id != user.id)
        )
        if other is not None:
            raise Conflict(
                f"Practitioner {practitioner_id} is linked to the account {other}.",
                errors=[FieldError("practitioner_id", f"linked to {other}")],
            )
    user.practitioner_id = practitioner_id
    await session.flush()
    await audit.record(
        session,
        actor,
        action="update",
        resource_type="User",
        resource_id=str(user.id),
        detail=f"practitioner link: {practitioner_id}",
    )
    return PractitionerLinkOut(
        user_id=user.id, username=user.username, practitioner_id=user.practitioner_id
    )


@registry.on_person_rows_moved
async def move_person_rows(session: AsyncSession, event: registry.PersonRowsMoved) -> None:
    """A registry merge or unmerge: accounts and break-the-glass grants follow the person."""
    for model, table in ((User, "app_user"), (BreakGlassGrant, "break_glass_grant")):
        where = [model.person_id == event.from_id]
        if event.only is not None:
            if not event.only.get(table):
                continue
            where.append(model.id.in_(event.only[table]))
        ids = list((await session.scalars(select(model.id).where(*where))).all())
        if ids:
            await session.execute(
                update(model).where(model.id.in_(ids)).values(person_id=event.to_id)
            )
            event.moved[table] = ids
            if model is User:  # a principal names its person: read the moved ones again
                principal_cache.forget(session, user_ids=ids)
