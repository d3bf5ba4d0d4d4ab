"""action: the dispatch index ends with the id, so a claim reads its batch in index order

The dispatcher claims the planned actions of a channel oldest `not_before` first, then by id.
Indexed on (status, channel, not_before) only, every claim read and sorted all the channel's
planned actions to keep 500 of them: at a million enrolments a day of claims read millions of
rows. With the id in the index the claim stops after its batch.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27 05:50:00
"""
from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_action_dispatch', table_name='action')
    op.create_index('ix_action_dispatch', 'action', ['status', 'channel', 'not_before', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_action_dispatch', table_name='action')
    op.create_index('ix_action_dispatch', 'action', ['status', 'channel', 'not_before'], unique=False)
