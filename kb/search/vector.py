"""The faiss vector index: the only module that imports faiss (the encoders are ``kb.search.encoders``).

faiss is imported inside functions (``kb --help`` must stay fast; import-linter forbids it anywhere
else). Filters apply before top-k, as a mask of admitted ids; the index is plain files (generations
with their audit sequence, a JSON pointer), never pickles; large indexes turn IVF. Imports only
``kb.search.interfaces`` and ``kb.validity`` from kb.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from kb.search.interfaces import IndexedChunk, Ranked, SearchFilters
from kb.validity import index_bounds

logger = logging.getLogger(__name__)
POINTER = "vectors.json"
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


def saved_state(path: Path) -> dict:
    """The vector index's pointer file (generation, last applied audit seq, size), read without faiss.

    A pointer that names files which are gone counts as nothing saved (sequence 0): catch-up then
    starts from the beginning.
    """
    pointer = path / POINTER
    if not pointer.exists():
        return {"generation": None, "last_seq": 0, "ntotal": 0}
    state = json.loads(pointer.read_text(encoding="utf-8"))
    if state.get("generation") is not None and not all(f.exists() for f in generation_files(path, int(state["generation"]))):
        return {"generation": None, "last_seq": 0, "ntotal": 0}
    return state


def advance_saved_seq(path: Path, last_seq: int) -> None:
    """Record that the saved vectors (unchanged) reflect the audit log up to ``last_seq``, without loading faiss."""
    path.mkdir(parents=True, exist_ok=True)
    state = {**saved_state(path), "last_seq": last_seq}
    atomic_write(path / POINTER, lambda tmp: Path(tmp).write_text(json.dumps(state), encoding="utf-8"))


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


class FaissVectorIndex:
    """faiss inner-product index over normalised vectors; ids are chunk ids; filters as a selector mask.

    Files, one generation at a time: ``vectors.<g>.faiss`` (the vectors), ``chunks.<g>.json`` (the filter
    fields of each chunk) and ``vectors.json``, the pointer that names the generation and records the
    audit sequence it reflects. Each file is written to a temporary name, fsynced and renamed; the
    pointer is written last, so a crash at any moment leaves the previous generation whole, with the
    sequence it reflects beside it (RELIABILITY T4).
    """

    def __init__(self, path: Path, dimension: int) -> None:
        import faiss

        self._faiss = faiss
        self.path = path
        self.dimension = dimension
        path.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._dirty = False
        for attempt in range(3):  # a reader (kb index check) may race the holder's removal of an old generation
            self._meta: dict[int, IndexedChunk] = {}
            state = saved_state(path)
            self.last_seq = int(state.get("last_seq", 0))
            self.generation = int(state["generation"]) if state.get("generation") is not None else 0
            if state.get("generation") is None:
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
                chunk = IndexedChunk(**{**record, "heading_path": (), "tags": tuple(record["tags"]), "title": "", "text": ""})
                self._meta[chunk.chunk_id] = chunk
            break
        if state.get("generation") is not None:
            if self.index.d != dimension:
                raise RuntimeError(f"The vector index has dimension {self.index.d}, the model {dimension}: run `kb reindex`")
            if self.index.ntotal != len(self._meta):
                raise RuntimeError(f"Bug: {self.index.ntotal} vectors but {len(self._meta)} chunk records in generation {self.generation}")
        else:
            self.index = self._flat()
        self._ivf = self._as_ivf(self.index)
        self._changes = 0  # counts changes, so that a re-organisation built meanwhile is not swapped in stale
        self._arrays: tuple[np.ndarray, ...] | None = None
        # The ids each set of filters admits, until the index changes: most searches share a few sets
        # (an employee's default filters, the public's), and the masks cost ~1 ms each at 100k chunks.
        self._allowed: dict[SearchFilters, np.ndarray] = {}

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
            kept = {cid for cid in wanted if cid in self._meta}
            # Records read from disk carry no text: compare the filter fields, which is what is saved.
            changed = bool(drop) or any(self._meta[cid].facts != wanted[cid].facts for cid in kept)
            for cid in kept:
                self._meta[cid] = wanted[cid]
            if changed:  # otherwise there is no new generation to write
                self._invalidate()
        return kept

    def clear(self) -> None:
        with self._lock:
            self.index, self._ivf = self._flat(), None
            self._meta.clear()
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
        ids, public, space, vfrom, vuntil, language, tags = self._filter_arrays()
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
        """Write a new generation, then the pointer naming it with ``last_seq``; remove older generations.

        When nothing changed since the last save only the pointer's sequence moves on.
        """
        self._reorganise()
        with self._lock:
            if not self._dirty and self.path.joinpath(POINTER).exists():
                advance_saved_seq(self.path, last_seq)
                self.last_seq = last_seq
                return
            generation = self.generation + 1
            index_file, meta_file = self._files(generation)
            atomic_write(index_file, lambda tmp: self._faiss.write_index(self.index, tmp))
            records = [{"chunk_id": c.chunk_id, "document_id": c.document_id, "version_id": c.version_id,
                        "space_id": c.space_id, "tags": list(c.tags), "language": c.language, "audience": c.audience,
                        "valid_from_day": c.valid_from_day, "valid_until_day": c.valid_until_day}
                       for c in self._meta.values()]
            payload = json.dumps(records)
            atomic_write(meta_file, lambda tmp: Path(tmp).write_text(payload, encoding="utf-8"))
            pointer = json.dumps({"generation": generation, "last_seq": last_seq, "ntotal": int(self.index.ntotal),
                                  "dimension": self.dimension})
            atomic_write(self.path / POINTER, lambda tmp: Path(tmp).write_text(pointer, encoding="utf-8"))
            self.generation, self.last_seq, self._dirty = generation, last_seq, False
            for old in self.path.iterdir():
                name = old.name
                if (name.startswith(("vectors.", "chunks.")) and name != POINTER
                        and name not in (index_file.name, meta_file.name)):
                    old.unlink(missing_ok=True)

    def chunk_ids(self) -> set[int]:
        return set(self._meta)

    def chunk_facts(self) -> dict[int, str]:
        return {cid: chunk.facts for cid, chunk in self._meta.items()}

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)
