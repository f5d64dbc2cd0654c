"""Domain exceptions and the one place that turns them into responses.

Services raise these; adapters never build error responses themselves. The
REST API answers RFC 9457 problem+json, ``/fhir`` an ``OperationOutcome`` and
pages a readable HTML message (rendered by the UI layer's renderer, which
``create_app`` installs on ``app.state.render_error_html``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from salomat.core import i18n, text
from salomat.core.i18n import N_

log = logging.getLogger("salomat.errors")


class Msgid(str):
    """A message parameter that is itself a msgid (a status, a kind): translated with the
    message, e.g. ``params={"status": Msgid(referral.status)}``."""

    __slots__ = ()


def _format(msgid: str, params: dict[str, Any] | None, translate: bool) -> str:
    text = i18n.gettext(msgid) if translate else msgid
    if not params:
        return text
    if translate:
        params = {k: i18n.gettext(v) if isinstance(v, Msgid) else v for k, v in params.items()}
    try:
        return text % params
    except (KeyError, ValueError, TypeError):  # a broken translation must not hide the error
        return msgid % params


class FieldError:
    """One wrong field: a message (an English msgid, ``%(name)s`` filled from ``params``).

    ``message`` is the text in the current language (``core.i18n``): English on the API
    unless the request asked for another language, the page's language on pages.
    ``type`` is the machine code of a framework (pydantic) error, ``None`` for ours.
    """

    __slots__ = ("_english", "ctx", "field", "msgid", "params", "type")

    def __init__(
        self,
        field: str,
        message: str,
        params: dict[str, Any] | None = None,
        *,
        type: str | None = None,
        ctx: dict[str, Any] | None = None,
        english: str | None = None,
    ) -> None:
        #: ``english``: the English wording when it says more than the msgid (the values an
        #: enum accepts); other languages read the msgid's translation
        self._english = english
        self.field = field
        self.msgid = message
        self.params = params or {}
        self.type = type
        self.ctx = ctx or {}

    @property
    def message(self) -> str:
        if self._english is not None and i18n.current_language() == "en":
            return self._english
        return _format(self.msgid, self.params, translate=True)

    @property
    def english(self) -> str:
        if self._english is not None:
            return self._english
        return _format(self.msgid, self.params, translate=False)

    @property
    def label(self) -> str:
        """The field's name for a reader: its label in the catalog, else (English) its words;
        "" when the current language has no name for it (pages then show the field's code
        as code)."""
        last = self.field.rsplit(".", 1)[-1]
        translated = i18n.gettext(last)
        if translated != last:
            return translated
        return last.replace("_", " ") if i18n.current_language() == "en" else ""

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}

    def __str__(self) -> str:
        """The message in the language current when it is shown (a page renders it)."""
        return self.message

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldError):
            return NotImplemented
        return (self.field, self.english) == (other.field, other.english)

    def __hash__(self) -> int:
        return hash((self.field, self.english))

    def __repr__(self) -> str:
        return f"FieldError({self.field!r}, {self.english!r})"


class SalomatError(Exception):
    """A refusal a service raises; ``detail`` is an English msgid, ``params`` fill it.

    Mark a fixed message with ``N_`` and pass its values as ``params`` so that pages (and
    API callers that send Accept-Language) read it in their language:
    ``NotFound(N_("Pregnancy %(id)s not found."), params={"id": pregnancy_id})``.
    A message built with an f-string still works; it is shown as written.
    """

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
        params: dict[str, Any] | None = None,
    ) -> None:
        self.msgid = detail
        self.params = params or {}
        super().__init__(_format(detail, self.params, translate=False))
        self.errors = errors or []
        self.headers = headers or {}
        #: extra members of the problem+json body (RFC 9457 section 3.2)
        self.extensions = extensions or {}

    @property
    def detail(self) -> str:
        """The message in the current language (English unless one was set)."""
        return _format(self.msgid, self.params, translate=True)

    @detail.setter
    def detail(self, value: str) -> None:
        self.msgid, self.params = value, {}

    @property
    def title_text(self) -> str:
        return i18n.gettext(self.title)

    @property
    def detail_translated(self) -> bool:
        """Whether ``detail`` reads in the current language (English, or a catalog entry).

        A message still built with an f-string has no catalog entry: a page in another
        language says what happened in its own words and keeps this text as a detail.
        """
        lang = i18n.current_language()
        return lang == "en" or i18n.translations(lang).gettext(self.msgid) != self.msgid

    @property
    def summary(self) -> str:
        """What happened, in the current language, by the kind of refusal."""
        return i18n.gettext(_SUMMARIES.get(self.status, _SUMMARIES[400]))


#: A page's words for a refusal whose own message has no translation yet, by status.
_SUMMARIES = {
    400: N_("The request could not be handled."),
    401: N_("Log in to continue."),
    403: N_("Your role may not do this."),
    404: N_("The record was not found, or it is outside your area of work."),
    409: N_("The record changed meanwhile or conflicts with another; reload and try again."),
    412: N_("The record changed since you opened it; reload and try again."),
    413: N_("What was sent is too large."),
    422: N_("Some values are not valid; nothing was stored."),
    429: N_("Too many attempts; wait a moment and try again."),
    500: N_("An unexpected error occurred; it has been logged with this request's id."),
}


class Invalid(SalomatError):
    status, code, title, fhir_code = 422, "invalid", "Invalid input", "invalid"

    @classmethod
    def fields(cls, errors: list[FieldError], detail: str | None = None) -> Invalid:
        if detail is not None:
            return cls(detail, errors=errors)
        names = ", ".join(e.field for e in errors)
        return cls(N_("Invalid value for: %(fields)s"), errors=errors, params={"fields": names})


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

    def __init__(self, detail: str = N_("Authentication required"), **kw: Any) -> None:
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
    return InternalError(
        N_("An unexpected error occurred; it has been logged with this request's id.")
    )


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
    "22003": N_("A number in the request is beyond what can be stored."),
    "22001": N_("A text in the request is longer than can be stored."),
    "22008": N_("A date or time in the request is beyond what can be stored."),
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


def api_language(request: Request) -> str:
    """English, unless the caller sent Accept-Language naming a language the pack offers."""
    header = request.headers.get("accept-language")
    if not header:
        return "en"
    offered = i18n.pack_languages()
    return i18n.negotiate(
        cookie=None, user_pref=None, accept_language=header, country="", languages=offered
    )


@contextmanager
def api_speaking(request: Request) -> Iterator[str]:
    """The API caller's language (``api_language``) while a route calls services that
    word things (an explanation, a CSV's headers)."""
    lang = api_language(request)
    token = i18n.set_language(lang)
    try:
        yield lang
    finally:
        i18n.reset_language(token)


def problem_json(request: Request, exc: SalomatError) -> Response:
    """RFC 9457 problem+json, whatever the path.

    ``type``, ``status`` and each error's ``field`` are the machine-readable part and never
    change with the language; ``title``, ``detail`` and the errors' ``message`` are in the
    language of Accept-Language (English without it).
    """
    token = i18n.set_language(api_language(request))
    try:
        return _problem_json(request, exc)
    finally:
        i18n.reset_language(token)


def _problem_json(request: Request, exc: SalomatError) -> Response:
    headers = dict(exc.headers)
    body: dict[str, Any] = {
        "type": f"https://salomat.example/problems/{exc.code}",
        "title": exc.title_text,
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


#: The framework's (pydantic's) validation errors by type, as a reader should see them;
#: ``%(name)s`` comes from the error's ctx. A type not listed keeps pydantic's text.
PYDANTIC_MESSAGES: dict[str, str] = {
    "missing": N_("This field is required."),
    "string_pattern_mismatch": N_("The value does not have the expected form."),
    "string_too_short": N_("At least %(min_length)s characters."),
    "string_too_long": N_("At most %(max_length)s characters."),
    "string_type": N_("Enter a text."),
    "too_short": N_("At least %(min_length)s items."),
    "too_long": N_("At most %(max_length)s items."),
    "int_parsing": N_("Enter a whole number."),
    "int_type": N_("Enter a whole number."),
    "int_from_float": N_("Enter a whole number."),
    "float_parsing": N_("Enter a number."),
    "float_type": N_("Enter a number."),
    "decimal_parsing": N_("Enter a number."),
    "decimal_type": N_("Enter a number."),
    "finite_number": N_("Enter a number."),
    "decimal_max_digits": N_("At most %(max_digits)s digits."),
    "decimal_max_places": N_("At most %(decimal_places)s digits after the decimal point."),
    "greater_than": N_("Must be greater than %(gt)s."),
    "greater_than_equal": N_("Must be at least %(ge)s."),
    "less_than": N_("Must be less than %(lt)s."),
    "less_than_equal": N_("Must be at most %(le)s."),
    "bool_parsing": N_("Choose yes or no."),
    "bool_type": N_("Choose yes or no."),
    "date_parsing": N_("Enter a valid date (YYYY-MM-DD)."),
    "date_from_datetime_parsing": N_("Enter a valid date (YYYY-MM-DD)."),
    "date_from_datetime_inexact": N_("Enter a valid date (YYYY-MM-DD)."),
    "date_type": N_("Enter a valid date (YYYY-MM-DD)."),
    "datetime_parsing": N_("Enter a valid date and time."),
    "datetime_from_date_parsing": N_("Enter a valid date and time."),
    "datetime_type": N_("Enter a valid date and time."),
    "time_parsing": N_("Enter a valid time (HH:MM)."),
    "enum": N_("Choose one of the offered values."),
    "literal_error": N_("Choose one of the offered values."),
    "extra_forbidden": N_("This field is not expected here."),
    "json_invalid": N_("The request body is not valid JSON."),
    "list_type": N_("Enter a list of values."),
    "dict_type": N_("Enter an object."),
    "model_type": N_("Enter an object."),
    "model_attributes_type": N_("Enter an object."),
    "uuid_parsing": N_("Enter a valid identifier."),
    "url_parsing": N_("Enter a valid address (URL)."),
    "value_error": N_("The value is not valid."),
}

_VALUE_ERROR_PREFIXES = ("Value error, ", "Assertion failed, ")


def _pydantic_field_error(field: str, err: dict[str, Any]) -> FieldError:
    kind = str(err.get("type", ""))
    # a bound pydantic gives as a Decimal (ge=0 on an amount) or another object is shown as
    # text: dropping it left the message without its value, and pydantic's English shown
    ctx = {
        k: v if isinstance(v, str | int | float) else str(v)
        for k, v in (err.get("ctx") or {}).items()
    }
    raw = str(err.get("msg", "invalid"))
    custom = text.MESSAGES.get(kind)
    if custom is not None and "code_point" in ctx:
        return FieldError(field, custom, {"code_point": ctx["code_point"]}, type=kind, ctx=ctx)
    if kind in ("value_error", "assertion_error"):
        # a validator's own message: shown (and translated if the catalog knows it)
        for prefix in _VALUE_ERROR_PREFIXES:
            if raw.startswith(prefix):
                raw = raw[len(prefix) :]
        return FieldError(field, raw, type=kind, ctx=ctx)
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        kind = "missing"  # an empty text is a field left empty
    msgid = PYDANTIC_MESSAGES.get(kind)
    if msgid is None:
        return FieldError(field, raw, type=kind, ctx=ctx)
    if kind in ("enum", "literal_error"):  # English names the accepted values (API callers)
        return FieldError(field, msgid, type=kind, ctx=ctx, english=raw)
    needed = {name for name in ctx if f"%({name})s" in msgid}
    if any(
        f"%({name})s" in msgid
        for name in (
            "min_length",
            "max_length",
            "gt",
            "ge",
            "lt",
            "le",
            "max_digits",
            "decimal_places",
        )
        if name not in ctx
    ):
        return FieldError(field, raw, type=kind, ctx=ctx)
    return FieldError(field, msgid, {k: ctx[k] for k in needed}, type=kind, ctx=ctx)


def field_errors_from_pydantic(errors: list[dict[str, Any]]) -> list[FieldError]:
    out: list[FieldError] = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        if loc and loc[0] == "form":
            loc = loc[1:]
        out.append(_pydantic_field_error(".".join(loc) or "body", err))
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
        detail = str(exc.detail)
        err = cls(detail)
        err.status = exc.status_code
        if exc.status_code == 405:
            err.title, err.code = N_("Method not allowed"), "method-not-allowed"
        if detail.lower() == err.title.lower():  # Starlette's reason phrase: say it in words
            err.detail = err.title
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
            Conflict(N_("The change conflicts with existing data or a concurrent change; retry.")),
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
