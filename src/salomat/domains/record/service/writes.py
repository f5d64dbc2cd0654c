"""Create and update: a resource kept as sent, its identifiers and tokens beside it.

Any clinical account may send a record for any registered person, living or dead (a
hospital receives patients attached elsewhere); each write is audited. The sending
facility may find again, read and update what it sent (``scope``), nothing more of the
person; only it may update a resource (a resource is its sender's statement).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit, events
from salomat.core.db import utcnow
from salomat.core.errors import (
    N_,
    Conflict,
    FieldError,
    Forbidden,
    Invalid,
    PreconditionFailed,
)
from salomat.core.security import Principal
from salomat.domains.maternal import service as maternal
from salomat.domains.record.models import (
    RecordIdentifier,
    RecordResource,
    RecordToken,
    RecordVersion,
)
from salomat.domains.record.schemas import StoredResource
from salomat.domains.record.service.common import (
    PURPOSE,
    SUBJECT_FIELD,
    dumps,
    instant,
    row_id,
    stored,
    to_ms,
)
from salomat.domains.record.service.common import (
    fhir_id as to_fhir_id,
)
from salomat.domains.record.service.reads import load_in_scope, row_or_404, scope_or_404
from salomat.domains.record.service.scope import resource_scope, sent_by_caller
from salomat.domains.record.service.tokens import parse_token
from salomat.domains.record.service.validation import Prepared, check_resource, unstorable

__all__ = ["check_create", "create_resource", "update_resource"]


def _with_meta(resource: dict[str, Any], rid: int, version: int, at: Any) -> dict[str, Any]:
    """The resource as sent with its id and meta set (meta.source and the rest of meta
    kept as sent)."""
    body = dict(resource)
    meta = dict(body.get("meta") or {}) if isinstance(body.get("meta"), dict) else {}
    meta["versionId"] = str(version)
    meta["lastUpdated"] = instant(at)
    out: dict[str, Any] = {"resourceType": body.pop("resourceType"), "id": to_fhir_id(rid)}
    body.pop("id", None)
    body.pop("meta", None)
    out["meta"] = meta
    out.update(body)
    return out


async def _match(
    session: AsyncSession,
    resource_type: str,
    criteria: list[tuple[str, str]],
    prepared: Prepared,
) -> list[RecordResource]:
    """The resources of ``resource_type`` and of the resource's person matching every
    criterion (at most two: one is enough to answer, two to refuse). An identifier
    criterion names one of the resource's own identifiers (so the unique key decides a
    race), in full: system|value."""
    q = select(RecordResource).where(
        RecordResource.resource_type == resource_type,
        RecordResource.person_id == prepared.person_id,
    )
    errors: list[FieldError] = []
    for name, value in criteria:
        if name == "_id":
            rid = row_id(value)
            q = q.where(RecordResource.id == (rid if rid is not None and rid < 2**63 else 0))
        elif name == "identifier":
            if unstorable(value):
                errors.append(
                    FieldError(
                        "If-None-Exist.identifier",
                        N_("Contains a character that cannot be stored."),
                    )
                )
                continue
            try:
                system, code = parse_token(value)
            except ValueError:
                errors.append(
                    FieldError(
                        "If-None-Exist.identifier", N_("Give the identifier as system|value.")
                    )
                )
                continue
            if system is None or (system, code) not in prepared.identifiers:
                errors.append(
                    FieldError(
                        "If-None-Exist.identifier",
                        N_(
                            "The condition's identifier (system|value) must be one of the "
                            "resource's identifiers."
                        ),
                    )
                )
                continue
            q = q.where(
                select(RecordIdentifier.id)
                .where(
                    RecordIdentifier.resource_id == RecordResource.id,
                    RecordIdentifier.system == system,
                    RecordIdentifier.value == code,
                )
                .exists()
            )
        else:
            errors.append(
                FieldError(
                    f"If-None-Exist.{name}",
                    N_("A conditional create may name identifier or _id, not %(name)s."),
                    {"name": name},
                )
            )
    if errors:
        raise Invalid.fields(errors)
    return list(await session.scalars(q.order_by(RecordResource.id).limit(2)))


async def _existing(
    session: AsyncSession, principal: Principal, row: RecordResource
) -> StoredResource | None:
    """What a conditional create that found ``row`` answers: the resource, read as any
    read is (audited); None when the caller may not see it (nothing of it is shown)."""
    scope = await resource_scope(session, principal, row.person_id, row.sender_facility_id)
    if scope is None:
        await audit.denied(
            session,
            principal,
            resource_type=row.resource_type,
            resource_id=to_fhir_id(row.id),
            patient_id=row.person_id,
            detail="conditional create matched a record outside the user's scope",
        )
        return None
    return await load_in_scope(session, principal, row.resource_type, row.id)


async def _taken(
    session: AsyncSession,
    principal: Principal,
    resource_type: str,
    prepared: Prepared,
    found: list[tuple[str, str, int]],
) -> Conflict:
    """The refusal of an identifier another resource has: that resource named only to a
    caller who may see it (else one answer, whoever's and whatever it is)."""
    system, value, rid = found[0]
    i = prepared.identifiers.index((system, value))
    owner = await session.get(RecordResource, rid)
    visible = owner is not None and (
        await resource_scope(session, principal, owner.person_id, owner.sender_facility_id)
        is not None
    )
    errors = [FieldError(f"identifier[{i}]", N_("This identifier names another resource already."))]
    if not visible:
        return Conflict(
            N_("The identifier %(system)s|%(value)s names another resource already."),
            params={"system": system, "value": value},
            errors=errors,
        )
    return Conflict(
        N_("The identifier %(system)s|%(value)s names %(reference)s already."),
        params={
            "system": system,
            "value": value,
            "reference": f"{resource_type}/{to_fhir_id(rid)}",
        },
        errors=errors,
    )


async def _identifier_owners(
    session: AsyncSession, resource_type: str, pairs: list[tuple[str, str]], but: int | None
) -> list[tuple[str, str, int]]:
    if not pairs:
        return []
    q = select(RecordIdentifier.system, RecordIdentifier.value, RecordIdentifier.resource_id).where(
        RecordIdentifier.resource_type == resource_type,
        or_(*(and_(RecordIdentifier.system == s, RecordIdentifier.value == v) for s, v in pairs)),
    )
    if but is not None:
        q = q.where(RecordIdentifier.resource_id != but)
    return [(s, v, int(r)) for s, v, r in await session.execute(q)]


async def _index(
    session: AsyncSession, row: RecordResource, prepared: Prepared, *, replace: bool
) -> None:
    if replace:
        await session.execute(
            delete(RecordIdentifier).where(RecordIdentifier.resource_id == row.id)
        )
        await session.execute(delete(RecordToken).where(RecordToken.resource_id == row.id))
    if prepared.identifiers:
        await session.execute(
            insert(RecordIdentifier),
            [
                {"resource_id": row.id, "resource_type": row.resource_type, "system": s, "value": v}
                for s, v in prepared.identifiers
            ],
        )
    tokens = list(dict.fromkeys(prepared.tokens))
    if tokens:
        await session.execute(
            insert(RecordToken),
            [{"resource_id": row.id, "param": p, "system": s, "code": c} for p, s, c in tokens],
        )


def _columns(prepared: Prepared) -> dict[str, Any]:
    return {
        "status": prepared.status,
        "code_system": prepared.code_system,
        "code": prepared.code,
        "code_text": prepared.code_text,
        "category": prepared.category,
        "effective_start": prepared.effective_start,
        "effective_end": prepared.effective_end,
        "encounter_id": prepared.encounter_id,
        "source": prepared.source,
        "value_text": prepared.value_text,
        "attachment_title": prepared.attachment_title,
        "shown_end": prepared.shown_end,
    }


async def create_resource(
    session: AsyncSession,
    principal: Principal,
    resource: dict[str, Any],
    *,
    if_none_exist: list[tuple[str, str]] | None = None,
) -> tuple[StoredResource, bool]:
    """Keep ``resource`` (as sent; id and meta set). ``if_none_exist``: the parsed items
    of a conditional create (identifier=system|value, _id): one match answers it
    (created False), several refuse (412). A conditional create that loses a race on an
    identifier answers the winner; a plain one is refused (409), as it is when the
    identifier names a stored resource already."""
    prepared = await check_resource(session, resource, principal=principal)
    rtype = str(resource["resourceType"])
    if if_none_exist:
        matches = await _match(session, rtype, if_none_exist, prepared)
        if len(matches) > 1:
            raise PreconditionFailed(
                N_("The condition matches more than one %(type)s; nothing was stored."),
                params={"type": rtype},
            )
        if matches and (existing := await _existing(session, principal, matches[0])):
            return existing, False
        # a match the caller may not see is no match: an _id alone creates; an
        # identifier is refused below as any taken identifier is
    if found := await _identifier_owners(session, rtype, prepared.identifiers, None):
        raise await _taken(session, principal, rtype, prepared, found)
    now = to_ms(utcnow())
    row = RecordResource(
        resource_type=rtype,
        person_id=prepared.person_id,
        version=1,
        sender=principal.username,
        sender_facility_id=principal.facility_id,
        created_at=now,
        last_updated=now,
        body="{}",
        **_columns(prepared),
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
            body = dumps(_with_meta(resource, row.id, 1, now))
            row.body = body
            session.add(
                RecordVersion(
                    resource_id=row.id,
                    version=1,
                    body=body,
                    changed_at=now,
                    changed_by=principal.username,
                )
            )
            await _index(session, row, prepared, replace=False)
            await session.flush()
    except IntegrityError:
        # another request stored a resource with one of these identifiers meanwhile: the
        # savepoint took ours back; the winner has committed (its unique key held ours)
        with session.no_autoflush:
            found = await _identifier_owners(session, rtype, prepared.identifiers, None)
        if not found:
            raise
        if if_none_exist:
            winner = await session.get(RecordResource, found[0][2], populate_existing=True)
            if (
                winner is not None
                and winner.person_id == prepared.person_id
                and (existing := await _existing(session, principal, winner))
            ):
                return existing, False
        raise await _taken(session, principal, rtype, prepared, found) from None
    await audit.record(
        session,
        principal,
        action="create",
        resource_type=rtype,
        resource_id=to_fhir_id(row.id),
        patient_id=row.person_id,
        purpose=PURPOSE,
    )
    await _domain_rules(session, principal, row, resource)
    await events.publish(session, events.ResourceChanged(rtype, to_fhir_id(row.id), row.person_id))
    return stored(row), True


async def check_create(
    session: AsyncSession, principal: Principal, resource: dict[str, Any]
) -> None:
    """What a create of ``resource`` would refuse, refused the same way, and nothing
    stored (FHIR ``$validate``): the record's checks (``Invalid``) and an identifier
    another resource has (``Conflict``, naming it only to whoever may see it)."""
    prepared = await check_resource(session, resource, principal=principal)
    rtype = str(resource["resourceType"])
    if found := await _identifier_owners(session, rtype, prepared.identifiers, None):
        raise await _taken(session, principal, rtype, prepared, found)


async def update_resource(
    session: AsyncSession,
    principal: Principal,
    resource_type: str,
    fhir_id: str,
    resource: dict[str, Any],
    *,
    if_match: int | None = None,
) -> StoredResource:
    """A new version of a stored resource (no update-as-create: an unknown id is 404).
    A stale ``if_match`` is refused (412, as FHIR R4 answers a stale If-Match); a change
    of the person is refused too. Only the facility that sent the resource changes it
    (another that may see it: 403; one that may not: 404), audited under its reason."""
    row = await row_or_404(session, resource_type, fhir_id)
    # seen as for a read (else 404, audited); changed only by the facility that sent it
    scope = await scope_or_404(session, principal, resource_type, row)
    if not sent_by_caller(principal, row.sender_facility_id):
        await audit.denied(
            session,
            principal,
            resource_type=resource_type,
            resource_id=to_fhir_id(row.id),
            patient_id=row.person_id,
            detail="update of a record another facility sent",
        )
        raise Forbidden(
            N_(
                "Only the facility that sent %(reference)s may change it; send your own "
                "resource instead."
            ),
            params={"reference": f"{resource_type}/{fhir_id}"},
        )
    sent_id = resource.get("id") if isinstance(resource, dict) else None
    if sent_id is not None and sent_id != fhir_id:
        raise Invalid.fields(
            [FieldError("id", N_("The resource's id (%(sent)s) is not the one in the address "
                                 "(%(id)s)."), {"sent": str(sent_id), "id": fhir_id})]
        )  # fmt: skip
    prepared = await check_resource(session, resource, resource_type, principal=principal)
    if prepared.person_id != row.person_id:
        field = SUBJECT_FIELD[resource_type]
        raise Invalid.fields(
            [FieldError(field, N_("A resource stays with its patient; send a new one instead."))]
        )
    current = row.version
    if if_match is not None and if_match != current:
        raise PreconditionFailed(
            N_(
                "Version %(sent)s was changed meanwhile (the current one is %(current)s); "
                "read it again and send your change on it."
            ),
            params={"sent": if_match, "current": current},
            extensions={"current_version": current},
        )
    if found := await _identifier_owners(session, resource_type, prepared.identifiers, row.id):
        raise await _taken(session, principal, resource_type, prepared, found)
    now = to_ms(utcnow())
    version = current + 1
    body = dumps(_with_meta(resource, row.id, version, now))
    try:
        async with session.begin_nested():
            done = await session.execute(
                update(RecordResource)
                .where(RecordResource.id == row.id, RecordResource.version == current)
                .values(version=version, last_updated=now, body=body, **_columns(prepared))
                .execution_options(synchronize_session=False)
            )
            if done.rowcount != 1:
                raise _Stale
            session.add(
                RecordVersion(
                    resource_id=row.id,
                    version=version,
                    body=body,
                    changed_at=now,
                    changed_by=principal.username,
                )
            )
            await _index(session, row, prepared, replace=True)
            await session.flush()
    except (_Stale, IntegrityError) as e:
        with session.no_autoflush:
            found = await _identifier_owners(session, resource_type, prepared.identifiers, row.id)
        if found:
            raise await _taken(session, principal, resource_type, prepared, found) from None
        raise Conflict(
            N_("The resource was changed meanwhile; read it again and send your change on it."),
        ) from e
    await session.refresh(row)
    await audit.record(
        session,
        principal,
        action="update",
        resource_type=resource_type,
        resource_id=to_fhir_id(row.id),
        patient_id=row.person_id,
        purpose=scope.reason,
        break_glass_grant=scope.break_glass_grant,
    )
    await _domain_rules(session, principal, row, resource)
    await events.publish(
        session, events.ResourceChanged(resource_type, to_fhir_id(row.id), row.person_id)
    )
    return stored(row)


async def _domain_rules(
    session: AsyncSession, principal: Principal, row: RecordResource, resource: dict[str, Any]
) -> None:
    """The domain rules that read what other systems send run on it, in this transaction:
    an Observation for a woman with a current pregnancy reaches the antenatal rules
    (maternal takes what it reads and re-evaluates her pregnancy; docs/record.md)."""
    if row.resource_type == "Observation":
        await maternal.take_external_observation(
            session,
            principal,
            person_id=row.person_id,
            resource_id=to_fhir_id(row.id),
            version=row.version,
            resource=resource,
            facility_id=row.sender_facility_id,
        )


class _Stale(Exception):
    """Another update took the version first."""
