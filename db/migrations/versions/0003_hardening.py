"""hardening: 64-bit scores on PostgreSQL, API key roles, CSV import jobs, sign-in attempts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 12:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db.types import BigIntPK, JSONType, UTCDateTime

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite's INTEGER is already 64-bit; only PostgreSQL's 32-bit columns widen.
_WIDEN = [
    ("lead_scores", "score"),
    ("account_scores", "score"),
    ("events", "score_delta"),
    ("engagement_levels", "min_score"),
    ("engagement_levels", "max_score"),
    ("rules", "weight"),
    ("decay_rules", "decrease"),
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column in _WIDEN:
            op.alter_column(table, column, type_=sa.BigInteger(), existing_type=sa.Integer())
    with op.batch_alter_table('api_keys') as batch:
        batch.add_column(sa.Column('role', sa.String(length=20), server_default='Owner', nullable=False))
    op.create_table('import_jobs',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=300), nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('total_rows', sa.Integer(), nullable=True),
    sa.Column('processed_rows', sa.Integer(), nullable=False),
    sa.Column('accepted', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('errors', JSONType, nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('finished_at', UTCDateTime(), nullable=True),
    sa.Column('org_id', sa.String(length=64), nullable=False),
    sa.Column('unit_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_import_jobs_org_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_import_jobs_unit_id_units'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_jobs'))
    )
    op.create_index('ix_import_jobs_unit_sha256', 'import_jobs', ['unit_id', 'file_sha256'], unique=False)
    op.create_index('ix_import_jobs_unit_created', 'import_jobs', ['unit_id', 'created_at'], unique=False)
    op.create_table('login_attempts',
    sa.Column('id', BigIntPK, autoincrement=True, nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('succeeded', sa.Boolean(), nullable=False),
    sa.Column('attempted_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_attempts'))
    )
    op.create_index('ix_login_attempts_email_attempted', 'login_attempts', ['email', 'attempted_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_login_attempts_email_attempted', table_name='login_attempts')
    op.drop_table('login_attempts')
    op.drop_index('ix_import_jobs_unit_created', table_name='import_jobs')
    op.drop_index('ix_import_jobs_unit_sha256', table_name='import_jobs')
    op.drop_table('import_jobs')
    with op.batch_alter_table('api_keys') as batch:
        batch.drop_column('role')
    if op.get_bind().dialect.name == "postgresql":
        for table, column in _WIDEN:
            op.alter_column(table, column, type_=sa.Integer(), existing_type=sa.BigInteger())
