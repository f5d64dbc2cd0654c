"""Load generator of the API benchmark: a separate process, so its CPU is not the server's.

    python -m bench.loadgen PLAN.json        # prints one JSON summary on stdout

The plan (written by ``bench/api.py``) says what to send, with how many
concurrent connections, for how long after how long a warm-up. Every
request's start, end and status are kept; only requests that *completed*
inside the measured window count, so the warm-up (cold caches, connection
set-up) and the drain at the end (no new requests, in-flight ones finish)
stay out of the figures. Throughput counts 2xx answers only; the others are
reported by status, never hidden.

Kinds of plan:

``requests``
    ``items``: ``{"method", "path", "body"?, "token"?}``. With ``"once": true``
    each item is sent once (registrations, prescriptions: a write that must not
    repeat); otherwise the items are cycled (reads).
``contact``
    ``items``: pregnancies ``{"id", "version", "token"}``, dealt to the
    connections so that no two connections write to one pregnancy (the route
    takes ``If-Match``); each connection keeps the ETag each answer returns.
``dispense``
    ``items``: ``{"id", "code", "national_id", "units", "price", "token"}``: one
    operation is the pharmacist's flow, the lookup by code and national id
    then the dispensing; its latency is the two together (each is also kept).
``raw``
    No HTTP: psycopg directly, one ``sql`` statement and a commit per
    operation, ``rows`` (dicts of parameters) cycled; a column named in
    ``counter`` gets ``format.format(n)`` with a number unique to the run
    (unique columns such as a national id or a prescription code).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import percentiles

#: a request: (start, end) in seconds of ``time.perf_counter()``, HTTP status (0: no answer)
Record = tuple[float, float, int]


@dataclass
class Recorder:
    """What one run saw; ``records`` per operation name ("op" and, for flows, each step)."""

    records: dict[str, list[Record]] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, start: float, end: float, status: int) -> None:
        self.records.setdefault(name, []).append((start, end, status))

    def failure(self, what: str) -> None:
        self.failures[what] = self.failures.get(what, 0) + 1


def summarise(records: list[Record], window_start: float, window_end: float) -> dict[str, Any]:
    """Throughput and latency of the requests that completed inside the window.

    A request that started in the warm-up but ended inside the window counts:
    at steady state, what completes per second is the throughput, wherever it
    started. Latency percentiles are over the successful (2xx) ones only, so a
    fast refusal does not flatter them; the statuses of the others are counted.
    """
    if window_end <= window_start:
        raise ValueError("the measured window is empty")
    inside = [r for r in records if window_start <= r[1] < window_end]
    ok = [r for r in inside if 200 <= r[2] < 300]
    statuses: dict[str, int] = {}
    for r in inside:
        statuses[str(r[2])] = statuses.get(str(r[2]), 0) + 1
    seconds = window_end - window_start
    return {
        "completed": len(inside),
        "ok": len(ok),
        "errors": len(inside) - len(ok),
        "statuses": dict(sorted(statuses.items())),
        "seconds": round(seconds, 3),
        "throughput": round(len(ok) / seconds, 2),
        "latency_ms": percentiles([(r[1] - r[0]) * 1000 for r in ok]),
    }


# ---- the driver ----------------------------------------------------------------------------


async def drive(
    workers: list[Callable[[Callable[[], bool]], Awaitable[None]]],
    warmup: float,
    duration: float,
) -> tuple[float, float]:
    """Run the workers (each loops while ``go()``); returns the measured window."""
    t0 = time.perf_counter()
    window = (t0 + warmup, t0 + warmup + duration)

    def go() -> bool:
        return time.perf_counter() < window[1]

    await asyncio.gather(*(w(go) for w in workers))
    return window


def _headers(plan: dict[str, Any], item: dict[str, Any]) -> dict[str, str]:
    token = item.get("token")
    if token is None:
        return {}
    return {"Authorization": f"Bearer {plan['tokens'][token]}"}


async def _http(plan: dict[str, Any], rec: Recorder) -> tuple[float, float, bool]:
    import aiohttp

    n = int(plan["connections"])
    base = plan["base_url"].rstrip("/")
    kind = plan["kind"]
    items: list[dict[str, Any]] = plan["items"]
    exhausted = False
    connector = aiohttp.TCPConnector(limit=n, limit_per_host=n, force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:

        async def call(
            name: str, method: str, path: str, body: Any, headers: dict[str, str]
        ) -> tuple[int, Any, dict[str, str]]:
            start = time.perf_counter()
            status, data, out_headers = 0, None, {}  # headers: lower-case names
            try:
                async with http.request(method, base + path, json=body, headers=headers) as r:
                    status = r.status
                    raw = await r.read()
                    out_headers = {k.lower(): v for k, v in r.headers.items()}
                    if raw and r.content_type.endswith("json"):
                        data = json.loads(raw)
            except (aiohttp.ClientError, TimeoutError) as e:
                rec.failure(type(e).__name__)
            rec.add(name, start, time.perf_counter(), status)
            return status, data, out_headers

        if kind == "requests":
            source: Iterator[dict[str, Any]] = (
                iter(items) if plan.get("once") else itertools.cycle(items)
            )

            async def worker(go: Callable[[], bool]) -> None:
                nonlocal exhausted
                while go():
                    item = next(source, None)
                    if item is None:
                        exhausted = True
                        return
                    await call(
                        "op",
                        item.get("method", "GET"),
                        item["path"],
                        item.get("body"),
                        _headers(plan, item),
                    )

            workers = [worker] * n

        elif kind == "contact":
            bodies = itertools.cycle(plan["bodies"])

            def contact_worker(mine: list[dict[str, Any]]) -> Any:
                async def work(go: Callable[[], bool]) -> None:
                    for item in itertools.cycle(mine):
                        if not go():
                            return
                        headers = _headers(plan, item) | {"If-Match": f'"{item["version"]}"'}
                        status, _, got = await call(
                            "op",
                            "POST",
                            f"/api/v1/pregnancies/{item['id']}/contacts",
                            next(bodies),
                            headers,
                        )
                        tag = got.get("etag", "").removeprefix("W/").strip('"')
                        if status == 201 and tag.isdigit():
                            item["version"] = int(tag)

                return work

            shares = [items[i::n] for i in range(n)]
            workers = [contact_worker(s) for s in shares if s]

        elif kind == "dispense":
            source = iter(items)

            async def dispense_worker(go: Callable[[], bool]) -> None:
                nonlocal exhausted
                while go():
                    item = next(source, None)
                    if item is None:
                        exhausted = True
                        return
                    headers = _headers(plan, item)
                    start = time.perf_counter()
                    status, _, _ = await call(
                        "lookup",
                        "POST",
                        "/api/v1/dispensing/lookup",
                        {"code": item["code"], "national_id": item["national_id"]},
                        headers,
                    )
                    if status == 200:
                        status, _, _ = await call(
                            "dispense",
                            "POST",
                            f"/api/v1/prescriptions/{item['id']}/dispensings",
                            {"units": item["units"], "price": item["price"]},
                            headers,
                        )
                    rec.add("op", start, time.perf_counter(), status)

            workers = [dispense_worker] * n
        else:
            raise ValueError(f"unknown plan kind {kind!r}")

        w0, w1 = await drive(workers, float(plan["warmup"]), float(plan["duration"]))
    return w0, w1, exhausted


async def _raw(plan: dict[str, Any], rec: Recorder) -> tuple[float, float, bool]:
    import psycopg

    n = int(plan["connections"])
    rows = itertools.cycle(plan["rows"])
    counter = itertools.count(int(plan.get("counter_start", 1)))
    formats: dict[str, str] = plan.get("counter", {})
    conns = [await psycopg.AsyncConnection.connect(plan["dsn"]) for _ in range(n)]

    def worker(conn: Any) -> Any:
        async def work(go: Callable[[], bool]) -> None:
            while go():
                params = dict(next(rows))
                k = next(counter)
                for column, fmt in formats.items():
                    params[column] = fmt.format(k)
                start = time.perf_counter()
                status = 200
                try:
                    await conn.execute(plan["sql"], params)
                    await conn.commit()
                except psycopg.Error as e:
                    await conn.rollback()
                    rec.failure(type(e).__name__)
                    status = 500
                rec.add("op", start, time.perf_counter(), status)

        return work

    try:
        w0, w1 = await drive([worker(c) for c in conns], plan["warmup"], plan["duration"])
    finally:
        for c in conns:
            await c.close()
    return w0, w1, False


async def run_plan(plan: dict[str, Any]) -> dict[str, Any]:
    rec = Recorder()
    w0, w1, exhausted = await (_raw(plan, rec) if plan["kind"] == "raw" else _http(plan, rec))
    records = rec.records.get("op", [])
    statuses: dict[str, int] = {}
    for r in records:
        statuses[str(r[2])] = statuses.get(str(r[2]), 0) + 1
    out: dict[str, Any] = {
        "kind": plan["kind"],
        # the whole run, warm-up and drain included: what was sent and how it was answered
        "all": {"sent": len(records), "statuses": dict(sorted(statuses.items()))},
        "connections": plan["connections"],
        "warmup_s": plan["warmup"],
        **summarise(records, w0, w1),
        "exhausted": exhausted,
        "failures": rec.failures,
    }
    steps = {k: summarise(v, w0, w1) for k, v in rec.records.items() if k != "op"}
    if steps:
        out["steps"] = steps
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m bench.loadgen PLAN.json", file=sys.stderr)
        return 2
    plan = json.loads(Path(args[0]).read_text())
    try:
        import uvloop

        runner: Callable[..., Any] = uvloop.run
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        runner = asyncio.run
    print(json.dumps(runner(run_plan(plan))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
