"""``make bench BENCH_ARGS=--profile``: py-spy's stacks put in the issue's categories."""

from __future__ import annotations

from bench.__main__ import markdown
from bench.profile import ORDER, SERVER, category_of, module_of, parse_raw

SITE = "/venv/lib/python3.11/site-packages"
STD = "/usr/lib/python3.11"
SRC = "/work/main/src"


def frame(func: str, path: str, line: int = 1) -> str:
    return f"{func} ({path}:{line})"


def test_modules_are_named_from_their_files() -> None:
    assert module_of(f"{SITE}/sqlalchemy/orm/session.py") == "sqlalchemy.orm.session"
    assert module_of(f"{STD}/copy.py") == "copy"
    assert module_of(f"{SRC}/salomat/country/pack.py") == "salomat.country.pack"
    assert module_of(f"{SITE}/psycopg/__init__.py") == "psycopg"
    assert module_of("/srv/before/src/salomat/core/audit.py") == "salomat.core.audit"


def test_a_sample_belongs_to_the_innermost_layer_that_is_not_a_generic_helper() -> None:
    root = [
        frame("Runner.run", f"{STD}/asyncio/runners.py"),
        frame("RequestResponseCycle.run_asgi", f"{SITE}/uvicorn/protocols/http/h.py"),
        frame("register", f"{SRC}/salomat/domains/registry/api/people.py"),
    ]
    deep_copy = [
        frame("load", f"{SRC}/salomat/country/pack.py"),
        frame("deepcopy", f"{STD}/copy.py"),
        frame("_deepcopy_dict", f"{STD}/copy.py"),
    ]
    driver = [
        frame("Session.execute", f"{SITE}/sqlalchemy/orm/session.py"),
        frame("greenlet_spawn", f"{SITE}/sqlalchemy/util/_concurrency_py3k.py"),
        frame("BaseCursor._execute_send", f"{SITE}/psycopg/_cursor_base.py"),
    ]
    compiled = [
        frame("Session.execute", f"{SITE}/sqlalchemy/orm/session.py"),
        frame("SQLCompiler.visit_select", f"{SITE}/sqlalchemy/sql/compiler.py"),
        frame("memoized", f"{SITE}/sqlalchemy/util/langhelpers.py"),
    ]
    text = "\n".join(
        [
            'process 1:"salomat serve";thread (1): MainThread;' + ";".join(root + deep_copy) + " 7",
            "thread (1): MainThread;" + ";".join(root + driver) + " 5",
            ";".join(root + compiled) + " 3",
            "thread (1): MainThread;" + ";".join(root) + " 2",
            "thread (1): MainThread 1",  # no Python frame: uvloop's own C code
            "not a sample line",
        ]
    )
    b = parse_raw(text)
    assert b.total == 18
    assert b.samples == {
        "configuration (salomat.country.pack, settings)": 7,
        "driver (psycopg)": 5,
        "SQL statements and compilation (sqlalchemy.sql)": 3,
        "salomat: other application code (services, API, FHIR mapping)": 2,
        SERVER: 1,
    }
    assert b.top_frames["salomat.country.pack:load"] == 7
    share = b.as_dict()["share_of_cpu"]
    assert list(share) == ORDER
    assert abs(sum(share.values()) - 1) < 1e-3


def test_a_response_render_is_json_and_an_unknown_module_is_other() -> None:
    render = frame("ORJSONResponse.render", f"{SITE}/fastapi/responses.py")
    assert category_of([("ORJSONResponse.render", "fastapi.responses")]) == ORDER[0]
    assert parse_raw(render + " 1").samples == {ORDER[0]: 1}
    assert category_of([("f", "somelib.thing"), ("deepcopy", "copy")]) == "other"
    assert category_of([("deepcopy", "copy")]) == "other"


def _result(figures: list[dict]) -> dict:
    machine = {"cpu": "x", "cores": 2, "memory_gib": 1, "platform": "p"}
    return {
        "date": "2026-12-07",
        "machine": machine | {"python": "3.11", "postgresql": "15"},
        "country": "UZ",
        "seed": 1,
        "code": {"salomat": "/srv/before/src/salomat", "commit": "e251841"},
        "populations": [],
        "figures": figures,
        "errors": [],
        "load_average_start": 1.0,
    }


def _figure(name: str, value: float, **detail) -> dict:
    return {
        "suite": "api",
        "name": name,
        "people": 1_000_000,
        "value": value,
        "unit": "req/s",
        "baseline": None,
        "baseline_value": None,
        "ratio": None,
        "target": None,
        "met": None,
        "detail": detail,
    }


def test_the_report_shows_each_profile_once_and_the_workers_side_by_side() -> None:
    profile = parse_raw(frame("load", f"{SRC}/salomat/country/pack.py") + " 4").as_dict()
    figures = [
        _figure("register a person", 130.0, profile=profile),
        _figure("register a person, against the database ceiling", 130.0, profile=profile),
        _figure("register a person, 1 worker", 120.0, workers=1, latency_ms={"p99": 250.0}),
        _figure("register a person, 2 workers", 150.0, workers=2, latency_ms={"p99": 200.0}),
        _figure("read a person by id, 2 workers", 500.0, workers=2, latency_ms={"p95": 40.0}),
    ]
    md = markdown(_result(figures))
    assert "Code measured: /srv/before/src/salomat at e251841." in md
    assert md.count("| configuration (salomat.country.pack, settings) | 100.0 % |") == 1
    assert "| register a person (1m) |" in md
    assert "| 1,000,000 | 1 | 120.00 | 250.00 |" in md
    assert "| 1,000,000 | 2 | 150.00 | 200.00 |  | 500.00 | 40.00 |" in md
