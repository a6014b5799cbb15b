"""display names unique after Unicode confusable folding

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05

``user_account.display_name_key`` holds the UTS #39 confusables skeleton of each display name
(``kb.accounts.names.display_name_key``) under a unique constraint, so that no two people are shown
under names a reader cannot tell apart (issue 16). Existing users keep their names, oldest first; a
newer user whose name collides with an older one's gets its username appended — "Otto Owner" becomes
"Otto Owner (adam2)" — and the rename is printed. The downgrade drops the key and keeps the names.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kb.accounts.names import display_name_key

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('display_name_key', sa.String(length=1000), nullable=True))
    user = sa.table('user_account', sa.column('id', sa.Integer()), sa.column('username', sa.String()),
                    sa.column('display_name', sa.String()), sa.column('display_name_key', sa.String()),
                    sa.column('created_at', sa.DateTime()))
    connection = op.get_bind()
    rows = connection.execute(sa.select(user.c.id, user.c.username, user.c.display_name)
                              .order_by(user.c.created_at, user.c.id)).all()
    taken: set[str] = set()
    for user_id, username, display_name in rows:
        key = display_name_key(display_name)
        if key in taken:
            renamed = f"{display_name[:200 - len(username) - 3]} ({username})"
            key = display_name_key(renamed)
            if key in taken:
                raise RuntimeError(f"Cannot give {username!r} a display name distinct from the others: rename it first")
            print(f"display name of {username!r} changed from {display_name!r} to {renamed!r}: "  # noqa: T201
                  f"an older user's name cannot be told apart from it")
            display_name = renamed
        taken.add(key)
        connection.execute(user.update().where(user.c.id == user_id)
                           .values(display_name=display_name, display_name_key=key))
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.alter_column('display_name_key', existing_type=sa.String(length=1000), nullable=False)
        batch_op.create_unique_constraint('uq_user_display_name_key', ['display_name_key'])


def downgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_constraint('uq_user_display_name_key', type_='unique')
        batch_op.drop_column('display_name_key')
