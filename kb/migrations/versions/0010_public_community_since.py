"""when a space opted in to public community content

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05

``space.public_community_since`` records when a space last opted in: /public serves only comments
written at or after it, whose authors were told at the time that they would be shown publicly
(issue 16). A space that had opted in before this migration is treated as opting in now, so every
comment written before it stays internal.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('space', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_community_since', sa.DateTime(), nullable=True))
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)  # naive UTC, as kb.db.UTCDateTime stores it
    space = sa.table('space', sa.column('public_community', sa.Boolean()), sa.column('public_community_since', sa.DateTime()))
    op.execute(space.update().where(space.c.public_community == sa.true()).values(public_community_since=now))


def downgrade() -> None:
    with op.batch_alter_table('space', schema=None) as batch_op:
        batch_op.drop_column('public_community_since')
