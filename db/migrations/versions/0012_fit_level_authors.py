"""fit_levels: created_by and updated_by (who made and last changed a profile or account level: a person's email
or the credential's name, as rules keep them); null for the levels made before.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 07:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('fit_levels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('created_by', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('updated_by', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('fit_levels', schema=None) as batch_op:
        batch_op.drop_column('updated_by')
        batch_op.drop_column('created_by')
