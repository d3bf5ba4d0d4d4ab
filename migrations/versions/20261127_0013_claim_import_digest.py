"""claim: digest of the portfolio row it was last imported from

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27 06:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('claim') as batch:
        batch.add_column(sa.Column('import_digest', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('claim') as batch:
        batch.drop_column('import_digest')
