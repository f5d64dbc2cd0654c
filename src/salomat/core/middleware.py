"""ASGI middleware: request id and access log, security headers, body-size limit."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from salomat.core import context
from salomat.core.errors import PayloadTooLarge, problem

log = logging.getLogger("salomat.access")
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
    """Request id, structured access log and security headers on every response."""

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
        started = time.perf_counter()
        status = 500
        is_static = path.startswith("/static/")
        is_docs = path in ("/docs", "/redoc") or path.startswith("/docs/")

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
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
        finally:
            log.info(
                "request",
                extra={
                    "method": ctx.method,
                    "path": path,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "client": ctx.client_address,
                    "request_id": rid,
                },
            )
            context.reset(token)


class BodySizeLimitMiddleware:
    """Refuse bodies over the limit with 413, whether declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _error(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"The request body is over the limit of {self.max_bytes} bytes.")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            response = problem(Request(scope), self._error())
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
                if received > self.max_bytes:
                    # answer now; the app sees a disconnect and whatever it sends is dropped
                    rejected = True
                    response = problem(Request(scope), self._error())
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
