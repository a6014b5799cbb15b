"""Fakes that subclass kb's interfaces (STYLE 12): cheap stand-ins where the real thing is not under test."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

_WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder:
    """An ``Embedder`` without a model: each word hashed into one of ``dimension`` buckets, L2-normalised.

    Texts that share words get similar vectors, so semantic search still returns something; it loads
    in no time, which the fuzz and scale tests need (the real model is tested in tests/test_search.py).
    """

    name = "hashing-fake"

    def __init__(self, dimension: int = 64) -> None:
        self.dimension = dimension

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                bucket = int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=4).digest(), "little")
                vectors[row, bucket % self.dimension] += 1.0
            norm = float(np.linalg.norm(vectors[row]))
            if norm == 0.0:
                vectors[row, 0] = 1.0
            else:
                vectors[row] /= norm
        return vectors
