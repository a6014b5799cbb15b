"""Keyword engines at scale: indexing speed, size on disk and query latency of whoosh and tantivy.

    .venv/bin/python bench/keyword_scale.py ../shared/data/cranfield --chunks 100000 [--queries 50]

The collection's documents become passages (title + text, as kb indexes them) replicated under new
ids until there are ``--chunks``; each engine indexes them through kb's own ``KeywordIndex``
implementation in batches of 5,000 (one commit per batch), then answers the collection's queries
with the public-safe filters, one at a time. No embeddings: this isolates the keyword engine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--engines", default="whoosh,tantivy")
    args = parser.parse_args()

    from kb.config import KeywordEngine
    from kb.search.indexer import make_keyword_index
    from kb.search.interfaces import IndexedChunk, SearchFilters

    corpus = [json.loads(line) for line in (args.directory / "corpus.jsonl").open(encoding="utf-8")]
    queries = [json.loads(line)["text"] for line in (args.directory / "queries.jsonl").open(encoding="utf-8")][:args.queries]
    base = [(d.get("title") or "", d.get("text") or "") for d in corpus]
    chunks = [IndexedChunk(chunk_id=i + 1, document_id=i + 1, version_id=i + 1, space_id=1, title=base[i % len(base)][0],
                           heading_path=(base[i % len(base)][0],), text=base[i % len(base)][1], tags=("cranfield",),
                           language="en", audience="public") for i in range(args.chunks)]
    print(f"chunks={len(chunks)} queries={len(queries)} loadavg={open('/proc/loadavg').read().split()[0]}", flush=True)
    for name in args.engines.split(","):
        path = Path(tempfile.mkdtemp(prefix=f"kb-{name}-"))
        index = make_keyword_index(KeywordEngine(name), path)
        start = time.perf_counter()
        for offset in range(0, len(chunks), 5000):
            index.upsert(chunks[offset:offset + 5000])
            index.commit()
        seconds = time.perf_counter() - start
        latencies = []
        filters = SearchFilters()
        for text in queries:
            t0 = time.perf_counter()
            index.search(text, filters, 100)
            latencies.append((time.perf_counter() - t0) * 1000)
        print(f"{name} index_s={seconds:.1f} chunks_per_s={len(chunks) / seconds:.0f} size_mb={size_mb(path):.0f} "
              f"query_p50_ms={statistics.median(latencies):.1f} query_p95_ms={percentile(latencies, 95):.1f}", flush=True)


if __name__ == "__main__":
    main()
