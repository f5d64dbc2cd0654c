"""sick leave: certificates, their periods (a chain the database keeps), VKK decisions,
versions and the holder's shares with employers

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 01:44:34

The chain check's date arithmetic differs by backend (SQLite keeps dates as ISO
text), so each backend gets its own form of the one rule: a period starts the
day after the one before it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import salomat.core.db

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _chain() -> sa.CheckConstraint:
    first = "(seq = 1 AND prev_seq IS NULL AND prev_ends_on IS NULL)"
    # NULL keys would make the check NULL (passing) and skip the foreign key
    known = "prev_seq IS NOT NULL AND prev_ends_on IS NOT NULL"
    if op.get_bind().dialect.name == "sqlite":
        return sa.CheckConstraint(
            f"{first} OR (seq > 1 AND {known} AND prev_seq = seq - 1 "
            "AND starts_on = date(prev_ends_on, '+1 day'))",
            name=op.f("ck_sick_leave_period_chain_sqlite"),
        )
    return sa.CheckConstraint(
        f"{first} OR (seq > 1 AND {known} AND prev_seq = seq - 1 AND starts_on = prev_ends_on + 1)",
        name=op.f("ck_sick_leave_period_chain_postgresql"),
    )


def upgrade() -> None:
    op.create_table(
        "sick_leave_certificate",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("check_code", sa.String(length=8), nullable=False),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=24), nullable=False),
        sa.Column("diagnosis", sa.String(length=8), nullable=True),
        sa.Column(
            "cared_person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "pregnancy_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("zone_document", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("closure", sa.String(length=24), nullable=True),
        sa.Column("return_to_work_on", sa.Date(), nullable=True),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("issued_by", sa.String(length=150), nullable=False),
        sa.Column("practitioner_id", sa.Integer(), nullable=True),
        sa.Column("duplicate_no", sa.Integer(), nullable=False),
        sa.Column("cancel_reason", sa.String(length=500), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", salomat.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", salomat.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "(kind = 'care') = (cared_person_id IS NOT NULL)",
            name=op.f("ck_sick_leave_certificate_care"),
        ),
        sa.CheckConstraint(
            "closure IS NULL OR closure IN "
            "('return_to_work', 'disability_referral', 'death', 'end_of_leave')",
            name=op.f("ck_sick_leave_certificate_closure"),
        ),
        sa.CheckConstraint(
            "kind = 'maternity' OR diagnosis IS NOT NULL",
            name=op.f("ck_sick_leave_certificate_diagnosis"),
        ),
        sa.CheckConstraint(
            "kind IN ('illness', 'care', 'maternity')", name=op.f("ck_sick_leave_certificate_kind")
        ),
        sa.CheckConstraint(
            "status <> 'closed' OR (closed_on IS NOT NULL AND closure IS NOT NULL)",
            name=op.f("ck_sick_leave_certificate_closed"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'closed', 'cancelled')",
            name=op.f("ck_sick_leave_certificate_status"),
        ),
        sa.CheckConstraint(
            "closed_on IS NULL OR closed_on <= ends_on",
            name=op.f("ck_sick_leave_certificate_closed_on"),
        ),
        sa.CheckConstraint(
            "duplicate_no >= 0", name=op.f("ck_sick_leave_certificate_duplicate_no")
        ),
        sa.CheckConstraint("ends_on >= starts_on", name=op.f("ck_sick_leave_certificate_dates")),
        sa.ForeignKeyConstraint(
            ["cared_person_id"],
            ["person.id"],
            name=op.f("fk_sick_leave_certificate_cared_person_id_person"),
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facility.id"],
            name=op.f("fk_sick_leave_certificate_facility_id_facility"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_sick_leave_certificate_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioner.id"],
            name=op.f("fk_sick_leave_certificate_practitioner_id_practitioner"),
        ),
        sa.ForeignKeyConstraint(
            ["pregnancy_id"],
            ["pregnancy.id"],
            name=op.f("fk_sick_leave_certificate_pregnancy_id_pregnancy"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sick_leave_certificate")),
        sa.UniqueConstraint("number", name=op.f("uq_sick_leave_certificate_number")),
    )
    with op.batch_alter_table("sick_leave_certificate", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sick_leave_certificate_cared_person_id"),
            ["cared_person_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_sick_leave_certificate_facility_id"), ["facility_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_sick_leave_certificate_issued_by"), ["issued_by"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_sick_leave_certificate_person_id"), ["person_id"], unique=False
        )
        batch_op.create_index(
            "ix_sick_leave_certificate_person_status", ["person_id", "status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_sick_leave_certificate_pregnancy_id"), ["pregnancy_id"], unique=False
        )
        batch_op.create_index("ix_sick_leave_certificate_starts_on", ["starts_on"], unique=False)
        batch_op.create_index(
            "ux_sick_leave_certificate_pregnancy",
            ["pregnancy_id"],
            unique=True,
            sqlite_where=sa.text("status <> 'cancelled' AND pregnancy_id IS NOT NULL"),
            postgresql_where=sa.text("status <> 'cancelled' AND pregnancy_id IS NOT NULL"),
        )

    op.create_table(
        "sick_leave_share",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "certificate_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("employer_id", sa.Integer(), nullable=False),
        sa.Column("shared_at", salomat.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", salomat.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["sick_leave_certificate.id"],
            name=op.f("fk_sick_leave_share_certificate_id_sick_leave_certificate"),
        ),
        sa.ForeignKeyConstraint(
            ["employer_id"], ["employer.id"], name=op.f("fk_sick_leave_share_employer_id_employer")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_sick_leave_share_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sick_leave_share")),
    )
    with op.batch_alter_table("sick_leave_share", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sick_leave_share_certificate_id"), ["certificate_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_sick_leave_share_employer_id"), ["employer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_sick_leave_share_person_id"), ["person_id"], unique=False
        )
        batch_op.create_index(
            "ux_sick_leave_share_live",
            ["certificate_id", "employer_id"],
            unique=True,
            sqlite_where=sa.text("withdrawn_at IS NULL"),
            postgresql_where=sa.text("withdrawn_at IS NULL"),
        )

    op.create_table(
        "sick_leave_version",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "certificate_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("by", sa.String(length=150), nullable=False),
        sa.Column("at", salomat.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["sick_leave_certificate.id"],
            name=op.f("fk_sick_leave_version_certificate_id_sick_leave_certificate"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_sick_leave_version_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sick_leave_version")),
    )
    with op.batch_alter_table("sick_leave_version", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sick_leave_version_certificate_id"), ["certificate_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_sick_leave_version_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "sick_leave_vkk_decision",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "certificate_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("decision", sa.String(length=24), nullable=False),
        sa.Column("extend_until", sa.Date(), nullable=True),
        sa.Column("protocol_number", sa.String(length=64), nullable=False),
        sa.Column("chair", sa.String(length=200), nullable=False),
        sa.Column("members", sa.JSON(), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("recorded_by", sa.String(length=150), nullable=False),
        sa.Column("created_at", salomat.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "decision <> 'extend' OR extend_until IS NOT NULL",
            name=op.f("ck_sick_leave_vkk_decision_extend_until"),
        ),
        sa.CheckConstraint(
            "decision IN ('extend', 'refer_disability')",
            name=op.f("ck_sick_leave_vkk_decision_decision"),
        ),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["sick_leave_certificate.id"],
            name=op.f("fk_sick_leave_vkk_decision_certificate_id_sick_leave_certificate"),
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facility.id"],
            name=op.f("fk_sick_leave_vkk_decision_facility_id_facility"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_sick_leave_vkk_decision_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sick_leave_vkk_decision")),
    )
    with op.batch_alter_table("sick_leave_vkk_decision", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sick_leave_vkk_decision_certificate_id"),
            ["certificate_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_sick_leave_vkk_decision_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "sick_leave_period",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "certificate_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("prev_seq", sa.Integer(), nullable=True),
        sa.Column("prev_ends_on", sa.Date(), nullable=True),
        sa.Column("granted_as", sa.String(length=16), nullable=False),
        sa.Column("granted_by", sa.String(length=150), nullable=False),
        sa.Column("practitioner_id", sa.Integer(), nullable=True),
        sa.Column("facility_id", sa.Integer(), nullable=True),
        sa.Column(
            "vkk_decision_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("cosigned_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", salomat.core.db.UTCDateTime(timezone=True), nullable=False),
        _chain(),
        sa.CheckConstraint(
            "granted_as IN ('doctor', 'mid_level', 'vkk', 'birth_record')",
            name=op.f("ck_sick_leave_period_granted_as"),
        ),
        sa.CheckConstraint("ends_on >= starts_on", name=op.f("ck_sick_leave_period_dates")),
        sa.ForeignKeyConstraint(
            ["certificate_id", "prev_seq", "prev_ends_on"],
            [
                "sick_leave_period.certificate_id",
                "sick_leave_period.seq",
                "sick_leave_period.ends_on",
            ],
            name="fk_sick_leave_period_prev",
        ),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["sick_leave_certificate.id"],
            name=op.f("fk_sick_leave_period_certificate_id_sick_leave_certificate"),
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_sick_leave_period_facility_id_facility")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_sick_leave_period_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioner.id"],
            name=op.f("fk_sick_leave_period_practitioner_id_practitioner"),
        ),
        sa.ForeignKeyConstraint(
            ["vkk_decision_id"],
            ["sick_leave_vkk_decision.id"],
            name=op.f("fk_sick_leave_period_vkk_decision_id_sick_leave_vkk_decision"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sick_leave_period")),
        sa.UniqueConstraint("certificate_id", "seq", "ends_on", name="uq_sick_leave_period_end"),
        sa.UniqueConstraint("certificate_id", "seq", name="uq_sick_leave_period_seq"),
    )
    with op.batch_alter_table("sick_leave_period", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sick_leave_period_certificate_id"), ["certificate_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_sick_leave_period_person_id"), ["person_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sick_leave_period", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sick_leave_period_person_id"))
        batch_op.drop_index(batch_op.f("ix_sick_leave_period_certificate_id"))

    op.drop_table("sick_leave_period")
    with op.batch_alter_table("sick_leave_vkk_decision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sick_leave_vkk_decision_person_id"))
        batch_op.drop_index(batch_op.f("ix_sick_leave_vkk_decision_certificate_id"))

    op.drop_table("sick_leave_vkk_decision")
    with op.batch_alter_table("sick_leave_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sick_leave_version_person_id"))
        batch_op.drop_index(batch_op.f("ix_sick_leave_version_certificate_id"))

    op.drop_table("sick_leave_version")
    with op.batch_alter_table("sick_leave_share", schema=None) as batch_op:
        batch_op.drop_index(
            "ux_sick_leave_share_live",
            sqlite_where=sa.text("withdrawn_at IS NULL"),
            postgresql_where=sa.text("withdrawn_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_sick_leave_share_person_id"))
        batch_op.drop_index(batch_op.f("ix_sick_leave_share_employer_id"))
        batch_op.drop_index(batch_op.f("ix_sick_leave_share_certificate_id"))

    op.drop_table("sick_leave_share")
    with op.batch_alter_table("sick_leave_certificate", schema=None) as batch_op:
        batch_op.drop_index(
            "ux_sick_leave_certificate_pregnancy",
            sqlite_where=sa.text("status <> 'cancelled' AND pregnancy_id IS NOT NULL"),
            postgresql_where=sa.text("status <> 'cancelled' AND pregnancy_id IS NOT NULL"),
        )
        batch_op.drop_index("ix_sick_leave_certificate_starts_on")
        batch_op.drop_index(batch_op.f("ix_sick_leave_certificate_pregnancy_id"))
        batch_op.drop_index("ix_sick_leave_certificate_person_status")
        batch_op.drop_index(batch_op.f("ix_sick_leave_certificate_person_id"))
        batch_op.drop_index(batch_op.f("ix_sick_leave_certificate_issued_by"))
        batch_op.drop_index(batch_op.f("ix_sick_leave_certificate_facility_id"))
        batch_op.drop_index(batch_op.f("ix_sick_leave_certificate_cared_person_id"))

    op.drop_table("sick_leave_certificate")
