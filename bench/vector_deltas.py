"""Delta saves of the vector index at 1,000,000 vectors (issue 19): bytes written per change, load, merge.

    .venv/bin/python bench/vector_deltas.py [--vectors 1000000] [--changes 100] [--chunks-per-document 10]

Fills kb's own ``FaissVectorIndex`` with random unit vectors of MiniLM's 384 dimensions (what is
measured, bytes and file work, does not depend on their values; the first save turns the index
IVF-Flat as kb does past 50,000 vectors), ten chunks per document, and saves it. Then applies a typical
change, one document replaced (its 10 chunks removed, 10 new ones added, as the indexer's re-sync
does) and saves it, then 100 such changes in a row, each saved. Every file the index writes goes
through ``kb.search.vector.atomic_write``, which is wrapped here to count the bytes of each file
before it is renamed into place: "written" is the deltas and the pointer, all of it. Then: the time
to open the index with those 101 deltas and with none, and a merge (the deltas into a new base
generation, in the background): the time the save that starts it takes, the time the copy holds the
index's lock, and the time until the new base is in place, with searches going on meanwhile.
Prints peak RSS after each stage.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DIMENSION = 384


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--chunks-per-document", type=int, default=10)
    args = parser.parse_args()

    import numpy as np

    from kb.search import vector
    from kb.search.interfaces import IndexedChunk, SearchFilters
    from kb.search.vector import FaissVectorIndex

    per_document = args.chunks_per_document
    written: list[tuple[str, int]] = []
    atomic_write = vector.atomic_write

    def counting_write(target: Path, write) -> None:  # noqa: ANN001
        def counted(tmp: str) -> None:
            write(tmp)
            written.append((target.name, os.path.getsize(tmp)))

        atomic_write(target, counted)

    vector.atomic_write = counting_write
    rng = np.random.default_rng(19)

    def unit(count: int) -> np.ndarray:
        vectors = rng.standard_normal((count, DIMENSION), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors

    def chunk(chunk_id: int) -> IndexedChunk:
        document = chunk_id // per_document
        return IndexedChunk(chunk_id, document, document, 1 + document % 20, "", (), "", ("policy",) if document % 3 else (),
                            "en", "public" if document % 2 else "internal")

    def index_bytes(path: Path) -> int:
        return sum(p.stat().st_size for p in path.iterdir() if not p.name.startswith("."))

    def base_bytes(path: Path) -> int:
        return sum(p.stat().st_size for p in path.iterdir() if p.name.startswith(("vectors.", "chunks.")))

    path = Path(tempfile.mkdtemp(prefix="kb-vector-deltas-"))
    print(f"index directory: {path}")
    index = FaissVectorIndex(path, DIMENSION)
    start = time.perf_counter()
    for at in range(0, args.vectors, 50_000):
        ids = range(at, min(at + 50_000, args.vectors))
        index.upsert([chunk(i) for i in ids], unit(len(ids)))
    filled = time.perf_counter() - start
    start = time.perf_counter()
    index.save(1)
    first_save = time.perf_counter() - start
    total = index_bytes(path)
    print(f"vectors={index.ntotal:,} dim={DIMENSION} layout={index.layout} fill_s={filled:.1f} "
          f"first_save_s={first_save:.1f} (IVF training included) index_bytes={total:,} "
          f"written_bytes={sum(size for _, size in written):,} peak_rss_mb={peak_rss_mb():.0f}")

    next_id = args.vectors
    seq = 1

    def change() -> float:
        """One document replaced by another of the same size, and saved: the save's seconds."""
        nonlocal next_id, seq
        document = int(rng.integers(0, args.vectors // per_document))
        index.retain([], document_ids=[document])  # the re-sync drops the document's chunks ...
        added = [chunk(i) for i in range(next_id, next_id + per_document)]
        next_id += per_document
        index.upsert(added, unit(len(added)))  # ... and adds those of its new version
        seq += 1
        began = time.perf_counter()
        index.save(seq)
        return time.perf_counter() - began

    written.clear()
    one_save = change()
    one = sum(size for _, size in written)
    files = ", ".join(f"{name} {size:,} B" for name, size in written)
    print(f"one change ({per_document} removed, {per_document} added): written_bytes={one:,} "
          f"= {100 * one / total:.5f}% of the index ({files}); save_ms={1000 * one_save:.1f}")

    written.clear()
    saves = [change() for _ in range(args.changes)]
    many = sum(size for _, size in written)
    largest = max(size for _, size in written)
    print(f"{args.changes} changes in a row: written_bytes={many:,} = {100 * many / total:.4f}% of the index "
          f"({many / args.changes:,.0f} B per change, largest file {largest:,} B); "
          f"save_ms p50={1000 * statistics.median(saves):.1f} max={1000 * max(saves):.1f}; "
          f"deltas now {len(index._state['deltas'])}, base untouched: generation {index.generation}")

    probe_ids = sorted(index.chunk_ids())[:: max(1, args.vectors // 50)]
    expected = index.vectors(probe_ids)
    held_total, last_seq = index.ntotal, index.last_seq
    del index
    gc.collect()
    start = time.perf_counter()
    loaded = FaissVectorIndex(path, DIMENSION)
    load_with_deltas = time.perf_counter() - start
    deltas = len(loaded._state["deltas"])
    assert loaded.ntotal == held_total and loaded.last_seq == last_seq
    got = loaded.vectors(probe_ids)
    assert all(np.array_equal(got[cid], expected[cid]) for cid in probe_ids)
    print(f"load with {deltas} deltas: {load_with_deltas:.1f} s (ntotal and vectors as saved) peak_rss_mb={peak_rss_mb():.0f}")

    # The merge: started by the save whose delta reaches the policy (here forced by the count).
    index = loaded
    vector.DELTA_MERGE_COUNT = 1
    held_lock = []
    snapshot = FaissVectorIndex._snapshot

    def timed_snapshot(self, copy: bool) -> tuple:  # noqa: ANN001
        began = time.perf_counter()
        try:
            return snapshot(self, copy)
        finally:
            held_lock.append(time.perf_counter() - began)

    FaissVectorIndex._snapshot = timed_snapshot
    query, filters, latencies = unit(1)[0], SearchFilters(), []
    quiet = []
    for _ in range(20):
        began = time.perf_counter()
        index.search(query, filters, 10)
        quiet.append(time.perf_counter() - began)
    # The change, then one search before the save: the first search after any change rebuilds the
    # filter arrays (kb's cost before and after issue 19), which is not the merge's.
    document = int(rng.integers(0, args.vectors // per_document))
    index.retain([], document_ids=[document])
    index.upsert([chunk(i) for i in range(next_id, next_id + per_document)], unit(per_document))
    began = time.perf_counter()
    index.search(query, filters, 10)
    rebuild_arrays = time.perf_counter() - began
    written.clear()
    begun = time.perf_counter()
    index.save(seq + 1)
    save_seconds = time.perf_counter() - begun
    print(f"searches before the merge: p50 {1000 * statistics.median(quiet):.1f} ms; the first after a change "
          f"(filter arrays rebuilt) {1000 * rebuild_arrays:.0f} ms")
    while index._merge is not None and index._merge.is_alive():
        began = time.perf_counter()
        index.search(query, filters, 10)
        latencies.append(time.perf_counter() - began)
        time.sleep(0.01)
    index.wait_for_merge()
    merged = time.perf_counter() - begun
    assert index._state["deltas"] == [] and not any(p.name.startswith("delta.") for p in path.iterdir())
    merge_bytes = sum(size for _, size in written)
    print(f"merge of {deltas + 1} deltas: the save that started it {1000 * save_seconds:.0f} ms; in the merge thread, "
          f"the copy under the lock {1000 * held_lock[0]:.0f} ms; new base in place after {merged:.1f} s "
          f"(written {merge_bytes:,} B); {len(latencies)} searches meanwhile, "
          f"p50 {1000 * statistics.median(latencies):.1f} ms max {1000 * max(latencies):.1f} ms"
          if latencies else f"merge: new base after {merged:.1f} s, no search ran meanwhile")
    print(f"peak_rss_mb={peak_rss_mb():.0f}")
    held_total = index.ntotal
    del index, loaded
    gc.collect()
    start = time.perf_counter()
    again = FaissVectorIndex(path, DIMENSION)
    load_base = time.perf_counter() - start
    assert again.ntotal == held_total
    print(f"load with 0 deltas (after the merge): {load_base:.1f} s; index_bytes={base_bytes(path):,} "
          f"peak_rss_mb={peak_rss_mb():.0f}")
    vector.atomic_write = atomic_write
    del again
    shutil.rmtree(path)


if __name__ == "__main__":
    main()
