"""planning: mobile medical teams, their visit calendar and the visits they recorded

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-07 09:00:00

``mobile_team`` (a team based at a facility) and ``mobile_team_member`` (its
practitioners), ``mobile_visit_plan`` (one settlement on one day of a team's calendar, in
the order of the day's tour), ``mobile_visit`` (a visit made: an encounter at a settlement
on a day) and ``mobile_visit_person`` (each person seen and the service given);
domains/planning (service/mobile.py), docs/planning.md.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0035"
down_revision: str | None = "0034"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "mobile_team",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=150), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_mobile_team_facility_id_facility")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mobile_team")),
    )
    with op.batch_alter_table("mobile_team", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mobile_team_facility_id"), ["facility_id"], unique=False
        )

    op.create_table(
        "mobile_team_member",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("practitioner_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioner.id"],
            name=op.f("fk_mobile_team_member_practitioner_id_practitioner"),
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["mobile_team.id"], name=op.f("fk_mobile_team_member_team_id_mobile_team")
        ),
        sa.PrimaryKeyConstraint("team_id", "practitioner_id", name=op.f("pk_mobile_team_member")),
    )
    with op.batch_alter_table("mobile_team_member", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mobile_team_member_practitioner_id"), ["practitioner_id"], unique=False
        )

    op.create_table(
        "mobile_visit_plan",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("settlement_id", sa.Integer(), nullable=False),
        sa.Column("planned_on", sa.Date(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("day_km", sa.Float(), nullable=False),
        sa.Column("day_minutes", sa.Float(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=150), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint(
            "method IN ('road', 'estimate')", name=op.f("ck_mobile_visit_plan_method")
        ),
        sa.CheckConstraint("sequence >= 1", name=op.f("ck_mobile_visit_plan_sequence")),
        sa.ForeignKeyConstraint(
            ["settlement_id"],
            ["territory.id"],
            name=op.f("fk_mobile_visit_plan_settlement_id_territory"),
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["mobile_team.id"], name=op.f("fk_mobile_visit_plan_team_id_mobile_team")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mobile_visit_plan")),
        sa.UniqueConstraint(
            "team_id",
            "settlement_id",
            "planned_on",
            name=op.f("uq_mobile_visit_plan_team_id_settlement_id_planned_on"),
        ),
    )
    with op.batch_alter_table("mobile_visit_plan", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mobile_visit_plan_settlement_id"), ["settlement_id"], unique=False
        )
        batch_op.create_index(
            "ix_mobile_visit_plan_team_day", ["team_id", "planned_on"], unique=False
        )

    op.create_table(
        "mobile_visit",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("settlement_id", sa.Integer(), nullable=False),
        sa.Column("visited_on", sa.Date(), nullable=False),
        sa.Column("plan_id", ID, nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(length=150), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["mobile_visit_plan.id"],
            name=op.f("fk_mobile_visit_plan_id_mobile_visit_plan"),
        ),
        sa.ForeignKeyConstraint(
            ["settlement_id"],
            ["territory.id"],
            name=op.f("fk_mobile_visit_settlement_id_territory"),
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["mobile_team.id"], name=op.f("fk_mobile_visit_team_id_mobile_team")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mobile_visit")),
    )
    with op.batch_alter_table("mobile_visit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mobile_visit_settlement_id"), ["settlement_id"], unique=False
        )
        batch_op.create_index("ix_mobile_visit_team_day", ["team_id", "visited_on"], unique=False)

    op.create_table(
        "mobile_visit_person",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("visit_id", ID, nullable=False),
        sa.Column("person_id", ID, nullable=False),
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_mobile_visit_person_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["mobile_visit.id"],
            name=op.f("fk_mobile_visit_person_visit_id_mobile_visit"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mobile_visit_person")),
        sa.UniqueConstraint(
            "visit_id",
            "person_id",
            "service",
            name=op.f("uq_mobile_visit_person_visit_id_person_id_service"),
        ),
    )
    with op.batch_alter_table("mobile_visit_person", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mobile_visit_person_person_id"), ["person_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_mobile_visit_person_visit_id"), ["visit_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("mobile_visit_person", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mobile_visit_person_visit_id"))
        batch_op.drop_index(batch_op.f("ix_mobile_visit_person_person_id"))

    op.drop_table("mobile_visit_person")
    with op.batch_alter_table("mobile_visit", schema=None) as batch_op:
        batch_op.drop_index("ix_mobile_visit_team_day")
        batch_op.drop_index(batch_op.f("ix_mobile_visit_settlement_id"))

    op.drop_table("mobile_visit")
    with op.batch_alter_table("mobile_visit_plan", schema=None) as batch_op:
        batch_op.drop_index("ix_mobile_visit_plan_team_day")
        batch_op.drop_index(batch_op.f("ix_mobile_visit_plan_settlement_id"))

    op.drop_table("mobile_visit_plan")
    with op.batch_alter_table("mobile_team_member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mobile_team_member_practitioner_id"))

    op.drop_table("mobile_team_member")
    with op.batch_alter_table("mobile_team", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mobile_team_facility_id"))

    op.drop_table("mobile_team")
