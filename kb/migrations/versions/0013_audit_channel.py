"""every audit event records its channel

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05

``audit_event.channel`` says through which door the actor acted: ``api``, ``web``, ``cli`` or
``system`` (bootstrap and migrations). It is a field of the event's canonical envelope, so it is
hashed and chained like the rest (docs/transparency.md). Events written before this revision keep
no channel (NULL) and their envelope leaves the key out: their hashes, the chain and every signed
tree head stay valid. ``ALTER TABLE … ADD COLUMN`` keeps the append-only triggers in place.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('audit_event', sa.Column('channel', sa.String(length=16), nullable=True))


def downgrade() -> None:
    # Dropping the column would change the hash of every event written since: refuse, as for any rewrite.
    raise RuntimeError("0013 cannot be downgraded: events written since record their channel in their hash")
