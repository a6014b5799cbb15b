"""Tables of expert location: people's own statements (declared skills, opting out) and requests to experts.

Imports only the foundation (``kb.db``); written only through ``kb.experts.service``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, ForeignKey, Integer, String, Text
from sqlmodel import Field, SQLModel

from kb.db import UTCDateTime, utcnow


class ExpertProfile(SQLModel, table=True):
    __tablename__ = "expert_profile"

    user_id: int = Field(sa_column=Column(Integer, ForeignKey("user_account.id"), primary_key=True))
    declared_skills: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    opted_out: bool = False


class ExpertRequest(SQLModel, table=True):
    """'Ask an expert': a notification in the expert's inbox."""

    __tablename__ = "expert_request"

    id: int | None = Field(default=None, primary_key=True)
    to_user_id: int = Field(sa_column=Column(Integer, ForeignKey("user_account.id"), nullable=False, index=True))
    from_user_id: int = Field(sa_column=Column(Integer, ForeignKey("user_account.id"), nullable=False))
    question_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("question.id"), nullable=True))
    message: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    read_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    webhook_status: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    """What became of the webhook call (delivered by kb.notifications): ``not_configured``, ``pending`` (not yet
    tried), ``retrying: `` and the last error and attempt, ``sent``, or ``failed: `` and the last error (no attempt left)."""
