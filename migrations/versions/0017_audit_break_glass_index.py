"""the auditor's emergency-access filter: a partial index on audit_event (break_glass)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 23:10:00

Break-the-glass rows are a handful among millions; without an index the audit
trail's "emergency access" filter (newest first) read the table from the end until
it found a page of them (185 ms over 2M rows). The index holds only those rows.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_audit_event_break_glass",
        "audit_event",
        ["id"],
        postgresql_where=sa.text("break_glass"),
        sqlite_where=sa.text("break_glass"),
    )


def downgrade() -> None:
    op.drop_index("ix_audit_event_break_glass", table_name="audit_event")
