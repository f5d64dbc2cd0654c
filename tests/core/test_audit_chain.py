"""The audit trail is tamper-evident: the database sets each row's time, each row
carries its own hash, the sealed chain links them, and verification names the
first row altered or missing.

Tampering is done as an attacker with the database's own rights would do it: a
raw driver connection, with the append-only triggers switched off (PostgreSQL:
``session_replication_role = replica``, which a superuser may set; SQLite: the
triggers dropped), on a scratch database of the backend under test.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event, func, select

from salomat.core import audit, audit_chain
from salomat.core.audit import CONTENT, AuditEvent, AuditSeal, DatabaseNow, content_hash
from salomat.core.db import dispose_engines, get_engine, session_factory, utcnow
from salomat.core.security import Principal
from tests.conftest import BACKEND, scratch_database

pytestmark = pytest.mark.anyio

NURSE = Principal(
    user_id=7, username="nurse-7", role="nurse", session_id="s", facility_id=3, facility_code="F3"
)
postgres_only = pytest.mark.skipif(BACKEND != "postgresql", reason="needs PostgreSQL")


# ---- a scratch database, and an attacker's connection to it ------------------------


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture
def scratch() -> Iterator[str]:
    """A database of the backend under test, at head, that a test may tamper with."""
    with scratch_database("salomat_audit") as url:
        try:
            yield url
        finally:
            asyncio.run(dispose_engines())


@contextmanager
def attacker(url: str) -> Iterator[Any]:
    """A raw connection that the append-only triggers do not stop."""
    if url.startswith("sqlite"):
        with closing(sqlite3.connect(url.split("///", 1)[1])) as conn:
            for table in ("audit_event", "audit_seal"):
                for verb in ("update", "delete"):
                    conn.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
            yield conn
            conn.commit()
        return
    import psycopg

    with psycopg.connect(_libpq(url)) as conn:
        conn.execute("SET session_replication_role = replica")
        yield conn


def tamper(url: str, sql: str, params: tuple[Any, ...] = ()) -> None:
    if not url.startswith("sqlite"):
        sql = sql.replace("?", "%s")
    with attacker(url) as conn:
        cur = conn.execute(sql, params)
        assert cur.rowcount == 1, f"{sql} changed {cur.rowcount} rows"


async def write(url: str, n: int, *, start: int = 1) -> list[int]:
    """``n`` audit rows written as the application writes them; their ids."""
    async with session_factory(url)() as s:
        for i in range(start, start + n):
            await audit.record(
                s,
                NURSE,
                action="read",
                resource_type="Patient",
                resource_id=str(i),
                patient_id=i,
                purpose=f"home visit {i}",
            )
        await s.commit()
        ids = await s.scalars(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(n))
        return sorted(ids)


async def seal(url: str, **kw: Any) -> audit_chain.SealReport:
    return await audit_chain.seal(url, **kw)


async def verify(url: str, **kw: Any) -> audit_chain.VerifyReport:
    return await audit_chain.verify(url, **kw)


def problems(report: audit_chain.VerifyReport) -> list[tuple[int, str]]:
    return sorted((f.event_id, f.problem) for f in report.findings)


async def count_rows(url: str) -> int:
    async with session_factory(url)() as s:
        return int(await s.scalar(select(func.count()).select_from(AuditEvent)) or 0)


# ---- untouched ---------------------------------------------------------------------


async def test_an_untouched_trail_verifies_with_its_count(scratch):
    await write(scratch, 6)
    async with session_factory(scratch)() as s:  # a listing, and a denial kept after rollback
        shown = [audit.Access(patient_id=p, purpose="worklist") for p in (11, 12, 13)]
        await audit.record_listing(s, NURSE, shown)
        await audit.denied(s, NURSE, resource_type="Patient", resource_id="99", patient_id=99)
        await s.rollback()
        assert await audit.write_after_rollback(s)
        await s.commit()
    sealed = await seal(scratch, batch=4)  # several batches
    assert sealed.sealed == 10
    await write(scratch, 2, start=50)

    report = await verify(scratch, batch=3)

    assert report.ok, [f.describe() for f in report.findings]
    assert report.rows == 12 == await count_rows(scratch)
    assert (report.sealed, report.unsealed, report.without_hash) == (10, 2, 0)
    assert report.head_id == sealed.head_id
    assert report.head_hash == sealed.head_hash


async def test_an_empty_trail_verifies(scratch):
    report = await verify(scratch)
    assert report.ok
    assert (report.rows, report.sealed, report.head_id) == (0, 0, None)


async def test_sealing_again_adds_only_the_new_rows(scratch):
    await write(scratch, 3)
    first = await seal(scratch)
    again = await seal(scratch)
    assert (first.sealed, again.sealed) == (3, 0)
    assert again.head_id == first.head_id
    assert again.head_hash == first.head_hash
    new = await write(scratch, 2, start=10)
    third = await seal(scratch)
    assert (third.sealed, third.head_id) == (2, new[-1])


# ---- altered rows --------------------------------------------------------------------

CHANGES = [
    ("username", "mallory"),
    ("patient_id", 424242),
    ("outcome", "failure"),
    ("purpose", None),
    ("break_glass", True),
    ("detail", "nothing to see"),
]


@pytest.mark.parametrize("sealed", [False, True], ids=["unsealed", "sealed"])
@pytest.mark.parametrize(("column", "value"), CHANGES, ids=[c for c, _ in CHANGES])
async def test_altering_one_row_names_that_row(scratch, sealed, column, value):
    ids = await write(scratch, 5)
    if sealed:
        await seal(scratch)
    target = ids[2]
    tamper(scratch, f"UPDATE audit_event SET {column} = ? WHERE id = ?", (value, target))

    report = await verify(scratch)

    assert problems(report) == [(target, "altered")]
    assert report.first is not None
    assert report.first.event_id == target
    assert f"audit row {target} altered" in report.first.describe()


@pytest.mark.parametrize("position", ["first", "last"])
async def test_altering_the_first_or_the_last_row_names_it(scratch, position):
    ids = await write(scratch, 4)
    await seal(scratch)
    target = ids[0] if position == "first" else ids[-1]
    tamper(scratch, "UPDATE audit_event SET username = 'mallory' WHERE id = ?", (target,))
    assert problems(await verify(scratch)) == [(target, "altered")]


async def test_changing_the_time_the_database_set_names_the_sealed_row(scratch):
    ids = await write(scratch, 4)
    await seal(scratch)
    target = ids[1]
    async with session_factory(scratch)() as s:
        when = await s.scalar(select(AuditEvent.occurred_at).where(AuditEvent.id == target))
    earlier = when - timedelta(hours=3)
    if BACKEND == "sqlite":  # as SQLAlchemy stores it
        value: Any = earlier.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    else:
        value = earlier
    tamper(scratch, "UPDATE audit_event SET occurred_at = ? WHERE id = ?", (value, target))

    assert problems(await verify(scratch)) == [(target, "changed-after-seal")]


async def test_a_rewrite_with_a_recomputed_row_hash_still_breaks_the_seal(scratch):
    """An attacker who knows the row hash's recipe can make a row consistent with
    itself, but not with the chain sealed before the change."""
    ids = await write(scratch, 4)
    await seal(scratch)
    target = ids[2]
    async with session_factory(scratch)() as s:
        row = (await s.execute(select(AuditEvent.__table__).where(AuditEvent.id == target))).one()
    forged = {**row._mapping, "username": "mallory"}
    tamper(
        scratch,
        "UPDATE audit_event SET username = ?, row_hash = ? WHERE id = ?",
        ("mallory", content_hash(forged), target),
    )

    assert problems(await verify(scratch)) == [(target, "changed-after-seal")]


async def test_a_row_altered_before_sealing_is_sealed_and_still_named(scratch):
    ids = await write(scratch, 3)
    tamper(scratch, "UPDATE audit_event SET outcome = 'failure' WHERE id = ?", (ids[1],))

    report = await seal(scratch)

    assert [(f.event_id, f.problem) for f in report.altered] == [(ids[1], "altered")]
    assert report.sealed == 3  # the chain does not stop at it
    assert problems(await verify(scratch)) == [(ids[1], "altered")]


# ---- missing rows --------------------------------------------------------------------


@pytest.mark.parametrize("position", [0, 2, 4], ids=["first", "middle", "last"])
async def test_deleting_one_sealed_row_names_it(scratch, position):
    ids = await write(scratch, 5)
    await seal(scratch)
    target = ids[position]
    tamper(scratch, "DELETE FROM audit_event WHERE id = ?", (target,))

    report = await verify(scratch)

    assert problems(report) == [(target, "removed")]
    assert report.first is not None
    assert f"audit row {target} missing" in report.first.describe()
    assert report.rows == 4


async def test_renumbering_a_sealed_row_names_its_old_id(scratch):
    ids = await write(scratch, 3)
    await seal(scratch)
    tamper(scratch, "UPDATE audit_event SET id = ? WHERE id = ?", (ids[-1] + 1000, ids[1]))
    assert problems(await verify(scratch))[0] == (ids[1], "removed")


async def test_replacing_a_sealed_row_with_a_consistent_forgery_names_it(scratch):
    ids = await write(scratch, 4)
    await seal(scratch)
    target = ids[1]
    async with session_factory(scratch)() as s:
        row = dict(
            (await s.execute(select(AuditEvent.__table__).where(AuditEvent.id == target)))
            .one()
            ._mapping
        )
    tamper(scratch, "DELETE FROM audit_event WHERE id = ?", (target,))
    forged = {**row, "patient_id": 1, "resource_id": "1"}
    columns = ["id", "occurred_at", *CONTENT, "row_hash"]
    values = [forged[c] for c in columns]
    values[columns.index("row_hash")] = content_hash(forged)
    if BACKEND == "sqlite":
        values[1] = forged["occurred_at"].strftime("%Y-%m-%d %H:%M:%S.%f")
    marks = ", ".join("?" for _ in columns)
    tamper(scratch, f"INSERT INTO audit_event ({', '.join(columns)}) VALUES ({marks})", values)

    assert problems(await verify(scratch)) == [(target, "changed-after-seal")]


async def test_removing_a_seal_entry_names_its_row(scratch):
    ids = await write(scratch, 4)
    await seal(scratch)
    tamper(scratch, "DELETE FROM audit_seal WHERE event_id = ?", (ids[1],))

    report = await verify(scratch)

    assert report.first is not None
    assert (report.first.event_id, report.first.problem) == (ids[1], "slipped-in")
    # the next entry was chained to the removed one
    assert problems(report) == [(ids[1], "slipped-in"), (ids[2], "changed-after-seal")]


async def test_removing_a_row_and_its_seal_entry_breaks_the_chain_right_after(scratch):
    ids = await write(scratch, 4)
    await seal(scratch)
    tamper(scratch, "DELETE FROM audit_seal WHERE event_id = ?", (ids[1],))
    tamper(scratch, "DELETE FROM audit_event WHERE id = ?", (ids[1],))
    assert problems(await verify(scratch)) == [(ids[2], "changed-after-seal")]


async def test_a_row_slipped_in_below_every_id_is_named(scratch):
    ids = await write(scratch, 3)
    await seal(scratch)
    tamper(
        scratch,
        "INSERT INTO audit_event (id, occurred_at, action, resource_type, outcome, break_glass) "
        "VALUES (?, ?, 'read', 'Patient', 'success', ?)",
        (-5, "2020-01-01 00:00:00.000000" if BACKEND == "sqlite" else utcnow(), False),
    )
    report = await verify(scratch)
    assert problems(report) == [(-5, "slipped-in")]
    assert ids  # the real rows are intact


# ---- the database's clock and the request path ---------------------------------------


async def test_the_database_sets_the_time_of_each_row(scratch):
    async with session_factory(scratch)() as s:
        before = await s.scalar(select(DatabaseNow()))
        app_before = utcnow() - timedelta(milliseconds=1)  # SQLite keeps milliseconds
        await audit.record(s, NURSE, action="read", resource_type="Patient", patient_id=5)
        after = await s.scalar(select(DatabaseNow()))
        row = (await s.execute(select(AuditEvent).order_by(AuditEvent.id.desc()))).scalar()
        # what the app binds compares with what the database wrote (the text form, on SQLite)
        found = await s.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.occurred_at >= app_before, AuditEvent.id == row.id)
        )
        await s.commit()
    assert before <= row.occurred_at <= after
    assert row.occurred_at.tzinfo is not None
    assert found == 1


async def test_a_row_inserted_without_a_time_gets_the_database_time(scratch):
    with attacker(scratch) as conn:
        conn.execute(
            "INSERT INTO audit_event (action, resource_type, outcome, break_glass) "
            "VALUES ('read', 'Patient', 'success', false)"
        )
    async with session_factory(scratch)() as s:
        row = (await s.execute(select(AuditEvent))).scalar_one()
    assert abs(row.occurred_at - utcnow()) < timedelta(minutes=5)
    assert row.row_hash is None  # written by hand: the seal covers it
    await seal(scratch)
    assert (await verify(scratch)).ok


async def test_each_audit_write_is_still_one_statement_and_never_names_the_time():
    """The request path: one INSERT per record(), one per listing (executemany)."""
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = get_engine()
    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with session_factory()() as s:
            await s.execute(select(1))
            statements.clear()
            await audit.record(s, NURSE, action="read", resource_type="Patient", patient_id=1)
            one = list(statements)
            statements.clear()
            shown = [audit.Access(patient_id=p) for p in range(1, 51)]
            await audit.record_listing(s, NURSE, shown)
            listing = list(statements)
            await s.rollback()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
    assert len(one) == 1
    assert len(listing) == 1
    for statement in one + listing:
        assert statement.startswith("INSERT INTO audit_event")
        assert "occurred_at" not in statement


# ---- concurrent writers (PostgreSQL) -------------------------------------------------


@postgres_only
async def test_the_seal_waits_for_a_lower_id_still_being_written(scratch):
    """A transaction holding a lower id commits after a higher one: the seal must not
    chain past it, or the late row would look slipped in."""
    await write(scratch, 2)
    factory = session_factory(scratch)
    async with factory() as slow:
        await audit.record(slow, NURSE, action="read", resource_type="Patient", patient_id=100)
        await slow.flush()
        slow_pid = await slow.scalar(select(func.pg_backend_pid()))
        slow_id = await slow.scalar(select(func.max(AuditEvent.id)))
        fast = await write(scratch, 1, start=200)  # a higher id, committed first
        assert fast[0] > slow_id

        blocked = await seal(scratch, wait_seconds=0.2)
        assert blocked.waiting_for == [slow_pid]
        assert blocked.head_id is None or blocked.head_id < slow_id

        await slow.commit()
    settled = await seal(scratch)
    assert settled.head_id == fast[0]
    report = await verify(scratch)
    assert report.ok, [f.describe() for f in report.findings]
    assert (report.rows, report.sealed, report.unsealed) == (4, 4, 0)


@postgres_only
async def test_a_rolled_back_id_leaves_a_gap_that_is_no_alarm(scratch):
    async with session_factory(scratch)() as doomed:
        await audit.record(doomed, NURSE, action="create", resource_type="Patient")
        await doomed.flush()
        await doomed.rollback()
    await write(scratch, 2)
    await seal(scratch)
    report = await verify(scratch)
    assert report.ok
    assert report.rows == 2


@postgres_only
async def test_a_seal_waiting_for_a_writer_seals_its_row_once_it_commits(scratch):
    factory = session_factory(scratch)
    async with factory() as slow:
        await audit.record(slow, NURSE, action="read", resource_type="Patient", patient_id=1)
        await slow.flush()
        fast = await write(scratch, 1, start=2)  # a higher id, committed first

        sealing = asyncio.create_task(seal(scratch, wait_seconds=60))
        await asyncio.sleep(0.05)  # whether the seal is already waiting or not, the end is the same
        await slow.commit()
        report = await sealing
    assert report.waiting_for == []
    assert (report.sealed, report.head_id) == (2, fast[0])
    assert (await verify(scratch)).ok


@postgres_only
async def test_two_sealers_at_once_build_one_chain(scratch):
    await write(scratch, 30)
    reports = await asyncio.gather(*(seal(scratch, batch=4) for _ in range(3)))
    assert sum(r.sealed for r in reports) == 30
    report = await verify(scratch)
    assert report.ok
    assert report.sealed == 30


# ---- the published format --------------------------------------------------------------


async def test_the_chain_follows_the_format_in_the_operations_guide(scratch):
    """An auditor may recompute the chain with any SHA-256 tool (docs/operations.md):
    genesis = SHA-256("salomat audit chain v1"); hash = SHA-256(previous hash bytes +
    UTF-8 JSON array [id, time as YYYY-MM-DDTHH:MM:SS.ffffffZ, row hash in hex or null,
    then the 16 written columns in the documented order])."""
    ids = await write(scratch, 2)
    await seal(scratch)
    async with session_factory(scratch)() as s:
        rows = (
            (await s.execute(select(AuditEvent.__table__).order_by(AuditEvent.id))).mappings().all()
        )
        seals = (await s.execute(select(AuditSeal).order_by(AuditSeal.event_id))).scalars()
        stored = [bytes(x.hash) for x in seals]
    documented_order = [
        "user_id", "username", "role", "facility_id", "facility_code", "action",
        "resource_type", "resource_id", "patient_id", "purpose", "outcome", "break_glass",
        "break_glass_grant_id", "client_address", "request_id", "detail",
    ]  # fmt: skip
    previous = hashlib.sha256(b"salomat audit chain v1").digest()
    for row, expected in zip(rows, stored, strict=True):
        written = [row[c] for c in documented_order]
        own = hashlib.sha256(
            json.dumps(written, ensure_ascii=False, separators=(",", ":")).encode()
        ).digest()
        assert bytes(row["row_hash"]) == own
        when = row["occurred_at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        body = json.dumps(
            [row["id"], when, own.hex(), *written], ensure_ascii=False, separators=(",", ":")
        )
        previous = hashlib.sha256(previous + body.encode()).digest()
        assert previous == expected
    assert [r["id"] for r in rows] == ids


# ---- the row hash tells any two contents apart ------------------------------------------

_text = st.one_of(st.none(), st.text(max_size=12))
_int = st.one_of(st.none(), st.integers(min_value=-(2**63), max_value=2**63 - 1))
_ROW = st.fixed_dictionaries(
    {
        c: (
            st.booleans()
            if c == "break_glass"
            else _int
            if c in {"user_id", "facility_id", "patient_id", "break_glass_grant_id"}
            else _text
        )
        for c in CONTENT
    }
)


@given(_ROW, _ROW)
def test_two_rows_share_a_hash_exactly_when_their_contents_are_equal(a, b):
    assert (content_hash(a) == content_hash(b)) == (a == b)


@given(_ROW, st.sampled_from(CONTENT), st.data())
def test_changing_any_one_written_column_changes_the_hash(row, column, data):
    other = dict(row)
    other[column] = data.draw(_ROW.map(lambda r: r[column]).filter(lambda v: v != row[column]))
    assert content_hash(other) != content_hash(row)
