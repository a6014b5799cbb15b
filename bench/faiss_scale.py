"""faiss at scale: flat against IVF and HNSW on N synthetic 384-d vectors (docs/scaling.md).

    .venv/bin/python bench/faiss_scale.py [--n 1000000] [--queries 1000] [--threads 1]

The vectors imitate sentence embeddings rather than uniform noise (on which every approximate
index looks worse than on real text, whose embeddings are clustered and of low intrinsic
dimension): 2,000 random unit topic centres; each vector is a centre plus noise that lies mostly in
one shared 64-dimensional subspace (plus a little isotropic noise), L2-normalised, so that a
vector's cosine to its centre is about 0.6; queries are drawn the same way. Exact top-10 from the
flat index is the reference for recall@10. Per index: build (train + add) seconds, memory (size of
the serialised index, and the process's RSS growth), p50/p95 latency of one query at a time on
``--threads`` threads, recall@10 against flat. Prints one line per configuration.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

DIM = 384


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


SUBSPACE = 64


def synthetic(n: int, seed: int, centres: np.ndarray, basis: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        pick = rng.integers(0, len(centres), stop - start)
        # |low-rank noise|^2 ≈ 64 * 0.14^2 ≈ 1.25, |isotropic|^2 ≈ 384 * 0.03^2 ≈ 0.35: cos to centre ≈ 0.62
        low_rank = rng.normal(0, 0.14, (stop - start, SUBSPACE)).astype(np.float32) @ basis
        block = centres[pick] + low_rank + rng.normal(0, 0.03, (stop - start, DIM)).astype(np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start:stop] = block
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def timed_queries(index, queries: np.ndarray, k: int = 10) -> tuple[np.ndarray, list[float]]:  # noqa: ANN001
    found = np.empty((len(queries), k), dtype=np.int64)
    latencies = []
    for i, query in enumerate(queries):
        start = time.perf_counter()
        _, ids = index.search(query.reshape(1, -1), k)
        latencies.append((time.perf_counter() - start) * 1000)
        found[i] = ids[0]
    return found, latencies


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1, help="faiss threads while querying")
    parser.add_argument("--build-threads", type=int, default=os.cpu_count() or 1, help="faiss threads while building")
    parser.add_argument("--skip", default="", help="comma-separated configurations to skip: ivf,ivfpq,hnsw")
    args = parser.parse_args()
    import faiss

    skip = set(filter(None, args.skip.split(",")))
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1, (2000, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    basis, _ = np.linalg.qr(rng.normal(0, 1, (DIM, SUBSPACE)))
    basis = np.ascontiguousarray(basis.T, dtype=np.float32)  # SUBSPACE orthonormal rows
    base_rss = rss_mb()
    data = synthetic(args.n, 1, centres, basis)
    queries = synthetic(args.queries, 2, centres, basis)
    cos = float(np.mean(np.sum(queries * centres[np.argmax(queries @ centres.T, axis=1)], axis=1)))
    print(f"data n={args.n} dim={DIM} raw_mb={data.nbytes / 2**20:.0f} mean_cos_to_centre={cos:.2f} cores={os.cpu_count()} "
          f"loadavg={open('/proc/loadavg').read().split()[0]}", flush=True)

    def build(name: str, factory, train: bool):  # noqa: ANN001, ANN202
        before = rss_mb()
        start = time.perf_counter()
        faiss.omp_set_num_threads(args.build_threads)
        index = factory()
        if train:
            index.train(data[np.random.default_rng(3).choice(args.n, min(args.n, 100_000), replace=False)])
        index.add(data)
        seconds = time.perf_counter() - start
        size_mb = len(faiss.serialize_index(index)) / 2**20
        print(f"{name} build_s={seconds:.1f} size_mb={size_mb:.0f} rss_growth_mb={rss_mb() - before:.0f}", flush=True)
        return index

    flat = build("flat", lambda: faiss.IndexFlatIP(DIM), False)
    faiss.omp_set_num_threads(args.threads)
    truth, latencies = timed_queries(flat, queries)
    print(f"flat p50_ms={statistics.median(latencies):.1f} p95_ms={percentile(latencies, 95):.1f} recall@10=1.000", flush=True)

    def sweep(name: str, index, knob: str, values: list[int]) -> None:  # noqa: ANN001
        faiss.omp_set_num_threads(args.threads)
        for value in values:
            faiss.ParameterSpace().set_index_parameter(index, knob, value)
            found, latencies = timed_queries(index, queries)
            print(f"{name} {knob}={value} p50_ms={statistics.median(latencies):.2f} p95_ms={percentile(latencies, 95):.2f} "
                  f"recall@10={recall(found, truth):.3f}", flush=True)

    nlist = max(16, int(2 * args.n ** 0.5) // 16 * 16)  # 2,000 at 1M: about 500 vectors per list
    if "ivf" not in skip:
        ivf = build(f"ivfflat nlist={nlist}", lambda: faiss.IndexIVFFlat(faiss.IndexFlatIP(DIM), DIM, nlist,
                                                                          faiss.METRIC_INNER_PRODUCT), True)
        sweep("ivfflat", ivf, "nprobe", [8, 16, 32, 64, 128])
        del ivf
    if "ivfpq" not in skip:
        ivfpq = build(f"ivfpq nlist={nlist} m=48", lambda: faiss.IndexIVFPQ(faiss.IndexFlatIP(DIM), DIM, nlist, 48, 8,
                                                                             faiss.METRIC_INNER_PRODUCT), True)
        sweep("ivfpq", ivfpq, "nprobe", [16, 32, 64])
        del ivfpq
    if "hnsw" not in skip:
        def make_hnsw():  # noqa: ANN202
            index = faiss.IndexHNSWFlat(DIM, 32, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 40
            return index

        hnsw = build("hnswflat M=32 efConstruction=40", make_hnsw, False)
        sweep("hnswflat", hnsw, "efSearch", [16, 32, 64, 128])
    print(f"process rss_mb={rss_mb():.0f} (start {base_rss:.0f})", flush=True)


if __name__ == "__main__":
    main()
