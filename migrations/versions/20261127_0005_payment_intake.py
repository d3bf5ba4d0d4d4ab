"""payment intake: the files payments are read from, and each payment's bank facts and matching

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 03:04:22.702875
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('payment_import',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('format', sa.String(length=16), nullable=False),
    sa.Column('account', sa.String(length=34), nullable=True),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_import'))
    )
    op.create_table('payment_source',
    sa.Column('payment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('import_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('line', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('debtor_name', sa.String(length=140), nullable=True),
    sa.Column('debtor_iban', sa.String(length=34), nullable=True),
    sa.Column('reference', sa.String(length=140), nullable=True),
    sa.Column('value_on', sa.Date(), nullable=True),
    sa.Column('match_rule', sa.String(length=16), nullable=True),
    sa.Column('matched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('matched_by', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['import_id'], ['payment_import.id'], name=op.f('fk_payment_source_import_id_payment_import')),
    sa.ForeignKeyConstraint(['payment_id'], ['payment.id'], name=op.f('fk_payment_source_payment_id_payment')),
    sa.PrimaryKeyConstraint('payment_id', name=op.f('pk_payment_source'))
    )
    with op.batch_alter_table('payment_source', schema=None) as batch_op:
        batch_op.create_index('ix_payment_source_iban', ['debtor_iban'], unique=False)
        batch_op.create_index('ix_payment_source_import', ['import_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('payment_source', schema=None) as batch_op:
        batch_op.drop_index('ix_payment_source_import')
        batch_op.drop_index('ix_payment_source_iban')

    op.drop_table('payment_source')
    op.drop_table('payment_import')
