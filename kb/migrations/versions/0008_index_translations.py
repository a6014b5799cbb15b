"""index translations

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23

The public search looks up the translations of every page of hits (``translation_of_id IN …``);
without an index that was a scan of the document table per query (at 94k documents, most of the
public search's time under load: docs/benchmarks.md).
"""

from __future__ import annotations

from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_document_translation_of_id'), ['translation_of_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_document_translation_of_id'))
