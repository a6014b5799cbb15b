"""the query log says whether a search found a good answer

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06

``query_log.answered``: whether a hit cleared the relevance bar (``kb.search.relevance``, issue 17),
so that insights count searches with no good answer, not only those with no result at all. Rows
logged before this revision have none (NULL); insights count them as unanswered only when they had
no result.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('query_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('answered', sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('query_log', schema=None) as batch_op:
        batch_op.drop_column('answered')
