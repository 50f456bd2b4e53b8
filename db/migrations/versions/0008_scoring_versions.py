"""scoring_versions (every published scoring model of a unit) and the unit's published / live version numbers

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 19:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db.types import JSONType, UTCDateTime

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'scoring_versions',
        sa.Column('unit_id', sa.String(length=64), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('published_at', UTCDateTime(), nullable=False),
        sa.Column('published_by', sa.String(length=200), nullable=True),
        sa.Column('summary', sa.Text(), nullable=False),
        sa.Column('model', JSONType, nullable=False),
        sa.Column('org_id', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_scoring_versions_org_id_organizations'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_scoring_versions_unit_id_units'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('unit_id', 'version', name=op.f('pk_scoring_versions')),
    )
    with op.batch_alter_table('units') as batch:
        batch.add_column(sa.Column('scoring_version', sa.Integer(), server_default='0', nullable=False))
        batch.add_column(sa.Column('scoring_live_version', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('units') as batch:
        batch.drop_column('scoring_live_version')
        batch.drop_column('scoring_version')
    op.drop_table('scoring_versions')
