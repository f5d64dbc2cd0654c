"""The application with the programme indicator routes, for uvicorn's ``--factory`` in the
Chromium test (test_indicators_web.py). No tests here, and no import of the test set-up:
``tests/conftest.py`` points the database settings at a new temporary folder when
imported, which the served child process must not do (it shares the run's database)."""

from __future__ import annotations

from typing import Any

API = "/api/v1/screening/indicators"


def app_with_indicators() -> Any:
    """main's application, with the indicator routes mounted unless main mounts them."""
    from salomat.domains.screening import api_indicators, web_indicators
    from salomat.main import create_app

    app = create_app()
    if API not in {getattr(r, "path", None) for r in app.routes}:
        for r in (*api_indicators.routers, web_indicators.web):
            app.include_router(r)
    return app
