"""Passages encoded by one torch stream on every thread against kb's single-threaded streams, by piece size.

    .venv/bin/python bench/encoder_streams.py ../shared/data/scifact ../shared/data/cranfield --runs 3 [--pieces 64,8]

For each collection, 1,024 documents drawn at random (title and text, as one passage each) are
encoded in calls of 64 (what the server's worker encodes ahead) and of 256 (what
``bench/ingest_pipeline.py`` times as the raw encoder): by ``model.encode`` on torch's threads, one
stream (kb before the streams), and by ``SentenceTransformerEmbedder.encode``, which sorts each call's
passages longest first and hands them in pieces to one single-threaded stream per torch thread
(``kb.search.encoders.EncoderStreams``), once for each piece size of ``--pieces`` (default: kb's
``STREAM_PIECE`` alone). The ways alternate, ``--runs`` times each, each run starting with the next way
(no way always follows another); the medians of passages per second and of CPU-seconds per passage
(every thread of this process) are printed, with each way's largest difference to the first way's
vectors. Run it on a quiet machine.
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
    parser.add_argument("--pieces", default="", help="piece sizes to compare, e.g. 64,8 (default: kb's STREAM_PIECE)")
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import numpy as np
    import torch

    from kb.search.encoders import STREAM_PIECE, SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    model = embedder._load()
    streams = embedder._encoder_streams()
    if streams is None:
        raise SystemExit("torch has one thread here: kb encodes in one stream, there is nothing to compare")

    def in_pieces(size: int):  # noqa: ANN202
        def encode(texts: list[str]) -> np.ndarray:
            streams.piece = size
            return embedder.encode(texts)
        return encode

    pieces = list(dict.fromkeys(int(size) for size in args.pieces.split(",") if size.strip())) or [STREAM_PIECE]
    ways = {f"one stream, {torch.get_num_threads()} threads": lambda texts: embedder._encode_batches(model, texts),
            **{f"kb's streams, pieces of {size}": in_pieces(size) for size in pieces}}
    embedder.encode(passages(args.collections[0], 64))  # the streams start, the model warms up
    print(f"torch threads: {torch.get_num_threads()}; cores: {len(os.sched_getaffinity(0))}")
    for collection in args.collections:
        texts = passages(collection, args.passages)
        for call in (64, 256):
            rates: dict[str, list[float]] = {way: [] for way in ways}
            costs: dict[str, list[float]] = {way: [] for way in ways}
            vectors = {}
            names = list(ways)
            for run in range(args.runs):
                for way in names[run % len(names):] + names[:run % len(names)]:
                    rate, cost, vectors[way] = timed(ways[way], texts, call)
                    rates[way].append(rate)
                    costs[way].append(cost)
            first = next(iter(ways))
            print(f"\n{collection.name}, {len(texts)} passages, calls of {call}")
            for way in ways:
                differ = max(float(np.abs(a - b).max()) for a, b in zip(vectors[first], vectors[way]))
                print(f"  {way:32} {statistics.median(rates[way]):6.2f} passages/s "
                      f"({', '.join(f'{r:.2f}' for r in rates[way])}); "
                      f"{statistics.median(costs[way]):.4f} CPU-s a passage; "
                      f"/ one stream {statistics.median(rates[way]) / statistics.median(rates[first]):.3f}; "
                      f"largest difference to one stream's vectors {differ:.2g}")


if __name__ == "__main__":
    main()
