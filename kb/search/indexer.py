"""Keeps the derived indexes (keyword + vector) in step with the database.

The database is the authority; indexes are rebuildable caches. ``catch_up`` reads the audit log
after the sequence number the indexes last reflect (their watermark, in ``manifest.json``), and
re-syncs every document an event names: delete its chunks, then add the chunks of its current
approved version if any. That one idempotent operation covers approve, supersede, retire and any
later change, within one process (called after commit by the event bus) and across processes or
after a crash (called on start). ``rebuild`` starts from nothing.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session

from kb import __version__, documents, provenance
from kb.config import KeywordEngine, Settings
from kb.search.interfaces import NO_END, NO_START, Embedder, IndexedChunk, KeywordIndex, day_number

log = logging.getLogger("kb.search")
ENCODE_BATCH = 256
REBUILD_BATCH = 200


def make_keyword_index(engine: KeywordEngine, path: Path) -> KeywordIndex:
    if engine is KeywordEngine.whoosh:
        from kb.search.keyword_whoosh import WhooshKeywordIndex

        return WhooshKeywordIndex(path)
    from kb.search.keyword_tantivy import TantivyKeywordIndex

    return TantivyKeywordIndex(path)


_EMBEDDERS: dict[str, Embedder] = {}
_EMBEDDERS_LOCK = threading.Lock()


def shared_embedder(model_path: str | None) -> Embedder:
    """One embedder per model per process: the model loads once, lazily, on first encode."""
    from kb.search.vector import SentenceTransformerEmbedder

    key = model_path or ""
    with _EMBEDDERS_LOCK:
        if key not in _EMBEDDERS:
            _EMBEDDERS[key] = SentenceTransformerEmbedder(model_path)
        return _EMBEDDERS[key]


def to_indexed(item: documents.Published) -> list[IndexedChunk]:
    version = item.version
    return [
        IndexedChunk(
            chunk_id=chunk.id, document_id=item.document.id, version_id=version.id, space_id=item.space.id,  # type: ignore[arg-type]
            title=version.title, heading_path=tuple(json.loads(chunk.heading_path)), text=chunk.text,
            tags=tuple(documents.tags_of(version)), language=version.language, audience=str(version.audience),
            valid_from_day=day_number(version.valid_from, NO_START), valid_until_day=day_number(version.valid_until, NO_END),
        )
        for chunk in item.chunks
    ]


@dataclass
class Drift:
    missing_keyword: set[int]
    extra_keyword: set[int]
    missing_vector: set[int]
    extra_vector: set[int]

    @property
    def clean(self) -> bool:
        return not (self.missing_keyword or self.extra_keyword or self.missing_vector or self.extra_vector)


class SearchIndexes:
    """The keyword and vector indexes of one process, with their watermark."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.root = settings.index_dir
        self.root.mkdir(parents=True, exist_ok=True)
        self.keyword = make_keyword_index(settings.keyword_engine, self.root / f"keyword-{settings.keyword_engine.value}")
        self._embedder = embedder
        self._vector = None
        self._lock = threading.RLock()
        self.manifest_path = self.root / "manifest.json"
        self.manifest = self._read_manifest()

    # -------------------------------------------------------------------------- components

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = shared_embedder(self.settings.embedding_model)
        return self._embedder

    @property
    def vector(self):  # noqa: ANN201  (kb.search.vector.FaissVectorIndex, imported lazily)
        if self._vector is None:
            from kb.search.vector import FaissVectorIndex

            self._vector = FaissVectorIndex(self.root / "vectors", self.embedder.dimension)
        return self._vector

    def _read_manifest(self) -> dict:
        if self.manifest_path.exists():
            return json.loads(self.manifest_path.read_text(encoding="utf-8"))
        return {"last_seq": 0}

    def _write_manifest(self, last_seq: int) -> None:
        self.manifest = {"last_seq": last_seq, "kb_version": __version__, "keyword_engine": self.keyword.name,
                         "model": getattr(self._embedder, "name", self.manifest.get("model")),
                         "dimension": self._vector.dimension if self._vector is not None else self.manifest.get("dimension")}
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".manifest.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(self.manifest, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.manifest_path)

    @property
    def last_seq(self) -> int:
        return int(self.manifest.get("last_seq", 0))

    # ------------------------------------------------------------------------------ updates

    def _index(self, items: list[documents.Published], encode: Callable[[list[str]], object] | None = None) -> int:
        chunks = [chunk for item in items for chunk in to_indexed(item)]
        if not chunks:
            return 0
        vectors = []
        for start in range(0, len(chunks), ENCODE_BATCH):
            batch = chunks[start:start + ENCODE_BATCH]
            vectors.append(self.embedder.encode([c.embedding_text for c in batch]))
        import numpy as np

        self.keyword.upsert(chunks)
        self.vector.upsert(chunks, np.concatenate(vectors))
        return len(chunks)

    def sync_documents(self, session: Session, document_ids: Iterable[int]) -> int:
        """Make the indexes hold exactly the current approved chunks of these documents."""
        ids = sorted(set(document_ids))
        if not ids:
            return 0
        with self._lock:
            self.keyword.delete_documents(ids)
            self.vector.delete_documents(ids)
            count = self._index(documents.published(session, ids))
            self.keyword.commit()
            self.vector.save()
        return count

    def catch_up(self, session: Session, page: int = 1000) -> int:
        """Apply every audit event after the watermark; return how many documents were re-synced."""
        with self._lock:
            synced = 0
            after = self.last_seq
            while True:
                events = provenance.events_since(session, after, limit=page)
                if not events:
                    break
                slugs = {e.object_id for e in events if e.object_type == "document"}
                ids = documents.document_ids_for_slugs(session, slugs)
                synced += len(ids)
                self.sync_documents(session, ids.values())
                after = events[-1].seq
                self._write_manifest(after)
            return synced

    def rebuild(self, session: Session, progress: Callable[[int, int], None] | None = None) -> int:
        """Drop both indexes and index every approved version again; the watermark is the head read first."""
        with self._lock:
            head_seq, _ = provenance.head(session)
            items = documents.published(session)
            self.keyword.clear()
            self.keyword.commit()
            self.vector.clear()
            total_chunks = sum(len(i.chunks) for i in items)
            done = 0
            for start in range(0, len(items), REBUILD_BATCH):
                done += self._index(items[start:start + REBUILD_BATCH])
                if progress:
                    progress(done, total_chunks)
            self.keyword.commit()
            self.vector.save()
            self._write_manifest(head_seq)
            return done

    def check(self, session: Session) -> Drift:
        """Compare the indexes with the database's approved chunks."""
        expected = {chunk.id for item in documents.published(session) for chunk in item.chunks}
        keyword, vector = self.keyword.chunk_ids(), self.vector.chunk_ids()
        return Drift(expected - keyword, keyword - expected, expected - vector, vector - expected)
