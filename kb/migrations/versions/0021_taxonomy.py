"""a multilingual taxonomy: concept schemes, concepts, labels; versions name the concepts they concern

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05

Issue 20. ``concept_scheme``, ``concept``, ``concept_label``, ``concept_related`` (SKOS), and
``concept_use`` (which version names which concept; a concept in use cannot be deleted). Versions get
three provenance fields, ``applies_to``, ``topic`` and ``region``: sorted JSON lists of concept ids,
null when none, hashed into the provenance record only when set, so earlier versions' commitments
are unchanged.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kb.db

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('concept_scheme',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('uri', sa.String(length=2000), nullable=False),
    sa.Column('field', sa.String(length=16), nullable=False),
    sa.Column('titles', sa.String(length=4000), nullable=False),
    sa.Column('created_at', kb.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint("field IN ('applies_to','topic','region')", name='ck_scheme_field'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key'),
    sa.UniqueConstraint('uri')
    )
    op.create_table('concept',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scheme_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('uri', sa.String(length=2000), nullable=False),
    sa.Column('broader_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('replaced_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', kb.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint("status IN ('active','deprecated')", name='ck_concept_status'),
    sa.CheckConstraint('broader_id IS NULL OR broader_id <> id', name='ck_concept_not_own_parent'),
    sa.ForeignKeyConstraint(['broader_id'], ['concept.id'], ),
    sa.ForeignKeyConstraint(['replaced_by_id'], ['concept.id'], ),
    sa.ForeignKeyConstraint(['scheme_id'], ['concept_scheme.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('scheme_id', 'key', name='uq_concept_key'),
    sa.UniqueConstraint('uri'),
    sqlite_autoincrement=True,
    )
    op.create_index(op.f('ix_concept_broader_id'), 'concept', ['broader_id'], unique=False)
    op.create_index(op.f('ix_concept_scheme_id'), 'concept', ['scheme_id'], unique=False)
    op.create_table('concept_label',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('concept_id', sa.Integer(), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('text', sa.String(length=200), nullable=False),
    sa.CheckConstraint("kind IN ('preferred','alternative')", name='ck_label_kind'),
    sa.ForeignKeyConstraint(['concept_id'], ['concept.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('concept_id', 'language', 'kind', 'text', name='uq_concept_label')
    )
    op.create_index(op.f('ix_concept_label_concept_id'), 'concept_label', ['concept_id'], unique=False)
    op.create_index('uq_concept_preferred_label', 'concept_label', ['concept_id', 'language'], unique=True,
                    sqlite_where=sa.text("kind = 'preferred'"), postgresql_where=sa.text("kind = 'preferred'"))
    op.create_table('concept_related',
    sa.Column('concept_id', sa.Integer(), nullable=False),
    sa.Column('related_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('concept_id < related_id', name='ck_related_ordered'),
    sa.ForeignKeyConstraint(['concept_id'], ['concept.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['related_id'], ['concept.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('concept_id', 'related_id')
    )
    op.create_table('concept_use',
    sa.Column('concept_id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['concept_id'], ['concept.id'], ),
    sa.ForeignKeyConstraint(['version_id'], ['document_version.id'], ),
    sa.PrimaryKeyConstraint('concept_id', 'version_id')
    )
    op.create_index(op.f('ix_concept_use_version_id'), 'concept_use', ['version_id'], unique=False)
    with op.batch_alter_table('document_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('applies_to', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('topic', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('region', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('document_version', schema=None) as batch_op:
        batch_op.drop_column('region')
        batch_op.drop_column('topic')
        batch_op.drop_column('applies_to')
    op.drop_index(op.f('ix_concept_use_version_id'), table_name='concept_use')
    op.drop_table('concept_use')
    op.drop_table('concept_related')
    op.drop_index('uq_concept_preferred_label', table_name='concept_label')
    op.drop_index(op.f('ix_concept_label_concept_id'), table_name='concept_label')
    op.drop_table('concept_label')
    op.drop_index(op.f('ix_concept_scheme_id'), table_name='concept')
    op.drop_index(op.f('ix_concept_broader_id'), table_name='concept')
    op.drop_table('concept')
    op.drop_table('concept_scheme')
