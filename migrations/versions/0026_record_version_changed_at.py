"""record: index record_version.changed_at for type- and system-level _history

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06 20:00:00

``GET /fhir/<Type>/_history?_since=`` and ``GET /fhir/_history?_since=`` (issue 18) read
the versions stored since an instant, newest first: without an index on ``changed_at``
each such page read every version of the record.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_record_version_changed_at", "record_version", ["changed_at"])


def downgrade() -> None:
    op.drop_index("ix_record_version_changed_at", table_name="record_version")
