"""a reader's report names the version it was about

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07

A report (wrong, outdated) is about the version served when it was made. Who may close it is decided
against that version's writers (four eyes: not the person whose text is reported), and the
``flag.create`` that made it commits to it, so ``kb audit verify`` names a report moved to another
version. Reports made before this revision have none and are decided against the served version.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade() -> None:
    columns = {column["name"] for column in sa.inspect(op.get_bind()).get_columns('review_request')}
    if 'version_id' in columns:
        return  # a revision stamp rewound by hand (tests/test_taxonomy.py does, as an insider could): nothing to add
    with op.batch_alter_table('review_request') as batch:
        batch.add_column(sa.Column('version_id', sa.Integer(), sa.ForeignKey('document_version.id', name='fk_review_request_version'),
                                   nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('review_request') as batch:
        batch.drop_column('version_id')
