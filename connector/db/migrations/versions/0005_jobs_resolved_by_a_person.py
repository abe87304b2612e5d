"""jobs resolved or ignored by a person

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 01:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resolved_by', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('resolution_note', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('resolution_note')
        batch_op.drop_column('resolved_at')
        batch_op.drop_column('resolved_by')
