"""Use cases of FHIR subscriptions (R4 rest-hook): keep them, find who to tell, log deliveries.

A subscription is its owner's: only the owner reads, changes or deletes it (anyone else:
404, as for a missing one); the platform administrator sees every one on the operations
page and may switch one off. What a subscriber is told is decided by the FHIR layer
(fhir/subscription.py), which runs the criteria *as the owner* (:func:`owner_principal`).

When a domain publishes ``core.events.ResourceChanged`` and an active subscription on
that type exists, one ``subscription.match`` job is queued in the writer's transaction;
the set of subscribed types is read at most every few seconds, not on every write.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import re
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy import delete, func, select, update
from sqlalchemy import event as orm_events
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from salomat.core import audit, events, jobs, scopes
from salomat.core.config import get_settings
from salomat.core.db import utcnow
from salomat.core.errors import N_, FieldError, Invalid, NotFound, PreconditionFailed
from salomat.core.security import Principal
from salomat.domains.accounts import service as accounts
from salomat.domains.registry import service as registry
from salomat.domains.subscriptions.models import Delivery, Subscription
from salomat.domains.subscriptions.schemas import (
    FHIR_JSON,
    DeliveryOut,
    SubscriptionIn,
    SubscriptionOut,
    SubscriptionRow,
)

__all__ = [
    "DELIVER",
    "MATCH",
    "active_of_type",
    "check_endpoint",
    "check_headers",
    "create",
    "delete_subscription",
    "deliveries",
    "forget_types",
    "get",
    "get_any",
    "log_delivery",
    "may_match",
    "named_person",
    "operations_list",
    "operations_row",
    "owner_principal",
    "problems",
    "search",
    "set_error",
    "subscribed_types",
    "switch_off",
    "update_subscription",
]

_log = logging.getLogger("salomat.subscriptions")

#: the job kinds (handlers in fhir/subscription.py: they need the FHIR searches)
MATCH = "subscription.match"
DELIVER = "subscription.deliver"
#: how long the set of subscribed types is trusted before it is read again
TYPES_TTL_SECONDS = 5.0
MAX_HEADERS = 20
MAX_HEADER_LENGTH = 1000
MAX_CRITERIA_LENGTH = 2000
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}")
#: headers the notification sets itself
_RESERVED_HEADERS = frozenset(
    {"host", "content-length", "content-type", "transfer-encoding", "connection", "expect"}
)

#: per database: when read, and each subscribed type's subscriptions as (id, the one person
#: its criteria names, or None)
_cache: dict[str, tuple[float, dict[str, list[tuple[int, int | None]]]]] = {}
_PERSON_PARAMETERS = frozenset({"patient", "subject", "subject:Patient", "patient:Patient"})


def _cache_key(session: AsyncSession) -> str:
    return str(session.get_bind().url)


def forget_types() -> None:
    """A subscription changed in this process: read them again at the next write."""
    _cache.clear()


def named_person(criteria: str) -> int | None:
    """The one person a criteria is restricted to (``patient=Patient/5``, ``subject=5``),
    or None. Only to tell, before any search, that a change about another person cannot
    match: whether it matches is always the search's to say (fhir/subscription.py)."""
    items = parse_qsl(criteria.partition("?")[2], keep_blank_values=True)
    values = {v for k, v in items if k in _PERSON_PARAMETERS}
    if len(values) != 1:
        return None
    tail = values.pop().removeprefix("Patient/")
    return int(tail) if tail.isascii() and tail.isdigit() and len(tail) <= 18 else None


async def _subscribed(session: AsyncSession) -> dict[str, list[tuple[int, int | None]]]:
    key = _cache_key(session)
    hit = _cache.get(key)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]
    found: dict[str, list[tuple[int, int | None]]] = {}
    rows = await session.execute(
        select(Subscription.id, Subscription.resource_type, Subscription.criteria).where(
            Subscription.status == "active"
        )
    )
    for sid, kind, criteria in rows:
        found.setdefault(kind, []).append((int(sid), named_person(criteria)))
    _cache[key] = (now + TYPES_TTL_SECONDS, found)
    return found


async def subscribed_types(session: AsyncSession) -> frozenset[str]:
    """The types some active subscription is on (read at most every few seconds)."""
    return frozenset(await _subscribed(session))


def may_match(named: int | None, person_id: int | None) -> bool:
    """Whether a change about ``person_id`` may match a criteria naming ``named``."""
    return named is None or person_id is None or named == person_id


@events.subscribe(events.ResourceChanged)
async def _on_change(session: AsyncSession, event: events.ResourceChanged) -> None:
    subs = (await _subscribed(session)).get(event.resource_type, [])
    if not any(may_match(named, event.person_id) for _, named in subs):
        return
    if MATCH not in jobs.kinds():
        # the FHIR layer registers the matching job; a process without it (a bare script)
        # cannot match, and says so rather than failing the write
        _log.warning(
            "%s/%s changed but subscriptions cannot be matched in this process",
            event.resource_type,
            event.resource_id,
        )
        return
    await jobs.enqueue(
        session,
        MATCH,
        {
            "type": event.resource_type,
            "id": event.resource_id,
            "person": event.person_id,
            "at": _now_iso(),
        },
    )
    _wake_after_commit(session)


_WAKE = "subscriptions.wake_after_commit"


def _wake_after_commit(session: AsyncSession) -> None:
    """The in-process workers are told once the writer commits (not at their next poll,
    up to a second later); ``salomat worker`` processes still poll."""
    sync = session.sync_session
    if not sync.info.get(_WAKE):
        sync.info[_WAKE] = True
        orm_events.listen(sync, "after_commit", _woken, once=True)
        orm_events.listen(sync, "after_rollback", _forget_wake, once=True)


def _woken(sync: Any) -> None:
    sync.info.pop(_WAKE, None)
    jobs.wake()


def _forget_wake(sync: Any) -> None:
    sync.info.pop(_WAKE, None)


def _now_iso() -> str:
    return utcnow().isoformat()


# ---- checks ----------------------------------------------------------------------------


def _private(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # not is_global: also the shared address space 100.64.0.0/10 (carrier-grade NAT and
    # some clouds' metadata addresses), which is_private leaves out
    return (
        not ip.is_global
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


async def _addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None)
    except OSError:
        return []
    return [ipaddress.ip_address(str(i[4][0]).split("%")[0]) for i in infos]


async def check_endpoint(url: str, *, field: str = "channel.endpoint") -> list[FieldError]:
    """An endpoint a notification may go to: http(s) with a host; in production https
    only, and (unless ``subscription_private_endpoints``) not a loopback, private,
    link-local or reserved address, whatever name leads there (SSRF)."""
    return (await delivery_target(url, field=field))[0]


async def delivery_target(
    url: str, *, field: str = "channel.endpoint"
) -> tuple[list[FieldError], str | None]:
    """``check_endpoint``'s errors and, where the check resolved the name (production,
    public endpoints only), the address it approved: the delivery connects to that
    address and no other, so a name that resolves elsewhere a moment later (DNS
    rebinding) cannot lead the notification to a private address."""
    settings = get_settings()
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # a port that is no number raises here
    except ValueError:
        return [FieldError(field, N_("must be an http or https URL"))], None
    if parts.scheme not in ("http", "https") or not host or any(c.isspace() for c in url):
        return [FieldError(field, N_("must be an http or https URL"))], None
    if parts.username is not None or parts.password is not None:
        return [FieldError(field, N_("must not carry a user name or password; use a header"))], None
    if parts.fragment:
        return [FieldError(field, N_("must not have a fragment (#...)"))], None
    if settings.production and parts.scheme != "https":
        return [FieldError(field, N_("must be an https URL"))], None
    if settings.production and not settings.subscription_private_endpoints:
        found = await _addresses(host)
        if not found:
            return [FieldError(field, N_("the host name does not resolve"))], None
        if any(_private(ip) for ip in found):
            return [
                FieldError(field, N_("must not lead to a loopback, private or reserved address"))
            ], None
        return [], str(found[0])
    return [], None


def check_headers(headers: list[str]) -> list[FieldError]:
    errors: list[FieldError] = []
    if len(headers) > MAX_HEADERS:
        return [
            FieldError("channel.header", N_("at most %(n)s headers"), {"n": MAX_HEADERS}),
        ]
    for i, h in enumerate(headers):
        name, colon, value = h.partition(":")
        where = f"channel.header[{i}]"
        if not colon or not _HEADER_NAME.fullmatch(name.strip()) or name != name.strip():
            errors.append(FieldError(where, N_("must be 'Name: value'")))
        elif len(h) > MAX_HEADER_LENGTH:
            errors.append(
                FieldError(where, N_("at most %(n)s characters"), {"n": MAX_HEADER_LENGTH})
            )
        elif any((ord(c) < 32 and c != "\t") or ord(c) == 127 for c in value):
            errors.append(FieldError(where, N_("must not contain control characters")))
        elif name.lower() in _RESERVED_HEADERS:
            errors.append(
                FieldError(where, N_("%(name)s is set by the server"), {"name": name.strip()})
            )
    return errors


async def problems(data: SubscriptionIn) -> list[FieldError]:
    """What is wrong with ``data`` (all of it, each naming its element), the criteria's
    search apart: the FHIR layer runs that."""
    errors: list[FieldError] = []
    allowed = ("requested", "active", "off")
    if data.status not in allowed:
        errors.append(
            FieldError(
                "status", N_("must be requested, active or off (error is set by the server)")
            )
        )
    if not data.reason.strip():
        errors.append(FieldError("reason", N_("is required")))
    if len(data.criteria) > MAX_CRITERIA_LENGTH:
        errors.append(
            FieldError("criteria", N_("at most %(n)s characters"), {"n": MAX_CRITERIA_LENGTH})
        )
    if data.payload not in (None, FHIR_JSON):
        errors.append(FieldError("channel.payload", N_("must be empty or application/fhir+json")))
    errors += await check_endpoint(data.endpoint)
    errors += check_headers(data.headers)
    return errors


async def _check(data: SubscriptionIn) -> None:
    if errors := await problems(data):
        raise Invalid.fields(errors)


# ---- the owner's use cases -------------------------------------------------------------


def _out(s: Subscription) -> SubscriptionOut:
    return SubscriptionOut(
        id=s.id,
        owner_user_id=s.owner_user_id,
        owner_username=s.owner_username,
        facility_id=s.facility_id,
        status=s.status,
        resource_type=s.resource_type,
        criteria=s.criteria,
        reason=s.reason,
        endpoint=s.endpoint,
        payload=s.payload,
        headers=json.loads(s.headers),
        end_at=s.end_at,
        error=s.error,
        version=s.version,
        created_at=s.created_at,
        updated_at=s.updated_at,
    )


def _missing(subscription_id: int | str) -> NotFound:
    return NotFound(N_("Subscription %(id)s not found."), params={"id": subscription_id})


async def _own(session: AsyncSession, principal: Principal, subscription_id: int) -> Subscription:
    s = await session.get(Subscription, subscription_id)
    if s is None or s.owner_user_id != principal.user_id:
        raise _missing(subscription_id)
    return s


async def create(
    session: AsyncSession, principal: Principal, data: SubscriptionIn
) -> SubscriptionOut:
    """Keep a subscription; requested (or active) becomes active at once (no handshake).

    The criteria is checked by the caller (the FHIR layer runs it as a search)."""
    await _check(data)
    held = getattr(principal, "scopes", None)
    now = utcnow()
    s = Subscription(
        owner_user_id=principal.user_id,
        owner_username=principal.username,
        owner_scopes=" ".join(sorted(held)) if held is not None else None,
        facility_id=principal.facility_id,
        status="off" if data.status == "off" else "active",
        resource_type=data.resource_type,
        criteria=data.criteria,
        reason=data.reason.strip(),
        endpoint=data.endpoint,
        payload=data.payload,
        headers=json.dumps(data.headers),
        end_at=data.end_at,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(s)
    await session.flush()
    forget_types()
    return _out(s)


async def get(session: AsyncSession, principal: Principal, subscription_id: int) -> SubscriptionOut:
    return _out(await _own(session, principal, subscription_id))


async def update_subscription(
    session: AsyncSession,
    principal: Principal,
    subscription_id: int,
    data: SubscriptionIn,
    *,
    expected_version: int | None = None,
) -> SubscriptionOut:
    """Replace what the owner may set; an ``error`` subscription set active again clears
    its error."""
    s = await _own(session, principal, subscription_id)
    if expected_version is not None and expected_version != s.version:
        raise PreconditionFailed(
            N_("Subscription %(id)s changed since you read it (version %(version)s)."),
            params={"id": subscription_id, "version": s.version},
        )
    await _check(data)
    s.status = "off" if data.status == "off" else "active"
    if s.status == "active":
        s.error = None
    s.resource_type, s.criteria, s.reason = data.resource_type, data.criteria, data.reason.strip()
    s.endpoint, s.payload, s.headers = data.endpoint, data.payload, json.dumps(data.headers)
    s.end_at = data.end_at
    s.updated_at = utcnow()
    await _flush(session, subscription_id)
    forget_types()
    return _out(s)


async def _flush(session: AsyncSession, subscription_id: int) -> None:
    """The row's version is the ORM's (``version_id_col``): a write that raced another
    since it was read fails here rather than overwrite it."""
    try:
        await session.flush()
    except StaleDataError:
        raise PreconditionFailed(
            N_("Subscription %(id)s changed since you read it; read it again."),
            params={"id": subscription_id},
        ) from None


async def delete_subscription(
    session: AsyncSession, principal: Principal, subscription_id: int
) -> None:
    s = await _own(session, principal, subscription_id)
    await session.execute(delete(Delivery).where(Delivery.subscription_id == s.id))
    await session.delete(s)
    await session.flush()
    forget_types()


async def search(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None = None,
    resource_type: str | None = None,
    endpoint: str | None = None,
    criteria: str | None = None,
) -> list[SubscriptionOut]:
    """The owner's subscriptions (no one sees another's)."""
    q = select(Subscription).where(Subscription.owner_user_id == principal.user_id)
    if status is not None:
        q = q.where(Subscription.status == status)
    if resource_type is not None:
        q = q.where(Subscription.resource_type == resource_type)
    if endpoint is not None:
        q = q.where(Subscription.endpoint == endpoint)
    if criteria is not None:
        q = q.where(Subscription.criteria == criteria)
    return [_out(s) for s in await session.scalars(q.order_by(Subscription.id))]


# ---- matching and delivery (the jobs in fhir/subscription.py) --------------------------


async def active_of_type(session: AsyncSession, resource_type: str) -> list[SubscriptionOut]:
    now = utcnow()
    rows = await session.scalars(
        select(Subscription)
        .where(Subscription.status == "active", Subscription.resource_type == resource_type)
        .order_by(Subscription.id)
    )
    return [_out(s) for s in rows if s.end_at is None or s.end_at > now]


async def get_any(session: AsyncSession, subscription_id: int) -> SubscriptionOut | None:
    s = await session.get(Subscription, subscription_id)
    return _out(s) if s is not None else None


async def owner_principal(session: AsyncSession, sub: SubscriptionOut) -> Principal | None:
    """Who the subscription acts as: its owner as the account is now (role, facility),
    under the name and scopes it subscribed with; None once the account is disabled."""
    try:
        user = await accounts.get_user(session, sub.owner_user_id)
    except NotFound:
        return None
    if not user.is_active:
        return None
    row = await session.get(Subscription, sub.id)
    extra: dict[str, Any] = {}
    now = await accounts.granted_scopes(session, user.id)
    if (row is not None and row.owner_scopes is not None) or now is not None:
        # a client system's: the scopes it subscribed with, as far as it still holds them
        # (an administrator who narrows a system's scopes narrows its subscriptions too)
        asked = (row.owner_scopes or "").split() if row is not None else []
        held = now or frozenset()
        extra["scopes"] = frozenset(s for s in asked if scopes.includes(held, s))
    return Principal(
        user_id=user.id,
        username=sub.owner_username,
        role=str(user.role.value if hasattr(user.role, "value") else user.role),
        session_id=f"subscription-{sub.id}",
        facility_id=user.facility_id,
        facility_code=user.facility_code,
        person_id=user.person_id,
        employer_id=user.employer_id,
        via="subscription",
        **extra,
    )


async def log_delivery(
    session: AsyncSession,
    subscription_id: int,
    *,
    job_id: int | None,
    resource_type: str,
    resource_id: str,
    attempt: int,
    status_code: int | None,
    error: str | None,
    duration_ms: int,
) -> DeliveryOut:
    delivered = status_code is not None and 200 <= status_code < 300
    d = Delivery(
        subscription_id=subscription_id,
        job_id=job_id,
        resource_type=resource_type,
        resource_id=resource_id[:64],
        attempt=attempt,
        at=utcnow(),
        outcome="delivered" if delivered else "failed",
        status_code=status_code,
        error=(error or None) and error[:1000],
        duration_ms=max(0, duration_ms),
    )
    session.add(d)
    await session.flush()
    return DeliveryOut.model_validate(d)


async def set_error(session: AsyncSession, subscription_id: int, error: str) -> None:
    """Deliveries kept failing: the subscription stops (``error``) until its owner sets
    it active again."""
    await session.execute(
        update(Subscription)
        .where(Subscription.id == subscription_id, Subscription.status == "active")
        .values(
            status="error",
            error=error[:1000],
            updated_at=utcnow(),
            version=Subscription.version + 1,
        )
    )
    forget_types()


# ---- the operations page (subscription:admin) ------------------------------------------


async def operations_list(
    session: AsyncSession, *, status: str | None = None, limit: int = 100, offset: int = 0
) -> tuple[list[SubscriptionRow], int]:
    """Every subscription with its last delivery: ids, criteria, endpoint, statuses."""
    where = [Subscription.status == status] if status else []
    total = await session.scalar(select(func.count()).select_from(Subscription).where(*where))
    subs = list(
        await session.scalars(
            select(Subscription).where(*where).order_by(Subscription.id).limit(limit).offset(offset)
        )
    )
    last_ids = (
        select(func.max(Delivery.id))
        .where(Delivery.subscription_id.in_([s.id for s in subs]))
        .group_by(Delivery.subscription_id)
    )
    last = {
        d.subscription_id: DeliveryOut.model_validate(d)
        for d in await session.scalars(select(Delivery).where(Delivery.id.in_(last_ids)))
    }
    codes: dict[int, str | None] = {}
    for fid in {s.facility_id for s in subs if s.facility_id is not None}:
        codes[fid] = await registry.facility_code(session, fid)
    return [
        SubscriptionRow(
            id=s.id,
            owner_username=s.owner_username,
            facility_id=s.facility_id,
            facility_code=codes.get(s.facility_id) if s.facility_id is not None else None,
            status=s.status,
            criteria=s.criteria,
            endpoint=s.endpoint,
            error=s.error,
            last_delivery=last.get(s.id),
        )
        for s in subs
    ], int(total or 0)


async def operations_row(session: AsyncSession, subscription_id: int) -> SubscriptionRow:
    return (await _rows_of(session, subscription_id))[0]


async def deliveries(
    session: AsyncSession, subscription_id: int, *, limit: int = 100, offset: int = 0
) -> tuple[SubscriptionRow, list[DeliveryOut], int]:
    """One subscription's delivery log, newest first (for the administrator)."""
    rows, _ = await _rows_of(session, subscription_id)
    total = await session.scalar(
        select(func.count())
        .select_from(Delivery)
        .where(Delivery.subscription_id == subscription_id)
    )
    found = await session.scalars(
        select(Delivery)
        .where(Delivery.subscription_id == subscription_id)
        .order_by(Delivery.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return rows, [DeliveryOut.model_validate(d) for d in found], int(total or 0)


async def _rows_of(session: AsyncSession, subscription_id: int) -> tuple[SubscriptionRow, int]:
    s = await session.get(Subscription, subscription_id)
    if s is None:
        raise _missing(subscription_id)
    last = await session.scalar(
        select(Delivery)
        .where(Delivery.subscription_id == s.id)
        .order_by(Delivery.id.desc())
        .limit(1)
    )
    code = await registry.facility_code(session, s.facility_id) if s.facility_id else None
    return SubscriptionRow(
        id=s.id,
        owner_username=s.owner_username,
        facility_id=s.facility_id,
        facility_code=code,
        status=s.status,
        criteria=s.criteria,
        endpoint=s.endpoint,
        error=s.error,
        last_delivery=DeliveryOut.model_validate(last) if last is not None else None,
    ), s.version


async def switch_off(session: AsyncSession, principal: Principal, subscription_id: int) -> None:
    """The administrator stops a subscription (its owner may set it active again)."""
    s = await session.get(Subscription, subscription_id)
    if s is None:
        raise _missing(subscription_id)
    if s.status != "off":
        s.status = "off"
        s.updated_at = utcnow()
        await _flush(session, subscription_id)
        await audit.record(
            session,
            principal,
            action="update",
            resource_type="Subscription",
            resource_id=str(s.id),
            purpose="switched off on the operations page",
        )
    forget_types()
