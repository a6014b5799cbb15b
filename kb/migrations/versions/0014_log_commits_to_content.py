"""the audit log commits to what readers are served

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05

No table changes. From this revision on, every event that changes a document version, a space's
safeguards or a person's standing carries its commitment (docs/audit.md, "What the log commits
to"), and ``kb audit verify`` compares the database with it. A database that already held events is
given a baseline once, after the schema upgrade, by ``kb.migrations.upgrade``: an ``audit.baseline``
event per object and a ``version.publish`` per public version, then a first signed tree head over
the whole log (``kb.documents.integrity.record_baseline``). That needs the ORM and the signing key,
which an Alembic revision has no business loading; this revision only marks the point.
"""

from __future__ import annotations

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
