"""Person search latency at 100k and 1M people, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.search                      # what `make bench` runs
    .venv/bin/python -m bench.search --sizes 100000 --backends sqlite --queries 50

Every timing goes through the service functions a request would call
(``search_persons``, ``find_candidates``, ``get_person``) as a registrar
(national scope), each call in its own session, from opening the session to
closing it; the transaction is rolled back so the audit rows written do not
grow the database between runs. The baseline of the same run is a
primary-key read of one person; ratios are against it, so slower or faster
machines give comparable ratios. Results: ``bench/results/<date>-search.json``
and ``.md``. Nothing here runs in ``make test``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DATA = ROOT / "var" / "bench"
PG_SERVER = os.environ.get("SALOMAT_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432")
PG_DATABASE = "bench"
TARGET_P95_MS = 50.0

os.environ.setdefault("SALOMAT_ENV", "development")
os.environ.setdefault("SALOMAT_COUNTRY", "UZ")
os.environ.setdefault("SALOMAT_VAR_DIR", str(DATA))


def _label(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k"


# ---- where the databases are ---------------------------------------------------------


def sqlite_url(size: int, country: str) -> str:
    return f"sqlite+aiosqlite:///{DATA / f'search-{country}-{_label(size)}.sqlite3'}"


def _pg_admin() -> Any:
    import psycopg

    dsn = PG_SERVER.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    return psycopg.connect(dsn, autocommit=True, connect_timeout=5)


def postgresql_url(size: int, country: str) -> str | None:
    """One schema per population in the ``bench`` database (created if missing)."""
    try:
        with _pg_admin() as conn:
            if not conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (PG_DATABASE,)
            ).fetchone():
                conn.execute(f'CREATE DATABASE "{PG_DATABASE}"')
    except Exception as e:
        print(f"!! PostgreSQL SKIPPED: no server answers at {PG_SERVER} ({e})", file=sys.stderr)
        return None
    import psycopg

    schema = f"people_{country.lower()}_{_label(size).lower()}"
    dsn = PG_SERVER.replace("postgresql+psycopg://", "postgresql://") + f"/{PG_DATABASE}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
    return f"{PG_SERVER}/{PG_DATABASE}?options=-csearch_path={schema},public"


# ---- measuring ---------------------------------------------------------------------------


@dataclass
class Series:
    name: str
    what: str
    ms: list[float] = field(default_factory=list)
    found: int = 0
    asked: int = 0

    def summary(self, baseline_p50: float | None) -> dict[str, Any]:
        xs = sorted(self.ms)
        q = statistics.quantiles(xs, n=100, method="inclusive") if len(xs) > 1 else xs * 99
        out = {
            "query": self.name,
            "what": self.what,
            "n": len(xs),
            "p50_ms": round(q[49], 2),
            "p95_ms": round(q[94], 2),
            "p99_ms": round(q[98], 2),
            "max_ms": round(xs[-1], 2),
            "found_rate": round(self.found / self.asked, 3) if self.asked else None,
        }
        if baseline_p50:
            out["p50_x_baseline"] = round(q[49] / baseline_p50, 1)
            out["p95_x_baseline"] = round(q[94] / baseline_p50, 1)
        return out


def _typo(word: str, rng: random.Random) -> str:
    """One wrong letter inside the word (never the first: clerks get that right)."""
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    alphabet = (
        "абвгдежзиклмнопрстуфхшқғ"
        if any("\u0400" <= c <= "\u04ff" for c in word)
        else "abdefghiklmnoprstuvxz"
    )
    choices = [c for c in alphabet if c != word[i].lower()]
    return word[:i] + rng.choice(choices) + word[i + 1 :]


async def _sample(url: str, k: int, seed: int) -> list[dict[str, Any]]:
    from sqlalchemy import func, select

    from salomat.core.db import session_factory
    from salomat.domains.registry.models import Person

    async with session_factory(url)() as s:
        top = int((await s.scalar(select(func.max(Person.id)))) or 0)
        rng = random.Random(seed)
        ids = rng.sample(range(1, top + 1), min(k, top))
        rows = (await s.scalars(select(Person).where(Person.id.in_(ids)))).all()
        return [
            {
                "id": p.id,
                "national_id": p.national_id,
                "family": p.family_name,
                "given": p.given_name,
                "family_alt": p.family_name_alt,
                "given_alt": p.given_name_alt,
                "birth_date": p.birth_date,
                "sex": p.sex,
            }
            for p in rows
        ]


async def _timed(
    url: str, fn: Callable[[Any], Awaitable[Any]], series: Series, target: int | None = None
) -> None:
    from salomat.core.db import session_factory

    factory = session_factory(url)
    started = time.perf_counter()
    async with factory() as s:
        try:
            result = await fn(s)
        finally:
            await s.rollback()
    series.ms.append((time.perf_counter() - started) * 1000)
    if target is not None:
        series.asked += 1
        ids = [
            getattr(getattr(x, "person", x), "id", None) for x in getattr(result, "items", result)
        ]
        series.found += target in ids


async def measure(url: str, queries: int, seed: int) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from salomat.core.db import dispose_engines
    from salomat.core.pagination import PageParams
    from salomat.core.security import Principal
    from salomat.domains.registry import service
    from salomat.domains.registry.models import Person
    from salomat.domains.registry.schemas import PersonIn, PersonQuery

    me = Principal(user_id=0, username="bench", role="registrar", session_id="bench")
    page = PageParams(limit=20, offset=0)
    sample = await _sample(url, queries, seed)
    rng = random.Random(seed + 1)
    series = {
        "pk_read": Series("pk_read", "baseline: SELECT one person by primary key"),
        "get_person": Series("get_person", "service read of one record (scope + audit)"),
        "national_id": Series("national_id", "search_persons by national id"),
        "name_birth": Series("name_birth", "search_persons: family + given name, birth date"),
        "fuzzy_typo": Series("fuzzy_typo", "search_persons: name only, one wrong letter"),
        "fuzzy_other_script": Series(
            "fuzzy_other_script", "search_persons: name only, typed in the other script"
        ),
        "candidates": Series(
            "candidates", "find_candidates: registration in the other script, same birth date"
        ),
    }

    def pk(pid: int) -> Callable[[Any], Awaitable[Any]]:
        async def run(s: Any) -> Any:
            return (await s.execute(select(Person).where(Person.id == pid))).scalar_one()

        return run

    def search(q: PersonQuery) -> Callable[[Any], Awaitable[Any]]:
        return lambda s: service.search_persons(s, me, q, page)

    plan: list[tuple[str, Callable[[Any], Awaitable[Any]], int | None]] = []
    for p in sample:
        plan.append(("pk_read", pk(p["id"]), None))
        plan.append(("get_person", lambda s, i=p["id"]: service.get_person(s, me, i), None))
        if p["national_id"]:
            plan.append(("national_id", search(PersonQuery(national_id=p["national_id"])), p["id"]))
        name = f"{p['family']} {p['given']}"
        plan.append(
            ("name_birth", search(PersonQuery(name=name, birth_date=p["birth_date"])), p["id"])
        )
        typo = f"{_typo(p['family'], rng)} {p['given']}"
        plan.append(("fuzzy_typo", search(PersonQuery(name=typo)), p["id"]))
        other = f"{p['family_alt']} {p['given_alt']}"
        plan.append(("fuzzy_other_script", search(PersonQuery(name=other)), p["id"]))
        reg = PersonIn(
            family_name=p["family_alt"],
            given_name=p["given_alt"],
            birth_date=p["birth_date"],
            sex=p["sex"],
        )
        plan.append(("candidates", lambda s, r=reg: service.find_candidates(s, me, r), p["id"]))
    # warm caches and the pool with a few of each, then measure in a shuffled order
    for name, fn, _ in plan[: 7 * 5]:
        await _timed(url, fn, Series(name, "warm-up"))
    rng.shuffle(plan)
    for name, fn, target in plan:
        await _timed(url, fn, series[name], target)
    await dispose_engines()
    base = statistics.median(series["pk_read"].ms)
    return [s.summary(base) for s in series.values()]


# ---- the run -------------------------------------------------------------------------------


def _progress(total: int, label: str) -> tuple[Callable[[int], None], Any]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeElapsedColumn(),
    )
    task = bar.add_task(label, total=total)
    return (lambda n: bar.advance(task, n)), bar


def prepare(
    backend: str, size: int, country: str, *, fresh: bool
) -> tuple[str | None, float | None]:
    from sqlalchemy import create_engine

    from bench import population

    url = sqlite_url(size, country) if backend == "sqlite" else postgresql_url(size, country)
    if url is None:
        return None, None
    if backend == "sqlite":
        DATA.mkdir(parents=True, exist_ok=True)
        path = Path(url.split("///", 1)[1])
        if fresh or not path.exists():
            for p in path.parent.glob(path.name + "*"):
                p.unlink()
    engine = create_engine(population._sync_url(url))
    try:
        if not fresh and population.ready(engine, size):
            return url, None
    finally:
        engine.dispose()
    if backend == "postgresql":
        import psycopg

        schema = url.split("search_path=", 1)[1].split(",")[0]

        dsn = PG_SERVER.replace("postgresql+psycopg://", "postgresql://") + f"/{PG_DATABASE}"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            conn.execute(f'CREATE SCHEMA "{schema}"')
    advance, bar = _progress(size, f"generating {_label(size)} people ({backend})")
    with bar:
        took = population.generate(url, size, country=country, progress=advance)
    print(f"   generated {size:,} people on {backend} in {took:.0f} s")
    return url, took


def _markdown(run: dict[str, Any]) -> str:
    lines = [
        f"# Person search latency, {run['date']}",
        "",
        f"Machine: {run['machine']}. Country pack {run['country']}; {run['queries']} sampled "
        "people per population, each query kind once per person, shuffled; a registrar "
        "(national scope), page of 20; each call in its own session, rolled back. "
        f"Target: p95 under {TARGET_P95_MS:.0f} ms.",
        "",
        "| backend | people | load | query | p50 ms | p95 ms | p99 ms | p95 ÷ base p50 | found |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in run["results"]:
        for q in r["queries"]:
            found = "" if q["found_rate"] is None else f"{q['found_rate']:.0%}"
            flag = " ⚠" if q["p95_ms"] > TARGET_P95_MS else ""
            lines.append(
                f"| {r['backend']} | {r['size']:,} | {r['load_average']} | {q['query']} | "
                f"{q['p50_ms']} | "
                f"{q['p95_ms']}{flag} | {q['p99_ms']} | {q.get('p95_x_baseline', '')} | {found} |"
            )
    lines += [
        "",
        "Queries: "
        + "; ".join(f"`{q['query']}` = {q['what']}" for q in run["results"][0]["queries"])
        if run["results"]
        else "",
        "",
        "`load` is the 1-minute load average of the machine around the measurement (2 cores: "
        "above 2, other work competed for the CPU and the figures are pessimistic). "
        "`found` is the share of queries whose sought person is on the first page of 20 "
        "(name-only searches of common names have many equal hits, so below 100 % there "
        "is expected). Generation times: "
        + (
            ", ".join(
                f"{r['backend']} {r['size']:,}: {r['generated_in_s']:.0f} s"
                for r in run["results"]
                if r.get("generated_in_s")
            )
            or "none (populations reused from var/bench/ and the bench database)"
        )
        + ".",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100000,1000000", help="comma-separated population sizes")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--queries", type=int, default=200, help="sampled people per population")
    ap.add_argument("--country", default=os.environ["SALOMAT_COUNTRY"])
    ap.add_argument("--fresh", action="store_true", help="regenerate the populations")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default=None, help="results name (default: today's date)")
    ap.add_argument("--prepare-only", action="store_true", help="generate, do not measure")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    run: dict[str, Any] = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}",
        "country": args.country,
        "queries": args.queries,
        "target_p95_ms": TARGET_P95_MS,
        "results": [],
    }
    for backend in args.backends.split(","):
        for size in sizes:
            url, took = prepare(backend, size, args.country, fresh=args.fresh)
            if url is None:
                run.setdefault("skipped", []).append(f"{backend} (no server)")
                break
            if args.prepare_only:
                continue
            print(f"== {backend}, {size:,} people: {args.queries} queries of each kind")
            load_before = os.getloadavg()[0]
            results = asyncio.run(measure(url, args.queries, args.seed))
            load = round(max(load_before, os.getloadavg()[0]), 1)
            for q in results:
                print(
                    f"   {q['query']:<20} p50 {q['p50_ms']:>7.2f}  p95 {q['p95_ms']:>7.2f}  "
                    f"p99 {q['p99_ms']:>7.2f} ms  found {q['found_rate']}"
                )
            run["results"].append(
                {
                    "backend": backend,
                    "size": size,
                    "generated_in_s": took,
                    "load_average": load,
                    "queries": results,
                }
            )
    if args.prepare_only:
        return 0
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / f"{args.out or run['date']}-search"
    stem.with_suffix(".json").write_text(json.dumps(run, indent=2, default=str) + "\n")
    stem.with_suffix(".md").write_text(_markdown(run))
    print(f"Wrote {stem}.json and {stem}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
