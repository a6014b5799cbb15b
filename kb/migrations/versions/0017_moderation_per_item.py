"""moderation per item: what hid a post, and flags open until a moderator decides

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06

``comment``, ``question`` and ``answer`` get ``hidden_by`` (``flags``: hidden automatically by open
flags, awaiting a moderator; ``moderator``; null while visible) and ``hidden_reason`` (the
moderator's), so that a dismissal never shows again what a moderator hid and the author is told
truthfully what hid the post (issue 17, docs/moderation.md).

Flags stay ``open`` until a moderator decides, then become ``upheld`` or ``dismissed``. Before this
revision a flag that hid its post, or was on a post a moderator hid, said ``hidden`` (unresolved) and
a restore said ``restored``. The upgrade reads the audit log, the record of who hid what: a hidden post
whose last moderation event is ``moderation.hide`` was hidden by a moderator (with that event's
reason; its ``hidden`` flags were decided: ``upheld``); any other hidden post was hidden by its flags
(its ``hidden`` flags are ``open``: they wait for a moderator, as the post does). ``restored`` flags
become ``dismissed``, what a restore now makes them.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

POSTS = ("comment", "question", "answer")


def upgrade() -> None:
    for table in POSTS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('hidden_by', sa.String(length=16), nullable=True))
            batch_op.add_column(sa.Column('hidden_reason', sa.Text(), nullable=True))
    connection = op.get_bind()
    last_decision: dict[tuple[str, str], tuple[str, str | None]] = {}
    for object_type, object_id, action, payload in connection.execute(sa.text(
            "SELECT object_type, object_id, action, payload FROM audit_event "
            "WHERE action IN ('moderation.hide', 'moderation.restore', 'moderation.dismiss') ORDER BY seq")):
        last_decision[(object_type, object_id)] = (action, json.loads(payload).get("reason"))
    for table in POSTS:
        hidden = [row[0] for row in connection.execute(sa.text(f"SELECT id FROM {table} WHERE hidden"))]  # noqa: S608
        for post_id in hidden:
            action, reason = last_decision.get((table, str(post_id)), ("", None))
            by_moderator = action == "moderation.hide"
            connection.execute(sa.text(f"UPDATE {table} SET hidden_by = :by, hidden_reason = :reason WHERE id = :id"),  # noqa: S608
                               {"by": "moderator" if by_moderator else "flags", "reason": reason if by_moderator else None,
                                "id": post_id})
            connection.execute(sa.text("UPDATE flag SET status = :status WHERE target_kind = :kind AND target_id = :id "
                                       "AND status = 'hidden'"),
                               {"status": "upheld" if by_moderator else "open", "kind": table, "id": post_id})
    connection.execute(sa.text("UPDATE flag SET status = 'open' WHERE status = 'hidden'"))
    connection.execute(sa.text("UPDATE flag SET status = 'dismissed' WHERE status = 'restored'"))


def downgrade() -> None:
    # Open flags on a hidden post and upheld ones were 'hidden' before; a restore and a dismissal are one
    # status now, and both stay 'dismissed'.
    connection = op.get_bind()
    connection.execute(sa.text("UPDATE flag SET status = 'hidden' WHERE status = 'upheld' OR (status = 'open' AND ("
                               "EXISTS (SELECT 1 FROM comment WHERE flag.target_kind = 'comment' AND comment.id = flag.target_id "
                               "AND comment.hidden) OR EXISTS (SELECT 1 FROM question WHERE flag.target_kind = 'question' "
                               "AND question.id = flag.target_id AND question.hidden) OR EXISTS (SELECT 1 FROM answer "
                               "WHERE flag.target_kind = 'answer' AND answer.id = flag.target_id AND answer.hidden)))"))
    for table in POSTS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('hidden_reason')
            batch_op.drop_column('hidden_by')
