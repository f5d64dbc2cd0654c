"""Domain exceptions and the one place that turns them into responses.

Services raise these; adapters never build error responses themselves. The
REST API answers RFC 9457 problem+json, ``/fhir`` an ``OperationOutcome`` and
pages a readable HTML message (rendered by the UI layer's renderer, which
``create_app`` installs on ``app.state.render_error_html``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("salomat.errors")


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class SalomatError(Exception):
    status: int = 400
    code: str = "error"
    title: str = "Bad request"
    fhir_code: str = "invalid"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}
        #: extra members of the problem+json body (RFC 9457 section 3.2)
        self.extensions = extensions or {}


class Invalid(SalomatError):
    status, code, title, fhir_code = 422, "invalid", "Invalid input", "invalid"

    @classmethod
    def fields(cls, errors: list[FieldError], detail: str | None = None) -> Invalid:
        names = ", ".join(e.field for e in errors)
        return cls(detail or f"Invalid value for: {names}", errors=errors)


class NotFound(SalomatError):
    status, code, title, fhir_code = 404, "not-found", "Not found", "not-found"


class Conflict(SalomatError):
    status, code, title, fhir_code = 409, "conflict", "Conflict", "conflict"


class InvalidState(SalomatError):
    status, code, title, fhir_code = 409, "invalid-state", "Invalid state", "business-rule"


class Forbidden(SalomatError):
    status, code, title, fhir_code = 403, "forbidden", "Forbidden", "forbidden"


class Unauthorized(SalomatError):
    status, code, title, fhir_code = 401, "unauthorized", "Authentication required", "login"

    def __init__(self, detail: str = "Authentication required", **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="salomat"'})
        super().__init__(detail, **kw)


class TooManyRequests(SalomatError):
    status, code, title, fhir_code = 429, "too-many-requests", "Too many requests", "throttled"


class PreconditionFailed(SalomatError):
    status, code, title, fhir_code = 412, "precondition-failed", "Precondition failed", "conflict"


class PayloadTooLarge(SalomatError):
    status, code, title, fhir_code = 413, "payload-too-large", "Payload too large", "too-costly"


class InternalError(SalomatError):
    status, code, title, fhir_code = 500, "internal", "Internal error", "exception"


def internal_error() -> InternalError:
    """What the client learns of an unexpected error: that it happened, never how."""
    return InternalError("An unexpected error occurred; it has been logged with this request's id.")


_STATUS_CLASS: dict[int, type[SalomatError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    412: PreconditionFailed,
    413: PayloadTooLarge,
    422: Invalid,
    429: TooManyRequests,
}

#: PostgreSQL refusing a value the request carried (SQLSTATE class 22); the fields are
#: bounded where they are declared, this is the net under a bound forgotten
_VALUE_REFUSED = {
    "22003": "A number in the request is beyond what can be stored.",
    "22001": "A text in the request is longer than can be stored.",
    "22008": "A date or time in the request is beyond what can be stored.",
}

API_PREFIXES = ("/api/", "/auth/", "/healthz", "/readyz")


def wants_fhir(request: Request) -> bool:
    return request.url.path == "/fhir" or request.url.path.startswith("/fhir/")


def wants_html(request: Request) -> bool:
    if wants_fhir(request):
        return False
    return not request.url.path.startswith(API_PREFIXES)


def problem(request: Request, exc: SalomatError) -> Response:
    headers = dict(exc.headers)
    if wants_fhir(request):
        issues = [
            {
                "severity": "error",
                "code": exc.fhir_code,
                "diagnostics": e.message,
                "expression": [e.field],
            }
            for e in exc.errors
        ] or [{"severity": "error", "code": exc.fhir_code, "diagnostics": exc.detail}]
        body = {"resourceType": "OperationOutcome", "issue": issues}
        return JSONResponse(body, exc.status, headers=headers, media_type="application/fhir+json")
    if wants_html(request):
        renderer = getattr(request.app.state, "render_error_html", None)
        if renderer is not None:
            return renderer(request, exc)
    return problem_json(request, exc)


def problem_json(request: Request, exc: SalomatError) -> Response:
    """RFC 9457 problem+json, whatever the path."""
    headers = dict(exc.headers)
    body: dict[str, Any] = {
        "type": f"https://salomat.example/problems/{exc.code}",
        "title": exc.title,
        "status": exc.status,
        "detail": exc.detail,
        "instance": request.url.path,
    }
    if exc.errors:
        body["errors"] = [e.as_dict() for e in exc.errors]
    body.update({k: v for k, v in exc.extensions.items() if k not in body})
    rid = getattr(request.state, "request_id", None)
    if rid:
        body["request_id"] = rid
    return JSONResponse(body, exc.status, headers=headers, media_type="application/problem+json")


def field_errors_from_pydantic(errors: list[dict[str, Any]]) -> list[FieldError]:
    out: list[FieldError] = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        if loc and loc[0] == "form":
            loc = loc[1:]
        out.append(FieldError(".".join(loc) or "body", err.get("msg", "invalid")))
    return out


def install_error_handlers(app: FastAPI) -> None:
    async def on_salomat(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SalomatError)
        return problem(request, exc)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return problem(request, Invalid.fields(field_errors_from_pydantic(list(exc.errors()))))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        cls = _STATUS_CLASS.get(exc.status_code, SalomatError)
        err = cls(str(exc.detail))
        err.status = exc.status_code
        if exc.status_code == 405:
            err.title, err.code = "Method not allowed", "method-not-allowed"
        err.headers.update(exc.headers or {})
        return problem(request, err)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        # errors inside the routes become a 500 in core.middleware.RequestContextMiddleware
        # (with the security headers and the request id); this is for the middleware itself
        log.exception("unhandled error", exc_info=exc)
        return problem_json(request, internal_error())

    async def on_integrity(request: Request, exc: Exception) -> Response:
        log.info("integrity error turned into 409", exc_info=exc)
        return problem(
            request,
            Conflict("The change conflicts with existing data or a concurrent change; retry."),
        )

    async def on_data(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DataError)
        refused = _VALUE_REFUSED.get(getattr(exc.orig, "sqlstate", None) or "")
        if refused is None:
            return await on_unexpected(request, exc)
        # a bound missing on some field: the value is the client's, the missing bound ours
        log.warning("database refused a value; bound the field", exc_info=exc)
        return problem(request, Invalid(refused))

    app.add_exception_handler(IntegrityError, on_integrity)
    app.add_exception_handler(DataError, on_data)
    app.add_exception_handler(SalomatError, on_salomat)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
