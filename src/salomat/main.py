"""Application factory: routers, error handlers, middleware, static files."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from salomat import __version__
from salomat.core import db_roles, jobs
from salomat.core import logging as salomat_logging
from salomat.core.config import get_settings
from salomat.core.db import session_factory
from salomat.core.errors import install_error_handlers
from salomat.core.health import health
from salomat.core.middleware import (
    BodySizeLimitMiddleware,
    CorsMiddleware,
    RequestContextMiddleware,
    SystemScopesMiddleware,
    UrlGuardMiddleware,
    install_cors_origins,
)
from salomat.core.user_names import install_user_names
from salomat.domains.accounts import api as accounts_api
from salomat.domains.accounts import service as accounts_service
from salomat.domains.accounts import web as accounts_web
from salomat.domains.bulkdata import web as bulkdata_web
from salomat.domains.cancer import api as cancer_api
from salomat.domains.cancer import web as cancer_web
from salomat.domains.child import api as child_api
from salomat.domains.child import web as child_web
from salomat.domains.epidemic import api as epidemic_api
from salomat.domains.epidemic import api_revaccination as epidemic_api_revaccination
from salomat.domains.epidemic import api_situation as epidemic_api_situation
from salomat.domains.epidemic import web_dashboard as epidemic_web_dashboard
from salomat.domains.epidemic import web_reporting as epidemic_web_reporting
from salomat.domains.epidemic import web_revaccination as epidemic_web_revaccination
from salomat.domains.immunization import api as immunization_api
from salomat.domains.immunization import web as immunization_web
from salomat.domains.insurance import api as insurance_api
from salomat.domains.insurance import web as insurance_web
from salomat.domains.maternal import api as maternal_api
from salomat.domains.maternal import web as maternal_web
from salomat.domains.planning import api as planning_api
from salomat.domains.planning import api_access as planning_api_access
from salomat.domains.planning import web as planning_web
from salomat.domains.prescription import api as prescription_api
from salomat.domains.prescription import web as prescription_web
from salomat.domains.record import web as record_web
from salomat.domains.registry import api as registry_api
from salomat.domains.registry import web as registry_web
from salomat.domains.sanatorium import api as sanatorium_api
from salomat.domains.sanatorium import service as sanatorium_service
from salomat.domains.sanatorium import web as sanatorium_web
from salomat.domains.screening import api as screening_api
from salomat.domains.screening import api_indicators as screening_api_indicators
from salomat.domains.screening import web as screening_web
from salomat.domains.screening import web_indicators as screening_web_indicators
from salomat.domains.sickleave import api as sickleave_api
from salomat.domains.sickleave import web as sickleave_web
from salomat.domains.statistics import api as statistics_api
from salomat.domains.statistics import web as statistics_web
from salomat.domains.subscriptions import web as subscriptions_web
from salomat.fhir import api as fhir_api
from salomat.fhir import bulk_api as fhir_bulk_api
from salomat.ui.templating import UI_DIR, render_error

#: Paths served outside the unit-of-work routes; each is public by design.
PUBLIC_PATHS = frozenset({"/static", "/docs", "/docs/oauth2-redirect", "/openapi.json"})


_log = logging.getLogger("salomat.startup")


async def warn_if_audit_can_be_bypassed(url: str | None = None) -> str | None:
    """Log (once, at start) that the connected role can bypass the audit protections.

    ``salomat serve`` prints the same warning on the console before it starts; this
    covers a start by uvicorn or gunicorn directly (``salomat.main:create_app``). A
    database that can't be reached or isn't migrated yet is left to /readyz.
    """
    try:
        async with session_factory(url)() as session:
            warning = await db_roles.bypass_warning(session)
    except Exception:  # unreachable or unmigrated: /readyz reports it
        return None
    if warning:
        _log.warning(warning)
    return warning


async def _sweep_forever(every: float) -> None:
    """The in-process job runner of the embedded default: moves the sanatorium queues on
    (``salomat sanatorium sweep`` is the same job for cron). A failed run is logged and
    retried at the next tick; nothing it did is kept (one transaction a run)."""
    while True:
        await asyncio.sleep(every)
        try:
            async with session_factory()() as session:
                result = await sanatorium_service.sweep(session)
                await session.commit()
            if result.lapsed or result.noshows or result.offered:
                _log.info(
                    "sanatorium sweep: %s lapsed, %s no-shows, %s offered",
                    result.lapsed,
                    result.noshows,
                    result.offered,
                )
        except asyncio.CancelledError:
            raise
        except Exception:
            _log.exception("sanatorium sweep failed; retried at the next tick")


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    await warn_if_audit_can_be_bypassed()
    settings = get_settings()
    tasks = []
    if settings.sweep_seconds and settings.env != "test":
        tasks.append(asyncio.create_task(_sweep_forever(settings.sweep_seconds)))
    stop = asyncio.Event()
    if settings.jobs_in_process and settings.env != "test":
        # the embedded default's worker (core/jobs.py); `salomat worker` runs more
        tasks.append(asyncio.create_task(jobs.work(stop)))
    try:
        yield
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _client_origins() -> frozenset[str]:
    """CORS: the browser origins the active client systems registered (accounts)."""
    async with session_factory()() as session:
        return await accounts_service.allowed_origins(session)


def create_app() -> FastAPI:
    settings = get_settings()
    salomat_logging.configure()
    docs = not settings.production
    app = FastAPI(
        title="Salomat",
        version=__version__,
        summary="National digital-health platform: REST API (the FHIR R4 API is under /fhir)",
        docs_url="/docs" if docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
        swagger_ui_oauth2_redirect_url="/docs/oauth2-redirect" if docs else None,
        lifespan=lifespan,
    )
    app.state.resolve_principal = accounts_api.resolve_principal
    app.state.render_error_html = render_error
    # who acted, by name, for domains that record a username (core.user_names)
    install_user_names(accounts_service.full_names)
    install_error_handlers(app)
    for r in (
        health,
        accounts_api.auth,
        accounts_api.api,
        *registry_api.routers,
        *maternal_api.routers,
        *immunization_api.routers,
        *child_api.routers,
        *prescription_api.routers,
        *sickleave_api.routers,
        *sanatorium_api.routers,
        *statistics_api.routers,
        *cancer_api.routers,
        *screening_api.routers,
        *planning_api.routers,
        *epidemic_api.routers,
        *planning_api_access.routers,
        *screening_api_indicators.routers,
        *insurance_api.routers,
        *epidemic_api_revaccination.routers,
        *epidemic_api_situation.routers,
        fhir_api.router,
        fhir_bulk_api.downloads,
        accounts_web.web,
        registry_web.web,
        maternal_web.web,
        immunization_web.web,
        child_web.web,
        prescription_web.web,
        sickleave_web.web,
        sanatorium_web.web,
        cancer_web.web,
        screening_web.web,
        screening_web_indicators.web,
        planning_web.web,
        statistics_web.web,
        insurance_web.web,
        epidemic_web_revaccination.web,
        epidemic_web_dashboard.web,
        epidemic_web_reporting.web,
        record_web.web,
        bulkdata_web.web,
        subscriptions_web.web,
    ):
        app.include_router(r)
    app.mount("/static", StaticFiles(directory=UI_DIR / "static"), name="static")
    # the last one added is the outermost: every answer, the guards' and the last-resort
    # 500 included, leaves through RequestContextMiddleware (security headers, request id)
    app.add_middleware(UrlGuardMiddleware)
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        fhir_max_bytes=settings.max_fhir_body_bytes,
    )
    # CORS for the client systems' registered origins, inside the request context (its
    # preflight answers carry the security headers and the request id too)
    install_cors_origins(_client_origins)
    app.add_middleware(CorsMiddleware)
    # a client system's scopes, bound by the principal's resolver, end with its request
    app.add_middleware(SystemScopesMiddleware)
    app.add_middleware(RequestContextMiddleware)
    return app
