"""Wire shapes of expert location: every result shows its evidence.

Imports only the foundation (``kb.db``); never FastAPI or the services.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from kb.db import MAX_ROW_ID


class Evidence(BaseModel):
    kind: str = Field(description="authored, contributed, owns, approved, accepted_answer, upvoted_answer or self_declared")
    item: str = Field(description="Document slug, question id, or the declared skill")
    title: str
    relevance: float
    weight: float


class ExpertHit(BaseModel):
    username: str
    display_name: str
    score: float
    evidence: list[Evidence]


class ExpertResults(BaseModel):
    query: str
    data: list[ExpertHit]


class ProfileUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    declared_skills: Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=60, strip_whitespace=True)]],
                               Field(max_length=30)] | None = None
    opted_out: bool | None = Field(None, description="Do not suggest me as an expert")


class ExpertProfilePublic(BaseModel):
    username: str
    display_name: str
    reputation: int
    spaces_owned: list[str]
    documents: list[str] = Field(description="Approved documents this person authored")
    answers: int
    accepted_answers: int
    expertise: list[str] = Field(description="Top tags and terms from their evidence")
    declared_skills: list[str] = Field(description="Self-declared: counts less than accountable acts")
    opted_out: bool


class AskExpert(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question_id: Annotated[int, Field(ge=1, le=MAX_ROW_ID)] | None = None
    message: Annotated[str, StringConstraints(max_length=2000)] = ""


class InboxItem(BaseModel):
    id: int
    from_user: str
    question_id: int | None
    message: str
    created_at: dt.datetime
    read: bool


class Inbox(BaseModel):
    data: list[InboxItem]
    count: int
