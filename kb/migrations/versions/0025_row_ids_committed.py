"""the log commits to the row ids of versions, documents and spaces: no schema change, a baseline for older commitments

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07

From this revision on, a version's and a document's commitments (``kb.documents.commitments``) and a
space's safeguards (``kb.accounts.commitments.safeguards``) carry the row's ``id``: documents name their
space, their served version and their original by id, so two rows' ids swapped outside kb would move
one document's approved text and approver under another's name with every other committed field intact.
No table changes; a database that crosses this revision gets the ids committed for every object whose
commitment is otherwise as the log has it (``kb.migrations.id_baseline``).
"""

from __future__ import annotations

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # the baseline is recorded by kb.migrations.upgrade, which has the log's signing key and actor


def downgrade() -> None:
    pass
