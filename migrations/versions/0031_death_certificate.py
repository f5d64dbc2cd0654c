"""registry: the WHO medical certificate of cause of death

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07 02:10:00

One certificate per person (Part I a-d and Part II as JSON lines, manner, pregnancy,
place, the fetal or infant block, the certifier, the selected underlying cause and its
review state): registry/service/death_certificate.py, docs/mortality.md.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "death_certificate",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("person_id", ID, nullable=False),
        sa.Column("deceased_on", sa.Date(), nullable=False),
        sa.Column("part1", sa.JSON(), nullable=False),
        sa.Column("part2", sa.JSON(), nullable=False),
        sa.Column("manner", sa.String(length=24), nullable=False),
        sa.Column("external_cause", sa.String(length=8), nullable=True),
        sa.Column("injury_on", sa.Date(), nullable=True),
        sa.Column("injury_place", sa.String(length=200), nullable=True),
        sa.Column("pregnancy", sa.String(length=24), nullable=True),
        sa.Column("place", sa.String(length=16), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=True),
        sa.Column("place_detail", sa.String(length=200), nullable=True),
        sa.Column("surgery", sa.String(length=8), nullable=False),
        sa.Column("autopsy", sa.String(length=8), nullable=False),
        sa.Column("perinatal", sa.JSON(), nullable=True),
        sa.Column("certifier_user_id", sa.Integer(), nullable=True),
        sa.Column("certifier_username", sa.String(length=150), nullable=False),
        sa.Column("certifier_facility_id", sa.Integer(), nullable=True),
        sa.Column("certified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("underlying_cause", sa.String(length=8), nullable=False),
        sa.Column("review", sa.String(length=16), nullable=False),
        sa.Column("review_reasons", sa.JSON(), nullable=False),
        sa.Column("reviewed_by", sa.String(length=150), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_note", sa.String(length=500), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "review IN ('auto_selected', 'needs_review', 'reviewed')",
            name=op.f("ck_death_certificate_review"),
        ),
        sa.CheckConstraint(
            "manner IN ('disease', 'accident', 'self_harm', 'assault', 'legal_intervention', "
            "'war', 'undetermined', 'pending', 'unknown')",
            name=op.f("ck_death_certificate_manner"),
        ),
        sa.CheckConstraint(
            "place IN ('home', 'facility', 'other', 'unknown')",
            name=op.f("ck_death_certificate_place"),
        ),
        sa.CheckConstraint(
            "place <> 'facility' OR facility_id IS NOT NULL",
            name=op.f("ck_death_certificate_place_facility"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_death_certificate_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_death_certificate_facility_id_facility")
        ),
        sa.ForeignKeyConstraint(
            ["certifier_facility_id"],
            ["facility.id"],
            name=op.f("fk_death_certificate_certifier_facility_id_facility"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_death_certificate")),
        sa.UniqueConstraint("person_id", name=op.f("uq_death_certificate_person_id")),
    )
    op.create_index(
        op.f("ix_death_certificate_review"), "death_certificate", ["review"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_death_certificate_review"), table_name="death_certificate")
    op.drop_table("death_certificate")
