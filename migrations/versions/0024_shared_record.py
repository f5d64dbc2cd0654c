"""shared health record: resources other systems send, their versions, business
identifiers, code and category tokens, registered naming systems

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 15:36:54

The shared health record (issue 18, docs/record.md). A resource is kept as its sender
sent it (``body``), every version in ``record_version``; ``record_identifier``'s unique
key (resource type, system, value) lets one business identifier name one resource of a
type, so that two conditional creates racing on it store one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from salomat.core.db import UTCDateTime

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "record_naming_system",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("responsible", sa.String(length=300), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=150), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_naming_system")),
        sa.UniqueConstraint("url", name=op.f("uq_record_naming_system_url")),
    )
    op.create_table(
        "record_resource",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("resource_type", sa.String(length=40), nullable=False),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=64), nullable=True),
        sa.Column("code_system", sa.String(length=500), nullable=True),
        sa.Column("code", sa.String(length=200), nullable=True),
        sa.Column("code_text", sa.String(length=1000), nullable=True),
        sa.Column("category", sa.String(length=200), nullable=True),
        sa.Column("effective_start", UTCDateTime(timezone=True), nullable=True),
        sa.Column("effective_end", UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "encounter_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("sender", sa.String(length=150), nullable=False),
        sa.Column("sender_facility_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=500), nullable=True),
        sa.Column("value_text", sa.String(length=120), nullable=True),
        sa.Column("attachment_title", sa.String(length=120), nullable=True),
        sa.Column("shown_end", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_updated", UTCDateTime(timezone=True), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["encounter_id"],
            ["record_resource.id"],
            name=op.f("fk_record_resource_encounter_id_record_resource"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_record_resource_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["sender_facility_id"],
            ["facility.id"],
            name=op.f("fk_record_resource_sender_facility_id_facility"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_resource")),
    )
    with op.batch_alter_table("record_resource", schema=None) as batch_op:
        batch_op.create_index("ix_record_resource_encounter_id", ["encounter_id"], unique=False)
        batch_op.create_index(
            "ix_record_resource_person", ["person_id", "resource_type"], unique=False
        )
        batch_op.create_index(
            "ix_record_resource_sender",
            ["sender_facility_id", "person_id", "created_at"],
            unique=False,
        )

    op.create_table(
        "record_identifier",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "resource_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("resource_type", sa.String(length=40), nullable=False),
        sa.Column("system", sa.String(length=500), nullable=False),
        sa.Column("value", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["record_resource.id"],
            name=op.f("fk_record_identifier_resource_id_record_resource"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_identifier")),
        sa.UniqueConstraint("resource_type", "system", "value", name="ux_record_identifier"),
    )
    with op.batch_alter_table("record_identifier", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_record_identifier_resource_id"), ["resource_id"], unique=False
        )
        batch_op.create_index("ix_record_identifier_value", ["value"], unique=False)

    op.create_table(
        "record_token",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "resource_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("param", sa.String(length=16), nullable=False),
        sa.Column("system", sa.String(length=500), nullable=True),
        sa.Column("code", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["record_resource.id"],
            name=op.f("fk_record_token_resource_id_record_resource"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_token")),
    )
    with op.batch_alter_table("record_token", schema=None) as batch_op:
        batch_op.create_index("ix_record_token_code", ["param", "code"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_record_token_resource_id"), ["resource_id"], unique=False
        )

    op.create_table(
        "record_version",
        sa.Column(
            "resource_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("changed_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(length=150), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["record_resource.id"],
            name=op.f("fk_record_version_resource_id_record_resource"),
        ),
        sa.PrimaryKeyConstraint("resource_id", "version", name=op.f("pk_record_version")),
    )


def downgrade() -> None:
    op.drop_table("record_version")
    with op.batch_alter_table("record_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_record_token_resource_id"))
        batch_op.drop_index("ix_record_token_code")

    op.drop_table("record_token")
    with op.batch_alter_table("record_identifier", schema=None) as batch_op:
        batch_op.drop_index("ix_record_identifier_value")
        batch_op.drop_index(batch_op.f("ix_record_identifier_resource_id"))

    op.drop_table("record_identifier")
    with op.batch_alter_table("record_resource", schema=None) as batch_op:
        batch_op.drop_index("ix_record_resource_sender")
        batch_op.drop_index("ix_record_resource_person")
        batch_op.drop_index("ix_record_resource_encounter_id")

    op.drop_table("record_resource")
    op.drop_table("record_naming_system")
