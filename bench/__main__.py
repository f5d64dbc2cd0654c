"""``make bench``: the benchmark suite on PostgreSQL, against same-run baselines.

    .venv/bin/python -m bench                          # 1M people, every suite
    .venv/bin/python -m bench --people 100000          # smaller
    .venv/bin/python -m bench --people 100000,1000000  # growth from 100k to 1M
    .venv/bin/python -m bench --suites api --quick     # one suite, short runs
    .venv/bin/python -m bench --suites api --profile   # + where the server's CPU goes
    .venv/bin/python -m bench --suites api --workers 1,2   # + register, read at 1, 2 workers

For each size a synthetic population is loaded once with ``salomat synth``
into the database ``bench_<country>_<size>`` of the server in
``SALOMAT_BENCH_PG_URL`` (default: the local one) and reused by later runs
while its seed matches (``--fresh`` reloads it). Then every suite runs:

- ``api``: HTTP writes and reads through the app from a load generator on
  loopback, beside a bare FastAPI endpoint and the raw database ceiling;
- ``search``: person search through the services, beside a primary-key read;
- ``indicators``: dashboards and indicators, beside the raw SQL GROUP BY;
- ``dedup``: batch deduplication time, precision and recall against the
  injected duplicates;
- ``sick_leave``: opening a certificate beside the bare insert, the employer's
  check by number and the public verification beside a bare select (p95), and
  the ministry's analytics beside a raw GROUP BY;
- ``sanatorium``: a citizen's queue position in a queue of about 1M entries beside a
  primary-key read (p95), and booking a place beside the bare insert;
- ``cancer``: the rates table of a year beside a hand-written SQL of the same counts,
  and a day's notifications consolidated in one job beside bare inserts;
- ``insurance``: a person's insured status beside a primary-key read (p95), and the
  nightly control rules over a month's claim lines beside hand-written SQL counting the
  same flags (``--country KZ``: the contributory scheme);
- ``record``: the shared health record's FHIR transactions of 20 entries (a hospital
  stay: Encounter, Condition, 18 Observations) beside single creates in the same run,
  and a single create beside the bare insert;
- ``bulk``: a FHIR Bulk Data export of the population's Patient and Immunization
  resources (NDJSON) beside a raw COPY of the same rows (time, MB/s);
- ``subscriptions``: FHIR subscription delivery latency p95 (a write answered to its
  notification received) under a write load of the subscribed type, beside the p95 of
  the probe writes themselves in the same run;
- ``statistics``: the full national indicator set of a year (every area and stratum)
  beside hand-written SQL of the same national counts, and the aggregate job's duration;
- ``screening``: the target groups of a whole region and the quarterly HEARTS indicator set,
  each beside hand-written SQL of the same counts, and one facility's worklists (p95);
- ``planning``: the norm gaps of the whole country's settlements beside a hand-written SQL
  of the same counts, access and staffing of the whole country, and a district's mobile
  team routed by OR-Tools beside a nearest-neighbour tour;
- ``revaccination``: COVID-19 revaccination coverage of the whole country by region and
  age group (doses seeded set-wise in a rolled-back transaction) beside one hand-written
  statement of the same national counts;
- ``epidemic``: every region's situation (Rt, forecast, zone matrix) and the nightly
  ``record_day`` on the synthetic epidemic ``salomat synth --epidemic-r`` loads (with its
  hospitals' beds and occupancy), beside a hand-written SQL of the same regions × days
  counts; Rt checked against the synthetic R.

Each figure is printed with the baseline measured in the same run and the
ratio between them; results go to ``bench/results/<date>-bench.json`` and
``.md`` with the machine's description. Nothing here is part of ``make test``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import DATA, PG_SERVER, RESULTS, ROOT, BenchContext, Figure, load_average
from bench.epidemic import EPIDEMIC_R

SUITES = [
    "api", "search", "indicators", "dedup", "sick_leave", "sanatorium", "cancer", "insurance",
    "record", "bulk", "subscriptions", "statistics", "screening", "planning", "revaccination",
    "epidemic",
]  # fmt: skip
#: a population loaded before a generator existed lacks its tables' rows: loaded again
REQUIRED_ROWS = (
    "sick_leave_certificate", "sanatorium_referral", "cancer_tumour", "ins_claim_line",
    "record_resource", "dmp_enrolment", "settlement_census", "epidemic_occupancy",
)  # fmt: skip


def _label(n: int) -> str:
    return f"{n // 1_000_000}m" if n % 1_000_000 == 0 else f"{n // 1000}k"


def database_url(country: str, people: int) -> str:
    return f"{PG_SERVER}/bench_{country.lower()}_{_label(people)}"


def _admin() -> Any:
    import psycopg

    dsn = PG_SERVER.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    return psycopg.connect(dsn, autocommit=True, connect_timeout=5)


def _existing_run(url: str) -> dict[str, Any] | None:
    """The synthetic run recorded in the database, if it finished."""
    import psycopg

    try:
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
            row = conn.execute(
                "SELECT people, seed, country, as_of, finished_at, counts FROM synthetic_run "
                "WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1"
            ).fetchone()
    except Exception:
        return None
    if row is None:
        return None
    keys = ("people", "seed", "country", "as_of", "finished_at", "counts")
    return dict(zip(keys, row, strict=True))


def prepare(country: str, people: int, seed: int, *, fresh: bool) -> tuple[str, dict[str, Any]]:
    """The database of this size, loaded by ``salomat synth`` unless already there."""
    url = database_url(country, people)
    run = None if fresh else _existing_run(url)
    rows = ((run or {}).get("counts") or {}).get("rows") or {}
    complete = all(rows.get(t) for t in REQUIRED_ROWS)
    if (
        run
        and complete
        and run["people"] == people
        and run["seed"] == seed
        and run["country"] == country
    ):
        print(f"== {people:,} people: reusing {url.rsplit('/', 1)[1]} (loaded {run['as_of']})")
        run["reused"] = True
        return url, run
    name = url.rsplit("/", 1)[1]
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    print(f"== {people:,} people: salomat synth into {name} (seed {seed})", flush=True)
    env = dict(os.environ)
    env.update(
        SALOMAT_DATABASE_URL=url.replace("+psycopg://", "+psycopg_async://"),
        SALOMAT_COUNTRY=country,
        SALOMAT_ENV="development",
        SALOMAT_VAR_DIR=str(DATA / f"var-{country}-{people}"),
    )
    started = time.perf_counter()
    subprocess.run(
        [
            str(Path(sys.executable).parent / "salomat"),
            "synth",
            "--people",
            str(people),
            "--seed",
            str(seed),
            "--country",
            country,
            "--epidemic-r",
            str(EPIDEMIC_R),
        ],
        env=env,
        check=True,
    )
    elapsed = time.perf_counter() - started
    run = _existing_run(url)
    if run is None:
        raise SystemExit(f"salomat synth did not record a finished run in {name}")
    run["reused"] = False
    run["wall_seconds"] = round(elapsed, 1)
    return url, run


def code() -> dict[str, Any]:
    """Which salomat the run measured: its source path (a checkout put first on PYTHONPATH
    to measure another commit, ``git worktree add /tmp/before <commit>``) and commit."""
    import salomat

    where = Path(salomat.__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--", "."],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit, dirty = "unknown", ""
    return {"salomat": str(where), "commit": commit, "uncommitted_changes": bool(dirty)}


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    pg = None
    try:
        with _admin() as conn:
            pg = conn.execute("SHOW server_version").fetchone()[0]
    except Exception as e:
        pg = f"unreachable: {e}"
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory_gib,
        "python": platform.python_version(),
        "postgresql": pg,
        "note": "load generator, app and database share the machine",
    }


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:  # NaN
            return "n/a"
        return f"{value:,.{digits}f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"# Salomat benchmark, {result['date']}",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['platform']}; "
        f"Python {m['python']}, PostgreSQL {m['postgresql']}. The load generator, the app and "
        "the database share this machine. Country pack "
        f"{result['country']}, seed {result['seed']}.",
        "",
        *(
            [
                f"Code measured: {c['salomat']} at {c['commit']}"
                + (" with uncommitted changes" if c.get("uncommitted_changes") else "")
                + ".",
                "",
            ]
            if (c := result.get("code"))
            else []
        ),
        "## Populations",
        "",
        "| people | database | loaded | synth seconds | rows |",
        "| ---: | --- | --- | ---: | ---: |",
    ]
    for p in result["populations"]:
        counts = p.get("counts") or {}
        rows = sum((counts.get("rows") or {}).values())
        seconds = sum(v for v in (counts.get("seconds") or {}).values())
        when = "this run" if not p.get("reused") else f"earlier ({p.get('as_of')})"
        lines.append(f"| {p['people']:,} | {p['database']} | {when} | {seconds:,.0f} | {rows:,} |")
    lines += [
        "",
        "## Figures",
        "",
        "Each figure beside the baseline measured in the same run. `ratio` is figure ÷ "
        "baseline (for throughputs higher is better; for times lower is better).",
        "",
        "| suite | figure | people | value | unit | p50 ms | p95 ms | p99 ms | baseline "
        "| baseline value | ratio | target | met |",
        "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | --- | ---: | ---: | --- | --- |",
    ]
    for f in result["figures"]:
        d = f.get("detail") or {}
        d = {**(d.get("latency_ms") or {}), **d}
        met = {True: "yes", False: "**no**", None: ""}[f.get("met")]
        lines.append(
            f"| {f['suite']} | {f['name']} | {f['people']:,} | {_fmt(f['value'])} | {f['unit']} "
            f"| {_fmt(d.get('p50'))} | {_fmt(d.get('p95'))} | {_fmt(d.get('p99'))} "
            f"| {f.get('baseline') or ''} | {_fmt(f.get('baseline_value'))} "
            f"| {_fmt(f.get('ratio'))} | {f.get('target') or ''} | {met} |"
        )
    lines += _workers_table(result["figures"])
    profiles: dict[str, dict[str, Any]] = {}
    for f in result["figures"]:  # a scenario's profile once, under its first figure's name
        p = (f.get("detail") or {}).get("profile")
        if p and p not in profiles.values():
            profiles[f"{f['name']} ({_label(f['people'])})"] = p
    if profiles:
        from bench.profile import markdown as profile_markdown

        lines += ["", *profile_markdown(profiles)]
    if result.get("errors"):
        lines += ["", "## Suites that failed", ""]
        lines += [
            f"- {e['suite']} at {e['people']:,} people: {e['error']}" for e in result["errors"]
        ]
    refused = [
        (f"{f['suite']}: {f['name']} ({f['people']:,}){where}", d)
        for f in result["figures"]
        for where, d in (
            ("", f.get("detail") or {}),
            (", baseline", (f.get("detail") or {}).get("baseline") or {}),
        )
        if d.get("errors")
    ]
    if refused:
        # a figure counts 2xx answers only: one whose answers were refused or failed says so
        # here, or a run of 500s reads as a slow 0.00
        lines += ["", "## Answers that were not 2xx", ""]
        lines += [
            f"- {what}: {d['errors']:,} of {d.get('completed', d['errors']):,} answers, "
            f"statuses {d.get('statuses')}"
            for what, d in refused
        ]
    notes = [
        (f"{f['suite']}: {f['name']} ({f['people']:,})", f["detail"].get("note"))
        for f in result["figures"]
        if (f.get("detail") or {}).get("note")
    ]
    if notes:
        lines += ["", "## Notes", ""]
        lines += [f"- {what}: {note}" for what, note in notes]
    lines += ["", f"Load average (1 min) at the start: {result['load_average_start']}.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--people", default="1000000", help="comma-separated population sizes")
    ap.add_argument("--country", default=os.environ.get("SALOMAT_COUNTRY", "UZ"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--suites", default=",".join(SUITES), help=f"any of {', '.join(SUITES)}")
    ap.add_argument("--quick", action="store_true", help="short runs: to try, not for figures")
    ap.add_argument("--fresh", action="store_true", help="reload the synthetic populations")
    ap.add_argument("--out", default=None, help="results file name (default: <date>-bench)")
    ap.add_argument(
        "--profile",
        action="store_true",
        help="api suite: py-spy records the server in the measured window of register, read "
        "and the FHIR Patient create and read; the CPU by layer goes into the results",
    )
    ap.add_argument(
        "--workers",
        default="",
        help="api suite: also register and read at each of these `salomat serve --workers` "
        "counts (e.g. 1,2), reported side by side",
    )
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.people.split(",") if s.strip()]
    workers = tuple(int(s) for s in args.workers.split(",") if s.strip())
    if any(n < 1 for n in workers):
        ap.error("--workers: counts of 1 or more")
    suites = [s.strip() for s in args.suites.split(",") if s.strip()]
    unknown = [s for s in suites if s not in SUITES]
    if unknown:
        ap.error(f"--suites: unknown {', '.join(unknown)} (have {', '.join(SUITES)})")
    country = args.country.upper()
    result: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "country": country,
        "seed": args.seed,
        "quick": args.quick,
        "profile": args.profile,
        "workers": list(workers),
        "code": code(),
        "machine": machine(),
        "load_average_start": load_average(),
        "populations": [],
        "figures": [],
        "errors": [],
    }
    os.environ.setdefault("SALOMAT_ENV", "development")
    for people in sizes:
        url, run = prepare(country, people, args.seed, fresh=args.fresh)
        result["populations"].append(
            {"people": people, "database": url.rsplit("/", 1)[1], **_jsonable(run)}
        )
        ctx = BenchContext(
            url=url,
            people=people,
            country=country,
            seed=args.seed,
            quick=args.quick,
            profile=args.profile,
            workers=workers,
        )
        for key, value in ctx.env().items():
            if key.startswith("SALOMAT_"):
                os.environ[key] = value
        _reset_settings()
        for suite in suites:
            print(f"-- {suite} at {people:,} people", flush=True)
            try:
                module = importlib.import_module(f"bench.{suite}")
                figures: list[Figure] = module.run(ctx)
            except Exception as e:
                import traceback

                traceback.print_exc()
                result["errors"].append({"suite": suite, "people": people, "error": repr(e)})
                continue
            for f in figures:
                print(
                    f"   {f.name}: {_fmt(f.value)} {f.unit}"
                    + (f" vs {f.baseline} {_fmt(f.baseline_value)}" if f.baseline else "")
                    + (f" ratio {_fmt(f.ratio)}" if f.ratio is not None else "")
                    + (f" [{f.target}: {_verdict(f.met)}]" if f.target else ""),
                    flush=True,
                )
            result["figures"] += [f.as_dict() for f in figures]
            _reset_settings()
    result["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = args.out or f"{result['date']}-bench"
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown(result))
    print(f"Results: {(RESULTS / f'{name}.md').relative_to(ROOT)} and .json")
    return 1 if result["errors"] else 0


def _workers_table(figures: list[dict[str, Any]]) -> list[str]:
    """``--workers``: register and read at each worker count, side by side."""
    rows: dict[tuple[int, int], dict[str, dict[str, Any]]] = {}
    for f in figures:
        n = (f.get("detail") or {}).get("workers")
        if n is not None:
            what = "register" if f["name"].startswith("register") else "read"
            rows.setdefault((f["people"], n), {})[what] = f
    if not rows:
        return []
    lines = [
        "",
        "## Worker processes (`salomat serve --workers N`)",
        "",
        "| people | workers | register req/s | p99 ms | × 1 worker | read req/s | p95 ms "
        "| × 1 worker |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for (people, n), got in sorted(rows.items()):
        cells = []
        for what, p in (("register", "p99"), ("read", "p95")):
            f = got.get(what)
            if f is None:
                cells += ["", "", ""]
                continue
            lat = (f["detail"].get("latency_ms") or {}).get(p)
            cells += [_fmt(f["value"]), _fmt(lat), _fmt(f.get("ratio"))]
        lines.append(f"| {people:,} | {n} | " + " | ".join(cells) + " |")
    return lines


def _verdict(met: bool | None) -> str:
    """None: the target is not judged at this size (the 1M targets at 100k)."""
    return {True: "met", False: "NOT met", None: "not judged at this size"}[met]


def _jsonable(run: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(run, default=str))


def _reset_settings() -> None:
    """Suites call services in this process: make them see this size's database."""
    import asyncio

    from salomat.core.config import get_settings
    from salomat.core.db import dispose_engines

    asyncio.run(dispose_engines())
    get_settings.cache_clear()


if __name__ == "__main__":
    raise SystemExit(main())
