"""Integrations: the organization's Slack app and each unit's Slack connection (secrets encrypted), single-use OAuth
states, the unit's CRM score sync settings and what each lead last sent, the unit's webhook secret for messages no
trigger sends, contact research jobs and the unit's research rate limit; triggers gain a Slack app target and `hubspot_sync`; deliveries may belong to
no firing (the scheduled CRM sync, research completion webhooks).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 03:20:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from db.types import BigInt, JSONType, UTCDateTime

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _org(table: str) -> list[Any]:
    return [
        sa.Column('org_id', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f(f'fk_{table}_org_id_organizations'),
                                ondelete='CASCADE'),
    ]


def _unit(table: str) -> list[Any]:
    return [
        sa.Column('unit_id', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f(f'fk_{table}_unit_id_units'), ondelete='CASCADE'),
    ]


def upgrade() -> None:
    op.create_table(
        'slack_apps',
        *_org('slack_apps'),
        sa.Column('client_id', sa.String(length=200), nullable=False),
        sa.Column('client_secret_enc', sa.Text(), nullable=True),
        sa.Column('signing_secret_enc', sa.Text(), nullable=True),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.Column('updated_by', sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint('org_id', name=op.f('pk_slack_apps')),
    )
    op.create_table(
        'slack_connections',
        *_unit('slack_connections'),
        *_org('slack_connections'),
        sa.Column('team_id', sa.String(length=64), nullable=False),
        sa.Column('team_name', sa.String(length=200), nullable=True),
        sa.Column('bot_user_id', sa.String(length=64), nullable=True),
        sa.Column('bot_token_enc', sa.Text(), nullable=False),
        sa.Column('scope', sa.Text(), nullable=True),
        sa.Column('default_target_kind', sa.String(length=16), nullable=True),
        sa.Column('default_target_id', sa.String(length=200), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.Column('updated_by', sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint('unit_id', name=op.f('pk_slack_connections')),
    )
    op.create_table(
        'oauth_states',
        sa.Column('state_hash', sa.String(length=64), nullable=False),
        sa.Column('provider', sa.String(length=32), nullable=False),
        *_org('oauth_states'),
        *_unit('oauth_states'),
        sa.Column('created_by', sa.String(length=200), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('expires_at', UTCDateTime(), nullable=False),
        sa.Column('used_at', UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('state_hash', name=op.f('pk_oauth_states')),
    )
    op.create_index('ix_oauth_states_expires', 'oauth_states', ['expires_at'])
    op.create_table(
        'crm_settings',
        *_unit('crm_settings'),
        *_org('crm_settings'),
        sa.Column('provider', sa.String(length=32), nullable=False),
        sa.Column('token_enc', sa.Text(), nullable=True),
        sa.Column('score_property', sa.String(length=200), nullable=False),
        sa.Column('level_property', sa.String(length=200), nullable=True),
        sa.Column('fit_level_property', sa.String(length=200), nullable=True),
        sa.Column('sync_segment_id', sa.String(length=64), nullable=True),
        sa.Column('sync_interval_minutes', sa.Integer(), nullable=True),
        sa.Column('last_sync_at', UTCDateTime(), nullable=True),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.Column('updated_by', sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(['sync_segment_id'], ['segments.id'],
                                name=op.f('fk_crm_settings_sync_segment_id_segments'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('unit_id', name=op.f('pk_crm_settings')),
    )
    op.create_table(
        'crm_synced_leads',
        *_unit('crm_synced_leads'),
        sa.Column('lead_id', sa.String(length=64), nullable=False),
        *_org('crm_synced_leads'),
        sa.Column('score', BigInt, nullable=True),
        sa.Column('level', sa.String(length=200), nullable=True),
        sa.Column('fit_level', sa.String(length=200), nullable=True),
        sa.Column('synced_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_crm_synced_leads_lead_id_leads'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('unit_id', 'lead_id', name=op.f('pk_crm_synced_leads')),
    )
    op.create_table(
        'unit_webhook_secrets',
        *_unit('unit_webhook_secrets'),
        *_org('unit_webhook_secrets'),
        sa.Column('secret', sa.String(length=100), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('unit_id', name=op.f('pk_unit_webhook_secrets')),
    )
    op.create_table(
        'research_requests',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('external_id', sa.String(length=200), nullable=True),
        sa.Column('source', sa.String(length=100), nullable=True),
        sa.Column('webhook_url', sa.String(length=2048), nullable=True),
        sa.Column('request', JSONType, nullable=False),
        sa.Column('result', JSONType, nullable=True),
        sa.Column('lead_id', sa.String(length=64), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('lease_until', UTCDateTime(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.Column('completed_at', UTCDateTime(), nullable=True),
        sa.Column('created_by', sa.String(length=200), nullable=True),
        *_org('research_requests'),
        *_unit('research_requests'),
        sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_research_requests_lead_id_leads'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_research_requests')),
    )
    op.create_index('ix_research_requests_unit_external', 'research_requests', ['unit_id', 'source', 'external_id'])
    op.create_index('ix_research_requests_status_created', 'research_requests', ['status', 'created_at'])
    with op.batch_alter_table('triggers') as batch:
        batch.add_column(sa.Column('slack_target_kind', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('slack_target_id', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('hubspot_sync', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('deliveries') as batch:
        batch.alter_column('firing_id', existing_type=sa.String(length=64), nullable=True)
    with op.batch_alter_table('rate_limit_settings') as batch:
        batch.add_column(sa.Column('research_per_minute', sa.Integer(), nullable=False, server_default='60'))


def downgrade() -> None:
    with op.batch_alter_table('rate_limit_settings') as batch:
        batch.drop_column('research_per_minute')
    op.execute(sa.text("DELETE FROM deliveries WHERE firing_id IS NULL"))
    with op.batch_alter_table('deliveries') as batch:
        batch.alter_column('firing_id', existing_type=sa.String(length=64), nullable=False)
    with op.batch_alter_table('triggers') as batch:
        batch.drop_column('hubspot_sync')
        batch.drop_column('slack_target_id')
        batch.drop_column('slack_target_kind')
    op.drop_index('ix_research_requests_status_created', table_name='research_requests')
    op.drop_index('ix_research_requests_unit_external', table_name='research_requests')
    op.drop_table('research_requests')
    op.drop_table('unit_webhook_secrets')
    op.drop_table('crm_synced_leads')
    op.drop_table('crm_settings')
    op.drop_index('ix_oauth_states_expires', table_name='oauth_states')
    op.drop_table('oauth_states')
    op.drop_table('slack_connections')
    op.drop_table('slack_apps')
