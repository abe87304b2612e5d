"""jobs: ShipBob ids as a JSON list (shipbob_refs), not a comma-joined string

A split order's push held its ShipBob order ids comma-joined in
`shipbob_ref`; `shipbob_refs` holds them as a list (["101", "102"]), so an
item is found by membership, not by matching commas. Every row is converted,
both ways.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 04:00:00
"""
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

OLD_LENGTH = 200  # jobs.shipbob_ref was String(200)
_BATCH = 5000

_jobs = sa.table(
    'jobs',
    sa.column('id', sa.Integer()),
    sa.column('shipbob_ref', sa.String(length=OLD_LENGTH)),
    sa.column('shipbob_refs', sa.JSON()),
)


def split_refs(joined: str | None) -> list[str]:
    """"101,102" -> ["101", "102"]; None or "" -> []."""
    return [part.strip() for part in (joined or '').split(',') if part.strip()]


def join_refs(refs: Sequence[Any] | None) -> str | None:
    """["101", "102"] -> "101,102"; [] or None -> None."""
    return ','.join(str(ref) for ref in refs or ()) or None


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shipbob_refs', sa.JSON(), nullable=True))
    conn = op.get_bind()
    for rows in _batches(conn, _jobs.c.shipbob_ref):
        conn.execute(_update_by_id('shipbob_refs'),
                     [{'job_id': job_id, 'value': split_refs(joined)} for job_id, joined in rows])
    conn.execute(_jobs.update().where(_jobs.c.shipbob_refs.is_(None)).values(shipbob_refs=[]))
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.alter_column('shipbob_refs', existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column('shipbob_ref')


def downgrade() -> None:
    conn = op.get_bind()
    # Checked before anything changes: the old column cannot hold every list.
    too_long = [job_id for rows in _batches(conn, _jobs.c.shipbob_refs) for job_id, refs in rows
                if len(join_refs(refs) or '') > OLD_LENGTH]
    if too_long:
        raise RuntimeError(f"cannot downgrade: the ShipBob ids of job(s) {too_long[:20]} do not fit the "
                           f"old {OLD_LENGTH}-character jobs.shipbob_ref; nothing was changed")
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shipbob_ref', sa.String(length=OLD_LENGTH), nullable=True))
    for rows in _batches(conn, _jobs.c.shipbob_refs):
        conn.execute(_update_by_id('shipbob_ref'),
                     [{'job_id': job_id, 'value': join_refs(refs)} for job_id, refs in rows])
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('shipbob_refs')


def _batches(conn: sa.Connection, column: sa.ColumnClause[Any]) -> Iterator[list[tuple[int, Any]]]:
    """(id, value) of the rows with a value in `column`, _BATCH rows at a time."""
    last = 0
    while True:
        rows = [(row[0], row[1]) for row in conn.execute(
            sa.select(_jobs.c.id, column).where(_jobs.c.id > last, column.isnot(None))
            .order_by(_jobs.c.id).limit(_BATCH))]
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _update_by_id(column: str) -> sa.Update:
    return _jobs.update().where(_jobs.c.id == sa.bindparam('job_id')).values({column: sa.bindparam('value')})
