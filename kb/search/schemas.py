"""Wire shapes of search: employee hits carry the full provenance card; public hits carry no person.

Imports only the public schemas of ``kb.documents``; never FastAPI or the services.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from kb.documents import ProvenanceCard

MAX_QUERY_CHARS = 500
"""The longest query, in characters: the API and the web pages refuse longer input (422), the service too."""


class Mode(StrEnum):
    hybrid = "hybrid"
    keyword = "keyword"
    semantic = "semantic"


class AnswerQuality(StrEnum):
    """Whether search found an answer: ``good`` when a hit clears the relevance bar (``kb.search.relevance``),
    ``none`` when no hit does (the question is best asked of the community or of an expert)."""

    good = "good"
    none = "none"


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
    answers: bool = Field(True, description="Whether this hit clears the relevance bar (false: related at best)")


ANSWER_QUALITY = dict(description="good: at least one hit clears the relevance bar; none: no good answer was found, "
                                   "the hits are related at best (ask the community or an expert)")


MAX_FACETS_SELECTED = 20


class FacetValue(BaseModel):
    concept: str = Field(description="The concept's reference, scheme:key: pass it as concept= to narrow the results to it")
    label: str = Field(description="Its preferred label in the reader's language (English when it has none)")
    count: int = Field(description="How many of the documents found (total, all pages) carry it, after every permission "
                                   "and validity filter: never more than the reader may see")
    selected: bool


class Facet(BaseModel):
    """The concepts of one scheme that the documents found carry (issue 20)."""

    scheme: str
    field: str = Field(description="applies_to (life situations), topic or region")
    title: str
    values: list[FacetValue]


class SearchResults(BaseModel):
    query: str
    mode: Mode
    page: int
    page_size: int
    total: int = Field(description="Documents found (before paging)")
    page_count: int = Field(0, description="Pages of page_size hits that total makes")
    answer_quality: AnswerQuality = Field(**ANSWER_QUALITY)  # type: ignore[arg-type]
    data: list[SearchHit]
    community: list[dict] = Field(default_factory=list, description="Community questions and answers, labelled apart")
    facets: list[Facet] = Field(default_factory=list, description="Per scheme, the concepts the documents found carry, with counts")


class SimilarItem(BaseModel):
    """A question or a document like the one being asked (issue 17: shown while the title is typed)."""

    kind: Literal["question", "document"]
    title: str
    link: str = Field(description="Where it is read: /questions/ID or /d/SLUG")
    answers: int | None = Field(None, description="A question's answers")
    accepted: bool | None = Field(None, description="Whether a question has an accepted answer")


class Similar(BaseModel):
    query: str
    questions: list[SimilarItem] = Field(description="Community questions like it, labelled apart")
    documents: list[SimilarItem] = Field(description="Approved documents that may already answer it (clearing the relevance bar)")


class PublicCard(BaseModel):
    """What a citizen sees of provenance: the organisation behind the answer, never a person."""

    version: int
    organisation: str
    approved_on: dt.date | None
    second_review: bool = Field(True, description="False: approved without a second review (four eyes was off, or "
                                                  "it was approved by its own author)")
    intended_use: str
    licence: str
    language: str
    valid_from: dt.date | None
    valid_until: dt.date | None
    review_overdue: bool
    source_kind: str


class TranslationLink(BaseModel):
    """An approved public translation of a page, named in the citizen's language."""

    language: str
    language_label: str = Field(description="The language's name in the citizen's language")
    document: str = Field(description="Slug of the translation")
    title: str = Field("", description="The page's title, in its own language")
    href: str = Field(description="Where the public API serves it")


class PublicHit(BaseModel):
    document: str
    title: str
    language: str
    language_label: str = Field(description="The page's language, named in the citizen's language")
    in_preferred_language: bool | None = Field(description="Whether the page is in the language the citizen asked for "
                                                           "(false: the best page in another language, no translation "
                                                           "exists); null when that language is unknown (no lang=, no "
                                                           "Accept-Language, and the query's language not detected)")
    passage: Passage
    provenance: PublicCard
    translations: dict[str, str] = Field(description="Language → slug of approved public translations")
    translation_links: list[TranslationLink] = Field(default_factory=list)
    translated_from: str | None = Field(None, description="Slug of the hit this page replaces, chosen for the citizen's language "
                                                          "(the page may be the original of that hit: see original)")
    original: TranslationLink | None = Field(None, description="The page this one is a translation of; null for an original")
    receipt_url: str = Field("", description="Where the public API serves the page's receipt: its publication in the "
                                             "signed audit log, checkable offline (docs/transparency.md)")
    answers: bool = Field(True, description="Whether this hit clears the relevance bar (false: related at best)")


class PublicResults(BaseModel):
    query: str
    page: int
    page_size: int
    total: int
    page_count: int = Field(0, description="Pages of page_size hits that total makes")
    answer_quality: AnswerQuality = Field(**ANSWER_QUALITY)  # type: ignore[arg-type]
    query_language: str | None = Field(None, description="The language the query was read in (lang=, or detected); "
                                                         "null: not sure, every language's keyword fields were searched")
    preferred_language: str | None = Field(None, description="The language answers were preferred in")
    labels_language: str = Field("en", description="Language of labels (English when we have no catalogue for it)")
    labels: dict[str, str] = Field(default_factory=dict, description="Provenance-card and result labels in the "
                                                                     "citizen's language, from kb's message catalogue")
    data: list[PublicHit]
    facets: list[Facet] = Field(default_factory=list, description="Per scheme, the concepts the pages found carry, with counts")


class PublicDocument(BaseModel):
    document: str
    title: str
    language: str
    language_label: str = ""
    body_md: str
    provenance: PublicCard
    translations: dict[str, str]
    translation_links: list[TranslationLink] = Field(default_factory=list)
    original: TranslationLink | None = Field(None, description="The page this one is a translation of; null for an original")
    labels_language: str = "en"
    labels: dict[str, str] = Field(default_factory=dict)
    receipt_url: str = Field("", description="Where the public API serves this page's receipt: its publication in "
                                             "the signed audit log, checkable offline (docs/transparency.md)")


class QueryCount(BaseModel):
    query: str
    count: int


class QueryDay(BaseModel):
    day: dt.date
    searches: int
    zero_result: int
    no_answer: int = Field(0, description="Searches with no good answer (answer_quality none; zero results included)")
    top_queries: list[QueryCount]
    top_zero_result_queries: list[QueryCount]
    top_no_answer_queries: list[QueryCount] = Field(default_factory=list)


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


# ----------------------------------------------------------------------- what applies to me (issue 20)

class SituationOption(BaseModel):
    """One situation a citizen may pick, named in their language."""

    value: str = Field(description="What to send as s= to pick it (its key, or scheme:key where keys repeat)")
    ref: str = Field(description="The concept, as scheme:key")
    label: str
    picked: bool = False


class SituationQuestion(BaseModel):
    """A plain question: the situations under one top concept (or the scheme's concepts that stand alone)."""

    scheme: str
    title: str = Field(description="The question, in the citizen's language")
    options: list[SituationOption]


class ExplorePage(BaseModel):
    """An approved, public, currently valid page that applies to a picked situation, with the organisation's card."""

    document: str
    title: str
    language: str
    language_label: str = Field(description="The page's language, named in the citizen's language")
    in_preferred_language: bool | None = Field(description="Whether the page is in the citizen's language (null: "
                                                           "that language is unknown)")
    applies_to: list[str] = Field(description="Which of the picked situations it applies to, in the citizen's language")
    provenance: PublicCard
    translation_links: list[TranslationLink] = Field(default_factory=list)
    original: TranslationLink | None = Field(None, description="The page this one is a translation of; null for an original")
    receipt_url: str = Field("", description="Where the public API serves the page's receipt (docs/transparency.md)")
    href: str = Field(description="Where the public API serves the page")


class ExploreGroup(BaseModel):
    """The pages of one topic (``topic`` null: pages with no topic, "other")."""

    topic: str | None = Field(description="The topic, as scheme:key; null for the pages with no topic")
    label: str = Field(description="The topic's name in the citizen's language")
    pages: list[ExplorePage]


class ExploreResults(BaseModel):
    """What applies to a citizen in the situations they picked, grouped by topic."""

    situations: list[str] = Field(description="The situations picked, as scheme:key (a merged one as its replacement)")
    query: str | None = Field(None, description="The question that ranks the pages, if one was asked")
    questions: list[SituationQuestion] = Field(description="The questions to pick situations with, in the citizen's language")
    total: int = Field(description="Pages that apply (a page and its translations count once)")
    groups: list[ExploreGroup]
    share_url: str = Field(description="This result's address on the web, to bookmark or share with those affected: "
                                       "the situations and the language shown, never the question")
    preferred_language: str | None = Field(None, description="The language pages were preferred in")
    labels_language: str = "en"
    labels: dict[str, str] = Field(default_factory=dict, description="Labels in the citizen's language")


class SituationDemand(BaseModel):
    """How often citizens picked one situation in one language, and how many approved public pages apply."""

    situation: str = Field(description="scheme:key (merged concepts counted as their replacement)")
    label: str
    language: str = Field(description="The language citizens were answered in ('' when unknown)")
    picks: int = Field(description="Visits that picked it")
    picks_without_result: int = Field(description="Of those, visits where no page applied at all")
    pages: int = Field(description="Approved, public, currently valid pages that apply now, in any language")
    pages_in_language: int = Field(description="Of those, pages with a version in this language")
    gap: bool = Field(description="Picked, and no approved public page applies in this language: a content gap")


class SituationInsights(BaseModel):
    days: int
    data: list[SituationDemand] = Field(description="Most picked first")
    gaps: list[SituationDemand] = Field(description="The content gaps, most picked first")
