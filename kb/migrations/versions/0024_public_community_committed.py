"""the log commits to when a public community opened: no schema change, a baseline for spaces recorded before

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07

From this revision on, a space's safeguards (``kb.accounts.commitments.safeguards``) carry
``public_community_since`` while its community is public, and ``kb audit verify`` compares it with the
row: /public serves only the comments written since, so moving it back outside kb would publish
comments written as internal. No table changes; a database that crosses this revision gets the
commitment for each space whose community is public then (``kb.migrations.community_baseline``).
"""

from __future__ import annotations

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # the baseline is recorded by kb.migrations.upgrade, which has the log's signing key and actor


def downgrade() -> None:
    pass
