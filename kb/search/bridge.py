"""A word bridge for the cross-lingual path: a question's words carried into English words through the multilingual encoder.

Issue 18: for a question in German about an English page, the page's English words ("capital",
"founded") are what an English keyword index matches, and the question has none of them. The
multilingual encoder places a word and its translations near each other, so each content word of
the question, encoded alone, is carried to the nearest English words of the pages the multilingual
ranking found (``translate``); those English words are then asked of the keyword index's English
fields, a ranking the cross-lingual fusion adds (``kb.search.retrieval``).

The English words come from the candidate passages, not from a vocabulary of every page: nothing
is kept in step with approvals and nothing is encoded at start-up. Each word's vector is encoded
once and remembered (``WordVectors``, least recently used out first; the pages' words apart from
the questions', ``WordMemory``), so a warm server encodes only words it has not met. Chinese characters are read in overlapping pairs; a question with a
letter of another script written without spaces between words (Japanese kana, Thai…) takes no
bridge (``splits_words``).

Pure apart from the encoder and its memory (STYLE 9); checked in tests/test_crosslingual.py.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from kb.search.analysis import fold, stop_words
from kb.search.language import main_script, script

# Scripts written without spaces between words: \w+ would take a whole clause as one word.
# Japanese (kana) is among them: measured on no Japanese questions, it takes no bridge.
UNSPLIT_SCRIPTS = frozenset({"HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR", "TIBETAN"})
# Chinese characters are read as overlapping pairs (most Chinese words are two characters long).
PAIRED_SCRIPTS = frozenset({"CJK"})
_WORD = re.compile(r"[^\W\d_]+")
MIN_ENGLISH_LETTERS = 3
# Each question word is carried to at most this many English words, each at least this similar to it.
PER_WORD = 2
MIN_COSINE = 0.5
MAX_QUESTION_WORDS = 16
# What the memories keep (float16, 1 KB a word under a 512-dimensional encoder): about 100 MB and 10 MB.
ENGLISH_WORDS = 100_000
QUESTION_WORDS = 10_000


def splits_words(text: str) -> bool:
    """Whether ``text`` has letters and none in a script written without spaces between words.

    One such letter is enough to say no (Japanese kana, Thai…). Chinese characters are not among
    them: ``question_words`` reads them as overlapping pairs.
    """
    return main_script(text) is not None and not any(
        character.isalpha() and script(character) in UNSPLIT_SCRIPTS for character in text)


def question_words(text: str, language: str | None) -> list[str]:
    """The folded words of a question that could carry meaning: no numbers, none of the language's stop words.

    Stop words are whoosh's (NLTK's) lists where there is one for ``language``; for a language
    without one the English words' similarity floor (``MIN_COSINE``) leaves most function words
    with nothing to carry them to. In a question not written mostly in Latin script, a
    Latin-script word is a name or term kept as written ("Kyrgyzstan" in a Chinese question): the
    names ranking (``kb.search.crosslingual.surviving_terms``, the same rule) asks it, so it is left
    out here, not counted twice. A run of Chinese characters, written without spaces, gives its
    overlapping pairs ("首都是" → "首都", "都是"): no word list decides where its words end, and
    the pairs that are no word are carried nowhere or weakly. Distinct, in order, at most
    ``MAX_QUESTION_WORDS``.
    """
    stop = stop_words(language)
    latin_question = main_script(text) == "LATIN"
    found: dict[str, None] = {}
    for word in _WORD.findall(fold(text)):
        for run in _runs(word):
            if not latin_question and script(run[0]) == "LATIN":
                continue  # a name or term kept as written ("Kyrgyzstan" in Chinese): the names ranking asks it
            if script(run[0]) in PAIRED_SCRIPTS:
                for pair in (run[i:i + 2] for i in range(max(1, len(run) - 1))):
                    found.setdefault(pair, None)
            elif run not in stop and len(run) > 1:
                found.setdefault(run, None)
    return list(found)[:MAX_QUESTION_WORDS]


def _runs(word: str) -> list[str]:
    """A word split where it goes into or out of Chinese characters ("adobe开发了" → "adobe", "开发了")."""
    runs: list[str] = []
    paired = None
    for character in word:
        now = script(character) in PAIRED_SCRIPTS
        if now is not paired:
            runs.append("")
            paired = now
        runs[-1] += character
    return runs


def english_words(texts: Iterable[str]) -> list[str]:
    """The distinct folded words of English texts, stop words and words under three letters left out."""
    stop = stop_words("en")
    found: dict[str, None] = {}
    for text in texts:
        for word in _WORD.findall(fold(text)):
            if len(word) >= MIN_ENGLISH_LETTERS and word not in stop and word.isascii():
                found.setdefault(word, None)
    return list(found)


class WordVectors:
    """Single words' vectors under one encoder, each encoded once and remembered (at most ``capacity``)."""

    def __init__(self, encode: Callable[[list[str]], np.ndarray], capacity: int = ENGLISH_WORDS) -> None:
        self._encode = encode
        self.capacity = capacity
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.encoded = 0
        """How many words this memory has had encoded (a test reads it)."""

    def __len__(self) -> int:
        """How many words are remembered now."""
        return len(self._vectors)

    def __call__(self, words: Sequence[str]) -> np.ndarray:
        """The vectors of ``words``, in order (encoding only the words not remembered)."""
        with self._lock:
            unknown = [w for w in dict.fromkeys(words) if w not in self._vectors]
        fresh = self._encode(unknown) if unknown else None
        with self._lock:
            if fresh is not None:
                self.encoded += len(unknown)
                for word, vector in zip(unknown, fresh):
                    self._vectors[word] = vector.astype(np.float16)
            rows = []
            for word in words:
                vector = self._vectors[word] if word in self._vectors else None
                if vector is None:  # pushed out meanwhile by another thread's words: encode again below
                    break
                self._vectors.move_to_end(word)
                rows.append(vector)
            while len(self._vectors) > self.capacity:
                self._vectors.popitem(last=False)
        if len(rows) < len(words):
            return np.asarray(self._encode(list(words)), dtype=np.float32)
        return np.stack(rows).astype(np.float32) if rows else np.zeros((0, 0), dtype=np.float32)


@dataclass
class WordMemory:
    """The bridge's two memories: the pages' English words, and the questions' words.

    Kept apart so that questions, which anyone can send, never push the pages' words out: a run of
    made-up words only cycles the questions' memory (at most ``QUESTION_WORDS`` words), and the
    pages' words (at most ``ENGLISH_WORDS``, bounded by the public pages' vocabulary) stay encoded.
    """

    english: WordVectors
    question: WordVectors

    @classmethod
    def of(cls, encode: Callable[[list[str]], np.ndarray]) -> WordMemory:
        return cls(WordVectors(encode, ENGLISH_WORDS), WordVectors(encode, QUESTION_WORDS))


def translate(question: Sequence[str], english: Sequence[str], vectors: Callable[[Sequence[str]], np.ndarray],
              per_word: int = PER_WORD, floor: float = MIN_COSINE,
              question_vectors: Callable[[Sequence[str]], np.ndarray] | None = None) -> list[str]:
    """The English words that ``question``'s words are carried to, distinct, best-matched words first per question word.

    For each question word, the ``per_word`` English words most similar to it (cosine of unit
    vectors), each at least ``floor`` similar. An English word spelt like the question word (a
    name, a shared term) counts like any other: the encoder places it next to itself. ``vectors``
    gives the English words' vectors, ``question_vectors`` (by default the same) the question's.
    """
    if not question or not english:
        return []
    q = (vectors if question_vectors is None else question_vectors)(question)
    e = vectors(english)
    similarity = q @ e.T
    carried: dict[str, None] = {}
    for row in similarity:
        best = np.argsort(-row, kind="stable")[:per_word]
        for index in best:
            if row[index] >= floor:
                carried.setdefault(english[index], None)
    return list(carried)
