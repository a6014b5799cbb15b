"""Tables of the search domain: the query log behind the search-gap analytics.

Imports only the foundation (``kb.db``); written only by ``kb.search.service.log_query``, which the search
actions call.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, String, Text
from sqlmodel import Field, SQLModel

from kb.db import UTCDateTime, utcnow


class QueryLog(SQLModel, table=True):
    """One search. Who asked is recorded only as a kind (public or employee), never as a person or IP."""

    __tablename__ = "query_log"

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False, index=True))
    audience: str = Field(sa_column=Column(String(16), nullable=False))
    query: str = Field(sa_column=Column(Text, nullable=False))
    mode: str = Field(sa_column=Column(String(16), nullable=False))
    language: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    result_count: int
    latency_ms: float
    answered: bool | None = Field(default=None, description="Whether a hit cleared the relevance bar (issue 17); "
                                                            "None: logged before kb judged answers")
