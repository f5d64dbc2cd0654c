"""diagnoses that stand on a pregnancy until a clinician resolves them

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import salomat.core.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "antenatal_diagnosis",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("pregnancy_id", ROW_ID, nullable=False),
        sa.Column("person_id", ROW_ID, nullable=False),
        sa.Column("family", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("rule_id", sa.String(length=32), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("action", sa.String(length=500), nullable=False),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("first_contact_id", ROW_ID, nullable=False),
        sa.Column("first_on", sa.Date(), nullable=False),
        sa.Column("contact_id", ROW_ID, nullable=False),
        sa.Column("raised_at", salomat.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("resolved_at", salomat.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=150), nullable=True),
        sa.Column("resolution", sa.String(length=32), nullable=True),
        sa.Column("resolution_note", sa.String(length=500), nullable=True),
        sa.CheckConstraint(
            "(status = 'active') = (resolved_at IS NULL)",
            name=op.f("ck_antenatal_diagnosis_resolved_when_resolved"),
        ),
        sa.CheckConstraint(
            "resolution IS NULL OR resolution IN ('resolved', 'ruled_out', 'entered_in_error')",
            name=op.f("ck_antenatal_diagnosis_resolution"),
        ),
        sa.CheckConstraint(
            "status IN ('active', 'resolved')", name=op.f("ck_antenatal_diagnosis_status")
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["antenatal_contact.id"],
            name=op.f("fk_antenatal_diagnosis_contact_id_antenatal_contact"),
        ),
        sa.ForeignKeyConstraint(
            ["first_contact_id"],
            ["antenatal_contact.id"],
            name=op.f("fk_antenatal_diagnosis_first_contact_id_antenatal_contact"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_antenatal_diagnosis_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["pregnancy_id"],
            ["pregnancy.id"],
            name=op.f("fk_antenatal_diagnosis_pregnancy_id_pregnancy"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_antenatal_diagnosis")),
    )
    with op.batch_alter_table("antenatal_diagnosis", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_antenatal_diagnosis_person_id"), ["person_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_antenatal_diagnosis_pregnancy_id"), ["pregnancy_id"], unique=False
        )
        batch_op.create_index(
            "ux_antenatal_diagnosis_active",
            ["pregnancy_id", "family"],
            unique=True,
            postgresql_where=sa.text("status = 'active'"),
            sqlite_where=sa.text("status = 'active'"),
        )
    _backfill()


def _backfill() -> None:
    """Re-evaluate the existing pregnancies' histories: the diagnoses each contact gave stand.

    The rules are the platform's pure ones (no database), replayed contact by contact
    over each pregnancy as ``evaluate`` does; a pregnancy whose standing diagnoses give a
    higher risk level or level of care than the stored one is raised to it (never
    lowered). Its advice is rewritten at its next evaluation (the nightly
    ``salomat maternal reevaluate``, or the next contact). Batches of pregnancies by id.
    """
    from salomat.domains.maternal.service import migration_support

    raised, diagnoses = migration_support.backfill_standing(op.get_bind())
    print(  # noqa: T201  (the operator reads how many records the migration changed)
        f"0012: {diagnoses} standing diagnoses from the contact histories; "
        f"{raised} pregnancies' risk level or level of care raised"
    )


def downgrade() -> None:
    with op.batch_alter_table("antenatal_diagnosis", schema=None) as batch_op:
        batch_op.drop_index(
            "ux_antenatal_diagnosis_active",
            postgresql_where=sa.text("status = 'active'"),
            sqlite_where=sa.text("status = 'active'"),
        )
        batch_op.drop_index(batch_op.f("ix_antenatal_diagnosis_pregnancy_id"))
        batch_op.drop_index(batch_op.f("ix_antenatal_diagnosis_person_id"))
    op.drop_table("antenatal_diagnosis")
