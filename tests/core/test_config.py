"""Configuration from the environment; the signing secret is never a constant."""

from __future__ import annotations

import json
import logging
import stat
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from salomat.core.config import Settings, get_settings
from salomat.core.logging import JsonFormatter


def test_secret_is_generated_once_into_var_with_owner_only_permissions(tmp_path):
    s = Settings(var_dir=tmp_path, secret_key="")
    first = s.resolved_secret_key()
    path = tmp_path / "secret.key"
    assert len(first) >= 48
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Settings(var_dir=tmp_path, secret_key="").resolved_secret_key() == first
    other = Settings(var_dir=tmp_path / "elsewhere", secret_key="").resolved_secret_key()
    assert other != first


def test_a_secret_key_file_made_by_another_process_is_read_whole_or_refused(tmp_path):
    """Workers started side by side: one that finds the key already made reads it (and
    keeps it for the process); an empty key file is refused, never kept as the key."""
    made = tmp_path / "made"
    made.mkdir()
    (made / "secret.key").write_text("made-by-the-first-worker\n")
    assert Settings(var_dir=made, secret_key="").resolved_secret_key() == (
        "made-by-the-first-worker"
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "secret.key").write_text("")
    with pytest.raises(RuntimeError, match="empty"):
        Settings(var_dir=empty, secret_key="").resolved_secret_key()
    (empty / "secret.key").write_text("written-since")
    assert Settings(var_dir=empty, secret_key="").resolved_secret_key() == "written-since"
    assert not [p for p in tmp_path.rglob(".secret.key.*")]


def test_environment_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("SALOMAT_COUNTRY", "kz")
    monkeypatch.setenv("SALOMAT_SECRET_KEY", "from-the-environment")
    monkeypatch.setenv("SALOMAT_DATABASE_URL", "postgresql+psycopg://u@db/salomat")
    s = Settings()
    assert s.country == "KZ"
    assert s.resolved_secret_key() == "from-the-environment"
    assert s.resolved_database_url() == "postgresql+psycopg://u@db/salomat"


def test_default_database_is_sqlite_under_var(monkeypatch, tmp_path):
    monkeypatch.delenv("SALOMAT_DATABASE_URL", raising=False)
    s = Settings(var_dir=tmp_path)
    assert s.resolved_database_url() == f"sqlite+aiosqlite:///{tmp_path / 'salomat.sqlite3'}"


@pytest.mark.parametrize(
    ("name", "value"),
    [("SALOMAT_COUNTRY", "FR"), ("SALOMAT_ENV", "staging"), ("SALOMAT_ACCESS_TOKEN_MINUTES", "0")],
)
def test_bad_configuration_is_refused_naming_the_setting(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as e:
        Settings()
    assert name.removeprefix("SALOMAT_").lower() in str(e.value)


def test_docs_are_served_in_development_and_off_in_production(monkeypatch):
    from fastapi.testclient import TestClient

    from salomat.main import create_app

    try:
        monkeypatch.setenv("SALOMAT_ENV", "production")
        get_settings.cache_clear()
        prod = TestClient(create_app())
        assert prod.get("/docs").status_code == 404
        assert prod.get("/openapi.json").status_code == 404
        monkeypatch.setenv("SALOMAT_ENV", "development")
        get_settings.cache_clear()
        dev = TestClient(create_app())
        assert dev.get("/docs").status_code == 200
        assert "/auth/token" in dev.get("/openapi.json").json()["paths"]
    finally:
        monkeypatch.setenv("SALOMAT_ENV", "test")
        get_settings.cache_clear()


def test_access_log_is_one_json_object_with_the_request_id(app, caplog, monkeypatch):
    from fastapi.testclient import TestClient

    from salomat.core import middleware

    # the middleware's clock reads 100.0 s when the request comes in, 100.25 s after
    ticks = iter([100.0])
    clock = SimpleNamespace(
        perf_counter=lambda: next(ticks, 100.25), monotonic=middleware.time.monotonic
    )
    monkeypatch.setattr(middleware, "time", clock)
    with caplog.at_level(logging.INFO, logger="salomat.access"):
        r = TestClient(app).get("/healthz", headers={"X-Request-ID": "trace-42"})
    assert r.headers["x-request-id"] == "trace-42"
    record = next(rec for rec in caplog.records if rec.name == "salomat.access")
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "trace-42"
    assert line["path"] == "/healthz"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    # the request's own duration (it was the clock's reading less one: a flag had
    # overwritten the start time)
    assert line["duration_ms"] == 250.0


def test_health_and_readiness(app):
    from fastapi.testclient import TestClient

    c = TestClient(app)
    assert c.get("/healthz").json()["status"] == "ok"
    ready = c.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] in ("sqlite", "postgresql")


def test_readiness_says_503_when_the_database_is_unreachable(monkeypatch, app):
    from fastapi.testclient import TestClient

    try:
        monkeypatch.setenv("SALOMAT_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
        get_settings.cache_clear()
        r = TestClient(app).get("/readyz")
        assert r.status_code == 503
        assert r.json()["status"] == "unavailable"
        assert TestClient(app).get("/healthz").status_code == 200
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_passwords_are_argon2id_with_the_rfc9106_profile_outside_tests(monkeypatch):
    from salomat.core import security

    monkeypatch.setenv("SALOMAT_ENV", "production")
    get_settings.cache_clear()
    security._hasher.cache_clear()
    try:
        hashed = security.hash_password("correct horse battery")
        assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        assert security.verify_password(hashed, "correct horse battery")
        assert not security.verify_password(hashed, "wrong horse battery")
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        security._hasher.cache_clear()
    assert security.hash_password("x" * 12).startswith("$argon2id$")
