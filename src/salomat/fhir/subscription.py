"""FHIR R4 Subscription (rest-hook): the resource, the criteria check, matching and delivery.

**The criteria is a search this server answers.** It is checked, and later matched, by
running it through the very route that answers ``GET /fhir/<Type>?<query>`` (the same
route matching, claims, dependencies, permission and scope checks, audit): no second
parser. Matching a changed resource runs ``criteria&_id=<id>`` (or, for a search that
has no ``_id``, the criteria's pages filtered by id) *as the subscriber*: it is only told
of what it may find itself, and the search is audited under its name.

**Delivery** is a job per notification (``subscription.deliver``), retried with backoff
(seconds, then minutes); each attempt is a row of the delivery log. A notification with
``channel.payload`` ``application/fhir+json`` is ``PUT <endpoint>/<Type>/<id>`` with the
resource read again as the subscriber at that moment (a read of person data: audited);
an empty payload is an id-only ``POST <endpoint>`` with no body, naming the subscription
and the resource in the ``X-Salomat-Subscription`` and ``X-Salomat-Resource`` headers.
Deliveries that fail every attempt put the subscription in ``error``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpcore
import httpx
from fastapi.exceptions import RequestValidationError
from fhir.resources.R4B.subscription import Subscription
from starlette.exceptions import HTTPException

from salomat.core import audit, jobs
from salomat.core.config import get_settings
from salomat.core.errors import N_, FieldError, Invalid, SalomatError
from salomat.core.security import Principal
from salomat.domains.record.service import RESOURCE_TYPES as RECORD_TYPES
from salomat.domains.subscriptions import service
from salomat.domains.subscriptions.schemas import (
    FHIR_JSON,
    REST_HOOK,
    SubscriptionIn,
    SubscriptionOut,
)
from salomat.fhir.common import instant, validated

_log = logging.getLogger("salomat.subscriptions")

#: the types whose writes are published (``core.events.ResourceChanged``): a referral
#: (maternal), a newborn's registration (Patient), a dispensing, an immunization, and
#: every type the shared record keeps
TYPES: frozenset[str] = frozenset(
    {"ServiceRequest", "Patient", "MedicationDispense", "Immunization", *RECORD_TYPES}
)
#: parameters that shape an answer rather than choose what matches: not in a criteria
RESULT_PARAMETERS = frozenset(
    {
        "_count",
        "_offset",
        "_sort",
        "_summary",
        "_elements",
        "_include",
        "_revinclude",
        "_total",
        "_format",
        "_snapshot",
        "_contained",
        "_containedType",
    }
)
_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}", re.ASCII)
#: pages of a search without ``_id`` read while looking for one resource
MAX_SCAN_PAGES = 50
#: the retries of one notification: seconds, then minutes (core/jobs.py backoff)
DELIVERY_BACKOFF = (5, 30, 120, 600, 1800)
DELIVERY_ATTEMPTS = 6


# ---- running a search or a read as a principal ------------------------------------------


class _Answer(Exception):
    """The route answered with an error status (a refusal it did not raise)."""


class _AsOwner:
    """The app as the routes see it, with the caller resolved to the subscriber."""

    def __init__(self, principal: Principal) -> None:
        async def resolve(_request: Any, _session: Any) -> Principal:
            return principal

        self.state = SimpleNamespace(resolve_principal=resolve)


async def _call(principal: Principal, path: str, items: list[tuple[str, str]]) -> dict[str, Any]:
    """What ``GET <path>?<items>`` answers ``principal``: the request goes through the
    FHIR router as any request does (route choice and claims, formats, permission, its
    own unit of work and audit), with the caller resolved to ``principal``."""
    from salomat.fhir import api  # the routes; api imports this module through its router

    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https",
        "path": path,
        "raw_path": path.encode("ascii", "replace"),
        "root_path": "",
        "query_string": urlencode(items).encode("ascii"),
        "headers": [(b"host", b"salomat"), (b"accept", FHIR_JSON.encode())],
        "server": ("salomat", 443),
        "client": None,
        "app": _AsOwner(principal),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    try:
        async with contextlib.AsyncExitStack() as stack:
            # what FastAPI's own middleware gives each request (files it closes at the end)
            scope["fastapi_middleware_astack"] = stack
            await api.router(scope, receive, send)
    except RequestValidationError as e:
        raise Invalid.fields(
            [
                FieldError(str((err.get("loc") or ("", "query"))[-1]), str(err.get("msg")))
                for err in e.errors()
            ]
        ) from e
    except HTTPException as e:
        raise _Answer(e.status_code) from e
    status = next((m["status"] for m in sent if m["type"] == "http.response.start"), 500)
    if status >= 400:
        raise _Answer(status)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return json.loads(body)  # type: ignore[no-any-return]


def parse_criteria(criteria: str) -> tuple[str, list[tuple[str, str]]]:
    """``<Type>?<query>`` -> the type and the query's items; refused naming criteria."""
    kind, _, query = criteria.partition("?")
    if not _TYPE.fullmatch(kind):
        raise Invalid.fields(
            [FieldError("criteria", N_("must be <resource type>?<search parameters>"))]
        )
    if kind not in TYPES:
        raise Invalid.fields(
            [
                FieldError(
                    "criteria",
                    N_("%(type)s is not a type notifications are sent for (%(types)s)"),
                    {"type": kind, "types": ", ".join(sorted(TYPES))},
                )
            ]
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in query) or "#" in query:
        raise Invalid.fields([FieldError("criteria", N_("must not contain control characters"))])
    items = parse_qsl(query, keep_blank_values=True)
    shaping = sorted({k for k, _ in items} & RESULT_PARAMETERS)
    if shaping:
        raise Invalid.fields(
            [
                FieldError(
                    "criteria",
                    N_("%(names)s shape an answer and do not belong in a criteria"),
                    {"names": ", ".join(shaping)},
                )
            ]
        )
    if any(k == "_id" for k, _ in items):
        raise Invalid.fields(
            [FieldError("criteria", N_("_id is added for each change; leave it out"))]
        )
    return kind, items


def _only_id_refused(e: Invalid) -> bool:
    return bool(e.errors) and all(f.field == "_id" for f in e.errors)


async def find(
    principal: Principal, kind: str, items: list[tuple[str, str]], resource_id: str
) -> dict[str, Any] | None:
    """The resource ``resource_id`` if the search ``items`` finds it for ``principal``:
    ``items&_id=<id>``, or, where the route has no ``_id`` (a shared type's search can
    differ by domain), the search's pages read for that id."""
    path = f"/fhir/{kind}"
    try:
        found = await _call(principal, path, [*items, ("_id", resource_id)])
    except Invalid as e:
        if not _only_id_refused(e):
            raise
    else:
        return _entry(found, resource_id)
    limit = get_settings().max_page_size
    for page in range(MAX_SCAN_PAGES):
        found = await _call(
            principal, path, [*items, ("_count", str(limit)), ("_offset", str(page * limit))]
        )
        if (hit := _entry(found, resource_id)) is not None:
            return hit
        if not any(link.get("relation") == "next" for link in found.get("link", [])):
            return None
    return None


def _entry(bundle: dict[str, Any], resource_id: str) -> dict[str, Any] | None:
    for e in bundle.get("entry", []):
        if str(e.get("resource", {}).get("id")) == resource_id:
            return e["resource"]  # type: ignore[no-any-return]
    return None


async def check_criteria(principal: Principal, criteria: str) -> str:
    """The criteria's type, once the search it names answers ``principal`` (422 naming
    criteria with the search's own reasons otherwise)."""
    kind, items = parse_criteria(criteria)
    try:
        await find(principal, kind, items, "0")
    except SalomatError as e:
        reasons = [f"{f.field}: {f.english}" for f in e.errors] or [str(e)]
        raise Invalid.fields(
            [
                FieldError("criteria", N_("the search refuses it: %(reason)s"), {"reason": r})
                for r in reasons
            ]
        ) from e
    except _Answer as e:
        raise Invalid.fields(
            [FieldError("criteria", N_("the search refuses it: %(reason)s"), {"reason": str(e)})]
        ) from e
    return kind


# ---- the resource -----------------------------------------------------------------------


def to_fhir(s: SubscriptionOut) -> dict[str, Any]:
    channel: dict[str, Any] = {"type": REST_HOOK, "endpoint": s.endpoint}
    if s.payload:
        channel["payload"] = s.payload
    if s.headers:
        channel["header"] = s.headers
    res: dict[str, Any] = {
        "resourceType": "Subscription",
        "id": str(s.id),
        "meta": {"versionId": str(s.version), "lastUpdated": instant(s.updated_at)},
        "status": s.status,
        "reason": s.reason,
        "criteria": s.criteria,
        "channel": channel,
    }
    if s.end_at is not None:
        res["end"] = instant(s.end_at)
    if s.error:
        res["error"] = s.error
    return validated(Subscription, res)


def from_fhir(resource: Any) -> SubscriptionIn:
    """An R4B Subscription (already parsed) as the service's input; refused naming the
    element: a channel other than rest-hook, no endpoint."""
    errors: list[FieldError] = []
    channel = resource.channel
    if channel.type != REST_HOOK:
        errors.append(
            FieldError(
                "channel.type",
                N_("only rest-hook is supported (not %(type)s)"),
                {"type": channel.type},
            )
        )
    if not channel.endpoint:
        errors.append(FieldError("channel.endpoint", N_("is required for rest-hook")))
    payload = channel.payload or None
    if errors:
        raise Invalid.fields(errors)
    end = resource.end
    return SubscriptionIn(
        status=resource.status or "requested",
        resource_type=resource.criteria.partition("?")[0],
        criteria=resource.criteria,
        reason=resource.reason or "",
        endpoint=str(channel.endpoint),
        payload=payload,
        headers=[str(h) for h in channel.header or []],
        end_at=end,
    )


# ---- the jobs -----------------------------------------------------------------------------


@jobs.handler(service.MATCH, max_attempts=3, backoff=(5, 60))
async def match(ctx: jobs.JobContext) -> dict[str, Any]:
    """Which active subscriptions of the type find the changed resource: one delivery job
    for each. Each search runs (and is audited) in its own unit of work, as a request
    does; the deliveries are queued together once all have run."""
    kind, rid, person = ctx.payload["type"], str(ctx.payload["id"]), ctx.payload.get("person")
    async with ctx.session() as session:
        owners = [
            (sub, await service.owner_principal(session, sub))
            for sub in await service.active_of_type(session, kind)
            # a criteria naming another person cannot find it: no search is run for it
            if service.may_match(service.named_person(sub.criteria), person)
        ]
    queued: list[int] = []
    for sub, principal in owners:
        if principal is None:
            continue
        try:
            _, items = parse_criteria(sub.criteria)
            found = await find(principal, kind, items, rid)
        except (SalomatError, _Answer) as e:
            # a criteria the owner may no longer search (its role or facility changed):
            # nothing is told; the refusal is in the audit under the owner's name
            _log.info("subscription %s: its search was refused (%s)", sub.id, e)
            found = None
        if found is not None:
            queued.append(sub.id)
    if queued:
        async with ctx.session() as session:
            for sub_id in queued:
                await jobs.enqueue(
                    session,
                    service.DELIVER,
                    {"subscription": sub_id, "type": kind, "id": rid},
                    created_by=next(s.owner_username for s, _ in owners if s.id == sub_id),
                )
            await session.commit()
        jobs.wake()
    return {"notified": queued}


def _headers(sub: SubscriptionOut) -> dict[str, str]:
    out: dict[str, str] = {}
    for h in sub.headers:
        name, _, value = h.partition(":")
        out[name.strip()] = value.strip()
    return out


def _patient_of(resource: dict[str, Any]) -> int | None:
    if resource.get("resourceType") == "Patient":
        rid = str(resource.get("id", ""))
        return int(rid) if (rid.isascii() and rid.isdigit()) else None
    for key in ("subject", "patient"):
        ref = resource.get(key)
        if isinstance(ref, dict):
            tail = str(ref.get("reference", "")).removeprefix("Patient/")
            if tail.isascii() and tail.isdigit():
                return int(tail)
    return None


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Every connection goes to one address (the one the endpoint check approved); TLS
    still checks the certificate against the endpoint's name (httpcore sends the
    origin's host as SNI and verifies it)."""

    def __init__(self, address: str) -> None:
        self._address = address
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self._inner.connect_tcp(
            self._address,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("a notification never goes to a local socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def pinned_transport(address: str) -> httpx.AsyncHTTPTransport:
    """httpx's transport with its connection pool connecting to ``address`` only. httpx
    has no public hook for this: the pool is replaced by one with our network backend,
    keeping httpx's TLS context (test_subscription's rebinding test covers it)."""
    transport = httpx.AsyncHTTPTransport()
    ssl_context = transport._pool._ssl_context
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl_context, network_backend=_PinnedBackend(address)
    )
    return transport


async def _send(
    sub: SubscriptionOut, kind: str, rid: str, body: dict[str, Any] | None
) -> tuple[int | None, str | None, int]:
    """One attempt: (status code, error, milliseconds)."""
    settings = get_settings()
    headers = _headers(sub)
    # checked again (the name may lead elsewhere now), and sent to the address approved
    errors, pinned = await service.delivery_target(sub.endpoint)
    if errors:
        return None, f"endpoint refused: {errors[0].english}", 0
    if body is None:
        method, url, content = "POST", sub.endpoint, b""
        headers["X-Salomat-Subscription"] = f"Subscription/{sub.id}"
        headers["X-Salomat-Resource"] = f"{kind}/{rid}"
    else:
        method = "PUT"
        url = f"{sub.endpoint.rstrip('/')}/{kind}/{rid}"
        content = json.dumps(body).encode()
        headers["Content-Type"] = FHIR_JSON
    started = time.monotonic()
    try:
        async with httpx.AsyncClient(
            timeout=settings.subscription_timeout_seconds,
            follow_redirects=False,
            transport=pinned_transport(pinned) if pinned else None,
        ) as client:
            answer = await client.request(method, url, content=content, headers=headers)
        ms = int((time.monotonic() - started) * 1000)
        if 200 <= answer.status_code < 300:
            return answer.status_code, None, ms
        return answer.status_code, f"HTTP {answer.status_code}", ms
    except httpx.HTTPError as e:
        ms = int((time.monotonic() - started) * 1000)
        return None, f"{type(e).__name__}: {e}"[:500] or type(e).__name__, ms


@jobs.handler(service.DELIVER, max_attempts=DELIVERY_ATTEMPTS, backoff=DELIVERY_BACKOFF)
async def deliver(ctx: jobs.JobContext) -> dict[str, Any]:
    """Send one notification; a failed attempt is logged and raised (the job retries)."""
    sub_id, kind, rid = int(ctx.payload["subscription"]), ctx.payload["type"], ctx.payload["id"]
    async with ctx.session() as session:
        sub = await service.get_any(session, sub_id)
        if sub is None or sub.status != "active":
            return {"skipped": "the subscription is no longer active"}
        body = None
        if sub.payload == FHIR_JSON:
            principal = await service.owner_principal(session, sub)
            if principal is None:
                return {"skipped": "the owner's account is disabled"}
            try:
                body = await _call(principal, f"/fhir/{kind}/{rid}", [])
            except (SalomatError, _Answer) as e:
                # gone, or out of the owner's scope since it matched: nothing is sent
                return {"skipped": f"the resource cannot be read by the owner ({e})"}
            await audit.record(
                session,
                principal,
                action="read",
                resource_type=kind,
                resource_id=rid,
                patient_id=_patient_of(body),
                purpose="subscription notification",
                detail=f"Subscription/{sub.id} to {urlsplit(sub.endpoint).hostname}"[:500],
            )
        await session.commit()
    code, error, ms = await _send(sub, kind, rid, body)
    async with ctx.session() as session:
        await service.log_delivery(
            session,
            sub_id,
            job_id=ctx.id,
            resource_type=kind,
            resource_id=rid,
            attempt=ctx.attempt,
            status_code=code,
            error=error,
            duration_ms=ms,
        )
        if error is not None and ctx.attempt >= DELIVERY_ATTEMPTS:
            await service.set_error(
                session,
                sub_id,
                f"{kind}/{rid} could not be delivered after {ctx.attempt} attempts: {error}",
            )
        await session.commit()
    if error is not None:
        raise RuntimeError(error)
    return {"status": code, "ms": ms}
