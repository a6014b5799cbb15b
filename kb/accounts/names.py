"""People are told apart: the key under which display names must be unique (issue 16).

Two display names that a reader cannot tell apart on a card — "Otto Owner", "0tto Owner", "Οtto
Owner" with a Greek Omicron, "otto  owner" — fold to the same key, and the user table keeps that key
in a unique column, so a second account cannot borrow a colleague's name to sign an approval.

The key is the confusables *skeleton* of Unicode Technical Standard #39 (section 4), computed by ICU's
``SpoofChecker`` (the reference implementation, through PyICU) on the name after NFKC normalisation
and case folding, with invisible format characters removed and runs of white space made one space;
folding and skeleton are repeated until the key no longer changes (the skeleton of "0" is "O", which
case-folds to "o"). A skeleton is for comparison only, never for display.

Pure functions; imports nothing of kb. PyICU is imported on first use (``kb --help`` stays fast).
"""

from __future__ import annotations

import functools
import re
import unicodedata

_SPACES = re.compile(r"\s+")


@functools.cache
def _spoof_checker():  # noqa: ANN202 - icu.SpoofChecker, imported lazily
    import icu

    return icu.SpoofChecker()


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")  # zero-width and bidi controls
    return _SPACES.sub(" ", text).strip()


def display_name_key(display_name: str) -> str:
    """The UTS #39 skeleton of a folded display name: equal keys mean names a reader could confuse.

    >>> display_name_key("Otto Owner") == display_name_key("0tto  OWNER") == display_name_key("\u039ftto Owner")
    True
    """
    key = _fold(display_name)
    for _ in range(5):  # a fixed point is reached in one or two rounds
        folded = _fold(_spoof_checker().getSkeleton(0, key))
        if folded == key:
            break
        key = folded
    return key
