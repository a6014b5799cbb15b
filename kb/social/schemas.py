"""Wire shapes of the social layer. Every community object says it is community content."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from kb.db import MAX_ROW_ID
from kb.social.models import FlagReason

MAX_BODY = 10_000
MAX_TITLE = 200
Body = Annotated[str, StringConstraints(min_length=1, max_length=MAX_BODY, strip_whitespace=True)]
Title = Annotated[str, StringConstraints(min_length=5, max_length=MAX_TITLE, strip_whitespace=True)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CommentCreate(Strict):
    body_md: Body
    parent_id: Annotated[int, Field(ge=1, le=MAX_ROW_ID)] | None = None


class CommentUpdate(Strict):
    body_md: Body


class RatingSet(Strict):
    stars: Annotated[int, Field(ge=1, le=5)]


class FeedbackCreate(Strict):
    document: Annotated[str, StringConstraints(max_length=120)]
    query: Annotated[str, StringConstraints(max_length=500)] = ""
    helpful: bool


class QuestionCreate(Strict):
    title: Title
    body_md: Body
    tags: Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=50, to_lower=True)]], Field(max_length=10)] = []
    documents: Annotated[list[Annotated[str, StringConstraints(max_length=120)]], Field(max_length=10)] = []
    space: Annotated[str, StringConstraints(max_length=64)] | None = None


class AnswerCreate(Strict):
    body_md: Body


class VoteSet(Strict):
    value: Literal[-1, 1]


class DuplicateClose(Strict):
    duplicate_of: Annotated[int, Field(ge=1, le=MAX_ROW_ID)]


class FlagCreate(Strict):
    target: Literal["comment", "question", "answer", "document"]
    target_id: Annotated[str, StringConstraints(min_length=1, max_length=120)] = Field(
        description="Id of the comment, question or answer; slug of a document")
    reason: FlagReason
    note: Annotated[str, StringConstraints(max_length=1000)] = ""


class ModerationDecision(Strict):
    action: Literal["hide", "restore", "dismiss"]
    reason: Annotated[str, StringConstraints(min_length=1, max_length=1000, strip_whitespace=True)]


class PromoteRequest(Strict):
    space: Annotated[str, StringConstraints(max_length=64)]
    slug: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,119}$")]
    title: Annotated[str, StringConstraints(min_length=1, max_length=300)] | None = None
    audience: Literal["internal", "public"] = "internal"


class Author(BaseModel):
    username: str
    display_name: str
    reputation: int


class CommentPublic(BaseModel):
    kind: Literal["community"] = "community"
    id: int
    document: str
    on_version: int
    current_version: int
    parent_id: int | None
    author: Author | None
    body_html: str | None = Field(description="Sanitised HTML; null for a deleted or hidden comment (tombstone)")
    created_at: dt.datetime
    edited_at: dt.datetime | None
    edits: int
    state: Literal["visible", "deleted", "hidden"]


class CommentsPublic(BaseModel):
    kind: Literal["community"] = "community"
    data: list[CommentPublic]
    count: int
    public_since: dt.datetime | None = Field(
        None, description="When the document's space opted in to showing community comments on /public, without names: "
                          "a comment written since is shown to citizens while the document is public. Null: not opted in")


class RatingSummary(BaseModel):
    kind: Literal["community"] = "community"
    document: str
    average: float | None
    count: int
    mine: int | None


class AnswerPublic(BaseModel):
    kind: Literal["community"] = "community"
    id: int
    author: Author | None
    body_html: str | None
    created_at: dt.datetime
    score: int
    accepted: bool
    hidden: bool


class QuestionPublic(BaseModel):
    kind: Literal["community"] = "community"
    id: int
    title: str
    body_html: str | None
    tags: list[str]
    documents: list[str]
    space: str | None
    author: Author | None
    created_at: dt.datetime
    score: int
    answers: list[AnswerPublic]
    accepted_answer_id: int | None
    duplicate_of: int | None
    promoted_to: str | None = Field(description="The curated document this answer became, once approved")
    hidden: bool
    suggested_experts: list[str] = Field(default_factory=list)


class QuestionSummary(BaseModel):
    kind: Literal["community"] = "community"
    id: int
    title: str
    tags: list[str]
    answers: int
    score: int
    accepted: bool
    created_at: dt.datetime


class QuestionsPublic(BaseModel):
    kind: Literal["community"] = "community"
    data: list[QuestionSummary]
    count: int


class FlagPublic(BaseModel):
    id: int
    target: str
    target_id: str
    reason: str
    note: str
    status: str
    flagged_by: str
    created_at: dt.datetime
    target_hidden: bool
    target_excerpt: str


class FlagsPublic(BaseModel):
    data: list[FlagPublic]
    count: int


class ProfilePublic(BaseModel):
    username: str
    display_name: str
    reputation: int
    questions: int
    answers: int
    accepted_answers: int
    approved_documents: int
