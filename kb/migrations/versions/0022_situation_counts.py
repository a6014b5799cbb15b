"""citizens' situation picks on "what applies to me", as anonymous counts per day

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05

Issue 20. ``situation_count``: per day, set of situations picked (sorted JSON concept ids), language
and number of pages that applied, how many visits picked exactly that. No time of day, no address,
no question text: the owners' insights read which situations citizens pick and where no approved
page applies.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('situation_count',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('situations', sa.String(length=1000), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('results', sa.Integer(), nullable=False),
    sa.Column('picks', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('day', 'situations', 'language', 'results', name='uq_situation_count')
    )
    op.create_index(op.f('ix_situation_count_day'), 'situation_count', ['day'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_situation_count_day'), table_name='situation_count')
    op.drop_table('situation_count')
