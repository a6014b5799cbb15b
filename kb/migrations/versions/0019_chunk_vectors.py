"""each passage's vectors are stored with it, computed once per model

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05

``chunk_vector`` (issue 19): the MiniLM vector of every encoded passage, and the multilingual
vectors of public passages and of their sentences, keyed by chunk, model and position (-1: the
passage). New index slots, rebuilds and ``kb reindex`` read them instead of encoding again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kb.db

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('chunk_vector',
    sa.Column('chunk_id', sa.Integer(), nullable=False),
    sa.Column('model', sa.String(length=200), nullable=False),
    sa.Column('position', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('dimension', sa.Integer(), nullable=False),
    sa.Column('vector', sa.LargeBinary(), nullable=False),
    sa.Column('at', kb.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['chunk_id'], ['document_chunk.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('chunk_id', 'model', 'position')
    )


def downgrade() -> None:
    op.drop_table('chunk_vector')
