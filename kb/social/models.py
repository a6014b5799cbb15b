"""Tables of the social layer. Social objects point at documents by id and never change a curated version."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from kb.db import UTCDateTime, utcnow


class FlagReason(StrEnum):
    spam = "spam"
    offensive = "offensive"
    wrong = "wrong"
    outdated = "outdated"
    other = "other"


class FlagStatus(StrEnum):
    """Where a flag stands: ``open`` until a moderator decides on its post (``upheld`` when the post was
    hidden, ``dismissed`` when it was not); ``review_requested``: a document's owners review it instead."""

    open = "open"
    upheld = "upheld"
    dismissed = "dismissed"
    review_requested = "review_requested"


class HiddenBy(StrEnum):
    """What hid a post (docs/moderation.md): its open flags (automatically, awaiting a moderator) or a moderator."""

    flags = "flags"
    moderator = "moderator"


class TargetKind(StrEnum):
    comment = "comment"
    question = "question"
    answer = "answer"
    document = "document"


def _user() -> Column:
    return Column(Integer, ForeignKey("user_account.id"), nullable=False, index=True)


class Comment(SQLModel, table=True):
    __tablename__ = "comment"

    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(sa_column=Column(Integer, ForeignKey("document.id"), nullable=False, index=True))
    version_number: int = Field(description="The version the comment was written on")
    parent_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("comment.id"), nullable=True))
    author_id: int = Field(sa_column=_user())
    body_md: str = Field(sa_column=Column(Text, nullable=False))
    body_html: str = Field(sa_column=Column(Text, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    edited_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    deleted_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    hidden: bool = False
    hidden_by: str | None = Field(default=None, sa_column=Column(String(16), nullable=True),
                                  description="What hid it (HiddenBy); null while it is visible")
    hidden_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True),
                                      description="The moderator's reason, when a moderator hid it")


class CommentEdit(SQLModel, table=True):
    """The text a comment had before an edit: edits are kept."""

    __tablename__ = "comment_edit"

    id: int | None = Field(default=None, primary_key=True)
    comment_id: int = Field(sa_column=Column(Integer, ForeignKey("comment.id"), nullable=False, index=True))
    previous_body_md: str = Field(sa_column=Column(Text, nullable=False))
    edited_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class Rating(SQLModel, table=True):
    __tablename__ = "rating"
    __table_args__ = (UniqueConstraint("document_id", "user_id", name="uq_rating_user"),
                      CheckConstraint("stars BETWEEN 1 AND 5", name="ck_rating_stars"))

    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(sa_column=Column(Integer, ForeignKey("document.id"), nullable=False, index=True))
    user_id: int = Field(sa_column=_user())
    stars: int
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class HitFeedback(SQLModel, table=True):
    """"Did this answer your question?" on a search hit, for analytics (who: only the kind)."""

    __tablename__ = "hit_feedback"

    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(sa_column=Column(Integer, ForeignKey("document.id"), nullable=False, index=True))
    query: str = Field(sa_column=Column(Text, nullable=False))
    helpful: bool
    at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False, index=True))


class Question(SQLModel, table=True):
    __tablename__ = "question"

    id: int | None = Field(default=None, primary_key=True)
    space_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("space.id"), nullable=True))
    title: str = Field(sa_column=Column(String(300), nullable=False))
    body_md: str = Field(sa_column=Column(Text, nullable=False))
    body_html: str = Field(sa_column=Column(Text, nullable=False))
    tags: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    linked_document_ids: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    author_id: int = Field(sa_column=_user())
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    accepted_answer_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    accepted_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    duplicate_of_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("question.id"), nullable=True))
    promoted_document_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("document.id"), nullable=True))
    hidden: bool = False
    hidden_by: str | None = Field(default=None, sa_column=Column(String(16), nullable=True),
                                  description="What hid it (HiddenBy); null while it is visible")
    hidden_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True),
                                      description="The moderator's reason, when a moderator hid it")


class Answer(SQLModel, table=True):
    __tablename__ = "answer"

    id: int | None = Field(default=None, primary_key=True)
    question_id: int = Field(sa_column=Column(Integer, ForeignKey("question.id"), nullable=False, index=True))
    body_md: str = Field(sa_column=Column(Text, nullable=False))
    body_html: str = Field(sa_column=Column(Text, nullable=False))
    author_id: int = Field(sa_column=_user())
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    hidden: bool = False
    hidden_by: str | None = Field(default=None, sa_column=Column(String(16), nullable=True),
                                  description="What hid it (HiddenBy); null while it is visible")
    hidden_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True),
                                      description="The moderator's reason, when a moderator hid it")


class Vote(SQLModel, table=True):
    __tablename__ = "vote"
    __table_args__ = (UniqueConstraint("target_kind", "target_id", "user_id", name="uq_vote_user"),
                      CheckConstraint("value IN (-1, 1)", name="ck_vote_value"))

    id: int | None = Field(default=None, primary_key=True)
    target_kind: str = Field(sa_column=Column(String(16), nullable=False))
    target_id: int
    user_id: int = Field(sa_column=_user())
    value: int
    at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class Flag(SQLModel, table=True):
    __tablename__ = "flag"
    __table_args__ = (UniqueConstraint("target_kind", "target_id", "user_id", name="uq_flag_user"),)

    id: int | None = Field(default=None, primary_key=True)
    target_kind: str = Field(sa_column=Column(String(16), nullable=False, index=True))
    target_id: int
    user_id: int = Field(sa_column=_user())
    reason: str = Field(sa_column=Column(String(16), nullable=False))
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    status: str = Field(default=FlagStatus.open, sa_column=Column(String(24), nullable=False, index=True))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    resolved_by_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("user_account.id"), nullable=True))
    resolved_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    resolution: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
