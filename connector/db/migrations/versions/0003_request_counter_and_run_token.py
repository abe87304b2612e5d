"""request counter and run token

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 01:20:00.383385
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_seq', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('claimed_seq', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('run_token', sa.String(length=32), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('run_token')
        batch_op.drop_column('claimed_seq')
        batch_op.drop_column('request_seq')

