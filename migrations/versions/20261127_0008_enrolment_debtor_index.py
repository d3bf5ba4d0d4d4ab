"""enrolment: active enrolments by debtor, for the planner's chunks

Revision ID: 0008
Revises: 0002
Create Date: 2026-11-27 03:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_enrolment_active_debtor', 'enrolment', ['debtor_id', 'id'], unique=False,
                    postgresql_where=sa.text('active'), sqlite_where=sa.text('active'))


def downgrade() -> None:
    op.drop_index('ix_enrolment_active_debtor', table_name='enrolment',
                  postgresql_where=sa.text('active'), sqlite_where=sa.text('active'))
