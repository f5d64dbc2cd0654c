"""tamper-evident audit: the database sets each row's time, rows carry a hash, a sealed chain

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 10:00:00

- ``audit_event.occurred_at`` defaults to the database's clock (PostgreSQL
  ``clock_timestamp()``; SQLite UTC with milliseconds in SQLAlchemy's format).
- ``audit_event.row_hash``: SHA-256 of what the application wrote (nullable:
  rows written before this revision, or by hand, have none; sealing covers them).
- ``audit_seal``: the hash chain, one entry per sealed row, append-only like
  ``audit_event``.

Existing rows are not rewritten (the table is append-only, and large): the first
``salomat audit seal`` chains them as they are.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_NOW = "(strftime('%Y-%m-%d %H:%M:%f000', 'now'))"


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if _postgresql():
        # neither statement rewrites the table: a default and a nullable column
        op.alter_column("audit_event", "occurred_at", server_default=sa.text("clock_timestamp()"))
        op.add_column("audit_event", sa.Column("row_hash", sa.LargeBinary(), nullable=True))
    else:
        # SQLite changes a default by copying the table, which drops its triggers
        with op.batch_alter_table("audit_event", schema=None) as batch_op:
            batch_op.add_column(sa.Column("row_hash", sa.LargeBinary(), nullable=True))
            batch_op.alter_column(
                "occurred_at",
                existing_type=sa.DateTime(timezone=True),
                existing_nullable=False,
                server_default=sa.text(SQLITE_NOW),
            )
        _sqlite_append_only("audit_event")
    op.create_table(
        "audit_seal",
        sa.Column("event_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_audit_seal")),
    )
    if _postgresql():
        op.execute(
            """
            CREATE FUNCTION audit_seal_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
              RAISE EXCEPTION 'audit_seal is append-only (% refused)', TG_OP
                USING ERRCODE = 'insufficient_privilege';
            END $$
            """
        )
        op.execute(
            "CREATE TRIGGER audit_seal_no_change BEFORE UPDATE OR DELETE ON audit_seal "
            "FOR EACH ROW EXECUTE FUNCTION audit_seal_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_seal_no_truncate BEFORE TRUNCATE ON audit_seal "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_seal_append_only()"
        )
    else:
        _sqlite_append_only("audit_seal")


def downgrade() -> None:
    if _postgresql():
        op.execute("DROP TRIGGER IF EXISTS audit_seal_no_truncate ON audit_seal")
        op.execute("DROP TRIGGER IF EXISTS audit_seal_no_change ON audit_seal")
        op.execute("DROP FUNCTION IF EXISTS audit_seal_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_seal_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_seal_no_delete")
    op.drop_table("audit_seal")
    if _postgresql():
        op.drop_column("audit_event", "row_hash")
        op.alter_column("audit_event", "occurred_at", server_default=None)
    else:
        with op.batch_alter_table("audit_event", schema=None) as batch_op:
            batch_op.drop_column("row_hash")
            batch_op.alter_column(
                "occurred_at",
                existing_type=sa.DateTime(timezone=True),
                existing_nullable=False,
                server_default=None,
            )
        _sqlite_append_only("audit_event")


def _sqlite_append_only(table: str) -> None:
    """The triggers of migration 0001, on ``table`` (a copied table has lost them)."""
    for verb in ("UPDATE", "DELETE"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb.lower()}")
        op.execute(
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        )
