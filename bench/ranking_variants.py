"""The ranking variants of issue 18, each scored on one BEIR-layout collection with kb's own pieces.

    .venv/bin/python bench/ranking_variants.py DIR [--windows] [--cache DIR]

What docs/benchmarks.md ("Search that generalises") tabulates for SciFact and Cranfield, rebuilt:
kb's chunker, kb's tantivy index, kb's MiniLM encoder, and kb's fusion and feedback functions, over
the collection's passages held in memory (no database, no service: faster than
bench/search_quality.py, which confirms the chosen configuration end to end). Passage vectors are
cached under ``--cache`` by content. Prints one line per variant: ``VARIANT ndcg@10=… recall@100=…``.

- keyword layouts: the fields before issue 18 (title, headings, body apart, equal weights), and the
  body holding the whole passage with the title and headings fields weighted 0 / 0.25 / 0.5 / 1;
- first-pass fusions: z-scores at several keyword weights, min-max, RRF;
- relevance feedback: seeds (passages for the keyword expansion, passages for the vector), the
  second fusion's weight, and the previous defaults;
- with ``--windows`` (encodes the collection again, slow): the encoder's 256-piece window, every
  window encoded and averaged or the best one taken, and shorter passages.

Nothing here is tuned per collection: the same variants for every directory.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from search_quality import evaluate, load_collection  # noqa: E402

from kb.documents import chunking  # noqa: E402
from kb.search import feedback  # noqa: E402
from kb.search import keyword_tantivy  # noqa: E402
from kb.search.hybrid import reciprocal_rank_fusion, zscore_fusion  # noqa: E402
from kb.search.interfaces import IndexedChunk, SearchFilters, keyword_fields  # noqa: E402

FILTERS = SearchFilters(include_internal=True)
DEPTH = 100


class Collection:
    """A collection's passages (kb's chunker), their vectors, its questions and their vectors."""

    def __init__(self, directory: Path, cache: Path, target: int = chunking.TARGET_WORDS, most: int = chunking.MAX_WORDS) -> None:
        self.corpus, self.queries, self.qrels = load_collection(directory, None)
        self.ids = [str(d["_id"]) for d in self.corpus]
        saved = chunking.TARGET_WORDS, chunking.MAX_WORDS
        chunking.TARGET_WORDS, chunking.MAX_WORDS = target, most
        self.chunks: list[IndexedChunk] = []
        try:
            for d, doc in enumerate(self.corpus):
                title = ((doc.get("title") or "").strip() or f"Document {doc['_id']}")[:300]
                for piece in chunking.chunk_markdown((doc.get("text") or "").strip() or title, title):
                    self.chunks.append(IndexedChunk(len(self.chunks) + 1, d, d, 1, title, piece.heading_path, piece.text,
                                                    (), "en", "public"))
        finally:
            chunking.TARGET_WORDS, chunking.MAX_WORDS = saved
        self.doc_of = {c.chunk_id: c.document_id for c in self.chunks}
        self.position = {c.chunk_id: i for i, c in enumerate(self.chunks)}
        self.qids = list(self.queries)
        self.cache = cache
        self.vectors = encode([c.embedding_text for c in self.chunks], cache)
        self.query_vectors = encode([self.queries[q] for q in self.qids], cache)

    def score(self, label: str, ranking) -> None:  # noqa: ANN001
        """Score ``ranking(qid, i) -> [(chunk id, score)]`` as documents (a document's best passage), and print."""
        documents = {}
        for i, qid in enumerate(self.qids):
            seen: dict[int, None] = {}
            for cid, _ in ranking(qid, i):
                seen.setdefault(self.doc_of[cid], None)
            documents[qid] = [self.ids[d] for d in list(seen)[:100]]
        ndcg, recall = evaluate(documents, self.qrels)
        print(f"{label:70s} ndcg@10={ndcg:.4f} recall@100={recall:.4f}", flush=True)


def encode(texts: list[str], cache: Path) -> np.ndarray:
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / (hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:24] + ".npy")
    if path.exists():
        return np.load(path)
    from kb.search.encoders import SentenceTransformerEmbedder

    vectors = SentenceTransformerEmbedder().encode(texts)
    np.save(path, vectors)
    return vectors


def keyword_index(chunks: list[IndexedChunk], fields=keyword_fields, weights=None):  # noqa: ANN001, ANN201
    """kb's tantivy index over ``chunks`` with a field layout and weights (the module's own by default):
    (index, layout), the layout to search it with."""
    layout = (fields, weights or keyword_tantivy.TEXT_FIELD_WEIGHTS)
    saved = keyword_tantivy.keyword_fields, keyword_tantivy.TEXT_FIELD_WEIGHTS
    keyword_tantivy.keyword_fields, keyword_tantivy.TEXT_FIELD_WEIGHTS = layout
    try:
        index = keyword_tantivy.TantivyKeywordIndex(Path(tempfile.mkdtemp(prefix="kb-variants-")))
        index.upsert(chunks)
        index.commit()
    finally:
        keyword_tantivy.keyword_fields, keyword_tantivy.TEXT_FIELD_WEIGHTS = saved
    return index, layout


def search(indexed, text: str, expansion=()):  # noqa: ANN001, ANN201
    """The index's passages for ``text`` (English analyser), searched with the weights of its layout."""
    index, layout = indexed
    saved = keyword_tantivy.TEXT_FIELD_WEIGHTS
    keyword_tantivy.TEXT_FIELD_WEIGHTS = layout[1]
    try:
        return index.search(text, FILTERS, DEPTH, language="en", expansion=expansion)
    finally:
        keyword_tantivy.TEXT_FIELD_WEIGHTS = saved


def dense(c: Collection, vectors: np.ndarray | None = None, owners: list[int] | None = None) -> dict[str, list]:
    """Each question's passages by cosine (best first), from ``vectors`` owned by ``owners`` (one per passage by default)."""
    vectors = c.vectors if vectors is None else vectors
    owners = [ch.chunk_id for ch in c.chunks] if owners is None else owners
    scores = c.query_vectors @ vectors.T
    out = {}
    for i, qid in enumerate(c.qids):
        top = np.argsort(-scores[i])[:DEPTH * 4]
        seen: dict[int, float] = {}
        for j in top:
            seen.setdefault(owners[j], float(scores[i, j]))
        out[qid] = list(seen.items())[:DEPTH]
    return out


def before_issue_18(chunk: IndexedChunk) -> dict[str, str]:
    return {"title": chunk.title, "headings": " ".join(chunk.heading_path[1:]), "body": chunk.text}


def main() -> None:  # noqa: C901
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--windows", action="store_true", help="also the encoder-window variants (encodes again)")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "kb-ranking-variants")
    args = parser.parse_args()
    c = Collection(args.directory, args.cache)
    print(f"collection {args.directory.name}: {len(c.corpus)} documents, {len(c.chunks)} passages, {len(c.qids)} questions")

    equal = {"title": 1.0, "headings": 1.0, "body": 1.0}
    c.score("keyword: before issue 18 (fields apart, weights 1/1/1)", lambda q, i, k=keyword_index(c.chunks, before_issue_18, equal):
            search(k, c.queries[q]))
    for weight in (0.0, 0.25, 0.5, 1.0):
        layout = {"title": weight, "headings": weight, "body": 1.0}
        c.score(f"keyword: body = whole passage, title/headings weight {weight}",
                lambda q, i, k=keyword_index(c.chunks, keyword_fields, layout): search(k, c.queries[q]))

    kw_index = keyword_index(c.chunks)
    kw = {q: search(kw_index, c.queries[q]) for q in c.qids}
    sem = dense(c)
    c.score("semantic", lambda q, i: sem[q])
    for weight in (0.3, 0.4, 0.5, 0.6):
        c.score(f"first pass: z-scores, {weight} on keyword", lambda q, i, w=weight: zscore_fusion([kw[q], sem[q]], [w, 1 - w]))
    c.score("first pass: RRF (k = 60)", lambda q, i: reciprocal_rank_fusion([kw[q], sem[q]]))

    def minmax(ranking):  # noqa: ANN001, ANN202
        if not ranking:
            return {}
        low, high = min(s for _, s in ranking), max(s for _, s in ranking)
        return {item: (s - low) / ((high - low) or 1) for item, s in ranking}

    def convex(a, b, w):  # noqa: ANN001, ANN202
        ma, mb = minmax(a), minmax(b)
        return sorted({i: w * ma.get(i, 0) + (1 - w) * mb.get(i, 0) for i in {*ma, *mb}}.items(), key=lambda p: -p[1])

    for weight in (0.3, 0.5):
        c.score(f"first pass: min-max convex, {weight} on keyword", lambda q, i, w=weight: convex(kw[q], sem[q], w))

    def with_feedback(q: str, i: int, seeds: int, vector_seeds: int, second: float) -> list:
        first = zscore_fusion([kw[q], sem[q]])
        top = [cid for cid, _ in first][:seeds]
        passages = [kw_index[0].terms(" ".join(c.chunks[c.position[cid]].heading_path) + "\n" + c.chunks[c.position[cid]].text, "en")
                    for cid in top]
        total, frequencies = kw_index[0].term_statistics("en", {t for p in passages for t in p})
        expansion = [("en", t, w) for t, w in feedback.expansion_terms(passages, frequencies, total)]
        expanded = search(kw_index, c.queries[q], expansion)
        candidates = {cid: c.vectors[c.position[cid]] for r in (kw[q], sem[q], expanded) for cid, _ in r}
        moved = feedback.rocchio(c.query_vectors[i], c.vectors[[c.position[cid] for cid in top[:vector_seeds]]])
        return zscore_fusion([expanded, feedback.rescore(moved, candidates, 0.0)], [second, 1 - second])

    for seeds, vector_seeds, second, label in ((10, 3, 0.5, "before issue 18"), (3, 3, 0.5, ""), (3, 1, 0.5, ""),
                                               (3, 1, 0.4, ""), (2, 1, 0.5, ""), (2, 1, 0.4, "chosen"), (2, 1, 0.3, "")):
        c.score(f"feedback: {seeds} passages, vector towards {vector_seeds}, second fusion {second} on keyword"
                + (f" ({label})" if label else ""),
                lambda q, i, s=seeds, v=vector_seeds, w=second: with_feedback(q, i, s, v, w))

    if args.windows:
        from kb.search.encoders import SentenceTransformerEmbedder

        tokenizer = SentenceTransformerEmbedder()._load().tokenizer
        texts, owners, mean_rows = [], [], []
        for chunk in c.chunks:
            text = chunk.embedding_text
            offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
            starts = range(0, max(len(offsets) - 254, 0) + 1, 192) if len(offsets) > 254 else [0]
            pieces = [text[offsets[s][0]:offsets[min(s + 254, len(offsets)) - 1][1]] for s in starts] if offsets else [text]
            mean_rows.append((len(texts), len(pieces)))
            texts += pieces
            owners += [chunk.chunk_id] * len(pieces)
        windows = encode(texts, args.cache)
        means = np.stack([windows[a:a + n].mean(axis=0) for a, n in mean_rows])
        means /= np.linalg.norm(means, axis=1, keepdims=True)
        c.score("semantic: every 254-piece window, their mean", lambda q, i, r=dense(c, means): r[q])
        c.score("semantic: every 254-piece window, the best", lambda q, i, r=dense(c, windows, owners): r[q])
        short = Collection(args.directory, args.cache, 150, 180)
        short_sem = dense(short)
        short.score(f"semantic: passages of at most 180 words ({len(short.chunks)})", lambda q, i: short_sem[q])


if __name__ == "__main__":
    main()
