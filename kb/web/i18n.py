"""The citizens' pages' own words, in the five languages the public search labels (issue 17).

One JSON catalogue per language in ``kb/web/messages/<lang>.json`` with the same keys as ``en.json``
(tests/test_public_web.py checks every key is in every catalogue). Words about a page (its card,
its language) come from the search's catalogues (``kb.search.i18n``); these are the page's frame:
the header, the form, the errors. Imports nothing from kb and nothing from the web framework.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote, urlencode

MESSAGES_DIR = Path(__file__).parent / "messages"

PUBLIC_LANGUAGES = {"en": "English", "nl": "Nederlands", "de": "Deutsch", "fr": "Français", "es": "Español"}
"""Each language the public pages speak, named in itself (the switch shows it so)."""

LANG_PATTERN = "^(|" + "|".join(PUBLIC_LANGUAGES) + ")$"
"""The ``lang=`` a public page accepts: empty (the browser decides) or one of PUBLIC_LANGUAGES."""

MESSAGES = {code: json.loads((MESSAGES_DIR / f"{code}.json").read_text(encoding="utf-8")) for code in PUBLIC_LANGUAGES}


def accepted(accept_language: str | None) -> str | None:
    """The first language of an Accept-Language header that the public pages speak."""
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip()[:2].lower()
        if code in MESSAGES:
            return code
    return None


def chosen_language(lang: str | None, accept_language: str | None) -> str:
    """The language of a public page's words: ``lang=`` when it is one we speak, else the browser's, else English."""
    if lang in MESSAGES:
        return lang  # type: ignore[return-value]
    return accepted(accept_language) or "en"


def switch_href(path: str, params: list[tuple[str, str]], code: str) -> str:
    """The address of the same page in language ``code``: every parameter kept but ``lang`` (and the
    notice key ``done``), so switching language never loses the query, the result page or the document."""
    kept = [(k, v) for k, v in params if k not in ("lang", "done")]
    return quote(path) + "?" + urlencode([*kept, ("lang", code)])
