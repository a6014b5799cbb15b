"""Passages encoded by one torch stream on every thread against kb's single-threaded streams.

    .venv/bin/python bench/encoder_streams.py ../shared/data/scifact ../shared/data/cranfield --runs 3

For each collection, 1,024 documents drawn at random (title and text, as one passage each) are
encoded in calls of 64 (what the server's worker encodes ahead) and of 256 (what
``bench/ingest_pipeline.py`` times as the raw encoder): by ``model.encode`` on torch's threads, one
stream (kb before), and by ``SentenceTransformerEmbedder.encode``, which sorts each call's passages
longest first and hands them in pieces to one single-threaded stream per torch thread
(``kb.search.encoders.EncoderStreams``). The two
ways alternate, ``--runs`` times each; the medians of passages per second and of CPU-seconds per
passage (every thread of this process) are printed, and whether the two ways gave the same vectors.
Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest_pipeline import load_corpus  # noqa: E402


def passages(collection: Path, count: int) -> list[str]:
    documents = load_corpus(collection)
    sample = random.Random(7).sample(documents, min(count, len(documents)))
    return [f"{(doc.get('title') or '').strip()}\n{(doc.get('text') or '').strip()}" for doc in sample]


def timed(encode, texts: list[str], call: int):  # noqa: ANN001, ANN201
    start, cpu = time.perf_counter(), time.process_time()
    vectors = [encode(texts[at:at + call]) for at in range(0, len(texts), call)]
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return len(texts) / wall, cpu / len(texts), vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("collections", type=Path, nargs="+")
    parser.add_argument("--passages", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import numpy as np
    import torch

    from kb.search.encoders import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    model = embedder._load()
    ways = {f"one stream, {torch.get_num_threads()} threads": lambda texts: embedder._encode_batches(model, texts),
            "kb's streams": embedder.encode}
    embedder.encode(passages(args.collections[0], 64))  # the streams start, the model warms up
    print(f"torch threads: {torch.get_num_threads()}; cores: {len(os.sched_getaffinity(0))}")
    for collection in args.collections:
        texts = passages(collection, args.passages)
        for call in (64, 256):
            rates: dict[str, list[float]] = {way: [] for way in ways}
            costs: dict[str, list[float]] = {way: [] for way in ways}
            vectors = {}
            for _ in range(args.runs):
                for way, encode in ways.items():
                    rate, cost, vectors[way] = timed(encode, texts, call)
                    rates[way].append(rate)
                    costs[way].append(cost)
            same = all(np.array_equal(a, b) for a, b in zip(*vectors.values()))
            differ = max(float(np.abs(a - b).max()) for a, b in zip(*vectors.values()))
            print(f"\n{collection.name}, {len(texts)} passages, calls of {call} (same vectors: {same}, largest difference {differ:.2g})")
            for way in ways:
                print(f"  {way:24} {statistics.median(rates[way]):6.2f} passages/s "
                      f"({', '.join(f'{r:.2f}' for r in rates[way])}); "
                      f"{statistics.median(costs[way]):.4f} CPU-s a passage")
            first, second = (statistics.median(rates[way]) for way in ways)
            print(f"  streams / one stream: {second / first:.3f}")


if __name__ == "__main__":
    main()
