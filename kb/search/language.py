"""The language of a query: the citizen's explicit ``lang=``, else detection by py3langid.

py3langid (a maintained fork of langid.py; naive Bayes over byte n-grams, model shipped in the wheel,
numpy only, nothing downloaded) is restricted to the 15 language codes the multilingual encoder
covers. On 100 short queries written for kb it was right 95 times, as often as lingua and well ahead
of langdetect, at a twentieth of lingua's size (bench/langid_eval.py, docs/benchmarks.md).

Short queries are often ambiguous ("pension age" reads as French too), so a detection below
``MIN_CONFIDENCE`` is not used: the keyword search then looks in every language's fields, as it
did before detection existed. The floor was set on that development set, never on the judged set.

A question in a language the encoder does not read (Greek, Hindi, Vietnamese, Romanian…) is
recognised first (issue 18: restricted to the fifteen codes, detection read such questions as
unsure or as Portuguese): by its script, when most of its letters are in a script none of the
encoder's languages is written in, else by py3langid over all its languages, when it is sure of one
outside the fifteen. ``resolve`` then names that language, and ``encoder_reads`` says the
cross-lingual path must not lean on the encoders (``kb.search.retrieval.retrieve_multilingual``).
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

# The languages of the multilingual Universal Sentence Encoder v3 (zh-tw folds into zh).
DETECTABLE = ("ar", "de", "en", "es", "fr", "it", "ja", "ko", "nl", "pl", "pt", "ru", "th", "tr", "zh")
MIN_CONFIDENCE = 0.5
UNDETERMINED = "und"  # ISO 639-2: a language outside the encoder's that could not be named
# py3langid's languages written in each script none of the encoder's languages uses (Unicode script
# names as character names begin): a question in one of these scripts is named only as one of them.
SCRIPT_LANGUAGES = {
    "GREEK": ("el",), "DEVANAGARI": ("hi", "mr", "ne"), "BENGALI": ("bn", "as"), "ETHIOPIC": ("am",),
    "HEBREW": ("he",), "ARMENIAN": ("hy",), "GEORGIAN": ("ka",), "TAMIL": ("ta",), "TELUGU": ("te",),
    "KANNADA": ("kn",), "MALAYALAM": ("ml",), "GUJARATI": ("gu",), "GURMUKHI": ("pa",), "ORIYA": ("or",),
    "SINHALA": ("si",), "KHMER": ("km",), "LAO": ("lo",), "MYANMAR": ("my",), "TIBETAN": ("bo",),
}
MAX_DETECT_CHARS = 500
# The scripts those languages are written in (Unicode script names as character names begin).
ENCODER_SCRIPTS = frozenset({"LATIN", "ARABIC", "CYRILLIC", "CJK", "HIRAGANA", "KATAKANA", "HANGUL", "THAI"})
# Left out of the wider detection: py3langid's varieties of the encoder's own languages (Egyptian and
# Moroccan Arabic, Wu and Cantonese Chinese), the close relatives of Dutch and German that it reads
# short Dutch and German queries as (Afrikaans, Frisian, Luxembourgish: 2 of the 40 in
# bench/data/short_queries_langid.tsv), ancient Greek and Hebrew, and "no language".
NOT_OUTSIDE = frozenset({"arz", "ary", "wuu", "yue", "af", "fy", "lb", "grc", "hbo", "zxx"})

_identifiers: dict[Callable[[list[str]], list[str]], object] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Detection:
    language: str
    confidence: float

    @property
    def sure(self) -> bool:
        return self.confidence >= MIN_CONFIDENCE


def _identifier_for(languages: Callable[[list[str]], list[str]]):  # noqa: ANN202
    """py3langid's identifier restricted to ``languages(all its languages)``, built once per rule."""
    with _lock:
        identifier = _identifiers.get(languages)
        if identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            identifier.set_languages(languages(list(identifier.nb_classes)))
            _identifiers[languages] = identifier
        return identifier


def _encoders_languages(_all: list[str]) -> list[str]:
    return list(DETECTABLE)


def _every_language_but_relatives(every: list[str]) -> list[str]:
    return sorted(set(every) - NOT_OUTSIDE)


def _load():  # noqa: ANN202
    return _identifier_for(_encoders_languages)


def _load_wide():  # noqa: ANN202
    return _identifier_for(_every_language_but_relatives)


def script(character: str) -> str:
    """The Unicode script of a character as its name begins (``LATIN``, ``CYRILLIC``, ``DEVANAGARI``, ``CJK``…)."""
    return unicodedata.name(character, "").split(" ")[0]


def main_script(text: str) -> str | None:
    """The script most of ``text``'s letters are written in (the first such on a tie); None when it has no letters."""
    counts: dict[str, int] = {}
    for character in text:
        if character.isalpha():
            name = script(character)
            counts[name] = counts.get(name, 0) + 1
    return max(counts, key=counts.__getitem__) if counts else None


def encoder_reads(code: str | None) -> bool:
    """Whether the multilingual encoder reads language ``code``; None (not known) counts as read."""
    return code is None or base_language(code) in DETECTABLE


def outside(text: str) -> Detection | None:
    """The language of ``text`` when it is one the multilingual encoder does not read, else None.

    Sure by script when most letters are in a script none of the encoder's languages uses (the
    language named is py3langid's when it is sure of one outside the encoder's, else ``und``,
    undetermined, and answers are then in no preferred language); else py3langid over
    all its languages must be sure (``MIN_CONFIDENCE``) of one outside ``DETECTABLE``.
    """
    sample = text[:MAX_DETECT_CHARS]
    written_in = main_script(sample)
    if written_in is None:
        return None
    language, confidence = _load_wide().classify(sample)
    if written_in not in ENCODER_SCRIPTS:
        # outside the encoder for sure; named only when py3langid names a language written in that
        # script (it names some language for any script: Inuktitut syllabics as Amharic), else undetermined
        named = language in SCRIPT_LANGUAGES.get(written_in, ())
        return Detection(str(language) if named else UNDETERMINED, 1.0)
    if confidence >= MIN_CONFIDENCE and language not in DETECTABLE:
        return Detection(str(language), float(confidence))
    return None


def detect(text: str) -> Detection | None:
    """The most probable language of ``text`` among ``DETECTABLE``, or None when it has no letters."""
    sample = text[:MAX_DETECT_CHARS]
    if not any(ch.isalpha() for ch in sample):
        return None
    language, confidence = _load().classify(sample)
    return Detection(str(language), float(confidence))


def base_language(code: str | None) -> str | None:
    """``nl-BE`` → ``nl``; None or an empty string stays None."""
    if not code:
        return None
    return code.lower().split("-")[0] or None


@dataclass(frozen=True)
class QueryLanguage:
    """What the public search decided about languages, and why."""

    query: str | None  # the keyword analyser to use; None: every language's fields
    answer: str | None  # the language the citizen prefers answers in
    source: str  # "explicit", "detected" or "unknown"


def resolve(text: str, explicit: str | None = None, preferred: str | None = None) -> QueryLanguage:
    """Decide the query's language and the answer language.

    ``explicit`` is the citizen's ``lang=`` and settles both. Otherwise the query's language is
    detected: first whether it is one the encoder does not read (``outside``), else among
    ``DETECTABLE`` (used only when sure); answers come in ``preferred`` (``Accept-Language``) if
    given, else in the detected language.
    """
    chosen = base_language(explicit)
    if chosen:
        return QueryLanguage(chosen, chosen, "explicit")
    beyond = outside(text)
    if beyond is not None:
        answer = None if beyond.language == UNDETERMINED else beyond.language
        return QueryLanguage(beyond.language, base_language(preferred) or answer, "detected")
    found = detect(text)
    detected = found.language if found and found.sure else None
    return QueryLanguage(detected, base_language(preferred) or detected, "detected" if detected else "unknown")
