"""Vectors stored with their passages: each passage is encoded once per model, ever (issue 19).

A submitted version's passages never change, so their vectors are computed once and kept in the
database (``chunk_vector``: float32 bytes, on SQLite and PostgreSQL alike) under the encoder's name
and version. Index slots are caches built from the database: a new process's first start, a slot
rebuild and ``kb reindex`` read these rows instead of encoding (at 100k passages, seconds instead of
hours). Another model (``KB_EMBEDDING_MODEL``, or a new release of a package's weights) has another
key, finds nothing, and encodes again: batch by batch, each batch committed, so a stopped re-encode
resumes where it stopped (``kb vectors encode``, or the background encoder of ``kb serve``).

Three kinds of row per passage: its MiniLM vector (``position`` -1); for a public passage, its
multilingual vector (-1 under the multilingual key) and one per sentence (0, 1, … under that key
with the sentence split's version, ``kb.search.sentences.SPLIT_VERSION``).

Reads chunks through the documents' tables (their models only); imports numpy lazily and no encoder:
``kb.search.indexer`` and ``kb.search.encoding`` hand it the vectors.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import and_, delete, exists, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from kb.db import transaction, utcnow
from kb.documents.models import Audience, Chunk, Version, VersionState
from kb.search import sentences
from kb.search.interfaces import Embedder, embedding_text
from kb.search.models import ChunkVector

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger("kb.search")
PASSAGE = -1
"""``position`` of a passage's own vector; its sentences are 0, 1, …"""
LOAD_PAGE = 500
"""Chunk ids per query when reading stored vectors (a bound parameter list stays small)."""
ENCODED_STATES = (VersionState.in_review, VersionState.approved)
"""Versions whose passages are worth encoding ahead: submitted (approval then only indexes) and approved."""


def model_key(embedder: Embedder) -> str:
    """The name under which ``embedder``'s vectors are kept: its name, and its version when it has one."""
    version = getattr(embedder, "version", "")
    return f"{embedder.name} {version}" if version else embedder.name


def sentence_key(embedder: Embedder) -> str:
    """The key of ``embedder``'s sentence vectors: the model's, and the version of the split that made the sentences."""
    return f"{model_key(embedder)} sentences-v{sentences.SPLIT_VERSION}"


def _as_array(blob: bytes, dimension: int) -> "np.ndarray":
    import numpy as np

    return np.frombuffer(blob, dtype="<f4", count=dimension).astype(np.float32)


def load(session: Session, model: str, chunk_ids: Iterable[int], dimension: int | None = None) -> dict[int, "np.ndarray"]:
    """The stored passage vector of each of ``chunk_ids`` under ``model`` (those without one, or of another
    ``dimension`` than asked, are absent)."""
    wanted = sorted(set(chunk_ids))
    found: dict[int, np.ndarray] = {}
    for start in range(0, len(wanted), LOAD_PAGE):
        rows = session.execute(
            select(ChunkVector.chunk_id, ChunkVector.dimension, ChunkVector.vector)
            .where(ChunkVector.model == model, ChunkVector.position == PASSAGE,
                   ChunkVector.chunk_id.in_(wanted[start:start + LOAD_PAGE]))).all()  # type: ignore[attr-defined]
        for chunk_id, size, blob in rows:
            if dimension is None or size == dimension:
                found[chunk_id] = _as_array(blob, size)
    return found


def load_sentences(session: Session, model: str, chunk_ids: Iterable[int],
                   dimension: int | None = None) -> dict[int, list["np.ndarray"]]:
    """The stored sentence vectors of each of ``chunk_ids`` under ``model``, in sentence order (of ``dimension``)."""
    wanted = sorted(set(chunk_ids))
    found: dict[int, list[np.ndarray]] = {}
    for start in range(0, len(wanted), LOAD_PAGE):
        rows = session.execute(
            select(ChunkVector.chunk_id, ChunkVector.position, ChunkVector.dimension, ChunkVector.vector)
            .where(ChunkVector.model == model, ChunkVector.position >= 0,
                   ChunkVector.chunk_id.in_(wanted[start:start + LOAD_PAGE]))  # type: ignore[attr-defined]
            .order_by(ChunkVector.chunk_id, ChunkVector.position)).all()
        for chunk_id, position, size, blob in rows:
            held = found.setdefault(chunk_id, [])
            if position == len(held) and (dimension is None or size == dimension):  # a gap means the set is incomplete: the caller encodes the passage again
                held.append(_as_array(blob, dimension))
    return found


def save(session: Session, model: str, rows: Sequence[tuple[int, int, "np.ndarray"]]) -> bool:
    """Keep ``(chunk_id, position, vector)`` rows under ``model`` in a write transaction of their own; True when kept.

    A row already there is left as it is (two processes may encode the same passage: the first one
    kept wins, and both computed the same vector). A failure is logged and rolled back, never raised:
    the vectors are then computed again next time, and the index that asked has them anyway.
    """
    if not rows:
        return True
    import numpy as np

    at = utcnow()
    # In key order: two writers of overlapping rows (the worker encoding ahead, a catch-up) take their
    # PostgreSQL row locks in the same order, so neither deadlocks the other
    values = [{"chunk_id": chunk_id, "model": model, "position": position, "dimension": int(vector.shape[0]),
               "vector": np.ascontiguousarray(vector, dtype="<f4").tobytes(), "at": at}
              for chunk_id, position, vector in sorted(rows, key=lambda row: (row[0], row[1]))]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(ChunkVector).on_conflict_do_nothing(index_elements=["chunk_id", "model", "position"])
    try:
        with transaction(session):
            for start in range(0, len(values), LOAD_PAGE):
                session.execute(statement, values[start:start + LOAD_PAGE])
        return True
    except SQLAlchemyError as exc:  # transaction() rolled back
        log.warning("Could not store %d vectors of %s (they will be encoded again next time): %s", len(rows), model,
                    str(exc).splitlines()[0])
        return False


def stored_chunk_ids(session: Session, model: str) -> set[int]:
    """The chunks with at least one vector stored under ``model``."""
    return set(session.execute(select(ChunkVector.chunk_id).where(ChunkVector.model == model).distinct()).scalars())


def forget(session: Session, model: str) -> int:
    """Delete every vector stored under ``model`` (its sentence vectors too); how many rows. Derived data:
    the passages are encoded again when an index or ``kb index encode`` next needs them."""
    with transaction(session):
        result = session.execute(delete(ChunkVector).where(
            (ChunkVector.model == model) | ChunkVector.model.startswith(f"{model} sentences-v")))  # type: ignore[attr-defined]
    return int(result.rowcount or 0)


@dataclass(frozen=True)
class Unencoded:
    """A passage without a stored vector: what the encoder reads."""

    chunk_id: int
    heading_path: tuple[str, ...]
    text: str

    @property
    def embedding_text(self) -> str:
        return embedding_text(self.heading_path, self.text)


def _unencoded_where(model: str, *, public_only: bool, position: int) -> list:
    held = exists().where(and_(ChunkVector.chunk_id == Chunk.id, ChunkVector.model == model,
                               ChunkVector.position == position))
    conditions = [Version.state.in_(ENCODED_STATES), ~held]  # type: ignore[union-attr,attr-defined]
    if public_only:
        conditions.append(Version.audience == Audience.public)
    return conditions


def unencoded(session: Session, model: str, *, after: int = 0, limit: int = 64, public_only: bool = False,
              position: int = PASSAGE) -> list[Unencoded]:
    """Passages of submitted or approved versions with no row at ``position`` under ``model``, by chunk id after ``after``."""
    statement = (select(Chunk.id, Chunk.heading_path, Chunk.text)
                 .join(Version, Version.id == Chunk.version_id)
                 .where(Chunk.id > after, *_unencoded_where(model, public_only=public_only, position=position))
                 .order_by(Chunk.id).limit(limit))
    return [Unencoded(chunk_id, tuple(json.loads(path)), text) for chunk_id, path, text in session.execute(statement).all()]


def unencoded_count(session: Session, model: str, *, public_only: bool = False, position: int = PASSAGE) -> int:
    """How many passages ``unencoded`` would return with no limit."""
    statement = (select(func.count()).select_from(Chunk).join(Version, Version.id == Chunk.version_id)
                 .where(*_unencoded_where(model, public_only=public_only, position=position)))
    return int(session.execute(statement).scalar_one())


def encode_missing(session: Session, embedder: Embedder, key: str, *, after: int = 0, limit: int = 64,
                   public_only: bool = False, by_sentence: bool = False) -> tuple[int, int | None]:
    """Encode and store the next ``limit`` passages after chunk id ``after`` that have no vector under ``key``
    (with ``by_sentence``, their sentences); how many passages were stored (0 when the save failed), and the
    last chunk id read (None: none left).

    One committed batch: a job that stops loses at most this batch, and the next run starts from what is stored.
    """
    todo = unencoded(session, key, after=after, limit=limit, public_only=public_only,
                     position=0 if by_sentence else PASSAGE)
    if not todo:
        return 0, None
    if by_sentence:
        pieces = [(item.chunk_id, position, text) for item in todo for position, text in enumerate(sentences.split(item.text))]
    else:
        pieces = [(item.chunk_id, PASSAGE, item.embedding_text) for item in todo]
    vectors = embedder.encode([text for _, _, text in pieces]) if pieces else []
    kept = save(session, key, [(chunk_id, position, vector) for (chunk_id, position, _), vector in zip(pieces, vectors)])
    return (len(todo) if kept else 0), todo[-1].chunk_id


@dataclass(frozen=True)
class ModelCount:
    """How many passages (and sentences) one model's stored vectors cover."""

    model: str
    passages: int
    sentences: int


def counts(session: Session) -> list[ModelCount]:
    """Stored vectors per model key: passages (position -1) and sentences."""
    rows = session.execute(
        select(ChunkVector.model, (ChunkVector.position == PASSAGE).label("passage"), func.count())
        .group_by(ChunkVector.model, "passage")).all()
    tally: dict[str, list[int]] = {}
    for model, passage, count in rows:
        tally.setdefault(model, [0, 0])[0 if passage else 1] += count
    return [ModelCount(model, passages, sentence_count) for model, (passages, sentence_count) in sorted(tally.items())]


def encodable(session: Session, *, public_only: bool = False) -> int:
    """How many passages of submitted or approved versions there are (public ones only when asked)."""
    statement = (select(func.count()).select_from(Chunk).join(Version, Version.id == Chunk.version_id)
                 .where(Version.state.in_(ENCODED_STATES)))  # type: ignore[attr-defined]
    if public_only:
        statement = statement.where(Version.audience == Audience.public)
    return int(session.execute(statement).scalar_one())
