"""The public search's own words in the citizen's language: labels from the message catalogues.

Catalogues are JSON files in ``kb/search/messages/`` (one per language, the same keys as ``en.json``;
tests/test_crosslingual.py checks they are complete). Only labels that are ours to translate live
there: a document's title, intended use and body are its authors' words and are never translated.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from kb.search.language import base_language

MESSAGES_DIR = Path(__file__).parent / "messages"
DEFAULT = "en"


@lru_cache(maxsize=1)
def catalogues() -> dict[str, dict[str, str]]:
    """Every catalogue, by language code."""
    return {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(MESSAGES_DIR.glob("*.json"))}


def labels_language(language: str | None) -> str:
    """The catalogue used for ``language``: its own when we have one, else English."""
    base = base_language(language)
    return base if base in catalogues() else DEFAULT


def labels(language: str | None) -> dict[str, str]:
    """All labels in ``language`` (English for a language without a catalogue, or for a missing key)."""
    chosen = labels_language(language)
    return {**catalogues()[DEFAULT], **catalogues()[chosen]}


def language_name(code: str, language: str | None) -> str:
    """The name of language ``code`` in the citizen's ``language`` ("en" for a Dutch citizen: "Engels")."""
    return labels(language).get(f"language.{base_language(code)}", code)
