"""Search quality and speed on any BEIR-layout collection, through kb's own ingestion and search code.

    .venv/bin/python bench/search_quality.py DIR [--engine tantivy|whoosh] [--scale CHUNKS] [--queries N] [--facets]

DIR holds corpus.jsonl, queries.jsonl and qrels/test.tsv. Every document is created, submitted and
approved through kb.documents (four eyes: an author and an approver), indexed by kb.search's
indexer, and queried through kb.search.service. Prints one line per mode:
``MODE ndcg@10=… recall@100=… p50_ms=… p95_ms=…``, then indexing throughput next to the raw
encoder's, and (with --scale) latency on at least CHUNKS chunks (replicated passages).

nDCG@10 and Recall@100 are trec_eval's ``ndcg_cut.10`` and ``recall.100`` computed by pytrec_eval,
the evaluator BEIR uses (gain = the judged grade). The line ``ndcg_exp@10 MODE=…`` after them gives nDCG@10 with
gain 2^grade − 1, the definition this benchmark used until 2026-12-01; on graded judgements it
weighs the top grades more and reads lower (docs/benchmarks.md).
Every judged question is evaluated: a question longer than the API accepts (MAX_QUERY_CHARS) is
ranked whole for quality, and cut at the last space before the limit for the latency lines, which
time the API's own service call; the run prints how many questions that was and, when there are
any, the quality lines again with those questions cut as a user would have to send them (``as_sent``).
Nothing here is tuned per collection: no paths, no per-collection settings.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.config import KeywordEngine, Settings  # noqa: E402


def load_collection(directory: Path, max_queries: int | None):  # noqa: ANN201
    corpus = [json.loads(line) for line in (directory / "corpus.jsonl").open(encoding="utf-8")]
    queries = {q["_id"]: q["text"] for q in map(json.loads, (directory / "queries.jsonl").open(encoding="utf-8"))}
    qrels: dict[str, dict[str, int]] = {}
    for line in (directory / "qrels" / "test.tsv").open(encoding="utf-8"):
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 3 or parts[0] == "query-id":
            continue
        if int(parts[2]) > 0:
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    judged = [qid for qid in queries if qid in qrels]
    if max_queries:
        judged = judged[:max_queries]
    return corpus, {qid: queries[qid] for qid in judged}, qrels


def evaluate(rankings: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> tuple[float, float]:
    """Mean nDCG@10 and Recall@100 as BEIR computes them: pytrec_eval (trec_eval), gain = grade."""
    import pytrec_eval

    # trec_eval orders a run by score; scores falling with rank keep kb's order exactly.
    run = {qid: {doc: float(len(ranked) - i) for i, doc in enumerate(ranked)} for qid, ranked in rankings.items()}
    judged = {qid: qrels[qid] for qid in rankings}
    scores = pytrec_eval.RelevanceEvaluator(judged, {"ndcg_cut.10", "recall.100"}).evaluate(run)
    # A query with nothing retrieved is missing from trec_eval's output: it scores 0 on both.
    return (sum(s["ndcg_cut_10"] for s in scores.values()) / len(rankings),
            sum(s["recall_100"] for s in scores.values()) / len(rankings))


def ndcg_exp_at(ranked: list[str], gains: dict[str, int], k: int = 10) -> float:
    """nDCG@k with exponential gain 2^grade − 1 (Burges et al. 2005), for comparison with earlier runs."""
    dcg = sum((2 ** gains.get(doc, 0) - 1) / math.log2(i + 2) for i, doc in enumerate(ranked[:k]))
    ideal = sorted(gains.values(), reverse=True)[:k]
    idcg = sum((2 ** g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def author_and_approver(session, space: str):  # noqa: ANN001, ANN201
    """A four-eyes space ``space`` with an author (contributor) and an approver (owner): their actors."""
    from kb.accounts import service as accounts
    from kb.accounts.schemas import SpaceCreate, UserCreate
    from kb.actors import SYSTEM, Channel, SpaceRole
    from kb.db import transaction

    with transaction(session):
        accounts.create_space(session, actor=SYSTEM, data=SpaceCreate(slug=space, name=space.title()), four_eyes_default=True)
        for username, role in (("author", SpaceRole.contributor), ("approver", SpaceRole.owner)):
            accounts.create_user(session, actor=SYSTEM, data=UserCreate(username=username, display_name=username.title()))
            accounts.set_membership(session, actor=SYSTEM, slug=space, username=username, role=role)
    return (accounts.actor_for(session, accounts.get_user(session, "author"), Channel.system),
            accounts.actor_for(session, accounts.get_user(session, "approver"), Channel.system))


FACET_SCHEMES = (("situation", "applies_to", 12), ("topic", "topic", 12), ("region", "region", 6))


def make_facets(session) -> None:  # noqa: ANN001
    """Three concept schemes (life situations under three broader groups, topics, regions), through the taxonomy's service."""
    from kb.actors import SYSTEM
    from kb.db import transaction
    from kb.taxonomy import service as taxonomy
    from kb.taxonomy.schemas import ConceptCreate, SchemeCreate

    with transaction(session):
        for scheme, field, size in FACET_SCHEMES:
            taxonomy.create_scheme(session, actor=SYSTEM, data=SchemeCreate(key=scheme, field=field, titles={"en": scheme}))
            for group in range(3 if scheme == "situation" else 0):
                taxonomy.create_concept(session, actor=SYSTEM, scheme_key=scheme,
                                        data=ConceptCreate(key=f"g{group}", preferred={"en": f"{scheme} group {group}"}))
            for n in range(size):
                taxonomy.create_concept(session, actor=SYSTEM, scheme_key=scheme, data=ConceptCreate(
                    key=f"c{n}", preferred={"en": f"{scheme} {n}"}, broader=f"g{n % 3}" if scheme == "situation" else None))


def facet_fields(number: int) -> dict[str, list[str]]:
    """The concepts of the ``number``-th document: one per scheme, spread evenly."""
    return {field: [f"{scheme}:c{(number * (7 + position)) % size}"]
            for position, (scheme, field, size) in enumerate(FACET_SCHEMES)}


def ingest(database, corpus: list[dict], facets: bool = False) -> dict[int, str]:  # noqa: ANN001
    """Create, submit and approve every document through the documents service; return id → corpus id."""
    from kb.db import transaction
    from kb.documents import service as documents
    from kb.documents.schemas import DocumentCreate

    with database.session() as session:
        author, approver = author_and_approver(session, "collection")
        if facets:
            make_facets(session)
        mapping: dict[int, str] = {}
        for number, doc in enumerate(corpus):
            title = (doc.get("title") or "").strip() or f"Document {doc['_id']}"
            body = (doc.get("text") or "").strip() or title
            slug = "d-" + "".join(ch if ch.isalnum() else "-" for ch in str(doc["_id"]).lower())[:100]
            with transaction(session):
                document, _ = documents.create_document(session, actor=author, space_slug="collection", data=DocumentCreate(
                    slug=slug, title=title[:300], body_md=body, audience="public", language="en", intended_use="Evaluation",
                    **(facet_fields(number) if facets else {})))
                documents.submit(session, actor=author, slug=slug, number=1)
                documents.approve(session, actor=approver, slug=slug, number=1)
            mapping[document.id] = str(doc["_id"])  # type: ignore[index]
    return mapping


def as_sent(text: str) -> str:
    """A question as the API accepts it: at most MAX_QUERY_CHARS characters, cut at the last space before."""
    from kb.search.schemas import MAX_QUERY_CHARS

    if len(text) <= MAX_QUERY_CHARS:
        return text
    cut = text[:MAX_QUERY_CHARS]
    return cut[:cut.rfind(" ")] if " " in cut else cut


def rank(session, indexes, queries: dict[str, str], mode, mapping: dict[int, str]) -> dict[str, list[str]]:  # noqa: ANN001
    """Each question's 100 best corpus ids, from the full ranking of kb's search service (employees' filters)."""
    from kb.search import service
    from kb.search.interfaces import SearchFilters

    filters = SearchFilters(include_internal=True)
    return {qid: [mapping[f.document_id] for f in service.ranked_documents(session, indexes, text, mode, filters, None, 100)][:100]
            for qid, text in queries.items()}


def run_queries(session, indexes, queries: dict[str, str], mode, mapping: dict[int, str]):  # noqa: ANN001, ANN201
    """Quality from the full ranking of kb's search service; latency of a 10-hit page of the same service.

    Every judged question counts. The ranking has no length limit (the API's MAX_QUERY_CHARS is its
    HTTP surface's), so quality is measured on each question whole; latency on what the API accepts.
    """
    from kb.actors import Actor, GlobalRole
    from kb.search import service

    rankings = rank(session, indexes, queries, mode, mapping)
    latencies = []
    actor = Actor(id=1, username="author", display_name="Author", global_role=GlobalRole.reader)
    for text in queries.values():
        start = time.perf_counter()
        service.search(session, indexes, actor=actor, query=as_sent(text), mode=mode, page_size=10)
        latencies.append((time.perf_counter() - start) * 1000)
    return rankings, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--engine", choices=[e.value for e in KeywordEngine], default=KeywordEngine.tantivy.value)
    parser.add_argument("--scale", type=int, default=0, help="also measure latency on at least this many chunks")
    parser.add_argument("--queries", type=int, default=0, help="use only the first N judged queries")
    parser.add_argument("--facets", action="store_true",
                        help="tag every document with a situation, a topic and a region (three schemes of 12, 12 and 6 "
                             "concepts), and with --scale also time hybrid search with one concept of each selected")
    args = parser.parse_args()

    from kb.db import Database
    from kb.migrations import upgrade
    from kb.search.indexer import SearchIndexes
    from kb.search.schemas import Mode

    corpus, queries, qrels = load_collection(args.directory, args.queries or None)
    work = Path(tempfile.mkdtemp(prefix="kb-bench-"))
    settings = Settings(data_dir=work, keyword_engine=KeywordEngine(args.engine))
    database = Database(settings)
    upgrade(database)
    start = time.perf_counter()
    mapping = ingest(database, corpus, facets=args.facets)
    ingest_s = time.perf_counter() - start
    indexes = SearchIndexes(settings)
    with database.session() as session:
        from kb import documents

        from kb.search.indexer import is_public, to_indexed

        indexed = [c for item in documents.published(session) for c in to_indexed(item)]
        texts = [c.embedding_text for c in indexed]
        indexes.embedder.encode(texts[:64])  # load the model before timing
        start = time.perf_counter()
        indexes.embedder.encode(texts)
        encoder_s = time.perf_counter() - start
        multilingual_s = 0.0
        if indexes.multilingual_enabled:  # kb's indexing also runs this encoder over the public passages
            public = [c.embedding_text for c in indexed if is_public(c)]
            indexes.multilingual_embedder.encode(public[:64])
            start = time.perf_counter()
            indexes.multilingual_embedder.encode(public)
            multilingual_s = time.perf_counter() - start
        start = time.perf_counter()
        chunks = indexes.rebuild(session)
        index_s = time.perf_counter() - start
        from kb.search.schemas import MAX_QUERY_CHARS

        over = sum(len(text) > MAX_QUERY_CHARS for text in queries.values())
        print(f"collection docs={len(corpus)} chunks={chunks} queries={len(queries)} engine={args.engine} "
              f"ingest_s={ingest_s:.1f}")
        print(f"queries_over_{MAX_QUERY_CHARS}_chars={over}: every question is ranked whole for quality; "
              f"latency is measured on what the API accepts (cut at the last space before {MAX_QUERY_CHARS})")
        exponential = {}
        for mode in (Mode.keyword, Mode.semantic, Mode.hybrid):
            rankings, latencies = run_queries(session, indexes, queries, mode, mapping)
            ndcg, recall = evaluate(rankings, qrels)
            exponential[mode.value] = statistics.mean(ndcg_exp_at(rankings[q], qrels[q]) for q in queries)
            print(f"{mode.value} ndcg@10={ndcg:.4f} recall@100={recall:.4f} p50_ms={statistics.median(latencies):.1f} "
                  f"p95_ms={percentile(latencies, 95):.1f}")
        print("ndcg_exp@10 " + " ".join(f"{mode}={value:.4f}" for mode, value in exponential.items()))
        if over:  # the same questions as a user could send them: cut at the last space before the limit
            sent = {qid: as_sent(text) for qid, text in queries.items()}
            for mode in (Mode.keyword, Mode.semantic, Mode.hybrid):
                ndcg, recall = evaluate(rank(session, indexes, sent, mode, mapping), qrels)
                print(f"{mode.value} as_sent ndcg@10={ndcg:.4f} recall@100={recall:.4f} "
                      f"({over} questions cut to {MAX_QUERY_CHARS} characters)")
        # The raw encoders' time is every encoder kb's indexing runs: MiniLM over all passages, and the
        # multilingual encoder over the public ones when KB_PUBLIC_MULTILINGUAL is on.
        raw_s = encoder_s + multilingual_s
        overhead = 1 - raw_s / index_s
        print(f"indexing chunks_per_s={chunks / index_s:.1f} encoder_chunks_per_s={len(texts) / raw_s:.1f} "
              f"kb_overhead={overhead:.1%} minilm_chunks_per_s={len(texts) / encoder_s:.1f} "
              f"multilingual_s={multilingual_s:.1f}")
        if args.scale:
            scale(session, database, indexes, queries, args.scale, facets=args.facets)


def replicate(database, indexes, target: int) -> int:  # noqa: ANN001
    """Copy the approved documents' rows and index entries until there are ``target`` chunks; return the count."""
    from sqlalchemy import insert, select, text

    from kb import documents, provenance
    from kb.db import is_postgresql
    from kb.documents.models import Chunk, Document, Version
    from kb.search.indexer import to_indexed

    with database.session() as session:
        originals = documents.published(session)
        head_seq, _ = provenance.head(session)
    base = [c for item in originals for c in to_indexed(item)]
    import numpy as np

    vectors = indexes.vector.index.reconstruct_batch(np.array([c.chunk_id for c in base], dtype=np.int64))
    copies = math.ceil(target / len(base)) - 1
    version_cols = [c.name for c in Version.__table__.columns if c.name != "id"]
    for r in range(1, copies + 1):
        with database.engine.begin() as connection:
            doc_rows, version_rows, chunk_rows, replicas = [], [], [], []
            next_doc = connection.execute(select(Document.id).order_by(Document.id.desc()).limit(1)).scalar() + 1
            next_version = connection.execute(select(Version.id).order_by(Version.id.desc()).limit(1)).scalar() + 1
            next_chunk = connection.execute(select(Chunk.id).order_by(Chunk.id.desc()).limit(1)).scalar() + 1
            for item in originals:
                doc_id, version_id = next_doc, next_version
                next_doc += 1
                next_version += 1
                doc_rows.append({"id": doc_id, "slug": f"{item.document.slug}-r{r}", "space_id": item.space.id,
                                 "owner_id": item.document.owner_id, "created_at": item.document.created_at,
                                 "current_version_id": version_id})
                version_rows.append({**{c: getattr(item.version, c) for c in version_cols}, "id": version_id,
                                     "document_id": doc_id})
                for chunk in item.chunks:
                    chunk_rows.append({"id": next_chunk, "version_id": version_id, "ordinal": chunk.ordinal,
                                       "heading_path": chunk.heading_path, "text": chunk.text, "word_count": chunk.word_count})
                    replicas.append((next_chunk, doc_id, version_id))
                    next_chunk += 1
            connection.execute(insert(Document), doc_rows)
            connection.execute(insert(Version), version_rows)
            connection.execute(insert(Chunk), chunk_rows)
        indexed = [replace(chunk, chunk_id=cid, document_id=did, version_id=vid) for chunk, (cid, did, vid) in zip(base, replicas)]
        indexes.keyword.upsert(indexed)
        indexes.vector.upsert(indexed, vectors)
    if is_postgresql(database.engine):  # rows were written with explicit ids: move the sequences on
        with database.engine.begin() as connection:
            for table in ("document", "document_version", "document_chunk"):
                connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    indexes.keyword.commit()
    indexes.vector.save(head_seq)
    indexes._write_manifest(head_seq)
    return indexes.vector.ntotal


def scale(session, database, indexes, queries: dict[str, str], target: int, facets: bool = False) -> None:  # noqa: ANN001
    """Replicate the collection's approved documents (rows and index entries) to ``target`` chunks; time queries.

    With ``facets``, hybrid search is also timed with three concepts selected (one of each scheme, a
    different combination for each question), interleaved with the same questions unselected; and each
    selected search's facet counts are checked against its hits."""
    from kb.search.schemas import Mode

    base = indexes.vector.ntotal
    start = time.perf_counter()
    total = replicate(database, indexes, target)
    print(f"scale chunks={total} replicas={math.ceil(target / base) - 1} build_s={time.perf_counter() - start:.1f}")
    from kb.actors import Actor, GlobalRole

    actor = Actor(id=1, username="author", display_name="Author", global_role=GlobalRole.reader)
    from kb.search import service

    for mode in (Mode.keyword, Mode.semantic, Mode.hybrid):
        latencies = []
        for text in queries.values():
            t0 = time.perf_counter()
            service.search(session, indexes, actor=actor, query=as_sent(text), mode=mode, page_size=10)
            latencies.append((time.perf_counter() - t0) * 1000)
        print(f"scale {mode.value} chunks={total} p50_ms={statistics.median(latencies):.1f} p95_ms={percentile(latencies, 95):.1f}")
    if not facets:
        return
    plain, faceted, hits, checked = [], [], [], 0
    for number, text in enumerate(queries.values()):
        selected = [refs[0] for refs in facet_fields(number).values()]
        selected[0] = f"situation:g{number % 3}"  # a broader situation: its three narrower concepts count
        for kind in ("plain", "faceted") if number % 2 else ("faceted", "plain"):
            t0 = time.perf_counter()
            results = service.search(session, indexes, actor=actor, query=as_sent(text), mode=Mode.hybrid, page_size=10,
                                     concepts=selected if kind == "faceted" else ())
            (faceted if kind == "faceted" else plain).append((time.perf_counter() - t0) * 1000)
            if kind == "faceted":
                hits.append(results.total)
                counts = {v.concept: v.count for f in results.facets for v in f.values if v.selected}
                assert all(counts.get(ref) == results.total for ref in selected), (selected, counts, results.total)
                checked += 1
    print(f"scale hybrid+3facets chunks={total} p50_ms={statistics.median(faceted):.1f} p95_ms={percentile(faceted, 95):.1f} "
          f"(same questions unselected, interleaved: p50_ms={statistics.median(plain):.1f} p95_ms={percentile(plain, 95):.1f}) "
          f"documents_found_median={statistics.median(hits)} facet_counts_checked={checked}")


if __name__ == "__main__":
    main()
