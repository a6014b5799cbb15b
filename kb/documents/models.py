"""Tables of the curated-documents domain: documents, their immutable versions and chunks.

Tables only (the wire shapes are in ``schemas``); imports nothing of kb but the database foundation.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from kb.db import UTCDateTime, utcnow


class VersionState(StrEnum):
    draft = "draft"
    in_review = "in_review"
    approved = "approved"
    superseded = "superseded"
    retired = "retired"
    rejected = "rejected"


class SourceKind(StrEnum):
    authored = "authored"
    imported_file = "imported_file"
    url = "url"
    promoted_answer = "promoted_answer"


class Audience(StrEnum):
    internal = "internal"
    public = "public"


class Document(SQLModel, table=True):
    """A curated document: identity, home space and owner. Its content lives in versions."""

    __tablename__ = "document"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(sa_column=Column(String(120), unique=True, nullable=False, index=True))
    space_id: int = Field(sa_column=Column(Integer, ForeignKey("space.id"), nullable=False, index=True))
    owner_id: int = Field(sa_column=Column(Integer, ForeignKey("user_account.id"), nullable=False))
    created_by_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("user_account.id"), nullable=True))
    translation_of_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("document.id"), nullable=True, index=True))
    current_version_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True, index=True))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class Version(SQLModel, table=True):
    """One version of a document with its provenance record. Immutable once submitted."""

    __tablename__ = "document_version"
    __table_args__ = (
        UniqueConstraint("document_id", "number", name="uq_version_number"),
        # At most one approved version per document, whatever the service does (RELIABILITY T12).
        Index("uq_one_approved_version", "document_id", unique=True,
              sqlite_where=text("state = 'approved'"), postgresql_where=text("state = 'approved'")),
        # Four eyes, enforced by the database as well as by the service.
        CheckConstraint("NOT four_eyes OR approver_id IS NULL OR approver_id <> author_id", name="ck_version_four_eyes"),
        CheckConstraint("state IN ('draft','in_review','approved','superseded','retired','rejected')", name="ck_version_state"),
        CheckConstraint("audience IN ('internal','public')", name="ck_version_audience"),
    )

    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(sa_column=Column(Integer, ForeignKey("document.id"), nullable=False, index=True))
    number: int
    state: VersionState = Field(sa_column=Column(String(16), nullable=False, index=True))
    title: str = Field(sa_column=Column(String(300), nullable=False))
    body_md: str = Field(sa_column=Column(Text, nullable=False))
    body_sha256: str = Field(sa_column=Column(String(64), nullable=False))
    # provenance record
    source_kind: SourceKind = Field(sa_column=Column(String(24), nullable=False))
    source_uri: str | None = Field(default=None, sa_column=Column(String(2000), nullable=True))
    source_sha256: str | None = Field(default=None, sa_column=Column(String(64), nullable=True, index=True))
    source_filename: str | None = Field(default=None, sa_column=Column(String(300), nullable=True))
    declared_author: str | None = Field(default=None, sa_column=Column(String(300), nullable=True))
    declared_title: str | None = Field(default=None, sa_column=Column(String(300), nullable=True))
    declared_created: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    declared_modified: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    declared_source_uri: str | None = Field(default=None, sa_column=Column(String(2000), nullable=True))
    """Where an imported page says it lives (its canonical URL): declared by the file, not by a person."""
    applies_to: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    """Whom it concerns: concept ids of the ``applies_to`` schemes (life situations), as a sorted JSON list; null when none."""
    topic: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    """What it is about: concept ids of the ``topic`` schemes, as a sorted JSON list; null when none."""
    region: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    """Where it holds: concept ids of the ``region`` schemes, as a sorted JSON list; null when none."""
    author_id: int = Field(sa_column=Column(Integer, ForeignKey("user_account.id"), nullable=False))
    contributor_ids: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    owner_id: int = Field(sa_column=Column(Integer, ForeignKey("user_account.id"), nullable=False))
    intended_use: str = Field(default="", sa_column=Column(Text, nullable=False))
    audience: Audience = Field(sa_column=Column(String(16), nullable=False))
    licence: str = Field(default="", sa_column=Column(String(200), nullable=False))
    language: str = Field(sa_column=Column(String(16), nullable=False))
    tags: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    valid_from: dt.date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    valid_until: dt.date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    review_by: dt.date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    derived_from: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    # lifecycle
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    submitted_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    submitted_by_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("user_account.id"), nullable=True))
    four_eyes: bool = True
    approver_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("user_account.id"), nullable=True))
    approved_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    approval_comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    rejected_by_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("user_account.id"), nullable=True))
    rejected_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    rejection_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    ended_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    ended_by_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("user_account.id"), nullable=True))
    end_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class Chunk(SQLModel, table=True):
    """A passage of a submitted version: the unit that search indexes."""

    __tablename__ = "document_chunk"
    __table_args__ = (UniqueConstraint("version_id", "ordinal", name="uq_chunk_ordinal"),)

    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(sa_column=Column(Integer, ForeignKey("document_version.id"), nullable=False, index=True))
    ordinal: int
    heading_path: str = Field(default="", sa_column=Column(Text, nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))
    word_count: int


class StoredFile(SQLModel, table=True):
    """An original uploaded file, kept on disk under its SHA-256."""

    __tablename__ = "stored_file"

    sha256: str = Field(sa_column=Column(String(64), primary_key=True))
    filename: str = Field(sa_column=Column(String(300), nullable=False))
    media_type: str = Field(sa_column=Column(String(120), nullable=False))
    size: int
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class ReviewRequest(SQLModel, table=True):
    """A reader's report that a curated document is wrong or outdated: it waits in the owners' review queue."""

    __tablename__ = "review_request"

    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(sa_column=Column(Integer, ForeignKey("document.id"), nullable=False, index=True))
    version_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("document_version.id"), nullable=True))
    """The version served when the report was made: the one it is about (None for reports made before 0026)."""
    reason: str = Field(sa_column=Column(String(16), nullable=False))
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    requested_by_id: int = Field(sa_column=Column(Integer, ForeignKey("user_account.id"), nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    resolved_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
