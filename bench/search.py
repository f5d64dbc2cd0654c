"""Person search latency on the run's synthetic population (requirement b).

    .venv/bin/python -m bench --suites search             # what `make bench` runs
    .venv/bin/python -m bench.search --url postgresql+psycopg://postgres@127.0.0.1/db

Every timing goes through the service functions a request would call
(``search_persons``, ``find_candidates``, ``get_person``) as a registrar
(national scope), each call in its own session, from opening the session to
closing it; the transaction is rolled back so the audit rows written do not
grow the database between runs. The baseline of the same run is a
primary-key read of one person; ratios are p95 against its p95, so slower or
faster machines give comparable ratios. The people searched for are sampled
from the ``salomat synth`` population of the run (PostgreSQL). ``found`` is
the share of queries whose sought person is on the first page of 20.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bench.common import BenchContext, Figure, load_average, percentiles

SUITE = "search"
#: the issue's target for search by national id (at 1M people)
TARGET_ID_P95_MS = 20.0
#: the earlier search benchmark's target for the other kinds (kept to compare runs)
TARGET_P95_MS = 50.0


# ---- measuring ---------------------------------------------------------------------------


@dataclass
class Series:
    name: str
    what: str
    ms: list[float] = field(default_factory=list)
    found: int = 0
    asked: int = 0


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


async def measure(url: str, queries: int, seed: int) -> dict[str, Series]:
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
        if not (p["family_alt"] and p["given_alt"]):
            continue  # no name in the other script: nothing to search it by
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
    return series


# ---- the suite ---------------------------------------------------------------------------


def figures(series: dict[str, Series], people: int, load: float) -> list[Figure]:
    base = percentiles(series["pk_read"].ms)
    out = []
    for s in series.values():
        if not s.ms:
            continue
        q = percentiles(s.ms)
        if s.name == "national_id":
            target, limit = f"p95 <= {TARGET_ID_P95_MS:.0f} ms (at 1M people)", TARGET_ID_P95_MS
        elif s.name in ("pk_read", "get_person"):
            target, limit = None, None
        else:
            target, limit = f"p95 <= {TARGET_P95_MS:.0f} ms", TARGET_P95_MS
        out.append(
            Figure(
                suite=SUITE,
                name=f"{s.name}: {s.what}",
                people=people,
                value=q["p95"],
                unit="ms",
                baseline=None if s.name == "pk_read" else "primary-key read of one person (p95)",
                baseline_value=None if s.name == "pk_read" else base["p95"],
                ratio=None if s.name == "pk_read" else round(q["p95"] / base["p95"], 2),
                target=target,
                met=None if limit is None else q["p95"] <= limit,
                detail={
                    **q,
                    "max": round(max(s.ms), 2),
                    "mean": round(statistics.fmean(s.ms), 2),
                    "n": len(s.ms),
                    "found": round(s.found / s.asked, 3) if s.asked else None,
                    "load_average": load,
                },
            )
        )
    return out


def run(ctx: BenchContext) -> list[Figure]:
    queries = 50 if ctx.quick else 200
    print(f"== search on {ctx.people:,} people: {queries} sampled people, each query kind once")
    load_before = load_average()
    series = asyncio.run(measure(ctx.async_url, queries, ctx.seed + 7))
    load = round(max(load_before, load_average()), 2)
    for s in series.values():
        if s.ms:
            q = percentiles(s.ms)
            found = f"found {s.found / s.asked:.0%}" if s.asked else ""
            print(f"   {s.name:<20} p50 {q['p50']:>7.2f}  p95 {q['p95']:>7.2f} ms  {found}")
    return figures(series, ctx.people, load)


def main(argv: list[str] | None = None) -> int:
    import json
    import os

    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--url", required=True, help="sync URL (postgresql+psycopg://...)")
    ap.add_argument("--people", type=int, default=0)
    ap.add_argument("--country", default=os.environ.get("SALOMAT_COUNTRY", "UZ"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    ctx = BenchContext(
        url=args.url, people=args.people, country=args.country, seed=args.seed, quick=args.quick
    )
    for k, v in ctx.env().items():
        os.environ.setdefault(k, v)
    for f in run(ctx):
        print(json.dumps(f.as_dict(), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
