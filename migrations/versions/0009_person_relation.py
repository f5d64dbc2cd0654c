"""person relations: mother, father, guardian

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import salomat.core.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PERSON_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OPEN = "ends_on IS NULL"
ONE_PARENT = "ends_on IS NULL AND kind IN ('mother', 'father')"


def upgrade() -> None:
    op.create_table(
        "person_relation",
        sa.Column("id", PERSON_ID, autoincrement=True, nullable=False),
        sa.Column("person_id", PERSON_ID, nullable=False),
        sa.Column("related_person_id", PERSON_ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("document", sa.String(length=300), nullable=False),
        sa.Column("end_document", sa.String(length=300), nullable=True),
        sa.Column("recorded_by", sa.String(length=150), nullable=False),
        sa.Column("recorded_at", salomat.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_by", sa.String(length=150), nullable=True),
        sa.Column("ended_at", salomat.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('mother', 'father', 'guardian')", name=op.f("ck_person_relation_kind")
        ),
        sa.CheckConstraint(
            "related_person_id <> person_id", name=op.f("ck_person_relation_not_self")
        ),
        sa.CheckConstraint(
            "ends_on IS NULL OR ends_on >= starts_on", name=op.f("ck_person_relation_dates")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_person_relation_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["related_person_id"],
            ["person.id"],
            name=op.f("fk_person_relation_related_person_id_person"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_relation")),
    )
    with op.batch_alter_table("person_relation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_person_relation_person_id"), ["person_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_person_relation_related_person_id"),
            ["related_person_id"],
            unique=False,
        )
        batch_op.create_index(
            "ux_person_relation_open",
            ["person_id", "related_person_id", "kind"],
            unique=True,
            sqlite_where=sa.text(OPEN),
            postgresql_where=sa.text(OPEN),
        )
        batch_op.create_index(
            "ux_person_relation_one_parent",
            ["person_id", "kind"],
            unique=True,
            sqlite_where=sa.text(ONE_PARENT),
            postgresql_where=sa.text(ONE_PARENT),
        )


def downgrade() -> None:
    with op.batch_alter_table("person_relation", schema=None) as batch_op:
        batch_op.drop_index("ux_person_relation_one_parent")
        batch_op.drop_index("ux_person_relation_open")
        batch_op.drop_index(batch_op.f("ix_person_relation_related_person_id"))
        batch_op.drop_index(batch_op.f("ix_person_relation_person_id"))

    op.drop_table("person_relation")
