"""The faiss vector index: the only module that imports faiss (the encoders are ``kb.search.encoders``).

faiss is imported inside functions (``kb --help`` must stay fast; import-linter forbids it anywhere
else). Filters apply before top-k, as a mask of admitted ids; the index is plain files (a base generation,
the deltas saved on top of it, each with its audit sequence, and a JSON pointer), never pickles;
large indexes turn IVF. Imports only ``kb.search.interfaces`` and ``kb.validity`` from kb.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import threading
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from kb.search.interfaces import IndexedChunk, Ranked, SearchFilters
from kb.validity import index_bounds

logger = logging.getLogger(__name__)
POINTER = "vectors.json"
# The pointer's layout. 1: one generation and its sequence. 2 (issue 19): a base generation and the deltas
# saved on top of it, in order. A format-1 pointer reads as a base without deltas, so slots saved by an
# earlier kb load as they are (the slot format, ``kb.search.indexer.INDEX_FORMAT``, need not change).
POINTER_FORMAT = 2
# A save after a change writes a delta (the vectors added, with their chunk records, and the ids removed),
# not the whole generation: at 1M vectors a generation is ~1.6 GB, a document's delta ~20 KB (issue 19,
# docs/scaling.md). The deltas are merged into a new base generation, in a background thread, once they
# hold this fraction of the base's bytes ...
DELTA_MERGE_FRACTION = 0.05
# ... or once there are this many (each adds a file to read at start-up and an entry to the pointer).
# At most 1/256 of the index is rewritten per change on average, counting the merges: under 0.4%.
DELTA_MERGE_COUNT = 256
ALLOWED_CACHE = 64  # sets of filters whose admitted ids are remembered
# Up to this many vectors the index is flat: every query scans every vector (exact; at 100k vectors
# that alone took 18 ms on one core of this machine on 2026-12-01). From it on the index is IVF-Flat:
# the same exact float vectors, sorted into k-means lists, and a query scans the lists nearest to it.
# Below half of it the index goes back to flat (no flapping around the threshold).
IVF_MIN_VECTORS = 50_000
# Lists scanned per query when the filters admit every vector; more when they admit fewer (``ivf_probes``).
# Chosen from recall@100 against the flat index on real MiniLM vectors (docs/benchmarks.md).
IVF_NPROBE = 64
IVF_TRAIN_POINTS_PER_LIST = 64  # k-means sample: 64 vectors per list, 10 iterations (seconds at 100k)
IVF_TRAIN_ITERATIONS = 10


def ivf_lists(count: int) -> int:
    """The number of IVF lists for ``count`` vectors: about 2·√N (docs/scaling.md)."""
    return max(1, int(round(2 * math.sqrt(count))))


def ivf_probes(nprobe: int, lists: int, total: int, admitted: int) -> int:
    """IVF lists to scan: ``nprobe``, times all vectors over those the filters admit, at most every list.

    When the filters admit a tenth of the vectors, ten times as many lists are scanned, so about as
    many admitted vectors are compared as without filters; very selective filters scan every list,
    which is the flat index's exact search.
    """
    return min(lists, math.ceil(nprobe * total / max(1, admitted)))


def build_ivf(vectors: np.ndarray, ids: np.ndarray, lists: int):  # noqa: ANN201
    """An IVF-Flat inner-product index over ``vectors`` (k-means on ``IVF_TRAIN_POINTS_PER_LIST`` per
    list, ``IVF_TRAIN_ITERATIONS`` rounds), holding them under ``ids``, with the id → list map that
    reading vectors back and removing them need."""
    import faiss

    dimension = vectors.shape[1]
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dimension), dimension, lists, faiss.METRIC_INNER_PRODUCT)
    index.cp.niter = IVF_TRAIN_ITERATIONS
    index.cp.max_points_per_centroid = IVF_TRAIN_POINTS_PER_LIST
    index.train(vectors)
    index.set_direct_map_type(faiss.DirectMap.Hashtable)
    index.add_with_ids(vectors, ids)
    return index


def generation_files(path: Path, generation: int) -> tuple[Path, Path]:
    return path / f"vectors.{generation}.faiss", path / f"chunks.{generation}.json"


def delta_file(path: Path, number: int) -> Path:
    return path / f"delta.{number}.npz"


NOTHING_SAVED = {"generation": None, "last_seq": 0, "ntotal": 0}


def read_state(path: Path, text: str | None) -> dict:
    """The pointer ``text`` (None: no pointer) as a format-2 state whose files are there.

    The state's ``last_seq`` is the pointer's when every delta it lists is there, whole (its size is
    the one recorded); otherwise the sequence of the last delta before the first one that is not, or
    the base's: a lost or torn delta is a save that did not happen, and the catch-up redoes it. A
    pointer that names base files which are gone, or of a format this kb does not know, counts as
    nothing saved (sequence 0): catch-up then starts from the beginning.
    """
    if text is None:
        return dict(NOTHING_SAVED, base_seq=0, base_bytes=0, deltas=[], next_delta=1)
    state = json.loads(text)
    if int(state.get("format", 1)) > POINTER_FORMAT:
        logger.warning("Vector index %s was saved by a newer kb (pointer format %s): ignored", path, state["format"])
        return read_state(path, None)
    state = {"base_seq": state.get("last_seq", 0), "deltas": [], "next_delta": 1, **state, "format": POINTER_FORMAT}
    if state.get("generation") is None:
        return {**state, "generation": None, "base_bytes": 0}
    files = generation_files(path, int(state["generation"]))
    try:
        base_bytes = sum(f.stat().st_size for f in files)
    except FileNotFoundError:
        return read_state(path, None)
    state["base_bytes"] = base_bytes
    for position, (number, seq, size) in enumerate(state["deltas"]):
        file = delta_file(path, number)
        if not file.exists() or file.stat().st_size != size:
            whole = state["deltas"][:position]
            return {**state, "deltas": whole, "last_seq": whole[-1][1] if whole else state["base_seq"]}
    return state


def saved_state(path: Path) -> dict:
    """The vector index's saved state (base generation, deltas, last applied audit seq, size), read without faiss."""
    pointer = path / POINTER
    return read_state(path, pointer.read_text(encoding="utf-8") if pointer.exists() else None)


def advance_saved_seq(path: Path, last_seq: int) -> None:
    """Record that the saved vectors (unchanged) reflect the audit log up to ``last_seq``, without loading faiss."""
    path.mkdir(parents=True, exist_ok=True)
    state = {**saved_state(path), "last_seq": last_seq}
    write_pointer(path, state)


def write_pointer(path: Path, state: dict) -> None:
    text = json.dumps(state)
    atomic_write(path / POINTER, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def _positions_by_concept(chunks: list[IndexedChunk]) -> dict[int, np.ndarray]:
    """For each concept id, the positions of the chunks that store it: a facet's mask is a few scatters,
    not a pass over every chunk's set."""
    positions: dict[int, list[int]] = {}
    for position, chunk in enumerate(chunks):
        for concept in chunk.concepts:
            positions.setdefault(concept, []).append(position)
    return {concept: np.array(found, dtype=np.int64) for concept, found in positions.items()}


def chunk_record(chunk: IndexedChunk) -> dict:
    """What is saved of a chunk: the fields filters read (text and headings stay in the database)."""
    return {"chunk_id": chunk.chunk_id, "document_id": chunk.document_id, "version_id": chunk.version_id,
            "space_id": chunk.space_id, "tags": list(chunk.tags), "language": chunk.language,
            "audience": chunk.audience, "valid_from_day": chunk.valid_from_day, "valid_until_day": chunk.valid_until_day,
            "concepts": list(chunk.concepts)}


def chunk_from_record(record: dict) -> IndexedChunk:
    return IndexedChunk(**{**record, "heading_path": (), "tags": tuple(record["tags"]), "title": "", "text": "",
                           "concepts": tuple(record.get("concepts", ()))})


def write_delta(file: Path, seq: int, ids: np.ndarray, vectors: np.ndarray, removed: np.ndarray,
                records: list[dict]) -> int:
    """Write one delta (atomically) and return its size in bytes.

    A plain ``.npz`` (read back with ``allow_pickle=False``): ``seq``, the audit sequence it brings the
    index to; ``ids`` and ``vectors``, the vectors added or replaced; ``records``, their chunk records as
    UTF-8 JSON; ``removed``, the ids dropped. zip's CRC-32 of each member catches a torn file.
    """
    payload = np.frombuffer(json.dumps(records).encode("utf-8"), dtype=np.uint8)

    def write(tmp: str) -> None:
        with open(tmp, "wb") as handle:
            np.savez(handle, seq=np.int64(seq), ids=ids, vectors=vectors, removed=removed, records=payload)

    atomic_write(file, write)
    return file.stat().st_size


def write_records(file: str, chunks: Sequence[IndexedChunk]) -> None:
    """The chunk records of a base generation as one JSON list, encoded 10,000 records at a time: a merge in
    a background thread then lets searches have the GIL between the pieces."""
    with open(file, "w", encoding="utf-8") as handle:
        handle.write("[")
        for at in range(0, len(chunks), 10_000):
            handle.write(("," if at else "") + json.dumps([chunk_record(c) for c in chunks[at:at + 10_000]])[1:-1])
        handle.write("]")


def read_delta(file: Path, dimension: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, list[dict]]:
    """``(seq, ids, vectors, removed, records)`` of a delta; ValueError when it is not whole."""
    try:
        with np.load(file, allow_pickle=False) as data:
            seq, ids, vectors = int(data["seq"]), data["ids"], data["vectors"]
            removed, records = data["removed"], json.loads(data["records"].tobytes().decode("utf-8"))
    except (OSError, KeyError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise ValueError(f"{file.name}: {exc}") from exc
    if vectors.shape != (len(ids), dimension) or len(records) != len(ids) or ids.dtype != np.int64:
        raise ValueError(f"{file.name}: {len(ids)} ids, vectors {vectors.shape}, {len(records)} records")
    return seq, ids, np.ascontiguousarray(vectors, dtype=np.float32), removed.astype(np.int64), records


# Background merges running in this process, by index directory: a new FaissVectorIndex over the same
# directory (a slot closed and opened again) waits for the merge of the one before it.
_MERGES: dict[Path, threading.Thread] = {}
_MERGES_LOCK = threading.Lock()


def wait_for_merge(path: Path) -> None:
    """Return once no background merge of the vector index in ``path`` runs in this process."""
    with _MERGES_LOCK:
        thread = _MERGES.get(path.resolve())
    if thread is not None and thread is not threading.current_thread():
        thread.join()


def atomic_write(target: Path, write) -> None:  # noqa: ANN001
    """Write ``target`` through ``write(tmp_path)``, fsync it, rename it into place and fsync the directory."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class _Superseded(Exception):
    """A merge finished after a newer base generation was written: its files are dropped."""


class FaissVectorIndex:
    """faiss inner-product index over normalised vectors; ids are chunk ids; filters as a selector mask.

    Files: a base generation, ``vectors.<g>.faiss`` (the vectors) and ``chunks.<g>.json`` (the filter
    fields of each chunk); deltas saved since, ``delta.<n>.npz`` (the vectors added with their chunk
    records, the ids removed, the audit sequence they bring the index to; ``write_delta``); and
    ``vectors.json``, the pointer that names the base, lists the deltas in order with their sequence
    and size, and records the audit sequence the whole reflects. Each file is written to a temporary
    name, fsynced and renamed; the pointer is written last, so a crash at any moment leaves the
    previous state whole, with the sequence it reflects beside it (RELIABILITY T4). Loading applies the
    deltas to the base in order; a listed delta that is missing or torn ends the state there, with that
    sequence (the catch-up from it is idempotent).

    A save after a change writes a delta; a new base is written by the save only when there is none or
    after ``clear``. Once the deltas hold ``DELTA_MERGE_FRACTION`` of the base's bytes or number
    ``DELTA_MERGE_COUNT`` (or the layout changed), the save starts a merge in a background thread: a
    copy of the in-memory index (which is current: the merge changes no search) is written as the next
    base generation, and the pointer then names it with the deltas saved meanwhile; older files are
    removed. Saves go on during a merge; both change the pointer under one lock and the merge keeps
    every delta newer than its copy, so none is lost (issue 19). The copy is taken in the merge thread
    (searches wait for it: 0.8 s at 1M vectors, docs/benchmarks.md), never in the save that started it;
    the thread is not a daemon, so a process that ends normally finishes its merge, and a new index
    over the same directory in this process waits for it (``wait_for_merge``).
    """

    def __init__(self, path: Path, dimension: int) -> None:
        import faiss

        self._faiss = faiss
        self.path = path
        self.dimension = dimension
        path.mkdir(parents=True, exist_ok=True)
        wait_for_merge(path)  # the files of this directory's previous holder in this process, settled
        self._lock = threading.RLock()
        self._save_lock = threading.Lock()  # one save at a time: deltas are numbered in the order of their changes
        self._files_lock = threading.Lock()  # the pointer and the clean-up of files, shared by saves and the merge
        self._merge: threading.Thread | None = None
        self._dirty = False
        self._pending: set[int] = set()  # ids added or changed since the last save (their vectors go in the delta)
        self._removed: set[int] = set()  # ids dropped since the last save
        self._whole = False  # the next save writes a base generation (after ``clear``)
        self._relayout = False  # the layout changed: the next save merges, so the base is read back in it
        self._load(faiss)
        if self._state["generation"] is not None:
            if self.index.d != dimension:
                raise RuntimeError(f"The vector index has dimension {self.index.d}, the model {dimension}: run `kb reindex`")
            if self.index.ntotal != len(self._meta):
                raise RuntimeError(f"Bug: {self.index.ntotal} vectors but {len(self._meta)} chunk records in generation {self.generation}")
        self._ivf = self._as_ivf(self.index)
        self._changes = 0  # counts changes, so that a re-organisation built meanwhile is not swapped in stale
        self._arrays: tuple[np.ndarray, ...] | None = None
        # The ids each set of filters admits, until the index changes: most searches share a few sets
        # (an employee's default filters, the public's), and the masks cost ~1 ms each at 100k chunks.
        self._allowed: dict[SearchFilters, np.ndarray] = {}

    def _load(self, faiss) -> None:  # noqa: ANN001
        """Read the base generation and apply its deltas in order (see the class docstring)."""
        pointer = self.path / POINTER
        for attempt in range(3):  # a reader (kb index check) may race the holder's removal of older files
            self._meta: dict[int, IndexedChunk] = {}
            text = pointer.read_text(encoding="utf-8") if pointer.exists() else None
            state = read_state(self.path, text)
            self.generation = int(state["generation"]) if state["generation"] is not None else 0
            if state["generation"] is None:
                self.index = self._flat()
                break
            index_file, meta_file = self._files(self.generation)
            try:
                self.index = faiss.read_index(str(index_file))
                records = json.loads(meta_file.read_text(encoding="utf-8"))
            except (FileNotFoundError, RuntimeError):
                if attempt == 2:
                    raise
                continue
            for record in records:
                chunk = chunk_from_record(record)
                self._meta[chunk.chunk_id] = chunk
            self._as_ivf(self.index)
            applied = self._apply_deltas(state["deltas"])
            if applied < len(state["deltas"]):
                if (pointer.read_text(encoding="utf-8") if pointer.exists() else None) != text and attempt < 2:
                    continue  # the holder moved on meanwhile: read its newer state
                logger.warning("Vector index %s: delta %d is missing or torn; loaded up to the delta before it",
                               self.path, state["deltas"][applied][0])
                whole = state["deltas"][:applied]
                state = {**state, "deltas": whole, "last_seq": whole[-1][1] if whole else state["base_seq"],
                         "ntotal": int(self.index.ntotal)}
            break
        self._state = state
        self.last_seq = int(state.get("last_seq", 0))

    def _apply_deltas(self, deltas: list) -> int:
        """Apply the listed deltas in order, up to the first that cannot be read whole; how many were applied.

        On one OpenMP thread: a delta adds a few vectors, and starting the threads for each cost more
        than the work (an IVF add of 10 vectors at 60,000: 0.9 ms on one thread, up to 46 ms on two on
        a busy machine, 2026-12-07).
        """
        threads = self._faiss.omp_get_max_threads()
        self._faiss.omp_set_num_threads(1)
        try:
            return self._apply_deltas_in_order(deltas)
        finally:
            self._faiss.omp_set_num_threads(threads)

    def _apply_deltas_in_order(self, deltas: list) -> int:
        for position, (number, seq, _size) in enumerate(deltas):
            try:
                delta_seq, ids, vectors, removed, records = read_delta(delta_file(self.path, number), self.dimension)
            except (ValueError, FileNotFoundError) as exc:
                logger.warning("Vector index %s: %s", self.path, exc)
                return position
            if delta_seq != seq:
                logger.warning("Vector index %s: delta %d brings seq %d, the pointer says %d", self.path, number, delta_seq, seq)
                return position
            gone = np.union1d(removed, ids)
            if len(gone):
                self.index.remove_ids(gone)
            if len(ids):
                self.index.add_with_ids(vectors, ids)
            for cid in removed.tolist():
                self._meta.pop(cid, None)
            for record in records:
                chunk = chunk_from_record(record)
                self._meta[chunk.chunk_id] = chunk
        return len(deltas)

    def _files(self, generation: int) -> tuple[Path, Path]:
        return generation_files(self.path, generation)

    def _flat(self):  # noqa: ANN202
        return self._faiss.IndexIDMap2(self._faiss.IndexFlatIP(self.dimension))

    def _as_ivf(self, index):  # noqa: ANN001, ANN202
        """``index`` when it is IVF (with the id → list map that ``vectors`` and ``remove_ids`` need), else None."""
        faiss = self._faiss
        if not isinstance(index, faiss.IndexIVF):
            return None
        if index.direct_map.type != faiss.DirectMap.Hashtable:
            index.set_direct_map_type(faiss.DirectMap.Hashtable)
        return index

    @property
    def layout(self) -> str:
        """``flat``, or ``ivf-<lists>``."""
        return "flat" if self._ivf is None else f"ivf-{self._ivf.nlist}"

    def _wanted_lists(self, count: int) -> int:
        """The IVF list count this many vectors call for: 0 for flat; the current count while it is near enough."""
        if self._ivf is None:
            return ivf_lists(count) if count >= IVF_MIN_VECTORS else 0
        if count < IVF_MIN_VECTORS // 2:
            return 0
        wanted, held = ivf_lists(count), self._ivf.nlist
        return held if held / 2 <= wanted <= held * 2 else wanted  # re-train when the corpus grew or shrank 4×

    def _reorganise(self) -> None:
        """Move between flat and IVF-Flat (or re-train IVF) when the vector count calls for it.

        The new index is trained and filled from a snapshot of the vectors outside the lock, so
        searches go on meanwhile on the current one; it replaces the current one only if nothing
        changed in between (otherwise the next save tries again).
        """
        with self._lock:
            count = int(self.index.ntotal)
            lists = self._wanted_lists(count)
            if lists == (0 if self._ivf is None else self._ivf.nlist):
                return
            changes = self._changes
            ids = np.fromiter(self._meta, dtype=np.int64, count=len(self._meta))
            vectors = self.index.reconstruct_batch(ids) if len(ids) else np.zeros((0, self.dimension), np.float32)
        if lists == 0:
            index = self._flat()
            index.add_with_ids(vectors, ids)
        else:
            index = build_ivf(vectors, ids, lists)
        with self._lock:
            if self._changes != changes:
                return
            self.index, self._ivf = index, self._as_ivf(index)
            self._invalidate()
            self._relayout = True  # the deltas still hold (they are layout-free); a merge writes the new layout
        logger.info("Vector index %s: %d vectors, now %s", self.path, count, self.layout)

    def _invalidate(self) -> None:
        self._arrays = None
        self._allowed.clear()
        self._dirty = True
        self._changes += 1

    def upsert(self, chunks: Sequence[IndexedChunk], vectors: np.ndarray) -> None:
        if len(chunks) != len(vectors):
            raise ValueError("Bug: one vector per chunk")
        with self._lock:
            ids = np.array([c.chunk_id for c in chunks], dtype=np.int64)
            if len(ids):
                self.index.remove_ids(ids)
                self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
            for chunk in chunks:
                self._meta[chunk.chunk_id] = chunk
            self._pending.update(ids.tolist())
            self._invalidate()

    def retain(self, chunks: Sequence[IndexedChunk], document_ids: Iterable[int] | None = None) -> set[int]:
        """Keep the vectors already held for ``chunks`` (with their filter fields refreshed); drop the rest.

        Only vectors of ``document_ids`` are dropped when given, every other vector otherwise. A chunk's
        text never changes once its version is submitted, so a vector held for its id stays valid and
        need not be encoded again (re-syncs, catch-up after a crash, ``kb reindex``). Returns the ids kept.
        """
        wanted = {chunk.chunk_id: chunk for chunk in chunks}
        scope = None if document_ids is None else set(document_ids)
        with self._lock:
            drop = [cid for cid, c in self._meta.items()
                    if cid not in wanted and (scope is None or c.document_id in scope)]
            if drop:
                self.index.remove_ids(np.array(drop, dtype=np.int64))
                for cid in drop:
                    del self._meta[cid]
                self._removed.update(drop)
                self._pending.difference_update(drop)
            kept = {cid for cid in wanted if cid in self._meta}
            # Records read from disk carry no text: compare the filter fields, which is what is saved.
            refreshed = {cid for cid in kept if self._meta[cid].facts != wanted[cid].facts}
            changed = bool(drop) or bool(refreshed)
            for cid in kept:
                self._meta[cid] = wanted[cid]
            self._pending.update(refreshed)  # saved again whole, vector included: a delta has one kind of entry
            if changed:  # otherwise there is no new generation to write
                self._invalidate()
        return kept

    def clear(self) -> None:
        with self._lock:
            self.index, self._ivf = self._flat(), None
            self._meta.clear()
            self._pending.clear()
            self._removed.clear()
            self._whole = True
            self._invalidate()

    def _filter_arrays(self) -> tuple[np.ndarray, ...]:
        if self._arrays is None:
            chunks = list(self._meta.values())
            self._arrays = (
                np.array([c.chunk_id for c in chunks], dtype=np.int64),
                np.array([c.audience == "public" for c in chunks], dtype=bool),
                np.array([c.space_id for c in chunks], dtype=np.int64),
                np.array([c.valid_from_day for c in chunks], dtype=np.int64),
                np.array([c.valid_until_day for c in chunks], dtype=np.int64),
                np.array([c.language for c in chunks], dtype=object),
                np.array([frozenset(c.tags) for c in chunks], dtype=object),
                _positions_by_concept(chunks),
            )
        return self._arrays

    def allowed_ids(self, filters: SearchFilters) -> np.ndarray:
        with self._lock:
            allowed = self._allowed.get(filters)
            if allowed is None:
                if len(self._allowed) >= ALLOWED_CACHE:
                    self._allowed.clear()
                allowed = self._allowed[filters] = self._compute_allowed(filters)
            return allowed

    def _compute_allowed(self, filters: SearchFilters) -> np.ndarray:
        ids, public, space, vfrom, vuntil, language, tags, concepts = self._filter_arrays()
        latest_start, earliest_end = index_bounds(filters.on_day)
        mask = (vfrom <= latest_start) & (vuntil >= earliest_end)
        if not filters.include_internal:
            mask &= public
        if filters.spaces is not None:
            mask &= np.isin(space, np.array(sorted(filters.spaces), dtype=np.int64))
        if filters.languages is not None:
            mask &= np.isin(language, np.array(sorted(filters.languages), dtype=object))
        if filters.tags is not None:
            wanted = filters.tags
            mask &= np.fromiter((bool(wanted & t) for t in tags), dtype=bool, count=len(tags))
        for group in filters.concepts or ():
            held = np.zeros(len(ids), dtype=bool)
            for concept in group:
                positions = concepts.get(concept)
                if positions is not None:
                    held[positions] = True
            mask &= held
        return ids[mask]

    def search(self, vector: np.ndarray, filters: SearchFilters, limit: int) -> Ranked:
        faiss = self._faiss
        with self._lock:
            allowed = self.allowed_ids(filters)
            if len(allowed) == 0:
                return []
            query = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
            k = min(limit, len(allowed))
            selector = None if len(allowed) == self.index.ntotal else faiss.IDSelectorBatch(allowed)
            if self._ivf is None:
                params = None if selector is None else faiss.SearchParameters(sel=selector)
            else:
                params = faiss.SearchParametersIVF(sel=selector, nprobe=ivf_probes(IVF_NPROBE, self._ivf.nlist, self.index.ntotal, len(allowed)))
            # One thread per query: a single query's scan is memory-bound, and splitting it over both
            # cores made it slower (100k vectors: 11.9 ms on one thread, 17.4 ms on two; docs/benchmarks.md);
            # concurrent requests use the other core. The OpenMP thread count is the calling thread's
            # setting and torch shares the runtime, so it is put back at once: encoding keeps both cores.
            threads = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(1)
            try:
                scores, ids = self.index.search(query, k, params=params)
            finally:
                faiss.omp_set_num_threads(threads)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i != -1]

    def vectors(self, chunk_ids: Iterable[int]) -> dict[int, np.ndarray]:
        with self._lock:
            held = [int(cid) for cid in dict.fromkeys(chunk_ids) if int(cid) in self._meta]
            if not held:
                return {}
            return dict(zip(held, self.index.reconstruct_batch(np.array(held, dtype=np.int64))))

    def save(self, last_seq: int) -> None:
        """Save the changes since the last save as a delta with ``last_seq`` (a base generation when there is
        none yet, or after ``clear``), then the pointer; start a background merge when the deltas call for it.

        When nothing changed since the last save only the pointer's sequence moves on.
        """
        with self._save_lock:
            self._reorganise()
            if self._whole or self._state["generation"] is None:
                self.wait_for_merge()  # its base would be superseded by this one (and it takes the lock)
            with self._lock:
                if not self._dirty and self.path.joinpath(POINTER).exists():
                    with self._files_lock:
                        self._commit({**self._state, "last_seq": last_seq})
                    self.last_seq = last_seq
                    return
                whole = self._whole or self._state["generation"] is None
                if whole:  # written under the lock, as every save was before deltas: rare, and no copy
                    try:
                        self._write_base(self._snapshot(copy=False), last_seq)
                    except BaseException:
                        self._dirty = True
                        raise
                    self._pending, self._removed, self._dirty, self._whole = set(), set(), False, False
                    self.last_seq = last_seq
                    return
                ids = np.array(sorted(self._pending), dtype=np.int64)
                removed = np.array(sorted(self._removed - self._pending), dtype=np.int64)
                vectors = self.index.reconstruct_batch(ids) if len(ids) else np.zeros((0, self.dimension), np.float32)
                records = [chunk_record(self._meta[cid]) for cid in ids.tolist()]
                ntotal = int(self.index.ntotal)
                pending, dropped = self._pending, self._removed
                self._pending, self._removed, self._dirty = set(), set(), False
            try:  # the delta is written outside the lock: searches go on
                with self._files_lock:
                    number = int(self._state["next_delta"])
                    size = write_delta(delta_file(self.path, number), last_seq, ids, vectors, removed, records)
                    self._commit({**self._state, "deltas": [*self._state["deltas"], [number, last_seq, size]],
                                  "next_delta": number + 1, "last_seq": last_seq, "ntotal": ntotal})
            except BaseException:
                with self._lock:  # not saved: the next save writes these changes (with their values then)
                    self._pending |= pending
                    self._removed |= dropped
                    self._dirty = True
                raise
            self.last_seq = last_seq
            if self._merge_due():
                self._start_merge()

    def _merge_due(self) -> bool:
        deltas = self._state["deltas"]
        if not deltas or (self._merge is not None and self._merge.is_alive()):
            return False
        return (self._relayout or len(deltas) >= DELTA_MERGE_COUNT
                or sum(size for _number, _seq, size in deltas) >= DELTA_MERGE_FRACTION * self._state["base_bytes"])

    def _snapshot(self, copy: bool) -> tuple:
        """The index (a copy of it if ``copy``), its chunks, their count, and the last delta saved, with its
        sequence (caller holds the lock)."""
        self._relayout = False
        deltas = self._state["deltas"]
        index = self._faiss.clone_index(self.index) if copy else self.index
        return (index, list(self._meta.values()), int(self.index.ntotal),
                deltas[-1][0] if deltas else 0, deltas[-1][1] if deltas else self._state["base_seq"])

    def _write_base(self, snapshot: tuple, last_seq: int | None = None) -> bool:
        """Write ``snapshot`` as the next base generation; name it in the pointer with the deltas saved after
        it (a merge) or none (``last_seq`` given: a save). False when a newer base was written meanwhile."""
        index, chunks, ntotal, through, base_seq = snapshot
        with self._files_lock:
            generation = max(self.generation, int(self._state.get("next_generation", 0))) + 1
            self._state["next_generation"] = generation  # no two writers pick the same name
        index_file, meta_file = self._files(generation)
        try:
            atomic_write(index_file, lambda tmp: self._faiss.write_index(index, tmp))  # faiss lets go of the GIL
            del index
            atomic_write(meta_file, lambda tmp: write_records(tmp, chunks))
            base_bytes = index_file.stat().st_size + meta_file.stat().st_size
            with self._files_lock:
                if generation < self.generation:
                    raise _Superseded
                state = self._state
                if last_seq is None:  # a merge: the deltas saved after its copy stay, in order
                    kept = [d for d in state["deltas"] if d[0] > through]
                    new = {**state, "deltas": kept}
                else:  # a save of the whole index: it reflects every delta and ``last_seq``
                    new = {**state, "deltas": [], "last_seq": last_seq, "ntotal": ntotal}
                    base_seq = last_seq
                self._commit({**new, "generation": generation, "base_seq": base_seq, "base_bytes": base_bytes,
                              "dimension": self.dimension}, generation)
            return True
        except _Superseded:
            index_file.unlink(missing_ok=True)
            meta_file.unlink(missing_ok=True)
            return False

    def _commit(self, state: dict, generation: int | None = None) -> None:
        """Write ``state`` as the pointer, then remove the files it no longer names (caller holds ``_files_lock``)."""
        state = {**state, "format": POINTER_FORMAT, "dimension": self.dimension}
        write_pointer(self.path, state)
        self._state = state
        if generation is not None:
            self.generation = generation
        listed = {number for number, _seq, _size in state["deltas"]}
        merging = self._merge is not None and self._merge.is_alive() and self._merge is not threading.current_thread()
        for old in self.path.iterdir():
            parts = old.name.split(".")
            if old.name.startswith(".") and not merging and parts[1] in ("vectors", "chunks", "delta"):
                old.unlink(missing_ok=True)  # a temporary file a killed process left
            elif (parts[0] in ("vectors", "chunks") and len(parts) == 3 and parts[1].isdigit()
                    and int(parts[1]) < self.generation):
                old.unlink(missing_ok=True)  # an older generation (newer ones: a merge under way)
            elif (parts[0] == "delta" and len(parts) == 3 and parts[1].isdigit()
                    and int(parts[1]) not in listed and int(parts[1]) < int(state["next_delta"])):
                old.unlink(missing_ok=True)  # merged, or torn

    def _start_merge(self) -> None:
        thread = threading.Thread(target=self._run_merge, name=f"kb-vector-merge:{self.path.name}")
        self._merge = thread
        with _MERGES_LOCK:
            _MERGES[self.path.resolve()] = thread
        thread.start()

    def _run_merge(self) -> None:
        """Copy the index under the lock (a memory copy; searches wait for it), write the copy as a base.

        The copy may already hold changes made after the last delta (the indexer changes and saves in
        one thread, so rarely). The deltas saved after it set those entries to the same values again,
        so applying them to this base is harmless; should the process die before they are saved, the
        base holds changes past its sequence, all of them to documents the catch-up from that sequence
        re-syncs (idempotently).
        """
        relayout = False
        try:
            with self._lock:
                relayout = self._relayout
                snapshot = self._snapshot(copy=True)
            if self._write_base(snapshot):
                logger.info("Vector index %s: deltas merged into generation %d", self.path, self.generation)
        except Exception:  # the deltas stay, whole: the next save tries again
            logger.exception("Vector index %s: merging the deltas failed", self.path)
            with self._lock:
                self._relayout = self._relayout or relayout
        finally:
            with _MERGES_LOCK:
                if _MERGES.get(self.path.resolve()) is threading.current_thread():
                    del _MERGES[self.path.resolve()]

    def wait_for_merge(self) -> None:
        """Return once the background merge of the deltas, if one runs, has finished (tests, benchmarks, closing)."""
        thread = self._merge
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def chunk_ids(self) -> set[int]:
        return set(self._meta)

    def chunk_facts(self) -> dict[int, str]:
        return {cid: chunk.facts for cid, chunk in self._meta.items()}

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)
