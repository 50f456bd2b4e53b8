"""teams: organization members and unit memberships, unit slugs, HTTP Basic credentials, usage, live stream

Users become organization members (no unit of their own); what they may do in a unit is a unit membership.
Existing users keep their unit and role as a membership, and their role as their organization role.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 15:30:00
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db.types import BigInt, BigIntPK, JSONType, UTCDateTime

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _slug(name: str) -> str:
    # Kept here (not imported from core) so this migration never changes with later code.
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:80] or "unit"


def upgrade() -> None:
    op.create_table('stream_batches',
    sa.Column('id', BigIntPK, autoincrement=True, nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('messages', JSONType, nullable=False),
    sa.Column('org_id', sa.String(length=64), nullable=False),
    sa.Column('unit_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_stream_batches_org_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_stream_batches_unit_id_units'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stream_batches'))
    )
    op.create_index(op.f('ix_stream_batches_created_at'), 'stream_batches', ['created_at'], unique=False)
    op.create_index('ix_stream_batches_unit_id', 'stream_batches', ['unit_id', 'id'], unique=False)

    op.create_table('unit_memberships',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('org_id', sa.String(length=64), nullable=False),
    sa.Column('unit_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_unit_memberships_org_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_unit_memberships_unit_id_units'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_unit_memberships_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unit_memberships')),
    sa.UniqueConstraint('unit_id', 'user_id', name=op.f('uq_unit_memberships_unit_id_user_id'))
    )
    op.create_index(op.f('ix_unit_memberships_user_id'), 'unit_memberships', ['user_id'], unique=False)

    op.create_table('usage_days',
    sa.Column('id', BigIntPK, autoincrement=True, nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('api_requests', BigInt, nullable=False),
    sa.Column('org_id', sa.String(length=64), nullable=False),
    sa.Column('unit_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_usage_days_org_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_usage_days_unit_id_units'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_usage_days')),
    sa.UniqueConstraint('unit_id', 'day', name=op.f('uq_usage_days_unit_id_day'))
    )

    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=20), server_default='api_key', nullable=False))
        batch_op.add_column(sa.Column('client_id', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_api_keys_client_id'), ['client_id'])

    # Units get a slug unique in their organization, derived from the name.
    bind = op.get_bind()
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.add_column(sa.Column('slug', sa.String(length=100), nullable=True))
    taken: set[tuple[str, str]] = set()
    for unit_id, org_id, name in bind.execute(sa.text("SELECT id, org_id, name FROM units ORDER BY created_at, id")):
        base = slug = _slug(name or "")
        n = 2
        while (org_id, slug) in taken:
            slug, n = f"{base}-{n}", n + 1
        taken.add((org_id, slug))
        bind.execute(sa.text("UPDATE units SET slug = :slug WHERE id = :id"), {"slug": slug, "id": unit_id})
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.alter_column('slug', existing_type=sa.String(length=100), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_units_org_id_slug'), ['org_id', 'slug'])

    # Each user keeps their unit and role as a membership before the user loses its unit column.
    op.execute(
        "INSERT INTO unit_memberships (id, user_id, role, created_at, org_id, unit_id) "
        "SELECT 'mem_' || id, id, role, created_at, org_id, unit_id FROM users"
    )

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_name', sa.String(length=100), server_default='', nullable=False))
        batch_op.add_column(sa.Column('last_name', sa.String(length=100), server_default='', nullable=False))
        batch_op.add_column(sa.Column('verified', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.create_index(batch_op.f('ix_users_org_id'), ['org_id'], unique=False)
        batch_op.drop_constraint(batch_op.f('fk_users_unit_id_units'), type_='foreignkey')
        batch_op.drop_column('unit_id')


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unit_id', sa.String(length=64), nullable=True))
    # A user goes back to one unit: their earliest membership.
    op.execute(
        "UPDATE users SET unit_id = (SELECT m.unit_id FROM unit_memberships m WHERE m.user_id = users.id "
        "ORDER BY m.created_at LIMIT 1)"
    )
    op.execute("DELETE FROM users WHERE unit_id IS NULL")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('unit_id', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_foreign_key(batch_op.f('fk_users_unit_id_units'), 'units', ['unit_id'], ['id'], ondelete='CASCADE')
        batch_op.drop_index(batch_op.f('ix_users_org_id'))
        batch_op.drop_column('verified')
        batch_op.drop_column('last_name')
        batch_op.drop_column('first_name')

    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_units_org_id_slug'), type_='unique')
        batch_op.drop_column('slug')

    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_api_keys_client_id'), type_='unique')
        batch_op.drop_column('client_id')
        batch_op.drop_column('kind')

    op.drop_table('usage_days')
    op.drop_index(op.f('ix_unit_memberships_user_id'), table_name='unit_memberships')
    op.drop_table('unit_memberships')
    op.drop_index('ix_stream_batches_unit_id', table_name='stream_batches')
    op.drop_index(op.f('ix_stream_batches_created_at'), table_name='stream_batches')
    op.drop_table('stream_batches')
