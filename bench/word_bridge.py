"""The word bridge's costs (issue 18, kb/search/bridge.py): a question whose passages' words are all new, and the memory.

    .venv/bin/python bench/word_bridge.py DIR [--samples 7] [--passages 10 20]

DIR holds a SQuAD-layout ``en.json`` (MLQA-R, as for bench/crosslingual_eval.py; not in kb's
repository, see docs/benchmarks.md). For each passage count, ``--samples`` times: that many random
English paragraphs (title and text), their words as the bridge reads them (``bridge.english_words``),
encoded by kb's multilingual encoder into a fresh memory (``bridge.WordVectors``): the CPU-seconds of
that cold pass, and of the same words asked again (remembered). Medians and ranges. Then the memory:
100,000 words of random 512-d vectors put into one ``WordVectors``, measured with tracemalloc.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kb.search import bridge  # noqa: E402
from kb.search.encoders import MultilingualEmbedder  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--samples", type=int, default=7)
    parser.add_argument("--passages", type=int, nargs="+", default=[10, 20])
    args = parser.parse_args()
    encoder = MultilingualEmbedder(threads=1)
    encoder.encode(["warm up"])
    data = json.loads((args.directory / "en.json").read_text(encoding="utf-8"))
    paragraphs = [f"{a.get('title', '')} {p['context']}" for a in data["data"] for p in a["paragraphs"]]
    rng = random.Random(7)
    for n in args.passages:
        cold, warm, counts = [], [], []
        for _ in range(args.samples):
            words = bridge.english_words(rng.sample(paragraphs, n))
            memory = bridge.WordVectors(lambda batch: encoder.encode(list(batch)))
            started = time.process_time()
            memory(words)
            cold.append(time.process_time() - started)
            started = time.process_time()
            memory(words)
            warm.append(time.process_time() - started)
            counts.append(len(words))
        print(f"{n} passages: words median {statistics.median(counts):.0f} ({min(counts)}-{max(counts)}); "
              f"cold CPU-s median {statistics.median(cold):.3f} ({min(cold):.3f}-{max(cold):.3f}); "
              f"remembered {statistics.median(warm) * 1000:.1f} ms")
    vectors = np.random.default_rng(0)
    memory = bridge.WordVectors(lambda batch: vectors.standard_normal((len(batch), 512)).astype(np.float32))
    tracemalloc.start()
    for start in range(0, bridge.ENGLISH_WORDS, 1000):
        memory([f"word{j}x" for j in range(start, start + 1000)])
    current, _peak = tracemalloc.get_traced_memory()
    print(f"memory of {len(memory):,} words: {current / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
