"""The relevance bar: whether any hit answers the question at all, or search should say "no good answer".

Pure functions, no I/O (STYLE 9). Ranking always returns *something* (fusion ranks whatever the
engines found, however weakly); this module judges the result instead of ranking it. The signal is
the one that keeps its meaning from one collection to the next: how similar the query, as typed,
is to a hit's best passage under the sentence encoder (cosine of normalised vectors), the English
model for English or undetected queries and the multilingual encoder on the cross-lingual path.
BM25 scores and fused scores are relative to a collection and a query, so they do not decide.

The bar was chosen on judged collections (Cranfield, and the sample content's judged questions in
five languages) against off-topic questions (bench/data/off_topic_*.txt), pooled, so no one
collection sets it, and checked on SciFact afterwards: ``bench/answer_bar.py --calibrate``; the rates it gives are in
docs/benchmarks.md ("The relevance bar"). Issue 17: "can I bring my dog to the office on fridays"
was answered with the database failover runbook.

Must not import the services, FastAPI or the web UI.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from kb.search.schemas import AnswerQuality

JUDGED = 10
"""How many of the best documents the bar looks at: one of them must clear it."""


@dataclass(frozen=True)
class Bar:
    """The lowest similarity at which a passage counts as an answer, per encoder."""

    similarity: float
    multilingual: float


BAR = Bar(similarity=0.38, multilingual=0.20)
"""Chosen on the pooled collections (docs/benchmarks.md): the English model's bar lies above every English
off-topic question measured (at most 0.37 against the sample content, 0.31 against Cranfield) and below 99%
of Cranfield's judged queries; the multilingual bar above every off-topic question in another language
(at most 0.15) with a margin, where judged questions in other languages score 0.38 at the median."""

EVIDENCE_BAR = Bar(similarity=0.30, multilingual=0.15)
"""The same kind of bar for expert evidence, looser: a document that is about the topic counts towards its
author's expertise even when it does not answer the question as asked ("Hydraulic pump keeps losing
pressure" against "Servicing hydraulic pumps and pressure valves": 0.35); the dog question's best
document scored 0.23."""


class Judged(Protocol):
    """A retrieved document as the bar sees it (``kb.search.retrieval.Found``)."""

    similarity: float | None
    multilingual: float | None


def clears(hit: Judged, language: str | None, bar: Bar = BAR) -> bool:
    """Whether ``hit``'s best passage is similar enough to a query in ``language`` (None: not sure which).

    Each encoder judges where it is valid, as each ranks where it is valid (``kb.search.retrieval``):
    the English model an English question; the multilingual encoder a question in another language
    (the English model finds Dutch weather questions 0.6 similar to Dutch benefit pages); when the
    language is unsure (short questions), both must agree where both were asked.
    """
    english = hit.similarity is not None and hit.similarity >= bar.similarity
    multilingual = hit.multilingual is not None and hit.multilingual >= bar.multilingual
    if language == "en":
        return english
    if language is not None:
        return multilingual
    if hit.similarity is not None and hit.multilingual is not None:
        return english and multilingual
    return english or multilingual


def answer_quality(found: Iterable[Judged], language: str | None, bar: Bar = BAR, judged: int = JUDGED) -> AnswerQuality:
    """``good`` when one of the first ``judged`` documents clears the bar for a query in ``language``, else ``none``."""
    for position, hit in enumerate(found):
        if position >= judged:
            break
        if clears(hit, language, bar):
            return AnswerQuality.good
    return AnswerQuality.none
