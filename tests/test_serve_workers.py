"""``salomat serve --workers N``: several uvicorn worker processes, each with its own pool."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from salomat.cli import app
from salomat.core.config import get_settings


def _serve_kwargs(monkeypatch: pytest.MonkeyPatch, *args: str, **env: str) -> dict[str, Any]:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: seen.update(kw, target=target))
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(app, ["serve", *args], env=env or None)
    finally:
        get_settings.cache_clear()
    assert r.exit_code == 0, r.output
    seen["output"] = r.output
    return seen


def test_serve_passes_its_worker_count_to_uvicorn_with_the_app_factory(monkeypatch):
    one = _serve_kwargs(monkeypatch)
    assert one["workers"] == 1
    three = _serve_kwargs(monkeypatch, "--workers", "3")
    # several processes need the import string and the factory: each builds its own app
    assert (three["target"], three["factory"], three["workers"]) == (
        "salomat.main:create_app",
        True,
        3,
    )
    assert "3 worker processes, each with its own database pool" in three["output"]
    assert _serve_kwargs(monkeypatch, SALOMAT_WORKERS="2")["workers"] == 2


def test_serve_refuses_zero_workers(monkeypatch):
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: pytest.fail("served"))
    r = CliRunner().invoke(app, ["serve", "--workers", "0"])
    assert r.exit_code == 2
    assert "--workers" in r.output


SERVE = [sys.executable, "-c", "from salomat.cli import app; app()", "serve"]


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc")
def test_two_workers_serve_from_two_processes():
    port = _free_port()
    proc = subprocess.Popen(
        [*SERVE, "--port", str(port), "--workers", "2"],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180  # a liveness bound, on a busy machine
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                if r.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        assert r.json()["status"] == "ready"
        # uvicorn's supervisor and its two workers, each a python process of its own
        workers = [
            c
            for c in _children(proc.pid)
            if "multiprocessing" in Path(f"/proc/{c}/cmdline").read_text()
            and "resource_tracker" not in Path(f"/proc/{c}/cmdline").read_text()
        ]
        assert len(workers) == 2, workers
    finally:
        proc.terminate()  # the supervisor stops its workers, then itself
        try:
            stdout, _ = proc.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, _ = proc.communicate()
    assert "2 worker processes" in stdout
