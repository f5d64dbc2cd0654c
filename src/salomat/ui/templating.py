"""Jinja2 environment shared by every domain's pages.

Templates are found as ``<domain>/<name>.html`` (a domain's ``templates/``
folder) or by bare name in ``ui/templates``. Strings are translated with
the request's language through ``core.i18n``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, select_autoescape

from salomat import __version__
from salomat.core import i18n
from salomat.core.config import get_settings
from salomat.core.errors import SalomatError
from salomat.core.policy import allowed
from salomat.core.security import Principal
from salomat.country import pack

UI_DIR = Path(__file__).parent
DOMAINS_DIR = UI_DIR.parent / "domains"


@dataclass(frozen=True)
class NavItem:
    label: str  # English source string; translated at render time
    href: str
    permission: str
    order: int = 100


_nav: list[NavItem] = []


def register_nav(item: NavItem) -> None:
    if all(n.href != item.href for n in _nav):
        _nav.append(item)
        _nav.sort(key=lambda n: (n.order, n.href))


def nav_for(principal: Principal | None) -> list[NavItem]:
    if principal is None:
        return []
    return [n for n in _nav if allowed(principal.role, n.permission)]


def _environment() -> Environment:
    domain_loaders = {
        d.name: FileSystemLoader(d / "templates")
        for d in sorted(DOMAINS_DIR.iterdir())
        if (d / "templates").is_dir()
    }
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(UI_DIR / "templates"), PrefixLoader(domain_loaders)]),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True, pgettext=i18n.pgettext
    )
    # a template shows a link or form only to those allowed to use it
    env.globals["can"] = can
    return env


def can(principal: Principal | None, permission: str) -> bool:
    """Whether the caller's role holds ``permission`` (for pages; routes use ``Require``)."""
    return principal is not None and allowed(principal.role, permission)


env = _environment()


@lru_cache
def _pack_languages(country: str) -> tuple[tuple[str, ...], str]:
    rules = pack.load(country)
    return tuple(rules["languages"]), str(rules["default_language"])


def pack_languages() -> dict[str, str]:
    """The deployed pack's languages (its own, ru and en) with their names, for the switch."""
    return i18n.offered(_pack_languages(get_settings().country)[0])


i18n.install_pack_languages(lambda: list(pack_languages()))


def language_of(request: Request) -> str:
    lang = getattr(request.state, "lang", None)
    offered = pack_languages()
    if lang and lang in offered:
        return str(lang)
    return i18n.negotiate(
        cookie=request.cookies.get(i18n.LANG_COOKIE),
        user_pref=None,
        accept_language=request.headers.get("accept-language"),
        country=get_settings().country,
        languages=list(offered),
        default=_pack_languages(get_settings().country)[1],
    )


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    principal: Principal | None = getattr(request.state, "principal", None)
    lang = language_of(request)
    token = i18n.set_language(lang)
    try:
        html = env.get_template(template).render(
            request=request,
            principal=principal,
            nav=nav_for(principal),
            csrf_token=principal.csrf_token if principal else None,
            lang=lang,
            languages=pack_languages(),
            country=get_settings().country,
            version=__version__,
            **(context or {}),
        )
    finally:
        i18n.reset_language(token)
    return HTMLResponse(html, status_code=status)


@contextmanager
def speaking(request: Request) -> Iterator[str]:
    """The page's language for what a route words outside a template (a CSV download)."""
    lang = language_of(request)
    token = i18n.set_language(lang)
    try:
        yield lang
    finally:
        i18n.reset_language(token)


def redirect(url: str, status: int = 303) -> RedirectResponse:
    return RedirectResponse(url, status_code=status)


def render_error(request: Request, exc: SalomatError) -> HTMLResponse:
    """Readable error for pages: a partial for HTMX, a full page otherwise."""
    if exc.status == 401 and request.method == "GET" and not request.headers.get("hx-request"):
        return redirect(f"/login?next={request.url.path}")  # type: ignore[return-value]
    template = "error_partial.html" if request.headers.get("hx-request") else "error.html"
    response = render(request, template, {"error": exc}, status=exc.status)
    for k, v in exc.headers.items():
        if k.lower() != "www-authenticate":
            response.headers[k] = v
    if request.headers.get("hx-request"):
        response.headers["HX-Retarget"] = "#messages"
        response.headers["HX-Reswap"] = "innerHTML"
    return response
