"""screening: screening visits, measurements, DMP enrolments and follow-up visits

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-07 05:20:00

``screening_visit``, ``screening_observation`` (the measurements of screenings and DMP
follow-ups, in canonical UCUM units and as entered), ``dmp_enrolment`` (one open
enrolment per person and programme: a partial unique index on both backends) and
``dmp_visit``; domains/screening, docs/screening.md.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)
OPEN = "ended_on IS NULL"


def upgrade() -> None:
    op.create_table(
        "screening_visit",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("person_id", ID, nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=True),
        sa.Column("programme", sa.String(length=32), nullable=False),
        sa.Column("performed_on", sa.Date(), nullable=False),
        sa.Column("opportunistic", sa.Boolean(), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("next_step", sa.String(length=16), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(length=150), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint(
            "result IN ('normal', 'abnormal')", name=op.f("ck_screening_visit_result")
        ),
        sa.CheckConstraint(
            "next_step IN ('none', 'refer', 'enrol')", name=op.f("ck_screening_visit_next_step")
        ),
        sa.CheckConstraint(
            "result = 'abnormal' OR next_step = 'none'",
            name=op.f("ck_screening_visit_normal_no_step"),
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_screening_visit_facility_id_facility")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_screening_visit_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_visit")),
    )
    op.create_index(
        "ix_screening_visit_facility_id", "screening_visit", ["facility_id"], unique=False
    )
    op.create_index(
        "ix_screening_visit_person_programme",
        "screening_visit",
        ["person_id", "programme", "performed_on"],
        unique=False,
    )

    op.create_table(
        "dmp_enrolment",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("person_id", ID, nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("programme", sa.String(length=32), nullable=False),
        sa.Column("diagnosis_code", sa.String(length=8), nullable=False),
        sa.Column("enrolled_on", sa.Date(), nullable=False),
        sa.Column("next_visit_due", sa.Date(), nullable=True),
        sa.Column("prior_mi_stroke", sa.Boolean(), nullable=True),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("end_reason", sa.String(length=16), nullable=True),
        sa.Column("recorded_by", sa.String(length=150), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint(
            "(ended_on IS NULL AND end_reason IS NULL) OR (ended_on IS NOT NULL AND "
            "end_reason IN ('died', 'transferred', 'withdrawn', 'recovered', 'merged'))",
            name=op.f("ck_dmp_enrolment_ended"),
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_dmp_enrolment_facility_id_facility")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_dmp_enrolment_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dmp_enrolment")),
    )
    op.create_index(
        "ux_dmp_enrolment_open",
        "dmp_enrolment",
        ["person_id", "programme"],
        unique=True,
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )
    op.create_index(
        "ix_dmp_enrolment_facility_due",
        "dmp_enrolment",
        ["facility_id", "next_visit_due"],
        unique=False,
    )
    op.create_index("ix_dmp_enrolment_person", "dmp_enrolment", ["person_id"], unique=False)

    op.create_table(
        "dmp_visit",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("person_id", ID, nullable=False),
        sa.Column("enrolment_id", ID, nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=True),
        sa.Column("visited_on", sa.Date(), nullable=False),
        sa.Column("next_visit_due", sa.Date(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(length=150), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["enrolment_id"],
            ["dmp_enrolment.id"],
            name=op.f("fk_dmp_visit_enrolment_id_dmp_enrolment"),
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_dmp_visit_facility_id_facility")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_dmp_visit_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dmp_visit")),
    )
    op.create_index("ix_dmp_visit_enrolment_id", "dmp_visit", ["enrolment_id"], unique=False)
    op.create_index(
        "ix_dmp_visit_person_on", "dmp_visit", ["person_id", "visited_on"], unique=False
    )

    op.create_table(
        "screening_observation",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("person_id", ID, nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=True),
        sa.Column("observed_on", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("systolic", sa.Integer(), nullable=True),
        sa.Column("diastolic", sa.Integer(), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("unit", sa.String(length=16), nullable=True),
        sa.Column("value_entered", sa.String(length=32), nullable=True),
        sa.Column("unit_entered", sa.String(length=16), nullable=True),
        sa.Column("code", sa.String(length=16), nullable=True),
        sa.Column("loinc", sa.String(length=16), nullable=True),
        sa.Column("screening_visit_id", ID, nullable=True),
        sa.Column("enrolment_id", ID, nullable=True),
        sa.Column("dmp_visit_id", ID, nullable=True),
        sa.Column("recorded_by", sa.String(length=150), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint(
            "kind <> 'bp' OR (systolic IS NOT NULL AND diastolic IS NOT NULL)",
            name=op.f("ck_screening_observation_bp_values"),
        ),
        sa.ForeignKeyConstraint(
            ["dmp_visit_id"],
            ["dmp_visit.id"],
            name=op.f("fk_screening_observation_dmp_visit_id_dmp_visit"),
        ),
        sa.ForeignKeyConstraint(
            ["enrolment_id"],
            ["dmp_enrolment.id"],
            name=op.f("fk_screening_observation_enrolment_id_dmp_enrolment"),
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facility.id"],
            name=op.f("fk_screening_observation_facility_id_facility"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_screening_observation_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["screening_visit_id"],
            ["screening_visit.id"],
            name=op.f("fk_screening_observation_screening_visit_id_screening_visit"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_observation")),
    )
    op.create_index(
        "ix_screening_observation_person_kind_on",
        "screening_observation",
        ["person_id", "kind", "observed_on"],
        unique=False,
    )
    op.create_index(
        "ix_screening_observation_visit",
        "screening_observation",
        ["screening_visit_id"],
        unique=False,
    )
    op.create_index(
        "ix_screening_observation_enrolment",
        "screening_observation",
        ["enrolment_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("screening_observation")
    op.drop_table("dmp_visit")
    op.drop_table("dmp_enrolment")
    op.drop_table("screening_visit")
