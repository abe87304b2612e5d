"""jobs wait for jobs

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 03:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('waits_for', sa.String(length=200), nullable=True))
        batch_op.create_index(batch_op.f('ix_jobs_waits_for'), ['waits_for'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jobs_waits_for'))
        batch_op.drop_column('waits_for')
