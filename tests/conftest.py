"""Test set-up: one fresh database per run, migrated with Alembic.

``SALOMAT_TEST_DB=sqlite`` (default) uses a temporary SQLite file;
``SALOMAT_TEST_DB=postgresql`` creates a throw-away database on the server
named by ``SALOMAT_TEST_PG_URL`` (default: this machine's 127.0.0.1:5432,
database ``test``) and drops it afterwards.

The migrations run once per run, into a template (a database of the run's own on
PostgreSQL, a file on SQLite); the run's database and every scratch database that a test
needs at head are copies of it: ``CREATE DATABASE ... TEMPLATE`` takes a tenth of a
second where running the migrations takes seconds. Tests of the migrations themselves
(test_migrations, test_db_roles, ...) still start from an empty database.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import settings as hypothesis_settings

from tests.fhir.validator import AnswerLog, check_answers, check_codes, node_missing

# No property test is timed: hypothesis's default 200 ms deadline per example fails a
# test on a loaded machine (CI runs two suites side by side on two cores) for a reason
# that is not the behaviour it names. Tests that set other settings keep this one.
hypothesis_settings.register_profile("salomat", deadline=None)
hypothesis_settings.load_profile("salomat")

BACKEND = os.environ.get("SALOMAT_TEST_DB", "sqlite")
PG_URL = os.environ.get("SALOMAT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
_TMP = Path(tempfile.mkdtemp(prefix="salomat-test-"))
os.environ["SALOMAT_ENV"] = "test"
os.environ["SALOMAT_VAR_DIR"] = str(_TMP)
os.environ["SALOMAT_SECRET_KEY"] = secrets.token_urlsafe(32)
os.environ.setdefault("SALOMAT_COUNTRY", "UZ")


def _pg_admin_dsn() -> str:
    return PG_URL.replace("postgresql+psycopg://", "postgresql://")


def _pg_database_url(name: str) -> str:
    base, _, _ = PG_URL.rpartition("/")
    return f"{base}/{name}"


def _create_pg_database(name: str, *, migrated: bool = False) -> None:
    """An empty database, or (``migrated``) a copy of the run's template, at head."""
    import psycopg

    template = f' TEMPLATE "{_migrated_template()}"' if migrated else ""
    try:
        conn = psycopg.connect(_pg_admin_dsn(), autocommit=True, connect_timeout=5)
    except Exception as e:  # unreachable server: say so, loudly
        pytest.exit(f"PostgreSQL tests requested but {PG_URL} is unreachable: {e}", returncode=3)
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"{template}')
        # a commit waits for no disk flush (8 ms a commit here, 0.5 ms without): what the
        # others see and when is unchanged, only a crash of the server could lose the last
        # commits, of a database that is dropped at the end of the run anyway
        conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')


def _drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(_pg_admin_dsn(), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# the name is fixed now (settings read it lazily); the database is made by the fixture
if BACKEND == "postgresql":
    _PG_NAME: str | None = f"salomat_test_{uuid.uuid4().hex[:10]}"
    TEST_URL = _pg_database_url(_PG_NAME)
else:
    TEST_URL, _PG_NAME = f"sqlite+aiosqlite:///{_TMP / 'test.sqlite3'}", None
os.environ["SALOMAT_DATABASE_URL"] = TEST_URL

#: the run's migrated template: its name is the run's own, so runs side by side (or a
#: migration added between two runs) never share one
_PG_TEMPLATE = f"{_PG_NAME}_tmpl" if _PG_NAME else None
_SQLITE_TEMPLATE = _TMP / "template.sqlite3"
_template_made = False


def _migrated_template() -> str:
    """The run's template at head, made on first use: a database's name on PostgreSQL,
    a file's path on SQLite. Nothing stays connected to it (Alembic's engine is disposed
    of), as ``CREATE DATABASE ... TEMPLATE`` requires."""
    global _template_made
    if not _template_made:
        from salomat.core import migrate

        if _PG_TEMPLATE:
            _create_pg_database(_PG_TEMPLATE)
            migrate.upgrade(_pg_database_url(_PG_TEMPLATE))
        else:
            migrate.upgrade(f"sqlite+aiosqlite:///{_SQLITE_TEMPLATE}")
        _template_made = True
    return _PG_TEMPLATE or str(_SQLITE_TEMPLATE)


def migrated_sqlite(path: Path) -> str:
    """A SQLite database at head at ``path`` (a new file: a copy of the run's template),
    as its async URL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_migrated_template(), path)
    return f"sqlite+aiosqlite:///{path}"


@contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """A database of its own at head, on this run's backend, removed afterwards; its
    async URL. ``prefix`` names it (PostgreSQL) or its temporary folder (SQLite)."""
    if _PG_NAME:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        _create_pg_database(name, migrated=True)
        try:
            yield _pg_database_url(name)
        finally:
            _drop_pg_database(name)
    else:
        with tempfile.TemporaryDirectory(prefix=f"{prefix}-") as d:
            yield migrated_sqlite(Path(d) / "db.sqlite3")


# ---- the demo, loaded once per run (and country) into a template of its own ----------


@dataclass
class _DemoTemplate:
    where: str  # the template's database name (PostgreSQL) or file (SQLite)
    load: Any  # what salomat.cli.load_demo answered when it filled the template
    made: float  # time.monotonic() when it was filled
    days: tuple[date, date]  # today here and in the pack's zone when it was filled


#: the loaded templates by (country, emptied sections), and every one made (its name or file)
_DEMO: dict[tuple[str, tuple[str, ...]], _DemoTemplate] = {}
_DEMO_MADE: list[str] = []
#: a template older than this is loaded again: the demo's dates and times are counted
#: from the moment of loading (a referral 30 hours old, sick leave begun N days ago), and
#: a test reads them as just loaded, so no copy is older than a slow test's own load
DEMO_TEMPLATE_MAX_AGE = 15 * 60


def _demo_days(country: str) -> tuple[date, date]:
    from salomat.country import pack

    return date.today(), pack.today(country)


def _fill_demo(url: str, country: str, without: tuple[str, ...]) -> Any:
    """``load_demo`` (as `salomat demo load --no-vital-sample` runs it) of ``country``'s
    demo.yaml, with the sections ``without`` emptied, into ``url``; in a thread and an
    event loop of its own, as a test's own event loop may be running."""
    from salomat.cli import load_demo
    from salomat.core.config import get_settings
    from salomat.core.db import get_engine, session_factory
    from salomat.country import pack

    async def fill() -> Any:
        data = pack.demo(country)
        data = {**data, **{k: type(data.get(k, []))() for k in without}}
        try:
            async with session_factory(url)() as s:
                loaded = await load_demo(s, data, force=False)
                await s.commit()
            return loaded
        finally:
            await get_engine(url).dispose()

    before = os.environ.get("SALOMAT_COUNTRY")
    os.environ["SALOMAT_COUNTRY"] = country
    get_settings.cache_clear()
    try:
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, fill()).result()
    finally:
        if before is None:
            os.environ.pop("SALOMAT_COUNTRY", None)
        else:
            os.environ["SALOMAT_COUNTRY"] = before
        get_settings.cache_clear()


def _demo_template(country: str, without: tuple[str, ...]) -> _DemoTemplate:
    key = (country, without)
    t = _DEMO.get(key)
    if (
        t is None
        or time.monotonic() - t.made > DEMO_TEMPLATE_MAX_AGE
        or t.days != _demo_days(country)
    ):
        days = _demo_days(country)
        made = time.monotonic()
        label = f"demo_{country.lower()}_{len(_DEMO_MADE)}"
        if _PG_NAME:
            where = f"{_PG_NAME}_{label}"
            _DEMO_MADE.append(where)
            _create_pg_database(where, migrated=True)
            load = _fill_demo(_pg_database_url(where), country, without)
        else:
            where = str(_TMP / f"{label}.sqlite3")
            _DEMO_MADE.append(where)
            load = _fill_demo(migrated_sqlite(Path(where)), country, without)
            import sqlite3

            with closing(sqlite3.connect(where)) as conn:  # all of it in the main file
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        _DEMO[key] = t = _DemoTemplate(where, load, made, days)
    return t


@contextmanager
def demo_database(
    prefix: str, country: str, *, without: tuple[str, ...] = ()
) -> Iterator[tuple[str, Any]]:
    """A database of its own where ``country``'s demo is loaded, as `salomat demo load
    --no-vital-sample` loads it into an empty database (``salomat.cli.load_demo``, with
    the demo.yaml sections named in ``without`` emptied), and what that load answered
    (its ``DemoLoad``): its async URL and that answer, removed afterwards.

    The demo is loaded once per run, country and ``without`` into a template, and each
    caller gets a copy (``CREATE DATABASE ... TEMPLATE`` on PostgreSQL, a file copy on
    SQLite): a test may change its copy freely (load again, add, delete), and no other
    test sees it. Tests of the load itself (idempotence, what it adds) load their own."""
    t = _demo_template(country, tuple(sorted(without)))
    if _PG_NAME:
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(_pg_admin_dsn(), autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{t.where}"')
            conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
        try:
            yield _pg_database_url(name), t.load
        finally:
            _drop_pg_database(name)
    else:
        with tempfile.TemporaryDirectory(prefix=f"{prefix}-") as d:
            path = Path(d) / "db.sqlite3"
            shutil.copyfile(t.where, path)
            yield f"sqlite+aiosqlite:///{path}", t.load


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Two kinds of test run in the SQLite suite only. `make test` runs both suites side
    by side on two cores and the PostgreSQL one is the longer, so what is the same on
    either database runs once:

    - the Chromium tests: a page in Chromium is the same page on either database, and the
      PostgreSQL suite keeps every page's httpx tests and the language sweep
      (SALOMAT_BROWSER_ON_PG=1 runs them here too);
    - the pure rules (``no_db``: the IARC checks, the rate arithmetic, the calendars, the
      growth standards, national ids...): they never open a database, which the
      ``_pure_stays_pure`` fixture enforces in the SQLite suite (SALOMAT_PURE_ON_PG=1
      runs them here too)."""
    if BACKEND != "postgresql":
        return
    browser = pytest.mark.skip(
        reason="Chromium tests run in the SQLite suite (SALOMAT_BROWSER_ON_PG=1 runs them here)"
    )
    pure = pytest.mark.skip(
        reason="pure rules run in the SQLite suite (SALOMAT_PURE_ON_PG=1 runs them here)"
    )
    for item in items:
        if "browser" in item.keywords and not os.environ.get("SALOMAT_BROWSER_ON_PG"):
            item.add_marker(browser)
        if "no_db" in item.keywords and not os.environ.get("SALOMAT_PURE_ON_PG"):
            item.add_marker(pure)


@pytest.fixture(autouse=True)
def _pure_stays_pure(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``no_db`` test that opens a database fails, so the mark never hides a test whose
    result could differ on PostgreSQL."""
    if request.node.get_closest_marker("no_db") is None:
        return
    from salomat.core import db

    def refuse(*args: object, **kw: object) -> None:
        raise AssertionError("a no_db test opened a database: remove the mark")

    monkeypatch.setattr(db, "get_engine", refuse)
    monkeypatch.setattr(db, "session_factory", refuse)


def pytest_report_header(config: pytest.Config) -> str:
    return f"salomat database backend: {BACKEND} ({TEST_URL.split('@')[-1]})"


@pytest.fixture(scope="session", autouse=True)
def migrated_database() -> Iterator[str]:
    from salomat.core import migrate
    from salomat.core.config import get_settings

    get_settings.cache_clear()
    try:
        if _PG_NAME:
            _create_pg_database(_PG_NAME, migrated=True)
        else:
            migrated_sqlite(_TMP / "test.sqlite3")
        migrate.upgrade(TEST_URL)  # at head already: this only checks so
        yield TEST_URL
    finally:
        _stop_served_apps()
        if _PG_NAME:
            from salomat.core.db import dispose_engines

            asyncio.run(dispose_engines())
            _drop_pg_database(_PG_NAME)
            for name in _DEMO_MADE:
                _drop_pg_database(name)
            if _template_made and _PG_TEMPLATE:
                _drop_pg_database(_PG_TEMPLATE)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def app():  # type: ignore[no-untyped-def]
    from salomat.main import create_app

    return create_app()


@pytest.fixture
async def client(app):  # type: ignore[no-untyped-def]
    import httpx

    ip = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    # every FHIR answer is kept for HL7's schema at the end of the session
    hooks = {"response": [FHIR_ANSWERS.keep]}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", event_hooks=hooks
    ) as c:
        yield c


#: the FHIR answers the ``client`` fixture received (tests/fhir/validator.py)
FHIR_ANSWERS = AnswerLog()
_CHECKED: dict[str, tuple[int, list[str]] | None] = {}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Every distinct FHIR answer of the session through HL7's R4 JSON schema (an
    independent validator, not the library that made them): one invalid answer fails the
    run, naming it and its errors."""
    if session.config.option.collectonly or not FHIR_ANSWERS.answers:
        return
    _CHECKED["result"] = result = check_answers(FHIR_ANSWERS)
    if result is not None and result[1] and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    # every national code in any answer is one the terminology publishes
    _CHECKED["codes"] = codes = check_codes(FHIR_ANSWERS)
    if codes[1] and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if "codes" in _CHECKED:
        count, unknown = _CHECKED["codes"]
        if unknown:
            terminalreporter.write_sep(
                "=", f"{len(unknown)} national codes in FHIR answers the terminology lacks"
            )
            for line in unknown[:200]:
                terminalreporter.write_line(line[:2000])
        else:
            terminalreporter.write_line(
                f"National codes in FHIR answers checked against the published terminology: "
                f"{count} distinct codings, all known"
            )
    if "result" not in _CHECKED:
        return
    result = _CHECKED["result"]
    if result is None:
        terminalreporter.write_line(
            "!! FHIR answers NOT checked against HL7's R4 schema: "
            f"{node_missing()} (the Node tests were skipped too)"
        )
        return
    count, errors = result
    if not errors:
        terminalreporter.write_line(
            f"FHIR answers checked against HL7's R4 JSON schema: {count} distinct, all valid"
        )
        return
    terminalreporter.write_sep("=", f"{len(errors)} errors in FHIR answers (HL7's R4 schema)")
    for line in errors[:200]:
        terminalreporter.write_line(line[:2000])


@pytest.fixture
def backend() -> str:
    return BACKEND


from tests.factories import *  # noqa: E402, F403

# ---- the app served over real HTTP (pages in Chromium, external FHIR clients) ----


#: how long a served app may take to answer its first /healthz
STARTUP_SECONDS = 120


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: str, lines: int = 40) -> str:
    return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])


@dataclass
class _Served:
    base: str
    proc: subprocess.Popen[bytes]
    log: Any


#: the apps served for the run, one per environment (its SALOMAT_* variables)
_SERVED: dict[tuple[tuple[str, str], ...], _Served] = {}


def _start_app(env: dict[str, str]) -> _Served:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept open for the server's lifetime
        prefix="salomat-uvicorn-", suffix=".log", delete=False
    )
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "salomat.main:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    served = _Served(base, proc, log)
    try:
        # a wait for readiness, not a timing assertion: on a loaded machine (both suites
        # side by side, Node validating) importing the app has taken over 30 s
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if served.proc.poll() is not None:
                pytest.fail(f"uvicorn exited with {served.proc.returncode}:\n{_tail(log.name)}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    return served
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"uvicorn did not answer on {base} in {STARTUP_SECONDS} s:\n{_tail(log.name)}"
                )
            time.sleep(0.1)
    except BaseException:
        _stop_app(served)
        raise


def _stop_app(served: _Served) -> None:
    served.proc.terminate()
    try:
        served.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        served.proc.kill()
        served.proc.wait()
    served.log.close()
    os.unlink(served.log.name)


def _stop_served_apps() -> None:
    while _SERVED:
        _stop_app(_SERVED.popitem()[1])


@contextmanager
def serve_app(**env: str) -> Iterator[str]:
    """uvicorn in a child process, its base URL; it inherits the test database settings
    from os.environ, with ``env`` (e.g. ``SALOMAT_COUNTRY="KZ"``) over them.

    One server per distinct environment (its SALOMAT_* variables) serves the whole run:
    started on first use, stopped at the end of the run, as the session's ``live_server``
    always was. Starting one imports the app in a new process (10-30 s on a loaded
    machine), and the page tests of one pack need the same server."""
    merged = {**os.environ, **env}
    key = tuple(sorted((k, v) for k, v in merged.items() if k.startswith("SALOMAT_")))
    served = _SERVED.get(key)
    if served is None or served.proc.poll() is not None:
        if served is not None:
            _stop_app(served)
        served = _SERVED[key] = _start_app(merged)
    yield served.base


@pytest.fixture(scope="session")
def live_server(migrated_database: str) -> Iterator[str]:
    """The app served over HTTP for the session (the default country's pack)."""
    with serve_app() as base:
        yield base
