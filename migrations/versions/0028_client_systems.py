"""accounts: registered client systems (SMART Backend Services)

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06 22:20:00

A client system (a hospital, laboratory or pharmacy information system, the statistics
office) logs in as itself with a signed JWT assertion (docs/exchange.md): its
registration, its public keys, and the assertion ids already used (one use each).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "client_system",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=150), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=True),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("origins", sa.Text(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facility.id"],
            name=op.f("fk_client_system_facility_id_facility"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_client_system_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_system")),
        sa.UniqueConstraint("client_id", name=op.f("uq_client_system_client_id")),
        sa.UniqueConstraint("user_id", name=op.f("uq_client_system_user_id")),
    )
    op.create_index(
        op.f("ix_client_system_facility_id"), "client_system", ["facility_id"], unique=False
    )
    op.create_table(
        "client_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_system_id", sa.Integer(), nullable=False),
        sa.Column("kid", sa.String(length=200), nullable=False),
        sa.Column("alg", sa.String(length=8), nullable=False),
        sa.Column("jwk", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_system_id"],
            ["client_system.id"],
            name=op.f("fk_client_key_client_system_id_client_system"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_key")),
        sa.UniqueConstraint(
            "client_system_id", "kid", name=op.f("uq_client_key_client_system_id_kid")
        ),
    )
    op.create_table(
        "client_assertion_jti",
        sa.Column("client_system_id", sa.Integer(), nullable=False),
        sa.Column("jti", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_system_id"],
            ["client_system.id"],
            name=op.f("fk_client_assertion_jti_client_system_id_client_system"),
        ),
        sa.PrimaryKeyConstraint("client_system_id", "jti", name=op.f("pk_client_assertion_jti")),
    )
    op.create_index(
        op.f("ix_client_assertion_jti_expires_at"),
        "client_assertion_jti",
        ["expires_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_client_assertion_jti_expires_at"), table_name="client_assertion_jti")
    op.drop_table("client_assertion_jti")
    op.drop_table("client_key")
    op.drop_index(op.f("ix_client_system_facility_id"), table_name="client_system")
    op.drop_table("client_system")
