"""reporting: the report_row table, and indexes on action, payment, dossier_event, enrolment,
promise and payment_plan for the rebuild's day slices and the attribution of payments

Revision ID: 0003
Revises: 0006
Create Date: 2026-11-27 03:02:49.623588
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('report_row',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('creditor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('campaign_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('scenario', sa.String(length=64), nullable=False),
    sa.Column('step', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('variant', sa.String(length=16), nullable=False),
    sa.Column('dossiers', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('amount_placed', sa.Numeric(14, 2), nullable=False),
    sa.Column('actions_attempted', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('actions_sent', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('actions_delivered', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('actions_failed', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('sms_segments', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('letter_pages', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('call_attempts', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('right_party_contacts', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('agent_minutes', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('promises_made', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('promises_amount', sa.Numeric(14, 2), nullable=False),
    sa.Column('promises_due', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('promises_kept', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('plans_agreed', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('plans_amount', sa.Numeric(14, 2), nullable=False),
    sa.Column('payments', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('collected', sa.Numeric(14, 2), nullable=False),
    sa.Column('fees_earned', sa.Numeric(14, 2), nullable=False),
    sa.Column('cost_messages', sa.Numeric(14, 2), nullable=False),
    sa.Column('cost_agents', sa.Numeric(14, 2), nullable=False),
    sa.Column('refreshed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_report_row_campaign_id_campaign')),
    sa.ForeignKeyConstraint(['creditor_id'], ['creditor.id'], name=op.f('fk_report_row_creditor_id_creditor')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_row'))
    )
    with op.batch_alter_table('report_row', schema=None) as batch_op:
        batch_op.create_index('ix_report_row_campaign', ['campaign_id', 'day'], unique=False)
        batch_op.create_index('ix_report_row_day', ['day'], unique=False)

    with op.batch_alter_table('action', schema=None) as batch_op:
        batch_op.create_index('ix_action_report_attribution', ['dossier_id', 'sent_at', 'id'], unique=False)
        batch_op.create_index('ix_action_report_sending', ['sending_at'], unique=False)
        batch_op.create_index('ix_action_report_updated', ['updated_at'], unique=False)

    with op.batch_alter_table('dossier_event', schema=None) as batch_op:
        batch_op.create_index('ix_dossier_event_report_kind', ['kind', 'occurred_at'], unique=False)

    with op.batch_alter_table('enrolment', schema=None) as batch_op:
        batch_op.create_index('ix_enrolment_report_dossier', ['dossier_id', 'enrolled_at', 'id'], unique=False)
        batch_op.create_index('ix_enrolment_report_enrolled', ['enrolled_at'], unique=False)

    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.create_index('ix_payment_report_received', ['received_on'], unique=False)

    with op.batch_alter_table('payment_plan', schema=None) as batch_op:
        batch_op.create_index('ix_payment_plan_report_agreed', ['agreed_on'], unique=False)

    with op.batch_alter_table('promise', schema=None) as batch_op:
        batch_op.create_index('ix_promise_report_due', ['due_on'], unique=False)
        batch_op.create_index('ix_promise_report_made', ['made_on'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('promise', schema=None) as batch_op:
        batch_op.drop_index('ix_promise_report_made')
        batch_op.drop_index('ix_promise_report_due')

    with op.batch_alter_table('payment_plan', schema=None) as batch_op:
        batch_op.drop_index('ix_payment_plan_report_agreed')

    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.drop_index('ix_payment_report_received')

    with op.batch_alter_table('enrolment', schema=None) as batch_op:
        batch_op.drop_index('ix_enrolment_report_enrolled')
        batch_op.drop_index('ix_enrolment_report_dossier')

    with op.batch_alter_table('dossier_event', schema=None) as batch_op:
        batch_op.drop_index('ix_dossier_event_report_kind')

    with op.batch_alter_table('action', schema=None) as batch_op:
        batch_op.drop_index('ix_action_report_updated')
        batch_op.drop_index('ix_action_report_sending')
        batch_op.drop_index('ix_action_report_attribution')

    with op.batch_alter_table('report_row', schema=None) as batch_op:
        batch_op.drop_index('ix_report_row_day')
        batch_op.drop_index('ix_report_row_campaign')

    op.drop_table('report_row')
