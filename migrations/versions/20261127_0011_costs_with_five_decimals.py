"""action.cost and report_row.cost_messages with five decimals

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 05:57:33

An email costs about a tenth of a cent: at two decimals every email cost 0.00 and an SMS segment
(0.045) 0.05, so the reports' cost to collect and rentability were wrong. Costs already recorded
keep their rounded value; the reporting table is rebuilt from the outbox by `relance report refresh --full`.
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('action', schema=None) as batch_op:
        batch_op.alter_column('cost',
               existing_type=sa.NUMERIC(precision=14, scale=2),
               type_=sa.Numeric(14, 5),
               existing_nullable=False)

    with op.batch_alter_table('report_row', schema=None) as batch_op:
        batch_op.alter_column('cost_messages',
               existing_type=sa.NUMERIC(precision=14, scale=2),
               type_=sa.Numeric(14, 5),
               existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('report_row', schema=None) as batch_op:
        batch_op.alter_column('cost_messages',
               existing_type=sa.Numeric(14, 5),
               type_=sa.NUMERIC(precision=14, scale=2),
               existing_nullable=False)

    with op.batch_alter_table('action', schema=None) as batch_op:
        batch_op.alter_column('cost',
               existing_type=sa.Numeric(14, 5),
               type_=sa.NUMERIC(precision=14, scale=2),
               existing_nullable=False)
