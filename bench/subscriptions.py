"""FHIR subscription delivery under a write load (issue 19, "Measured"): how long after a
write its subscriber hears of it, beside what the write itself takes in the same run.

``run(ctx)`` serves the app (``salomat serve``: its in-process job worker delivers, as the
embedded default does) on a throwaway copy of the population's database, and:

* a family doctor's system subscribes (id-only rest-hook, ``Observation?patient=…``) to
  ``WATCHED`` people attached to the doctor's polyclinic; the receiver is an HTTP server
  in this process that notes the arrival of each notification;
* the load: a district hospital's system writes vital signs (``POST /fhir/Observation``)
  of other people of the population from ``bench/loadgen.py`` (``LOAD_CONNECTIONS``
  connections, a warm-up then a fixed window). Each of these writes is of a subscribed
  type, so each queues a matching job that runs the subscriptions' criteria: the load is
  the matching work too, not only the writes;
* probes: during the window, one write every ``1 / PROBE_RATE`` s of a watched person's
  vital sign, from this process; its latency is from the write's answer (committed) to
  the notification's arrival at the receiver.

Figures: the probes' delivery latency p95 beside the p95 of the probe writes themselves
(the same requests, under the same load); and, as a detail, the delivery latency with no
load (``IDLE_PROBES`` probes one after another) and how many probes never arrived within
``DRAIN_SECONDS`` after the load ended. Nothing here is part of ``make test``.
"""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench.api import (
    _detail,
    _loadgen,
    _token,
    add_user,
    app_server,
    scratch_copy,
)
from bench.common import BenchContext, Figure, percentiles
from bench.record import observation

SUITE = "subscriptions"
WATCHED = 10
OTHERS = 2000
LOAD_BODIES = 2000
LOAD_CONNECTIONS = 4
PROBE_RATE = 2.0
IDLE_PROBES = 20
DRAIN_SECONDS = 180.0
AT = "2026-11-02T10:45:00+05:00"


def run(
    ctx: BenchContext, *, warmup: float | None = None, duration: float | None = None
) -> list[Figure]:
    if warmup is None:
        warmup = 2.0 if ctx.quick else 5.0
    if duration is None:
        duration = 10.0 if ctx.quick else 30.0
    with scratch_copy(ctx) as copy:
        from salomat.core import migrate

        # a population loaded before the subscriptions' tables (migration 0030) lacks them
        migrate.upgrade(copy.async_url)
        return _run(copy, ctx.people, warmup, duration)


class Receiver:
    """The subscriber's endpoint: the arrival time of each notification, by resource."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        arrived = self.arrived

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                at = time.monotonic()
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                arrived.setdefault(self.headers.get("x-salomat-resource", ""), at)
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _write(base: str, token: str, body: dict[str, Any]) -> tuple[str, float, float]:
    """One probe: the new resource's reference, when the answer came, how long it took."""
    req = urllib.request.Request(  # noqa: S310 - loopback
        base + "/fhir/Observation",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"},
    )
    start = time.monotonic()
    with urllib.request.urlopen(req, timeout=60) as r:  # noqa: S310 - loopback
        out = json.loads(r.read())
    done = time.monotonic()
    return f"Observation/{out['id']}", done, (done - start) * 1000


def _wait(receiver: Receiver, refs: list[str], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not all(r in receiver.arrived for r in refs):
        time.sleep(0.05)


def _latencies(receiver: Receiver, probes: list[tuple[str, float, float]]) -> list[float]:
    return [
        (receiver.arrived[ref] - done) * 1000 for ref, done, _ in probes if ref in receiver.arrived
    ]


def _run(ctx: BenchContext, people: int, warmup: float, duration: float) -> list[Figure]:
    import psycopg

    rng = random.Random(ctx.seed)
    ctx.work.mkdir(parents=True, exist_ok=True)
    conn = psycopg.connect(ctx.dsn, autocommit=True)
    row = conn.execute(
        "SELECT code FROM facility WHERE kind = 'district_hospital' ORDER BY id LIMIT 1"
    ).fetchone()
    if row is None:
        raise RuntimeError("the population has no district hospital to send from")
    hospital = row[0]
    polyclinic_id, polyclinic = conn.execute(
        "SELECT f.id, f.code FROM facility f JOIN person p ON p.attached_facility_id = f.id "
        "WHERE f.kind = 'family_polyclinic' GROUP BY f.id, f.code ORDER BY count(*) DESC LIMIT 1"
    ).fetchone()
    watched = [
        pid
        for (pid,) in conn.execute(
            "SELECT id FROM person WHERE attached_facility_id = %s AND merged_into_id IS NULL "
            "AND deceased_on IS NULL ORDER BY md5(id::text) LIMIT %s",
            (polyclinic_id, WATCHED),
        )
    ]
    others = [
        pid
        for (pid,) in conn.execute(
            "SELECT id FROM person WHERE merged_into_id IS NULL AND deceased_on IS NULL "
            "AND attached_facility_id <> %s ORDER BY md5(id::text) LIMIT %s",
            (polyclinic_id, OTHERS),
        )
    ]
    conn.close()
    load = [observation(rng, rng.choice(others), AT) for _ in range(LOAD_BODIES)]

    tag = str(rng.randrange(10**6))
    receiver = Receiver()
    results: dict[str, Any] = {}
    try:
        with app_server(ctx, f"bench-subs-admin-{tag}") as app:
            sender = add_user(app, f"bench-subs-hospital-{tag}", "family_doctor",
                              facility_code=hospital)  # fmt: skip
            doctor = add_user(app, f"bench-subs-doctor-{tag}", "family_doctor",
                              facility_code=polyclinic)  # fmt: skip
            sender_token, doctor_token = _token(app.base, sender), _token(app.base, doctor)
            for pid in watched:
                _subscribe(app.base, doctor_token, pid, receiver.url)

            # no load: one probe after the other, each waited for
            idle: list[tuple[str, float, float]] = []
            for _ in range(IDLE_PROBES):
                probe = _write(app.base, sender_token, observation(rng, rng.choice(watched), AT))
                idle.append(probe)
                _wait(receiver, [probe[0]], 30)
            results["idle"] = _latencies(receiver, idle)

            # under load: the load generator writes; this process probes during the window
            probes: list[tuple[str, float, float]] = []
            plan = {
                "kind": "requests",
                "base_url": app.base,
                "tokens": [sender_token],
                "connections": LOAD_CONNECTIONS,
                "items": [
                    {"method": "POST", "path": "/fhir/Observation", "body": b, "token": 0}
                    for b in load
                ],
                "warmup": warmup,
                "duration": duration,
            }
            loaded: dict[str, Any] = {}
            runner = threading.Thread(target=lambda: loaded.update(_loadgen(plan, ctx.work)))
            runner.start()
            time.sleep(warmup + 1.0)  # the load generator's start and warm-up
            end = time.monotonic() + duration - 1.0
            while time.monotonic() < end:
                step = time.monotonic()
                pid = rng.choice(watched)
                probes.append(_write(app.base, sender_token, observation(rng, pid, AT)))
                time.sleep(max(0.0, 1 / PROBE_RATE - (time.monotonic() - step)))
            runner.join()
            _wait(receiver, [p[0] for p in probes], DRAIN_SECONDS)
            results["load"] = loaded
            results["probes"] = probes
            results["delivered"] = _latencies(receiver, probes)
    finally:
        receiver.close()
    return [_figure(ctx, people, results)]


def _subscribe(base: str, token: str, person_id: int, endpoint: str) -> None:
    body = {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "bench: a polyclinic's system watching its patient's vital signs",
        "criteria": f"Observation?patient=Patient/{person_id}",
        "channel": {"type": "rest-hook", "endpoint": endpoint},
    }
    req = urllib.request.Request(  # noqa: S310 - loopback
        base + "/fhir/Subscription",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"},
    )
    with urllib.request.urlopen(req, timeout=60) as r:  # noqa: S310 - loopback
        assert r.status == 201


def _figure(ctx: BenchContext, people: int, results: dict[str, Any]) -> Figure:
    delivered: list[float] = results["delivered"]
    probes: list[tuple[str, float, float]] = results["probes"]
    writes = [ms for _, _, ms in probes]
    lat = percentiles(delivered) if delivered else {}
    base = percentiles(writes) if writes else {}
    value, base_value = lat.get("p95"), base.get("p95")
    return Figure(
        suite=SUITE,
        name="subscription delivery latency under a write load (write answered -> "
        "notification received), p95",
        people=people,
        value=float(value) if value is not None else float("nan"),
        unit="ms (p95)",
        baseline="the probe writes themselves (POST /fhir/Observation answered), p95, same load",
        baseline_value=base_value,
        ratio=float(f"{value / base_value:.4g}") if value and base_value else None,
        detail={
            "delivery_ms": lat,
            "probe_write_ms": base,
            "probes": len(probes),
            "not_delivered_within_s": [DRAIN_SECONDS, len(probes) - len(delivered)],
            "idle_delivery_ms": percentiles(results["idle"]) if results["idle"] else {},
            "subscriptions": WATCHED,
            "load": _detail(results["load"]) | {"throughput": results["load"].get("throughput")},
            "note": "id-only notifications; every load write is of the subscribed type but "
            "about another person, which the criteria's person rules out before any search "
            "(no job); each probe queues a matching job (10 criteria, 1 searched) and a "
            "delivery job, run by the one in-process worker of salomat serve, woken when "
            "the write commits",
        },
    )
