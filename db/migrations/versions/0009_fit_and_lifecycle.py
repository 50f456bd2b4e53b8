"""Fit scoring (field mappings, profile and account rulesets, rules and levels; fit scores on leads and accounts),
lead erasure requests, and one baseline profile event per lead and account that already has a profile, so the
event log alone rebuilds every profile from now on.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 22:10:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from db.ids import new_id
from db.types import BigInt, JSONType, UTCDateTime

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# core.profile's system event types; copied, not imported, so this migration keeps meaning what it meant.
_LEAD_PROFILE_EVENT = "PROFILE_UPDATE"
_ACCOUNT_PROFILE_EVENT = "ACCOUNT_PROFILE_UPDATE"
_BATCH = 1000


def _tenant_columns(table: str) -> list[Any]:
    return [
        sa.Column('org_id', sa.String(length=64), nullable=False),
        sa.Column('unit_id', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f(f'fk_{table}_org_id_organizations'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f(f'fk_{table}_unit_id_units'),
                                ondelete='CASCADE'),
    ]


def upgrade() -> None:
    op.create_table(
        'field_mappings',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('source_field', sa.String(length=200), nullable=False),
        sa.Column('property', sa.String(length=200), nullable=False),
        sa.Column('update_behavior', sa.String(length=20), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        *_tenant_columns('field_mappings'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_field_mappings')),
    )
    op.create_index('ix_field_mappings_unit_kind', 'field_mappings', ['unit_id', 'kind'])
    op.create_table(
        'fit_rulesets',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('is_primary', sa.Boolean(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        *_tenant_columns('fit_rulesets'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_fit_rulesets')),
        sa.UniqueConstraint('unit_id', 'kind', 'name', name=op.f('uq_fit_rulesets_unit_id_kind_name')),
    )
    op.create_table(
        'fit_rules',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('ruleset_id', sa.String(length=64), nullable=False),
        sa.Column('property', sa.String(length=200), nullable=False),
        sa.Column('condition', sa.String(length=20), nullable=False),
        sa.Column('comparison_value', sa.String(length=1000), nullable=False),
        sa.Column('weight', BigInt, nullable=False),
        sa.Column('ui_order', sa.Integer(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        *_tenant_columns('fit_rules'),
        sa.ForeignKeyConstraint(['ruleset_id'], ['fit_rulesets.id'], name=op.f('fk_fit_rules_ruleset_id_fit_rulesets'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_fit_rules')),
    )
    op.create_index('ix_fit_rules_unit_ruleset', 'fit_rules', ['unit_id', 'ruleset_id'])
    op.create_table(
        'fit_levels',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('min_score', BigInt, nullable=False),
        sa.Column('max_score', BigInt, nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        *_tenant_columns('fit_levels'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_fit_levels')),
        sa.UniqueConstraint('unit_id', 'kind', 'name', name=op.f('uq_fit_levels_unit_id_kind_name')),
    )
    op.create_table(
        'lead_erasures',
        sa.Column('lead_id', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('requested_at', UTCDateTime(), nullable=False),
        sa.Column('requested_by', sa.String(length=200), nullable=True),
        sa.Column('completed_at', UTCDateTime(), nullable=True),
        *_tenant_columns('lead_erasures'),
        sa.PrimaryKeyConstraint('lead_id', name=op.f('pk_lead_erasures')),
    )
    op.create_index('ix_lead_erasures_status', 'lead_erasures', ['status'])
    for table in ('leads', 'accounts'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('fit_score', BigInt, server_default='0', nullable=False))
            batch.add_column(sa.Column('fit_scores', JSONType, server_default='{}', nullable=False))
            batch.create_index(f'ix_{table}_unit_fit_score', ['unit_id', 'fit_score'])
    _baseline_profile_events()


def _baseline_profile_events() -> None:
    """One system event per lead and per account whose profile (metadata) is not empty: the profile as it is."""
    bind = op.get_bind()
    meta = sa.MetaData()
    events = sa.Table(
        'events', meta,
        sa.Column('id', sa.String(64)), sa.Column('org_id', sa.String(64)), sa.Column('unit_id', sa.String(64)),
        sa.Column('lead_id', sa.String(64)), sa.Column('account_id', sa.String(64)),
        sa.Column('event_type', sa.String(200)), sa.Column('source', sa.String(200)),
        sa.Column('channel', sa.String(32)), sa.Column('occurred_at', UTCDateTime()),
        sa.Column('received_at', UTCDateTime()), sa.Column('metadata', JSONType),
        sa.Column('score_delta', BigInt), sa.Column('explanation', JSONType),
    )
    now = datetime.now(UTC)
    for table, event_type, owner in (('leads', _LEAD_PROFILE_EVENT, 'lead_id'),
                                     ('accounts', _ACCOUNT_PROFILE_EVENT, 'account_id')):
        source = sa.Table(
            table, meta, sa.Column('id', sa.String(64)), sa.Column('org_id', sa.String(64)),
            sa.Column('unit_id', sa.String(64)), sa.Column('metadata', JSONType),
            sa.Column('updated_at', UTCDateTime()), extend_existing=True,
        )
        after = ''
        while True:
            rows = bind.execute(
                sa.select(source.c.id, source.c.org_id, source.c.unit_id, source.c.metadata, source.c.updated_at)
                .where(source.c.id > after).order_by(source.c.id).limit(_BATCH)
            ).all()
            if not rows:
                break
            after = rows[-1][0]
            batch = [
                {
                    'id': new_id('ev'), 'org_id': org_id, 'unit_id': unit_id,
                    'lead_id': row_id if owner == 'lead_id' else None,
                    'account_id': row_id if owner == 'account_id' else None,
                    'event_type': event_type, 'source': 'profile', 'channel': 'system',
                    'occurred_at': updated_at or now, 'received_at': now,
                    'metadata': {'set': dict(metadata), 'replace': True, 'via': 'baseline'},
                    'score_delta': 0, 'explanation': {},
                }
                for row_id, org_id, unit_id, metadata, updated_at in rows
                if metadata
            ]
            if batch:
                bind.execute(events.insert(), batch)


def downgrade() -> None:
    op.execute(sa.text(
        f"DELETE FROM events WHERE event_type IN ('{_LEAD_PROFILE_EVENT}', '{_ACCOUNT_PROFILE_EVENT}')"
    ))
    for table in ('accounts', 'leads'):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f'ix_{table}_unit_fit_score')
            batch.drop_column('fit_scores')
            batch.drop_column('fit_score')
    op.drop_index('ix_lead_erasures_status', table_name='lead_erasures')
    op.drop_table('lead_erasures')
    op.drop_table('fit_levels')
    op.drop_index('ix_fit_rules_unit_ruleset', table_name='fit_rules')
    op.drop_table('fit_rules')
    op.drop_table('fit_rulesets')
    op.drop_index('ix_field_mappings_unit_kind', table_name='field_mappings')
    op.drop_table('field_mappings')
