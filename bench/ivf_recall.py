"""IVF-Flat against flat on real MiniLM vectors: the recall and latency behind kb's IVF settings.

    .venv/bin/python bench/ivf_recall.py DIR [--max-vectors N] [--nprobe 8,16,32,64]

DIR is a BEIR-layout collection (corpus.jsonl, queries.jsonl). Its passages are split into
sentences, and into windows of three consecutive sentences (the way chunks overlap a topic), to get
many *distinct* real vectors; they are encoded with kb's own embedder (``KB_EMBEDDING_MODEL`` or the
shipped all-MiniLM-L6-v2). The collection's queries are encoded the same way. For growing prefixes of
the vectors (N = ¼, ½ and all), an IVF-Flat index is built by ``kb.search.vector.build_ivf`` with
``ivf_lists(N)`` lists, as kb builds it, and queried at several nprobe on one thread; recall@100 and
recall@10 are the share of the flat index's exact top-k that IVF returns, averaged over the queries. A second pass asks with a filter that admits a third of the vectors, with
nprobe scaled as kb scales it (``ivf_probes``). Prints one line per configuration:
``N=… lists=… nprobe=… recall@100=… recall@10=… p50_ms=… p95_ms=…``.

Nothing here is tuned per collection. Encoding takes minutes (``--max-vectors`` caps it).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from search_quality import percentile  # noqa: E402  (bench/, this script's own directory)

SENTENCE_END = re.compile(r"(?<=[.;:!?])\s+")


def texts_of(directory: Path, cap: int) -> tuple[list[str], list[str]]:
    """(distinct passages' sentences and three-sentence windows, queries)."""
    texts: dict[str, None] = {}
    for line in (directory / "corpus.jsonl").open(encoding="utf-8"):
        doc = json.loads(line)
        body = " ".join(filter(None, [(doc.get("title") or "").strip(), (doc.get("text") or "").strip()]))
        sentences = [s.strip() for s in SENTENCE_END.split(body) if len(s.split()) >= 4]
        for i, sentence in enumerate(sentences):
            texts[sentence] = None
            if i + 3 <= len(sentences):
                texts[" ".join(sentences[i:i + 3])] = None
    queries = [json.loads(line)["text"] for line in (directory / "queries.jsonl").open(encoding="utf-8")]
    return list(texts)[:cap], queries


def share(found: np.ndarray, exact: np.ndarray) -> float:
    """The share of the exact hits that were found (faiss pads a short answer with id -1)."""
    wanted = set(exact.tolist()) - {-1}
    return len(wanted & set(found.tolist())) / len(wanted) if wanted else 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--max-vectors", type=int, default=200_000)
    parser.add_argument("--nprobe", default="8,16,32,64")
    args = parser.parse_args()

    import faiss

    from kb.search import vector
    from kb.search.indexer import shared_embedder

    texts, queries = texts_of(args.directory, args.max_vectors)
    embedder = shared_embedder(None)
    start = time.perf_counter()
    vectors = embedder.encode(texts)
    query_vectors = embedder.encode(queries)
    print(f"vectors={len(texts)} queries={len(queries)} encode_s={time.perf_counter() - start:.0f} "
          f"kb_nprobe={vector.IVF_NPROBE}", flush=True)
    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(vectors))
    for count in sorted({len(vectors) // 4, len(vectors) // 2, len(vectors)}):
        chosen = vectors[order[:count]]
        ids = np.arange(count, dtype=np.int64)
        flat = faiss.IndexFlatIP(chosen.shape[1])
        flat.add(chosen)
        lists = vector.ivf_lists(count)
        faiss.omp_set_num_threads(2)
        built = time.perf_counter()
        ivf = vector.build_ivf(chosen, ids, lists)
        build_s = time.perf_counter() - built
        faiss.omp_set_num_threads(1)
        third = ids[ids % 3 == 0]
        for filtered in (False, True):
            selector = faiss.IDSelectorBatch(third) if filtered else None
            exact_params = faiss.SearchParameters(sel=selector) if filtered else None
            _, exact = flat.search(query_vectors, 100, params=exact_params)
            for nprobe in [int(n) for n in args.nprobe.split(",")]:
                probes = vector.ivf_probes(nprobe, lists, count, len(third) if filtered else count)
                params = faiss.SearchParametersIVF(sel=selector, nprobe=probes)
                latencies, found = [], []
                for q in query_vectors:
                    t0 = time.perf_counter()
                    found.append(ivf.search(q[None], 100, params=params)[1][0])
                    latencies.append((time.perf_counter() - t0) * 1000)
                recall = statistics.mean(share(f, e) for f, e in zip(found, exact))
                recall10 = statistics.mean(share(f[:10], e[:10]) for f, e in zip(found, exact))
                print(f"N={count} lists={lists} build_s={build_s:.1f} filter={'third' if filtered else 'none'} "
                      f"nprobe={probes} recall@100={recall:.4f} recall@10={recall10:.4f} "
                      f"p50_ms={statistics.median(latencies):.2f} p95_ms={percentile(latencies, 95):.2f}", flush=True)


if __name__ == "__main__":
    main()
