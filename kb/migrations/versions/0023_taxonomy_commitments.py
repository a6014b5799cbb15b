"""the log commits to the taxonomy: no schema change, a baseline for taxonomies recorded before

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06

From this revision on, every taxonomy event carries the commitments of the concepts and the scheme
it changed (``kb.taxonomy.commitments``), and ``kb audit verify`` compares them with the rows. No
table changes; a database that crosses this revision with taxonomy events already in its log gets
a baseline then (``kb.migrations.taxonomy_baseline``).
"""

from __future__ import annotations

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # the baseline is recorded by kb.migrations.upgrade, which has the log's signing key and actor


def downgrade() -> None:
    pass
