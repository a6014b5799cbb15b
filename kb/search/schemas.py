"""Wire shapes of search: employee hits carry the full provenance card; public hits carry no person."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, Field

from kb.documents import ProvenanceCard


class Mode(StrEnum):
    hybrid = "hybrid"
    keyword = "keyword"
    semantic = "semantic"


class Passage(BaseModel):
    text: str
    heading_path: list[str]
    highlights: list[tuple[int, int]] = Field(description="Character ranges in text that match the query")


class Community(BaseModel):
    """Social signals, kept apart from the curated ranking (filled in by the social layer)."""

    rating_average: float | None = None
    rating_count: int = 0


class SearchHit(BaseModel):
    document: str
    title: str
    space: str
    language: str
    score: float
    passage: Passage
    provenance: ProvenanceCard
    community: Community


class SearchResults(BaseModel):
    query: str
    mode: Mode
    page: int
    page_size: int
    total: int = Field(description="Documents found (before paging)")
    data: list[SearchHit]
    community: list[dict] = Field(default_factory=list, description="Community questions and answers, labelled apart")


class PublicCard(BaseModel):
    """What a citizen sees of provenance: the organisation behind the answer, never a person."""

    version: int
    organisation: str
    approved_on: dt.date | None
    intended_use: str
    licence: str
    language: str
    valid_from: dt.date | None
    valid_until: dt.date | None
    review_overdue: bool
    source_kind: str


class PublicHit(BaseModel):
    document: str
    title: str
    language: str
    passage: Passage
    provenance: PublicCard
    translations: dict[str, str] = Field(description="Language → slug of approved public translations")
    translated_from: str | None = Field(None, description="Slug of the hit this translation replaces, when lang= chose it")


class PublicResults(BaseModel):
    query: str
    page: int
    page_size: int
    total: int
    data: list[PublicHit]


class PublicDocument(BaseModel):
    document: str
    title: str
    language: str
    body_md: str
    provenance: PublicCard
    translations: dict[str, str]


class QueryCount(BaseModel):
    query: str
    count: int


class QueryDay(BaseModel):
    day: dt.date
    searches: int
    zero_result: int
    top_queries: list[QueryCount]
    top_zero_result_queries: list[QueryCount]


class QueryInsights(BaseModel):
    data: list[QueryDay]


class PublicComment(BaseModel):
    """A community comment as a citizen sees it: no names, labelled as community content."""

    kind: str = "community"
    body_html: str
    on_version: int
    created_at: dt.datetime


class PublicCommunity(BaseModel):
    kind: str = "community"
    document: str
    rating_average: float | None
    rating_count: int
    comments: list[PublicComment]
