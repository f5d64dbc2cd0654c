"""growth measurements carry a version, so marking one entered in error takes If-Match

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # every stored measurement is at its first version, marked ones included: nobody has
    # read a version of them yet. PostgreSQL adds a column with a constant default without
    # rewriting the table; the default is then dropped, as the model sets the version itself.
    with op.batch_alter_table("growth_measurement", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("version", sa.Integer(), nullable=False, server_default=sa.text("1"))
        )
    with op.batch_alter_table("growth_measurement", schema=None) as batch_op:
        batch_op.alter_column("version", existing_type=sa.Integer(), server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("growth_measurement", schema=None) as batch_op:
        batch_op.drop_column("version")
