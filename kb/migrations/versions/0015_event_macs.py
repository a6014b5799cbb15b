"""kb authenticates the audit events it writes

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05

``audit_event.mac`` is the HMAC-SHA256 of the event's hash under the event key, a secret in a file
outside the database (``KB_EVENT_KEY_FILE``, default ``<data dir>/event-key``). Whoever can write
the database but not read that file cannot append an event that kb will accept, sign a tree head
over or serve a receipt for (issue 16: a forged INSERT). Not part of the envelope: leaves, chain
hashes and signed heads are unchanged. Events written before this revision have none; the first
event after the upgrade of a database that has events is ``audit.macs_begin``, by kb, naming the
first authenticated sequence number (``kb.migrations.upgrade``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('audit_event', sa.Column('mac', sa.String(length=64), nullable=True))


def downgrade() -> None:
    raise RuntimeError("0015 cannot be downgraded: the events' authentication would be lost")
