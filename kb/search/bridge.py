"""A word bridge for the cross-lingual path: a question's words carried into English words through the multilingual encoder.

Issue 18: for a question in German about an English page, the page's English words ("capital",
"founded") are what an English keyword index matches, and the question has none of them. The
multilingual encoder places a word and its translations near each other, so each content word of
the question, encoded alone, is carried to the nearest English words of the pages the multilingual
ranking found (``translate``); those English words are then asked of the keyword index's English
fields, a ranking the cross-lingual fusion adds (``kb.search.retrieval``).

The English words come from the candidate passages, not from a vocabulary of every page: nothing
is kept in step with approvals and nothing is encoded at start-up. Each word's vector is encoded
once and remembered (``WordVectors``, least recently used out first), so a warm server encodes
only words it has not met; a question's own words are encoded for it and never remembered.
Chinese characters are read in overlapping pairs; a question in Japanese or Thai, or with a letter
of another script written without spaces between words, takes no bridge (``splits_words``,
``UNMEASURED``).

Pure apart from the encoder and its memory (STYLE 9); checked in tests/test_crosslingual.py.
"""

from __future__ import annotations

import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from kb.search.analysis import fold, stop_words
from kb.search.crosslingual import script_runs
from kb.search.language import main_script, script

# Scripts written without spaces between words: \w+ would take a whole clause as one word.
# Japanese (kana) is among them: measured on no Japanese questions, it takes no bridge.
UNSPLIT_SCRIPTS = frozenset({"HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR", "TIBETAN"})
# Chinese characters are read as overlapping pairs (most Chinese words are two characters long).
PAIRED_SCRIPTS = frozenset({"CJK"})
MIN_ENGLISH_LETTERS = 3
# Each question word is carried to at most this many English words, each at least this similar to it.
PER_WORD = 2
MIN_COSINE = 0.5
MAX_QUESTION_WORDS = 16
# Longer "words" are no words (a run of letters pasted into a question): not encoded, not remembered.
MAX_WORD_LETTERS = 32
# The pages' words remembered (float16, 1 KB a word under a 512-dimensional encoder, about 1.3 KB
# with the memory's own bookkeeping: about 130 MB). A question's words are encoded for it and not
# remembered: anyone can send them, and what others asked must not show in how fast a word is answered.
ENGLISH_WORDS = 100_000
# Languages the encoder reads whose questions take no bridge: written without spaces, and not measured.
UNMEASURED = frozenset({"ja", "th"})


def words(text: str) -> list[str]:
    """The runs of letters in ``text``, each with the combining marks that follow its letters.

    A mark belongs to its letter ("i̇" of a folded Turkish "İ", an Arabic vowel sign): splitting
    there would cut a word in two. Digits, underscores and everything else end a word.
    """
    found: list[str] = []
    current: list[str] = []
    for character in text:
        if character.isalpha() or (current and unicodedata.category(character).startswith("M")):
            current.append(character)
        elif current:
            found.append("".join(current))
            current = []
    if current:
        found.append("".join(current))
    return found


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
    for word in words(fold(text)):
        if len(word) > MAX_WORD_LETTERS:
            continue
        for run in script_runs(word):
            if not latin_question and script(run[0]) == "LATIN":
                continue  # a name or term kept as written ("Kyrgyzstan" in Chinese): the names ranking asks it
            if script(run[0]) in PAIRED_SCRIPTS:
                for pair in (run[i:i + 2] for i in range(max(1, len(run) - 1))):
                    found.setdefault(pair, None)
            elif run not in stop and len(run) > 1:
                found.setdefault(run, None)
    return list(found)[:MAX_QUESTION_WORDS]


def english_words(texts: Iterable[str]) -> list[str]:
    """The distinct folded words of English texts, stop words and words under three letters left out."""
    stop = stop_words("en")
    found: dict[str, None] = {}
    for text in texts:
        for word in words(fold(text)):
            if MIN_ENGLISH_LETTERS <= len(word) <= MAX_WORD_LETTERS and word not in stop and word.isascii():
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
