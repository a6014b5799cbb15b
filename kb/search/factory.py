"""Which engines answer: the keyword index the settings name, and one shared encoder per model per process.

The encoders (``kb.search.encoders``) and the keyword engines are imported on first use, so importing
this module stays cheap (``kb --help``). Must not import the heavy packages itself: only
``kb.search.encoders`` and ``kb.search.vector`` do (import-linter).
"""

from __future__ import annotations

import threading
from pathlib import Path

from kb.config import KeywordEngine
from kb.search.interfaces import Embedder, KeywordIndex

MULTILINGUAL_KEY = "\0multilingual"


def make_keyword_index(engine: KeywordEngine, path: Path) -> KeywordIndex:
    if engine is KeywordEngine.whoosh:
        from kb.search.keyword_whoosh import WhooshKeywordIndex

        return WhooshKeywordIndex(path)
    from kb.search.keyword_tantivy import TantivyKeywordIndex

    return TantivyKeywordIndex(path)


_EMBEDDERS: dict[str, Embedder] = {}
_EMBEDDERS_LOCK = threading.Lock()


def shared_embedder(model_path: str | None) -> Embedder:
    """One embedder per model per process: the model loads once, lazily, on first encode."""
    from kb.search.encoders import SentenceTransformerEmbedder

    key = model_path or ""
    with _EMBEDDERS_LOCK:
        if key not in _EMBEDDERS:
            _EMBEDDERS[key] = SentenceTransformerEmbedder(model_path)
        return _EMBEDDERS[key]


def shared_multilingual_embedder() -> Embedder:
    """The multilingual encoder, one per process, loaded on first encode."""
    from kb.search.encoders import MultilingualEmbedder

    with _EMBEDDERS_LOCK:
        if MULTILINGUAL_KEY not in _EMBEDDERS:
            _EMBEDDERS[MULTILINGUAL_KEY] = MultilingualEmbedder()
        return _EMBEDDERS[MULTILINGUAL_KEY]
