"""A test module's database of its own: a scratch database at head (tests/conftest.py's
``scratch_database``, either backend) that the module's app, client, ``db`` session and
in-process job runs all use, so that a test which reads "everything" (a bulk export of the
whole index, the country's indicators) costs what its own module wrote, not what the whole
run has written into the shared database by then.

In a test module::

    own_database, app = own_database_fixtures("salomat_stats")

The database URL is read from the settings at each use (``core.db.session_factory``), so
pointing ``SALOMAT_DATABASE_URL`` at the scratch database for the module's lifetime moves
every session there; the module gets an app of its own as well, so that nothing the
session's app cached from the shared database is seen."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import scratch_database


def own_database_fixtures(prefix: str) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """The module-scoped fixtures ``own_database`` (autouse: the scratch database's URL,
    the settings pointing at it) and ``app`` (an app made while they do)."""

    @pytest.fixture(scope="module", autouse=True)
    def own_database(migrated_database: str) -> Iterator[str]:
        from salomat.core.config import get_settings
        from salomat.core.db import dispose_engines

        saved = os.environ.get("SALOMAT_DATABASE_URL")
        with scratch_database(prefix) as url:
            os.environ["SALOMAT_DATABASE_URL"] = url
            get_settings.cache_clear()
            try:
                yield url
            finally:
                if saved is None:
                    os.environ.pop("SALOMAT_DATABASE_URL", None)
                else:
                    os.environ["SALOMAT_DATABASE_URL"] = saved
                get_settings.cache_clear()
                # nothing may stay connected to a database that is dropped
                asyncio.run(dispose_engines())

    @pytest.fixture(scope="module")
    def app(own_database: str) -> Any:
        from salomat.main import create_app

        return create_app()

    return own_database, app


def own_browser_fixtures(prefix: str, **env: str) -> tuple[Callable[..., Any], ...]:
    """``own_database_fixtures`` and, on top, ``own_server`` (uvicorn serving the module's
    database, stopped before it is dropped) and ``browser`` (Chromium on that server).

    For a page test whose page lists or aggregates what is in the database (the areas of
    a form, the country's indicators): against the run's shared database it would see
    what every earlier test wrote — the 500 first regions of the run, or a country's
    worth of figures to aggregate — and pass or time out by the order of the run.

    ``env`` is set for the server over the test settings (``SALOMAT_COUNTRY="KZ"``)."""
    own_database, app = own_database_fixtures(prefix)

    @pytest.fixture(scope="module")
    def own_server(own_database: str) -> Iterator[str]:
        from tests.conftest import _start_app, _stop_app

        served = _start_app({**os.environ, **env})
        try:
            yield served.base
        finally:
            _stop_app(served)

    @pytest.fixture
    async def browser(own_server: str) -> Any:
        from tests.ui.conftest import open_browser

        async with open_browser(own_server) as b:
            yield b

    return own_database, app, own_server, browser
