"""employer organisations (registry) and the employer account's organisation

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 10:00:00

Issue 14: an employer checks its employees' sick-leave certificates through an
account bound to one employer organisation, identified by the country's business id
(KZ BIN, UZ STIR).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import salomat.core.db

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "employer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("settlement_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", salomat.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", salomat.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["settlement_id"], ["territory.id"], name=op.f("fk_employer_settlement_id_territory")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_employer")),
        sa.UniqueConstraint("business_id", name=op.f("uq_employer_business_id")),
    )
    with op.batch_alter_table("employer", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_employer_settlement_id"), ["settlement_id"], unique=False
        )

    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("employer_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_app_user_employer_id"), ["employer_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_app_user_employer_id_employer"), "employer", ["employer_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_app_user_employer_id_employer"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_app_user_employer_id"))
        batch_op.drop_column("employer_id")

    with op.batch_alter_table("employer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_employer_settlement_id"))

    op.drop_table("employer")
