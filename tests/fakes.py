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


class ChosenVectorsEmbedder:
    """An ``Embedder`` whose similarities a test chooses: a text containing a marker gets that marker's vector.

    ``vectors`` maps a marker (any substring) to a vector; a text gets the sum of its markers'
    vectors, L2-normalised, and a text with none the last axis (similarity 0 to every marker that
    does not use it). For ranking rules that must hold whatever the encoder prefers (issue 18).
    """

    name = "chosen-vectors-fake"

    def __init__(self, vectors: dict[str, Sequence[float]]) -> None:
        self.vectors = {marker: np.asarray(vector, dtype=np.float32) for marker, vector in vectors.items()}
        self.dimension = len(next(iter(self.vectors.values())))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        rows = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for marker, vector in self.vectors.items():
                if marker in text:
                    rows[row] += vector
            norm = float(np.linalg.norm(rows[row]))
            if norm == 0.0:
                rows[row, -1] = 1.0
            else:
                rows[row] /= norm
        return rows


class WordMeaningsEmbedder(ChosenVectorsEmbedder):
    """``ChosenVectorsEmbedder`` for texts of several words; a single word gets its chosen meaning, or an axis of its own.

    The word bridge (``kb.search.bridge``) encodes words one at a time: ``meanings`` maps a word
    to a vector (translations share one), and any other word gets an axis no other word has
    (similarity 0 to every other word), in ``spare`` extra dimensions. ``words_encoded`` lists them.
    """

    name = "word-meanings-fake"

    def __init__(self, vectors: dict[str, Sequence[float]], meanings: dict[str, Sequence[float]], spare: int = 200) -> None:
        width = len(next(iter(vectors.values())))
        super().__init__({marker: [*vector, *([0.0] * spare)] for marker, vector in vectors.items()})
        self.meanings = {word: np.asarray([*vector, *([0.0] * spare)], dtype=np.float32) for word, vector in meanings.items()}
        self._axes: dict[str, int] = {}
        self._first_spare = width
        self.words_encoded: list[str] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        rows = super().encode(texts)
        for row, text in enumerate(texts):
            if text and not any(ch.isspace() for ch in text):
                self.words_encoded.append(text)
                vector = self.meanings.get(text)
                if vector is None:
                    vector = np.zeros(self.dimension, dtype=np.float32)
                    vector[self._axes.setdefault(text, self._first_spare + len(self._axes)) % (self.dimension - 1)] = 1.0
                rows[row] = vector / float(np.linalg.norm(vector))
        return rows


class CountingEmbedder:
    """An ``Embedder`` that counts the texts ``inner`` encodes for it (what an index encoded, not read from storage).

    ``name`` renames it (a model key of its own, ``kb.search.stored_vectors.model_key``); otherwise it has the
    inner embedder's name and version, so its vectors are stored under the inner's key.
    """

    def __init__(self, inner, name: str | None = None) -> None:  # noqa: ANN001
        self.inner = inner
        self.name = name or inner.name
        self.version = "" if name else getattr(inner, "version", "")
        self.encoded = 0

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.encoded += len(texts)
        return self.inner.encode(texts)
