"""Tables of the search domain: the query log behind the search-gap analytics, the citizens' situation
counts, and the stored vectors.

Imports only the foundation (``kb.db``). The query log is written only by ``kb.search.service.log_query``,
which the search actions call; the situation counts only by ``kb.search.explore.count_pick``; the
vectors only by ``kb.search.stored_vectors``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Date, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
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


class SituationCount(SQLModel, table=True):
    """How often, on one day, citizens picked one set of situations on "what applies to me" (issue 20).

    An anonymous aggregate, not a log: no time of day, no address, no question, nothing per visit; one
    row per (day, situations, language, results) whose ``picks`` grows by one with each visit that
    picked exactly those situations. ``situations``: the sorted JSON list of the concept ids picked (as
    versions store theirs; read through ``kb.taxonomy``, so merges read through). ``language``: the
    language the answer was given in ("": unknown). ``results``: how many pages applied (0: a gap).
    """

    __tablename__ = "situation_count"
    __table_args__ = (UniqueConstraint("day", "situations", "language", "results", name="uq_situation_count"),)

    id: int | None = Field(default=None, primary_key=True)
    day: dt.date = Field(sa_column=Column(Date, nullable=False, index=True))
    situations: str = Field(sa_column=Column(String(1000), nullable=False))
    language: str = Field(sa_column=Column(String(16), nullable=False))
    results: int
    picks: int = 0


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
