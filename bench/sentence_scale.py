"""The multilingual sentence index at scale (issue 18): memory, saving a change, the first query after it.

    .venv/bin/python bench/sentence_scale.py [--passages 100000] [--per-passage 6]

Fills a ``FaissVectorIndex`` (kb's own class, as the indexer uses it for ``slot-N/multilingual-sentences``)
with ``passages × per-passage`` sentence entries, ids ``chunk × 64 + position`` as kb.search.sentences
gives them, public, with the filter fields of real passages. The vectors are random unit vectors of the
multilingual encoder's 512 dimensions: what is measured (memory, writing a generation, rebuilding the
filter arrays, an IVF search) does not depend on their values, and encoding 600,000 sentences would
take hours here. Prints: memory held, the first save (IVF training included), one passage changed and
saved again, the first public query after that change (its filter arrays and mask rebuilt) and the
median of the queries after it.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DIMENSION = 512


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--per-passage", type=int, default=6)
    args = parser.parse_args()

    import numpy as np

    from kb.search import sentences
    from kb.search.interfaces import IndexedChunk, SearchFilters
    from kb.search.vector import FaissVectorIndex

    rng = np.random.default_rng(18)
    entries = [IndexedChunk(sentences.sentence_id(chunk, position), chunk // 3, chunk // 3, 1, "", (), "", (), "en", "public")
               for chunk in range(1, args.passages + 1) for position in range(args.per_passage)]
    before = rss_mb()
    index = FaissVectorIndex(Path(tempfile.mkdtemp(prefix="kb-sentences-")), DIMENSION)
    start = time.perf_counter()
    for at in range(0, len(entries), 50_000):
        batch = entries[at:at + 50_000]
        vectors = rng.standard_normal((len(batch), DIMENSION), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        index.upsert(batch, vectors)
    filled = time.perf_counter() - start
    start = time.perf_counter()
    index.save(1)
    first_save = time.perf_counter() - start
    print(f"sentences={len(entries):,} passages={args.passages:,} fill_s={filled:.1f} first_save_s={first_save:.1f} "
          f"(layout {index.layout}) peak_rss_mb={rss_mb():.0f} (before: {before:.0f})")

    public = SearchFilters()
    query = rng.standard_normal(DIMENSION, dtype=np.float32)
    query /= np.linalg.norm(query)
    index.search(query, public, 400)  # the masks of the public filters, once
    changed = entries[:args.per_passage]  # one passage approved again: its sentences re-encoded
    vectors = rng.standard_normal((len(changed), DIMENSION), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    start = time.perf_counter()
    index.upsert(changed, vectors)
    index.save(2)
    change_save = time.perf_counter() - start
    start = time.perf_counter()
    index.search(query, public, 400)
    first_query = time.perf_counter() - start
    later = []
    for _ in range(50):
        q = rng.standard_normal(DIMENSION, dtype=np.float32)
        q /= np.linalg.norm(q)
        t0 = time.perf_counter()
        index.search(q, public, 400)
        later.append(time.perf_counter() - t0)
    print(f"one passage changed: upsert+save_s={change_save:.1f}; first public query after it "
          f"{first_query * 1000:.0f} ms; then p50 {statistics.median(later) * 1000:.1f} ms "
          f"(400 sentences, as the cross-lingual path asks for 100 passages)")


if __name__ == "__main__":
    main()
