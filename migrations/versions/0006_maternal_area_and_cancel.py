"""maternal: where a pregnancy is counted; referrals the sender cancels

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 16:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import salomat.core.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_STATUS = "status IN ('sent', 'accepted', 'seen', 'returned', 'declined')"
_NEW_STATUS = "status IN ('sent', 'accepted', 'seen', 'returned', 'declined', 'cancelled')"


def upgrade() -> None:
    # SQLite's ADD COLUMN takes an inline REFERENCES clause; a batch rebuild of the table
    # would turn 0004's inline foreign key into a table constraint that its downgrade's
    # DROP COLUMN cannot remove
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE pregnancy ADD COLUMN settlement_id INTEGER "
            "CONSTRAINT fk_pregnancy_settlement_id_territory REFERENCES territory (id)"
        )
    else:
        op.add_column("pregnancy", sa.Column("settlement_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_pregnancy_settlement_id_territory",
            "pregnancy",
            "territory",
            ["settlement_id"],
            ["id"],
        )
    op.create_index("ix_pregnancy_settlement_id", "pregnancy", ["settlement_id"])
    # existing pregnancies: her settlement now, else the registering facility's
    op.execute(
        "UPDATE pregnancy SET settlement_id = COALESCE("
        "(SELECT person.settlement_id FROM person WHERE person.id = pregnancy.person_id), "
        "(SELECT facility.settlement_id FROM facility WHERE facility.id = pregnancy.facility_id))"
    )
    with op.batch_alter_table("antenatal_referral", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("cancelled_at", salomat.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.drop_constraint(batch_op.f("ck_antenatal_referral_status"), type_="check")
        batch_op.create_check_constraint("status", _NEW_STATUS)


def downgrade() -> None:
    # the old schema has no cancelled state: the nearest is declined
    op.execute(
        "UPDATE antenatal_referral SET status = 'declined', declined_at = cancelled_at "
        "WHERE status = 'cancelled'"
    )
    with op.batch_alter_table("antenatal_referral", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_antenatal_referral_status"), type_="check")
        batch_op.create_check_constraint("status", _OLD_STATUS)
        batch_op.drop_column("cancelled_at")
    op.drop_index("ix_pregnancy_settlement_id", table_name="pregnancy")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("fk_pregnancy_settlement_id_territory", "pregnancy", type_="foreignkey")
    op.drop_column("pregnancy", "settlement_id")
