"""events: index (unit_id, received_at) so a month's usage reads only that month's events

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 16:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_events_unit_received', 'events', ['unit_id', 'received_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_events_unit_received', table_name='events')
