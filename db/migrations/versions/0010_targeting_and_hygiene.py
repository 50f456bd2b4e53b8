"""Targeting and clean data: segments and their rules, inorganic (bot) filters with the quarantine they put on
events, the unit's surge policy and the per-event surge multiplier, per-unit event-type settings (hidden, processing
scope), the bot user-agent switch in the scoring settings, and daily event counts for analytics (backfilled from
the log).

A unit without a surge policy row has surge off (services.scoring.surge), so an upgrade moves no stored score.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 00:50:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from db.types import BigInt, JSONType, UTCDateTime

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

def _tenant_columns(table: str) -> list[Any]:
    return [
        sa.Column('org_id', sa.String(length=64), nullable=False),
        sa.Column('unit_id', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f(f'fk_{table}_org_id_organizations'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f(f'fk_{table}_unit_id_units'),
                                ondelete='CASCADE'),
    ]


def _authored() -> list[Any]:
    return [
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.Column('created_by', sa.String(length=200), nullable=True),
        sa.Column('updated_by', sa.String(length=200), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        'segments',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('active', sa.Boolean(), nullable=False),
        *_authored(),
        *_tenant_columns('segments'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_segments')),
        sa.UniqueConstraint('unit_id', 'name', name=op.f('uq_segments_unit_id_name')),
    )
    op.create_table(
        'segment_rules',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('segment_id', sa.String(length=64), nullable=False),
        sa.Column('rule_name', sa.String(length=200), nullable=True),
        sa.Column('rule_type', sa.String(length=20), nullable=False),
        sa.Column('field_name', sa.String(length=200), nullable=False),
        sa.Column('operator', sa.String(length=20), nullable=False),
        sa.Column('value', sa.Text(), nullable=True),
        sa.Column('event_type', sa.String(length=200), nullable=True),
        sa.Column('within_days', sa.Integer(), nullable=True),
        sa.Column('logic_group', sa.Integer(), nullable=False),
        sa.Column('logic_op', sa.String(length=3), nullable=False),
        sa.Column('order_index', sa.Integer(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        *_authored(),
        *_tenant_columns('segment_rules'),
        sa.ForeignKeyConstraint(['segment_id'], ['segments.id'], name=op.f('fk_segment_rules_segment_id_segments'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_segment_rules')),
    )
    op.create_index('ix_segment_rules_segment', 'segment_rules', ['segment_id', 'order_index'])
    op.create_table(
        'inorganic_filters',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('event_type', sa.String(length=200), nullable=False),
        sa.Column('count_threshold', sa.Integer(), nullable=False),
        sa.Column('time_window_ms', BigInt, nullable=False),
        sa.Column('group_events', sa.Boolean(), nullable=False),
        *_authored(),
        *_tenant_columns('inorganic_filters'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_inorganic_filters')),
    )
    op.create_index('ix_inorganic_filters_unit', 'inorganic_filters', ['unit_id'])
    op.create_table(
        'surge_policies',
        sa.Column('unit_id', sa.String(length=64), nullable=False),
        sa.Column('org_id', sa.String(length=64), nullable=False),
        sa.Column('mode', sa.String(length=10), nullable=False),
        sa.Column('bands', JSONType, nullable=False),
        sa.Column('idle_reset_seconds', sa.Integer(), nullable=False),
        sa.Column('multiplier_cap', sa.Float(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.Column('updated_by', sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_surge_policies_org_id_organizations'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_surge_policies_unit_id_units'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('unit_id', name=op.f('pk_surge_policies')),
    )
    op.create_table(
        'event_type_settings',
        sa.Column('unit_id', sa.String(length=64), nullable=False),
        sa.Column('event_type', sa.String(length=200), nullable=False),
        sa.Column('org_id', sa.String(length=64), nullable=False),
        sa.Column('hidden', sa.Boolean(), nullable=False),
        sa.Column('max_processing_scope', sa.String(length=10), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.Column('updated_by', sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(['org_id'], ['organizations.id'],
                                name=op.f('fk_event_type_settings_org_id_organizations'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_event_type_settings_unit_id_units'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('unit_id', 'event_type', name=op.f('pk_event_type_settings')),
    )
    op.create_table(
        'event_counts_daily',
        sa.Column('unit_id', sa.String(length=64), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('event_type', sa.String(length=200), nullable=False),
        sa.Column('channel', sa.String(length=32), nullable=False),
        sa.Column('org_id', sa.String(length=64), nullable=False),
        sa.Column('events', BigInt, nullable=False),
        sa.ForeignKeyConstraint(['org_id'], ['organizations.id'],
                                name=op.f('fk_event_counts_daily_org_id_organizations'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_event_counts_daily_unit_id_units'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('unit_id', 'day', 'event_type', 'channel', name=op.f('pk_event_counts_daily')),
    )
    with op.batch_alter_table('scoring_settings') as batch:
        batch.add_column(sa.Column('bot_filter_enabled', sa.Boolean(), nullable=False, server_default=sa.false()))
    # Derived by scoring (core.quarantine, core.surge) and rewritten by every replay: which filter holds the event
    # back and why, and the surge multiplier in thousandths (NULL: none, i.e. 1.0).
    with op.batch_alter_table('events') as batch:
        batch.add_column(sa.Column('quarantine_filter_id', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('quarantine_reason', sa.String(length=300), nullable=True))
        batch.add_column(sa.Column('surge_milli', sa.Integer(), nullable=True))
    # A lead's events around a moment: the context that decides a new event's quarantine and surge at ingest.
    op.create_index('ix_events_unit_lead_occurred', 'events', ['unit_id', 'lead_id', 'occurred_at'])
    op.create_index('ix_events_unit_quarantined', 'events', ['unit_id', 'seq'],
                    sqlite_where=sa.text('quarantine_filter_id IS NOT NULL'),
                    postgresql_where=sa.text('quarantine_filter_id IS NOT NULL'))
    bind = op.get_bind()
    day = "date(occurred_at)" if bind.dialect.name == "sqlite" else "(occurred_at AT TIME ZONE 'UTC')::date"
    op.execute(sa.text(
        "INSERT INTO event_counts_daily (unit_id, day, event_type, channel, org_id, events) "
        f"SELECT unit_id, {day}, event_type, channel, MIN(org_id), COUNT(*) FROM events "
        "WHERE event_type NOT IN ('PROFILE_UPDATE', 'ACCOUNT_PROFILE_UPDATE') "  # core.profile's types: no activity
        f"GROUP BY unit_id, {day}, event_type, channel"
    ))


def downgrade() -> None:
    op.drop_index('ix_events_unit_quarantined', table_name='events')
    op.drop_index('ix_events_unit_lead_occurred', table_name='events')
    with op.batch_alter_table('events') as batch:
        batch.drop_column('surge_milli')
        batch.drop_column('quarantine_reason')
        batch.drop_column('quarantine_filter_id')
    with op.batch_alter_table('scoring_settings') as batch:
        batch.drop_column('bot_filter_enabled')
    op.drop_table('event_counts_daily')
    op.drop_table('event_type_settings')
    op.drop_table('surge_policies')
    op.drop_index('ix_inorganic_filters_unit', table_name='inorganic_filters')
    op.drop_table('inorganic_filters')
    op.drop_index('ix_segment_rules_segment', table_name='segment_rules')
    op.drop_table('segment_rules')
    op.drop_table('segments')
