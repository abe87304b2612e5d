"""stock drift: each difference the inventory sync found, with its first sighting

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 06:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'stock_drift',
        sa.Column('site', sa.String(length=50), nullable=False),
        sa.Column('part', sa.String(length=200), nullable=False),
        sa.Column('sku', sa.String(length=200), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('first_seen', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen', sa.DateTime(timezone=True), nullable=False),
        sa.Column('difference', sa.Float(), nullable=True),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('site', 'part', 'sku'),
    )


def downgrade() -> None:
    op.drop_table('stock_drift')
