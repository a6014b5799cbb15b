"""Tables of the taxonomy: concept schemes, their concepts, labels per language, and which versions use them.

Tables only (the wire shapes are in ``schemas``); imports nothing of kb but the database foundation.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from kb.db import UTCDateTime, utcnow


class ConceptField(StrEnum):
    """Which provenance field of a version a scheme's concepts fill (issue 20)."""

    applies_to = "applies_to"
    topic = "topic"
    region = "region"


class LabelKind(StrEnum):
    """SKOS's preferred label (one per language) and alternative labels (any number)."""

    preferred = "preferred"
    alternative = "alternative"


class ConceptStatus(StrEnum):
    active = "active"
    deprecated = "deprecated"


class ConceptScheme(SQLModel, table=True):
    """A controlled vocabulary (SKOS concept scheme) feeding one provenance field of versions."""

    __tablename__ = "concept_scheme"
    __table_args__ = (CheckConstraint("field IN ('applies_to','topic','region')", name="ck_scheme_field"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    uri: str = Field(sa_column=Column(String(2000), unique=True, nullable=False))
    field: ConceptField = Field(sa_column=Column(String(16), nullable=False))
    titles: str = Field(default="{}", sa_column=Column(String(4000), nullable=False))
    """``{language: title}`` as JSON."""
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class Concept(SQLModel, table=True):
    """One concept: a key within its scheme, one broader concept at most, and, once merged, its replacement."""

    __tablename__ = "concept"
    __table_args__ = (
        UniqueConstraint("scheme_id", "key", name="uq_concept_key"),
        CheckConstraint("status IN ('active','deprecated')", name="ck_concept_status"),
        CheckConstraint("broader_id IS NULL OR broader_id <> id", name="ck_concept_not_own_parent"),
        # A deleted concept's id is never given to another (its anonymous counts would be credited to it):
        # SQLite reuses the highest rowid without AUTOINCREMENT; PostgreSQL's sequence never does.
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    scheme_id: int = Field(sa_column=Column(Integer, ForeignKey("concept_scheme.id"), nullable=False, index=True))
    key: str = Field(sa_column=Column(String(64), nullable=False))
    uri: str = Field(sa_column=Column(String(2000), unique=True, nullable=False))
    broader_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("concept.id"), nullable=True, index=True))
    status: ConceptStatus = Field(default=ConceptStatus.active, sa_column=Column(String(16), nullable=False))
    replaced_by_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("concept.id"), nullable=True))
    """Set by a merge: every version that names this concept is read as naming the replacement."""
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class ConceptLabel(SQLModel, table=True):
    """A label of a concept in one language: its preferred one (at most one per language) or an alternative."""

    __tablename__ = "concept_label"
    __table_args__ = (
        UniqueConstraint("concept_id", "language", "kind", "text", name="uq_concept_label"),
        Index("uq_concept_preferred_label", "concept_id", "language", unique=True,
              sqlite_where=text("kind = 'preferred'"), postgresql_where=text("kind = 'preferred'")),
        CheckConstraint("kind IN ('preferred','alternative')", name="ck_label_kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    concept_id: int = Field(sa_column=Column(Integer, ForeignKey("concept.id", ondelete="CASCADE"), nullable=False, index=True))
    language: str = Field(sa_column=Column(String(16), nullable=False))
    kind: LabelKind = Field(sa_column=Column(String(16), nullable=False))
    text: str = Field(sa_column=Column(String(200), nullable=False))


class ConceptRelation(SQLModel, table=True):
    """SKOS ``related``: symmetric, stored once with the smaller id first."""

    __tablename__ = "concept_related"
    __table_args__ = (CheckConstraint("concept_id < related_id", name="ck_related_ordered"),)

    concept_id: int = Field(sa_column=Column(Integer, ForeignKey("concept.id", ondelete="CASCADE"), primary_key=True))
    related_id: int = Field(sa_column=Column(Integer, ForeignKey("concept.id", ondelete="CASCADE"), primary_key=True))


class ConceptUse(SQLModel, table=True):
    """Which version names which concept (derived from the versions' provenance fields, written with them):
    a concept some version names cannot be deleted, only merged or deprecated."""

    __tablename__ = "concept_use"

    concept_id: int = Field(sa_column=Column(Integer, ForeignKey("concept.id"), primary_key=True))
    version_id: int = Field(sa_column=Column(Integer, ForeignKey("document_version.id"), primary_key=True, index=True))
