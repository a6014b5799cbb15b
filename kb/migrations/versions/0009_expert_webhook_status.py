"""expert webhook status as text

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05

``expert_request.webhook_status`` was an integer that nothing wrote. The ask-an-expert action now
records what became of the webhook call: ``not_configured``, ``pending`` (the call was under way),
``sent``, or ``failed: …`` with the HTTP status or the error. Existing rows had no value and keep none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('expert_request', schema=None) as batch_op:
        batch_op.alter_column('webhook_status', existing_type=sa.Integer(), type_=sa.String(length=200),
                              existing_nullable=True, postgresql_using='webhook_status::text')


def downgrade() -> None:
    with op.batch_alter_table('expert_request', schema=None) as batch_op:
        batch_op.alter_column('webhook_status', existing_type=sa.String(length=200), type_=sa.Integer(),
                              existing_nullable=True, postgresql_using='NULL')
