"""Console: users, creditor assignments, login failures, audit log; partial indexes of the call queue claim.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 03:16:02.900102
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('app_user',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('role', sa.Enum('agent', 'manager', 'admin', name='role', native_enum=False, length=32), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_user')),
    sa.UniqueConstraint('name', name=op.f('uq_app_user_name'))
    )
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=64), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_at', ['at'], unique=False)

    op.create_table('login_failure',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failure'))
    )
    with op.batch_alter_table('login_failure', schema=None) as batch_op:
        batch_op.create_index('ix_login_failure_ip', ['ip', 'at'], unique=False)
        batch_op.create_index('ix_login_failure_name', ['name', 'at'], unique=False)

    op.create_table('user_creditor',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('creditor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['creditor_id'], ['creditor.id'], name=op.f('fk_user_creditor_creditor_id_creditor')),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_user_creditor_user_id_app_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_creditor')),
    sa.UniqueConstraint('user_id', 'creditor_id', name=op.f('uq_user_creditor_user_id_creditor_id'))
    )
    with op.batch_alter_table('call_task', schema=None) as batch_op:
        batch_op.create_index('ix_call_task_claim', [sa.literal_column('priority DESC'), 'window_end', 'due_at'], unique=False, postgresql_where=sa.text("status = 'open'"), sqlite_where=sa.text("status = 'open'"))
        batch_op.create_index('ix_call_task_lease', ['lease_until'], unique=False, postgresql_where=sa.text("status = 'claimed'"), sqlite_where=sa.text("status = 'claimed'"))

    if op.get_bind().dialect.name == "postgresql":
        # Every claim leaves a dead row version at the head of the queue's indexes: vacuum the
        # queue often (by rows changed, not by a fraction of a table that may hold millions).
        op.execute("alter table call_task set (autovacuum_vacuum_scale_factor = 0, "
                   "autovacuum_vacuum_threshold = 2000, autovacuum_vacuum_cost_delay = 0)")



def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("alter table call_task reset (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold, "
                   "autovacuum_vacuum_cost_delay)")
    with op.batch_alter_table('call_task', schema=None) as batch_op:
        batch_op.drop_index('ix_call_task_lease', postgresql_where=sa.text("status = 'claimed'"), sqlite_where=sa.text("status = 'claimed'"))
        batch_op.drop_index('ix_call_task_claim', postgresql_where=sa.text("status = 'open'"), sqlite_where=sa.text("status = 'open'"))

    op.drop_table('user_creditor')
    with op.batch_alter_table('login_failure', schema=None) as batch_op:
        batch_op.drop_index('ix_login_failure_name')
        batch_op.drop_index('ix_login_failure_ip')

    op.drop_table('login_failure')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_at')

    op.drop_table('audit_log')
    op.drop_table('app_user')
