"""Tables of the search domain: the query log behind the search-gap analytics, and the stored vectors.

Imports only the foundation (``kb.db``). The query log is written only by ``kb.search.service.log_query``,
which the search actions call; the vectors only by ``kb.search.stored_vectors``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, ForeignKey, Integer, LargeBinary, String, Text
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


class ChunkVector(SQLModel, table=True):
    """A passage's vector (or one of its sentences'), kept with the passage when it is first encoded (issue 19).

    Passages are immutable once submitted, so a vector is computed once per model, ever: a new index
    slot, a rebuild and ``kb reindex`` read these instead of encoding. ``model`` names the encoder and
    its version (``kb.search.stored_vectors.model_key``); another model finds no rows and encodes
    again. ``position`` is -1 for the passage and 0, 1, … for its sentences in the multilingual
    sentence index (whose ``model`` names the sentence split too). ``vector`` is float32, little-endian.
    """

    __tablename__ = "chunk_vector"

    chunk_id: int = Field(sa_column=Column(Integer, ForeignKey("document_chunk.id", ondelete="CASCADE"), primary_key=True))
    model: str = Field(sa_column=Column(String(200), primary_key=True))
    position: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    dimension: int
    vector: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
