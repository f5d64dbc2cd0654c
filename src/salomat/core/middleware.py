"""ASGI middleware: request id and access log, security headers, the last-resort 500, URL and
body-size guards."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from salomat.core import context
from salomat.core.config import get_settings
from salomat.core.errors import (
    N_,
    FieldError,
    Invalid,
    PayloadTooLarge,
    SalomatError,
    internal_error,
    problem,
    problem_json,
)
from salomat.core.params import NUL_MESSAGE, PATH_NUL_MESSAGE

log = logging.getLogger("salomat.access")
error_log = logging.getLogger("salomat.errors")
_RID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        b"frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
    ),
]
_DOCS_CSP = (
    b"default-src 'self'; img-src 'self' data: https:; style-src 'self' 'unsafe-inline' https:; "
    b"script-src 'self' 'unsafe-inline' https:; frame-ancestors 'none'"
)


class RequestContextMiddleware:
    """Request id, structured access log and security headers on every response.

    It is also where an error nothing else handled becomes a response: a 500
    problem+json (an OperationOutcome under /fhir) with no stack trace, carrying
    the security headers and the request id like any other answer. The error is
    logged with the request id and not raised further, so the server keeps the
    connection open for the client's next request (uvicorn closes a connection
    whose application raised). Only when the response had already begun is the
    error raised: the client has half an answer, and closing is all that is left.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        rid = headers.get(b"x-request-id", b"").decode("latin-1")
        if not _RID.match(rid):
            rid = uuid.uuid4().hex
        client = scope.get("client")
        path: str = scope.get("path", "")
        ctx = context.RequestContext(
            request_id=rid,
            client_address=client[0] if client else None,
            method=scope.get("method", ""),
            path=path,
        )
        token = context.set_current(ctx)
        scope.setdefault("state", {})["request_id"] = rid
        began = time.perf_counter()
        status = 500
        #: the response has started (an error after it cannot become a 500 page)
        started = False
        is_static = path.startswith("/static/")
        is_docs = path in ("/docs", "/redoc") or path.startswith("/docs/")

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                hdrs: list[Any] = list(message.get("headers", []))
                names = {k.lower() for k, _ in hdrs}
                for k, v in SECURITY_HEADERS:
                    if k == b"content-security-policy" and is_docs:
                        v = _DOCS_CSP
                    if k not in names:
                        hdrs.append((k, v))
                if b"cache-control" not in names:
                    hdrs.append(
                        (b"cache-control", b"public, max-age=3600" if is_static else b"no-store")
                    )
                hdrs.append((b"x-request-id", rid.encode()))
                message["headers"] = hdrs
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            if started:
                raise
            error_log.error(
                "unhandled error",
                exc_info=exc,
                extra={"method": ctx.method, "path": path, "request_id": rid},
            )
            await _internal_error_response(scope, receive, send_wrapper)
        finally:
            log.info(
                "request",
                extra={
                    "method": ctx.method,
                    "path": path,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - began) * 1000, 2),
                    "client": ctx.client_address,
                    "request_id": rid,
                },
            )
            context.reset(token)


async def _internal_error_response(scope: Scope, receive: Receive, send: Send) -> None:
    request = Request(scope, receive)
    try:
        response = problem(request, internal_error())
    except Exception:  # the error page itself failed: answer the plain problem+json
        error_log.exception("the error page failed; answering problem+json")
        response = problem_json(request, internal_error())
    await response(scope, receive, send)


#: "%00" in a query string decodes to NUL (decoding is one pass: "%2500" is the text "%00")
_NUL_QUERY = re.compile(rb"%00|\x00")


class UrlGuardMiddleware:
    """Refuse a NUL character in the path or the query before routing.

    No path or parameter of the platform has one, and PostgreSQL text cannot
    store it: the path is a 400, a query parameter a 422 naming it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            error = _url_error(scope)
            if error is not None:
                await problem(Request(scope, receive), error)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _url_error(scope: Scope) -> SalomatError | None:
    if "\x00" in scope.get("path", ""):
        return SalomatError(PATH_NUL_MESSAGE)
    query: bytes = scope.get("query_string", b"")
    if not _NUL_QUERY.search(query):
        return None
    names = dict.fromkeys(
        k.replace("\x00", "\\u0000")
        for k, v in parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        if "\x00" in k or "\x00" in v
    )
    return Invalid.fields(
        [FieldError(n or "query", NUL_MESSAGE) for n in names] or [FieldError("query", NUL_MESSAGE)]
    )


class BodySizeLimitMiddleware:
    """Refuse bodies over the limit with 413, whether declared or streamed.

    A FHIR write (POST or PUT under ``/fhir``) has its own, larger limit
    (``SALOMAT_MAX_FHIR_BODY_BYTES``): a shared-record DocumentReference carries its
    attachment of up to 5 MiB base64-encoded in the resource."""

    def __init__(self, app: ASGIApp, max_bytes: int, fhir_max_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.fhir_max_bytes = (
            get_settings().max_fhir_body_bytes if fhir_max_bytes is None else fhir_max_bytes
        )

    def limit(self, scope: Scope) -> int:
        path = scope.get("path") or ""
        if scope.get("method") in ("POST", "PUT") and (
            path == "/fhir" or path.startswith("/fhir/")
        ):
            return max(self.max_bytes, self.fhir_max_bytes)
        return self.max_bytes

    @staticmethod
    def _error(limit: int, size: int | None = None) -> PayloadTooLarge:
        if size is not None:
            return PayloadTooLarge(
                N_("The request body (%(size)s bytes) is over the limit of %(max)s bytes."),
                params={"size": size, "max": limit},
            )
        return PayloadTooLarge(
            N_("The request body is over the limit of %(max)s bytes."), params={"max": limit}
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.limit(scope)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if (
            declared is not None
            and (declared.isascii() and declared.isdigit())
            and int(declared) > max_bytes
        ):
            response = problem(Request(scope), self._error(max_bytes, int(declared)))
            await response(scope, receive, send)
            return
        received = 0
        rejected = False

        async def limited() -> Message:
            nonlocal received, rejected
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    # answer now; the app sees a disconnect and whatever it sends is dropped
                    rejected = True
                    response = problem(Request(scope), self._error(max_bytes))
                    await response(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not rejected:
                await send(message)

        try:
            await self.app(scope, limited, guarded_send)
        except Exception:
            if not rejected:
                raise


# ---- CORS for the registered client systems' browser origins ---------------------------

OriginsLoader = Callable[[], Awaitable[frozenset[str]]]
_cors: dict[str, Any] = {"loader": None, "origins": None, "loaded_at": 0.0}
#: read again after this many seconds, so that another worker process sees a change too
CORS_RELOAD_SECONDS = 60.0
CORS_METHODS = b"GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
CORS_HEADERS = (
    b"authorization, content-type, accept, accept-language, if-match, if-none-match, "
    b"prefer, idempotency-key, x-request-id"
)


def install_cors_origins(loader: OriginsLoader | None) -> None:
    """The app names where the allowed origins come from (accounts: the active client
    systems' registered origins)."""
    _cors.update(loader=loader, origins=None, loaded_at=0.0)


def cors_origins_changed() -> None:
    """A client system's origins changed (committed): read them again at the next request."""
    _cors["origins"] = None


async def _cors_origins() -> frozenset[str]:
    origins = _cors["origins"]
    if origins is not None and time.monotonic() - _cors["loaded_at"] < CORS_RELOAD_SECONDS:
        return origins  # type: ignore[no-any-return]
    loader = _cors["loader"]
    if loader is None:
        return frozenset()
    try:
        origins = await loader()
    except Exception:  # no database yet (not migrated): no origin is allowed
        error_log.exception("reading the CORS origins failed; none allowed")
        origins = frozenset()
    _cors.update(origins=origins, loaded_at=time.monotonic())
    return origins  # type: ignore[no-any-return]


class CorsMiddleware:
    """CORS for the origins registered by client systems, and for no other (no wildcard).

    A request without ``Origin`` passes untouched. A preflight (``OPTIONS`` with
    ``Access-Control-Request-Method``) from an allowed origin is answered 204 here; from
    any other origin 403 with no CORS header. Other requests from an allowed origin get
    ``Access-Control-Allow-Origin`` naming it (``Vary: Origin`` always). Credentials
    (cookies) are never allowed cross-origin: a client system sends its bearer token.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        origin = headers.get(b"origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        allowed = origin.decode("latin-1").lower() in await _cors_origins()
        if scope.get("method") == "OPTIONS" and b"access-control-request-method" in headers:
            out: list[tuple[bytes, bytes]] = [(b"vary", b"Origin"), (b"content-length", b"0")]
            if allowed:
                out += [
                    (b"access-control-allow-origin", origin),
                    (b"access-control-allow-methods", CORS_METHODS),
                    (b"access-control-allow-headers", CORS_HEADERS),
                    (b"access-control-max-age", b"600"),
                ]
            await send(
                {"type": "http.response.start", "status": 204 if allowed else 403, "headers": out}
            )
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                hdrs = list(message.get("headers", []))
                hdrs.append((b"vary", b"Origin"))
                if allowed:
                    hdrs += [
                        (b"access-control-allow-origin", origin),
                        (
                            b"access-control-expose-headers",
                            b"location, etag, content-location, x-request-id",
                        ),
                    ]
                message["headers"] = hdrs
            await send(message)

        await self.app(scope, receive, send_cors)


class SystemScopesMiddleware:
    """Each request starts and ends with no client-system scopes bound (core.policy): what
    one request's resolver bound never narrows, or widens, anything after it in the same
    task (an in-process client such as the test suite's runs many requests in one)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        from salomat.core import policy

        token = policy.bind_system_scopes(None)
        try:
            await self.app(scope, receive, send)
        finally:
            policy.reset_system_scopes(token)
