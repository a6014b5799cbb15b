"""Wire shapes of the social layer. Every community object says it is community content."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from kb.db import MAX_ROW_ID
from kb.markdown import with_visible_text
from kb.social.models import FlagReason

MAX_BODY = 10_000
MAX_TITLE = 200
Body = Annotated[str, StringConstraints(min_length=1, max_length=MAX_BODY, strip_whitespace=True), AfterValidator(with_visible_text)]
Title = Annotated[str, StringConstraints(min_length=5, max_length=MAX_TITLE, strip_whitespace=True)]


JSON_TYPES = {bool: "a boolean", str: "a string", float: "a number with a fraction", type(None): "null",
              list: "a list", dict: "an object"}


def a_whole_number(value: object) -> object:
    """A number given as a number: ``true`` is not one star nor ``"5"`` five, nor ``true`` comment 1 (pydantic's
    lax mode would take each)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"must be a whole number, not {JSON_TYPES.get(type(value), type(value).__name__)}")
    return value


WholeNumber = BeforeValidator(a_whole_number)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CommentCreate(Strict):
    body_md: Body
    parent_id: Annotated[int, WholeNumber, Field(ge=1, le=MAX_ROW_ID)] | None = None


class CommentUpdate(Strict):
    body_md: Body


class RatingSet(Strict):
    stars: Annotated[int, WholeNumber, Field(ge=1, le=5)]


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
    value: Annotated[Literal[-1, 1], WholeNumber]


class DuplicateClose(Strict):
    duplicate_of: Annotated[int, WholeNumber, Field(ge=1, le=MAX_ROW_ID)]


class FlagCreate(Strict):
    target: Literal["comment", "question", "answer", "document"]
    target_id: Annotated[str, StringConstraints(min_length=1, max_length=120)] = Field(
        description="Id of the comment, question or answer; slug of a document")
    reason: FlagReason
    note: Annotated[str, StringConstraints(max_length=1000)] = ""


class ModerationDecision(Strict):
    action: Literal["hide", "restore", "dismiss"] = Field(
        description="hide: a moderator hides the post (its open flags upheld); dismiss: its open flags are unfounded "
                    "(a post they hid is shown again, one a moderator hid stays hidden); restore: show the post again "
                    "(docs/moderation.md)")
    reason: Annotated[str, StringConstraints(min_length=1, max_length=1000, strip_whitespace=True)]
    flag_ids: Annotated[list[Annotated[int, WholeNumber, Field(ge=1, le=MAX_ROW_ID)]], Field(max_length=1000)] | None = Field(
        None, description="The open flags the moderator saw; if others are open now, the decision is refused (409) "
                          "so that nobody decides on a report unseen. Omitted: all open flags")


class PromoteRequest(Strict):
    space: Annotated[str, StringConstraints(max_length=64)] | None = Field(None, description="Default: the question's space")
    slug: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,119}$")] | None = Field(
        None, description="Default: made from the title")
    title: Annotated[str, StringConstraints(min_length=1, max_length=300)] | None = Field(None, description="Default: the question's title")
    audience: Literal["internal", "public"] = "internal"
    intended_use: Annotated[str, StringConstraints(max_length=2000)] | None = Field(
        None, description="What the document may be used for (default: answering the question)")


class Author(BaseModel):
    username: str
    display_name: str
    reputation: int


PostState = Literal["visible", "hidden_by_flags", "hidden_by_moderator"]


class ModerationNotice(BaseModel):
    """Why a post is hidden, told truthfully to its author and to moderators (never to anyone else)."""

    state: Literal["hidden_by_flags", "hidden_by_moderator"]
    reports: int = Field(description="Open reports on the post")
    reason: str | None = Field(description="The moderator's reason (hidden by a moderator)")
    message: str = Field(description="'Hidden automatically after N reports, awaiting a moderator' or "
                                     "'Hidden by a moderator: REASON'")


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
    moderation: ModerationNotice | None = Field(None, description="What hid it, for its author and moderators")
    editable_until: dt.datetime | None = Field(None, description="For its author, until when they may edit it; "
                                                                 "null: not theirs to edit (any more)")
    body_md: str | None = Field(None, description="Its Markdown, for its author while they may edit it")


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
    moderation: ModerationNotice | None = Field(None, description="What hid it, for its author and moderators")


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
    promoted_to: str | None = Field(description="The curated document this answer became, if you may see it (in review too)")
    promoted: bool = Field(False, description="Whether an answer was promoted already (then it is not offered again)")
    hidden: bool
    moderation: ModerationNotice | None = Field(None, description="What hid it, for its author and moderators")
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


class MyQuestions(BaseModel):
    """The questions one person asked and those they answered, newest first (issue 17: my work)."""

    kind: Literal["community"] = "community"
    asked: list[QuestionSummary]
    answered: list[QuestionSummary]


class PersonRef(BaseModel):
    username: str
    display_name: str


class QueueFlag(BaseModel):
    """One report on a post: who (moderators see it), why, when."""

    id: int
    flagged_by: PersonRef | None
    reason: str
    note: str
    created_at: dt.datetime


class ThreadPost(BaseModel):
    """A post next to the flagged one, so that the moderator reads it in its thread."""

    relation: Literal["parent", "previous", "next", "reply", "question"]
    kind: Literal["comment", "question", "answer"]
    id: int
    author: PersonRef | None
    excerpt: str
    state: PostState | Literal["deleted"]


class ModerationContext(BaseModel):
    """Where the post lives: the document a comment is on, the question an answer answers, a question's space."""

    kind: Literal["document", "question", "space"]
    key: str = Field(description="Slug of the document or space, id of the question")
    title: str


class ModerationItem(BaseModel):
    """One entry of the moderation queue: a flagged post, every open flag on it, the post in its context."""

    target: Literal["comment", "question", "answer", "document"]
    target_id: str = Field(description="Id of the comment, question or answer; slug of a document")
    state: PostState
    hidden_reason: str | None = Field(description="The moderator's reason, when a moderator hid it")
    author: PersonRef | None
    title: str | None = Field(description="A question's or document's title")
    body_html: str | None = Field(description="The post, sanitised (moderators see hidden posts); null for a document")
    excerpt: str = Field(description="The start of the post (a question's title) as plain Markdown text")
    created_at: dt.datetime | None
    deleted: bool
    context: ModerationContext | None
    thread: list[ThreadPost]
    flags: list[QueueFlag] = Field(description="Its open flags, oldest first")
    reasons: dict[str, int] = Field(description="How many open flags give each reason")
    first_flagged_at: dt.datetime
    actions: list[Literal["hide", "dismiss", "restore"]] = Field(description="The decisions open to a moderator now")


class ModerationQueuePublic(BaseModel):
    data: list[ModerationItem]
    count: int


class ModerationOutcome(BaseModel):
    """What one decision did: the post's state before and after, and the flags it resolved."""

    target: str
    target_id: str
    action: Literal["hide", "restore", "dismiss"]
    reason: str
    state_before: PostState
    state: PostState
    flags_resolved: list[int]
    flag_status: Literal["upheld", "dismissed"] | None = Field(description="What the resolved flags became")


class ProfilePublic(BaseModel):
    username: str
    display_name: str
    reputation: int
    questions: int
    answers: int
    accepted_answers: int
    approved_documents: int
