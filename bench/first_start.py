"""A new process's first start at scale, from the vectors stored in the database (issue 19).

    .venv/bin/python bench/first_start.py ../shared/data/cranfield --scale 100000
    .venv/bin/python bench/first_start.py ../shared/data/scifact --scale 100000 --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

1. Ingests the collection (created, submitted and approved through the documents service) and
   builds an index slot with nothing stored: every passage is encoded (the full re-encode) and its
   vectors are stored. Its rankings are the reference.
2. Builds a second slot the way a new process does, from the stored vectors, counting what it
   encodes, and compares every question's top 100 in each mode with the reference (identical, and
   nDCG@10 of both).
3. Copies the rows (documents, versions, passages and their stored vectors) until there are
   ``--scale`` passages, starts ``kb serve`` on an empty index directory, and times, from the spawn,
   health (the start-up catch-up is done) and the first search that returns hits. Prints the
   server's peak memory and how many vectors were stored before and after (equal: nothing encoded).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.search_quality import author_and_approver, evaluate, load_collection, rank  # noqa: E402
from bench.scratch import drop_schema, schema_name  # noqa: E402
from tests.fakes import CountingEmbedder as Counting  # noqa: E402


def ingest(database, corpus: list[dict], audience: str) -> dict[int, str]:  # noqa: ANN001
    """Create, submit and approve every document; return document id → corpus id."""
    from kb.db import transaction
    from kb.documents import service as documents
    from kb.documents.schemas import DocumentCreate

    with database.session() as session:
        author, approver = author_and_approver(session, "collection")
        mapping: dict[int, str] = {}
        for doc in corpus:
            title = (doc.get("title") or "").strip() or f"Document {doc['_id']}"
            body = (doc.get("text") or "").strip() or title
            slug = "d-" + "".join(ch if ch.isalnum() else "-" for ch in str(doc["_id"]).lower())[:100]
            with transaction(session):
                document, _ = documents.create_document(session, actor=author, space_slug="collection", data=DocumentCreate(
                    slug=slug, title=title[:300], body_md=body, audience=audience, language="en", intended_use="Evaluation"))
                documents.submit(session, actor=author, slug=slug, number=1)
                documents.approve(session, actor=approver, slug=slug, number=1)
            mapping[document.id] = str(doc["_id"])  # type: ignore[index]
    return mapping


def replicate_rows(database, target: int) -> int:  # noqa: ANN001
    """Copy approved documents, versions, passages and their stored vectors until there are ``target`` passages."""
    from sqlalchemy import func, insert, select, text

    from kb import documents
    from kb.db import is_postgresql
    from kb.documents.models import Chunk, Document, Version
    from kb.search.models import ChunkVector

    with database.session() as session:
        originals = documents.published(session)
        stored: dict[int, list[dict]] = {}
        for row in session.execute(select(ChunkVector)).scalars():
            stored.setdefault(row.chunk_id, []).append({"model": row.model, "position": row.position,
                                                        "dimension": row.dimension, "vector": row.vector, "at": row.at})
        base = session.execute(select(func.count()).select_from(Chunk)).scalar_one()
    copies = math.ceil(target / base) - 1
    version_cols = [c.name for c in Version.__table__.columns if c.name != "id"]
    for r in range(1, copies + 1):
        with database.engine.begin() as connection:
            doc_rows, version_rows, chunk_rows, vector_rows = [], [], [], []
            next_doc = connection.execute(select(func.max(Document.id))).scalar() + 1
            next_version = connection.execute(select(func.max(Version.id))).scalar() + 1
            next_chunk = connection.execute(select(func.max(Chunk.id))).scalar() + 1
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
                    vector_rows.extend({**row, "chunk_id": next_chunk} for row in stored.get(chunk.id, []))
                    next_chunk += 1
            connection.execute(insert(Document), doc_rows)
            connection.execute(insert(Version), version_rows)
            connection.execute(insert(Chunk), chunk_rows)
            for start in range(0, len(vector_rows), 5000):
                connection.execute(insert(ChunkVector), vector_rows[start:start + 5000])
    if is_postgresql(database.engine):  # rows were written with explicit ids: move the sequences on
        with database.engine.begin() as connection:
            for table in ("document", "document_version", "document_chunk"):
                connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    with database.session() as session:
        return session.execute(select(func.count()).select_from(Chunk)).scalar_one()


def stored_count(database) -> int:  # noqa: ANN001
    from sqlalchemy import func, select

    from kb.search.models import ChunkVector

    with database.session() as session:
        return session.execute(select(func.count()).select_from(ChunkVector)).scalar_one()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--scale", type=int, default=100_000, help="passages for the first start (0: skip)")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--audience", default="internal", choices=["internal", "public"],
                        help="public also stores and loads the multilingual passage and sentence vectors")
    parser.add_argument("--queries", type=int, default=0, help="at most this many questions (0: all)")
    args = parser.parse_args()

    import httpx

    from kb.config import Environment, Settings
    from kb.db import Database
    from kb.migrations import upgrade
    from kb.search.factory import shared_embedder, shared_multilingual_embedder
    from kb.search.indexer import SearchIndexes
    from kb.search.schemas import Mode
    from tests.factories import make_person
    from tests.processes import ServeProcess, kb_env

    corpus, queries, qrels = load_collection(args.directory, args.queries or None)
    work = Path(tempfile.mkdtemp(prefix="kb-first-start-"))
    schema = schema_name("kbfirst") if args.database_url else None
    settings = Settings(data_dir=work, database_url=args.database_url, database_schema=schema, env=Environment.test,
                        index_in_background=False)
    database = Database(settings)
    upgrade(database)
    try:
        start = time.perf_counter()
        mapping = ingest(database, corpus, args.audience)
        print(f"collection={args.directory.name} docs={len(corpus)} audience={args.audience} "
              f"backend={database.engine.dialect.name} ingest_s={time.perf_counter() - start:.1f}")
        embedder, multilingual = Counting(shared_embedder(None)), Counting(shared_multilingual_embedder())
        reference = SearchIndexes(settings, embedder=embedder, multilingual_embedder=multilingual, slot=work / "reference")
        with database.session() as session:
            start = time.perf_counter()
            reference.catch_up(session)
            encode_s = time.perf_counter() - start
            print(f"full re-encode: passages={len(reference.vector.chunk_ids())} encoded={embedder.encoded} "
                  f"multilingual_encoded={multilingual.encoded} s={encode_s:.1f}")
            again, again_multi = Counting(embedder.inner), Counting(multilingual.inner)
            second = SearchIndexes(settings, embedder=again, multilingual_embedder=again_multi, slot=work / "from-stored")
            start = time.perf_counter()
            second.catch_up(session)
            print(f"from stored vectors: encoded={again.encoded} multilingual_encoded={again_multi.encoded} "
                  f"s={time.perf_counter() - start:.1f} check_clean={second.check(session).clean}")
            for mode in (Mode.keyword, Mode.semantic, Mode.hybrid):
                ours, theirs = rank(session, reference, queries, mode, mapping), rank(session, second, queries, mode, mapping)
                same = sum(ours[q] == theirs[q] for q in queries)
                print(f"{mode.value}: identical top-100 {same}/{len(queries)} ndcg@10 re-encoded={evaluate(ours, qrels)[0]:.4f} "
                      f"from-stored={evaluate(theirs, qrels)[0]:.4f}")
        reference.close()
        second.close()
        if not args.scale:
            return
        start = time.perf_counter()
        total = replicate_rows(database, args.scale)
        before = stored_count(database)
        print(f"replicated to passages={total} stored_vectors={before} s={time.perf_counter() - start:.1f}")
        reader = make_person(database, "reader")
        env = kb_env(settings, KB_INDEX_DIR=str(work / "new-process"), KB_INDEX_IN_BACKGROUND="true")
        query = next(iter(queries.values()))[:200]
        spawned = time.monotonic()
        server = ServeProcess(env, work / "serve.log")
        try:
            server.ready(900)
            healthy = time.monotonic() - spawned
            first = None
            while time.monotonic() - spawned < 900:
                response = httpx.get(f"{server.url}/api/v1/search", params={"q": query}, headers={"Authorization": f"Bearer {reader.token}"},
                                     timeout=120)
                if response.status_code == 200 and response.json()["data"]:
                    first = time.monotonic() - spawned
                    break
                time.sleep(0.2)
            latencies = []
            for text in list(queries.values())[:50]:
                t = time.perf_counter()
                httpx.get(f"{server.url}/api/v1/search", params={"q": text[:200]}, headers={"Authorization": f"Bearer {reader.token}"},
                          timeout=120).raise_for_status()
                latencies.append((time.perf_counter() - t) * 1000)
            print(f"first start: passages={total} health_s={healthy:.1f} first_search_s={first:.1f} "
                  f"next_50_searches_p50_ms={statistics.median(latencies):.1f} peak_rss_mb={peak_rss_mb(server.pid):.0f} "
                  f"stored_vectors_before={before} after={stored_count(database)}")
        finally:
            server.stop()
    finally:
        database.dispose()
        if schema:
            drop_schema(args.database_url, schema)


if __name__ == "__main__":
    main()
