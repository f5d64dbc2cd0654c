"""exchange: FHIR subscriptions and their delivery log

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-06 22:20:00

Subscriptions (R4 rest-hook) owned by an account, and one log row per delivery attempt
(ids and outcomes only): domains/subscriptions, docs/exchange.md "Subscriptions".
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "subscription",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("owner_user_id", sa.Integer(), nullable=False),
        sa.Column("owner_username", sa.String(length=150), nullable=False),
        sa.Column("owner_scopes", sa.Text(), nullable=True),
        sa.Column("facility_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("criteria", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("payload", sa.String(length=64), nullable=True),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_subscription_facility_id_facility")
        ),
        sa.ForeignKeyConstraint(
            ["owner_user_id"],
            ["app_user.id"],
            name=op.f("fk_subscription_owner_user_id_app_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription")),
    )
    op.create_index(
        op.f("ix_subscription_owner_user_id"), "subscription", ["owner_user_id"], unique=False
    )
    op.create_index(
        op.f("ix_subscription_facility_id"), "subscription", ["facility_id"], unique=False
    )
    op.create_index(
        "ix_subscription_status_type", "subscription", ["status", "resource_type"], unique=False
    )
    op.create_table(
        "subscription_delivery",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("subscription_id", ID, nullable=False),
        sa.Column("job_id", ID, nullable=True),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscription.id"],
            name=op.f("fk_subscription_delivery_subscription_id_subscription"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_delivery")),
    )
    op.create_index(
        "ix_subscription_delivery_subscription",
        "subscription_delivery",
        ["subscription_id", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_subscription_delivery_subscription", table_name="subscription_delivery")
    op.drop_table("subscription_delivery")
    op.drop_index("ix_subscription_status_type", table_name="subscription")
    op.drop_index(op.f("ix_subscription_facility_id"), table_name="subscription")
    op.drop_index(op.f("ix_subscription_owner_user_id"), table_name="subscription")
    op.drop_table("subscription")
