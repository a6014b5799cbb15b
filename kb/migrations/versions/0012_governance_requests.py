"""separation of duties: changes to safeguards and roles wait for a second person

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05

``governance_request`` holds a change to a space's safeguards (four-eyes off, public community on),
to its owners, or to a global role, until a second entitled person approves or refuses it (issue 16).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kb.db

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('governance_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('target', sa.String(length=64), nullable=False),
    sa.Column('change', sa.JSON(), nullable=False),
    sa.Column('requested_by', sa.Integer(), nullable=False),
    sa.Column('requested_at', kb.db.UTCDateTime(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('decided_at', kb.db.UTCDateTime(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['decided_by'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['requested_by'], ['user_account.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('governance_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_governance_request_requested_by'), ['requested_by'], unique=False)
        batch_op.create_index(batch_op.f('ix_governance_request_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_governance_request_target'), ['target'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('governance_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_governance_request_target'))
        batch_op.drop_index(batch_op.f('ix_governance_request_status'))
        batch_op.drop_index(batch_op.f('ix_governance_request_requested_by'))
    op.drop_table('governance_request')
