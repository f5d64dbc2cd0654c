"""sanatorium: entries in line per queue, tier and application day, kept by triggers

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 05:48:36

A position counted over everybody ahead read a million index entries in a queue of a
million (100-225 ms in PostgreSQL alone, make bench). The count per (profile, region,
tier, UTC application day) turns it into a sum over at most a few thousand days plus
the entries of the person's own day. The database keeps the counts itself, on every
insert, update and delete of a referral, so no code path (services, the demo, synth,
a merge) can let them drift: on PostgreSQL statement-level triggers over transition
tables (one grouped upsert per statement, COPY included), on SQLite row triggers.
"""

# ruff: noqa: S608 (the SQL is built from this file's constants only)
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IN_LINE = "('queued', 'offered')"
KEY_COLUMNS = "status, profile, region, tier, applied_at"


def upgrade() -> None:
    op.create_table(
        "sanatorium_queue_day",
        sa.Column("profile", sa.String(length=32), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.CheckConstraint("n >= 0", name=op.f("ck_sanatorium_queue_day_n")),
        sa.PrimaryKeyConstraint(
            "profile", "region", "tier", "day", name=op.f("pk_sanatorium_queue_day")
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgresql()
    else:
        _sqlite()


def _postgresql() -> None:
    day = "(applied_at AT TIME ZONE 'UTC')::date"

    def rows(table: str, sign: str) -> str:
        return (
            f"SELECT profile, region, tier, {day} AS day, {sign}1 AS d FROM {table} "
            f"WHERE status IN {IN_LINE}"
        )

    def add(source: str) -> str:
        # net change per day; a change that keeps the day (queued -> offered, a new
        # version) touches no row at all. Decreases are updates (the check n >= 0 is
        # tested on a row before ON CONFLICT sees it exists), increases upserts.
        net = (
            f"SELECT profile, region, tier, day, sum(d) AS d FROM ({source}) AS changed "
            "GROUP BY 1, 2, 3, 4"
        )
        return (
            "UPDATE sanatorium_queue_day AS q SET n = q.n + c.d "
            f"FROM ({net} HAVING sum(d) < 0) AS c "
            "WHERE q.profile = c.profile AND q.region = c.region AND q.tier = c.tier "
            "AND q.day = c.day; "
            "INSERT INTO sanatorium_queue_day (profile, region, tier, day, n) "
            f"SELECT profile, region, tier, day, d FROM ({net} HAVING sum(d) > 0) AS c "
            "ORDER BY 1, 2, 3, 4 "
            "ON CONFLICT (profile, region, tier, day) "
            "DO UPDATE SET n = sanatorium_queue_day.n + excluded.n;"
        )

    op.execute(
        f"""
        CREATE FUNCTION sanatorium_queue_day_count() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'INSERT' THEN
            {add(rows("new_rows", ""))}
          ELSIF TG_OP = 'DELETE' THEN
            {add(rows("old_rows", "-"))}
          ELSE
            {add(rows("old_rows", "-") + " UNION ALL " + rows("new_rows", ""))}
          END IF;
          RETURN NULL;
        END $$
        """
    )
    for name, when, tables in (
        ("insert", "INSERT", "NEW TABLE AS new_rows"),
        ("update", "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ("delete", "DELETE", "OLD TABLE AS old_rows"),
    ):
        op.execute(
            f"CREATE TRIGGER sanatorium_queue_day_{name} AFTER {when} ON sanatorium_referral "
            f"REFERENCING {tables} FOR EACH STATEMENT "
            "EXECUTE FUNCTION sanatorium_queue_day_count()"
        )
    op.execute(
        "INSERT INTO sanatorium_queue_day (profile, region, tier, day, n) "
        f"SELECT profile, region, tier, {day}, count(*) FROM sanatorium_referral "
        f"WHERE status IN {IN_LINE} GROUP BY 1, 2, 3, 4"
    )


def _sqlite() -> None:
    def plus(row: str) -> str:
        return (
            "INSERT INTO sanatorium_queue_day (profile, region, tier, day, n) "
            f"VALUES ({row}.profile, {row}.region, {row}.tier, date({row}.applied_at), 1) "
            "ON CONFLICT (profile, region, tier, day) DO UPDATE SET n = n + 1;"
        )

    def minus(row: str) -> str:
        return (
            "UPDATE sanatorium_queue_day SET n = n - 1 "
            f"WHERE profile = {row}.profile AND region = {row}.region AND tier = {row}.tier "
            f"AND day = date({row}.applied_at);"
        )

    for name, event, when, body in (
        ("insert", "INSERT", f"NEW.status IN {IN_LINE}", plus("NEW")),
        ("update_old", f"UPDATE OF {KEY_COLUMNS}", f"OLD.status IN {IN_LINE}", minus("OLD")),
        ("update_new", f"UPDATE OF {KEY_COLUMNS}", f"NEW.status IN {IN_LINE}", plus("NEW")),
        ("delete", "DELETE", f"OLD.status IN {IN_LINE}", minus("OLD")),
    ):
        op.execute(
            f"CREATE TRIGGER sanatorium_queue_day_{name} AFTER {event} ON sanatorium_referral "
            f"WHEN {when} BEGIN {body} END"
        )
    op.execute(
        "INSERT INTO sanatorium_queue_day (profile, region, tier, day, n) "
        "SELECT profile, region, tier, date(applied_at), count(*) FROM sanatorium_referral "
        f"WHERE status IN {IN_LINE} GROUP BY 1, 2, 3, 4"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS sanatorium_queue_day_{name} ON sanatorium_referral")
        op.execute("DROP FUNCTION IF EXISTS sanatorium_queue_day_count()")
    else:
        for name in ("insert", "update_old", "update_new", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS sanatorium_queue_day_{name}")
    op.drop_table("sanatorium_queue_day")
