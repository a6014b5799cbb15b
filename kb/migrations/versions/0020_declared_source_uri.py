"""an imported page's canonical URL is kept as declared by the file

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05

``document_version.declared_source_uri`` (issue 19): the canonical URL an imported HTML page gives
itself, beside the other properties a file declares (title, author, dates). It is the file's claim,
not the source an owner states (``source_uri``). Hashed into the provenance record only when set,
so earlier versions' commitments are unchanged.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('document_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('declared_source_uri', sa.String(length=2000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('document_version', schema=None) as batch_op:
        batch_op.drop_column('declared_source_uri')
