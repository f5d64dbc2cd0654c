"""epidemic: case notifications, registered beds by profile, daily occupancy reports

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-07 13:30:00

``epidemic_notification`` (a case of a notifiable disease: person, ICD-10, lab
confirmation, onset and report dates, district and region, hospitalisation, reporting
facility and user; indexed for the daily counts by district/region and onset/report
date), ``epidemic_bed_capacity`` (beds by facility, profile and valid-from day) and
``epidemic_occupancy`` (a facility's day and profile: occupied, admitted, discharged);
domains/epidemic (models.py), docs/epidemic.md.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0037"
down_revision: str | None = "0036"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade() -> None:
    t = "epidemic_notification"
    op.create_table(
        t,
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("person_id", ID, nullable=False),
        sa.Column("icd10", sa.String(length=8), nullable=False),
        sa.Column("lab_confirmed", sa.Boolean(), nullable=False),
        sa.Column("lab_facility_id", sa.Integer(), nullable=True),
        sa.Column("onset_date", sa.Date(), nullable=False),
        sa.Column("report_date", sa.Date(), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=True),
        sa.Column("hospitalised", sa.Boolean(), nullable=False),
        sa.Column("admission_date", sa.Date(), nullable=True),
        sa.Column("reporting_facility_id", sa.Integer(), nullable=False),
        sa.Column("reporter_user_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("onset_date <= report_date", name=op.f(f"ck_{t}_onset_before_report")),
        sa.CheckConstraint(
            "admission_date IS NULL OR hospitalised",
            name=op.f(f"ck_{t}_admission_only_if_hospitalised"),
        ),
        _fk(t, "person_id", "person"),
        _fk(t, "lab_facility_id", "facility"),
        _fk(t, "district_id", "territory"),
        _fk(t, "region_id", "territory"),
        _fk(t, "reporting_facility_id", "facility"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
    )
    op.create_index(op.f(f"ix_{t}_person_id"), t, ["person_id"])
    op.create_index(op.f(f"ix_{t}_reporting_facility_id"), t, ["reporting_facility_id"])
    for area in ("district", "region"):
        for day in ("onset", "report"):
            op.create_index(f"ix_{t}_{area}_{day}", t, [f"{area}_id", f"{day}_date"])

    t = "epidemic_bed_capacity"
    op.create_table(
        t,
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("profile", sa.String(length=16), nullable=False),
        sa.Column("beds", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.CheckConstraint("beds >= 0", name=op.f(f"ck_{t}_beds_not_negative")),
        _fk(t, "facility_id", "facility"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
        sa.UniqueConstraint(
            "facility_id",
            "profile",
            "valid_from",
            name=op.f(f"uq_{t}_facility_id_profile_valid_from"),
        ),
    )

    t = "epidemic_occupancy"
    op.create_table(
        t,
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("profile", sa.String(length=16), nullable=False),
        sa.Column("occupied", sa.Integer(), nullable=False),
        sa.Column("admitted", sa.Integer(), nullable=False),
        sa.Column("discharged", sa.Integer(), nullable=False),
        sa.Column("reporter_user_id", sa.BigInteger(), nullable=False),
        sa.Column("reported_at", TS, nullable=False),
        sa.CheckConstraint(
            "occupied >= 0 AND admitted >= 0 AND discharged >= 0",
            name=op.f(f"ck_{t}_counts_not_negative"),
        ),
        _fk(t, "facility_id", "facility"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
        sa.UniqueConstraint(
            "facility_id", "day", "profile", name=op.f(f"uq_{t}_facility_id_day_profile")
        ),
    )
    op.create_index("ix_epidemic_occupancy_day", t, ["day"])


def downgrade() -> None:
    op.drop_index("ix_epidemic_occupancy_day", table_name="epidemic_occupancy")
    op.drop_table("epidemic_occupancy")
    op.drop_table("epidemic_bed_capacity")
    t = "epidemic_notification"
    for area in ("district", "region"):
        for day in ("onset", "report"):
            op.drop_index(f"ix_{t}_{area}_{day}", table_name=t)
    op.drop_index(op.f(f"ix_{t}_reporting_facility_id"), table_name=t)
    op.drop_index(op.f(f"ix_{t}_person_id"), table_name=t)
    op.drop_table(t)
