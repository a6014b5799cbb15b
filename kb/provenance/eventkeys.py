"""The event key: a secret outside the database with which kb authenticates each audit event it writes.

Every event kb appends carries ``mac`` = HMAC-SHA256(event key, the event's hash as ASCII hex). An
insider who can write the database but cannot read the key file can still append a well-chained
event, but not one with a valid MAC: ``kb audit verify`` names it, and kb signs no tree head and
serves no receipt over it (issue 16). The key is 32 random bytes in a file created 0600 on first
use (``KB_EVENT_KEY_FILE``); it is never rotated (a new key would orphan every MAC), only backed up
apart from the database.

Which events must carry one (``MacCheck``): all of them, except the events written before kb
authenticated events at all — which also predate channels (migration 0013, of the same release) —
and which an ``audit.macs_begin`` event, itself authenticated and the first that is, closes
(migration 0015). Dropping every MAC and rewinding the migrations does not turn events into such
legacy: they carry channels.

Only ``kb.provenance`` imports this module. Imports nothing from kb.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from pathlib import Path

MACS_BEGIN = "audit.macs_begin"
_cache: dict[Path, tuple[float, bytes]] = {}
_lock = threading.Lock()


def load(path: Path | None, *, create: bool) -> bytes | None:
    """The event key in ``path``; created (0600) when missing and ``create``, else None when missing."""
    if path is None:
        return None
    with _lock:
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            if not create:
                return None
            _create(path)
            mtime = path.stat().st_mtime
        cached = _cache.get(path)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
        if len(key) != 32:
            raise ValueError(f"{path} does not hold a 32-byte event key (64 hex digits)")
        _cache[path] = (mtime, key)
        return key


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(32) + "\n")
        os.link(tmp, path)  # fails if another process created it meanwhile: both then use that one
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


def mac(key: bytes, digest: str) -> str:
    """The MAC of an event whose hash is ``digest`` (64 hex digits)."""
    return hmac.digest(key, digest.encode("ascii"), "sha256").hex()  # one-shot: a third of hmac.new's time


class Mac:
    """HMAC-SHA256 under one key, for many messages: RFC 2104 with the padded key's two SHA-256 states
    computed once. Per event it is two ``copy``/``update`` pairs instead of a one-shot HMAC's key schedule
    (0.6 µs against 1.6 µs, and 3.1 µs through ``hmac.digest``), which ``kb audit verify`` pays per event.
    Equal to ``mac()`` for every key and message (tests/test_event_keys.py)."""

    BLOCK = 64  # SHA-256's block size in bytes

    def __init__(self, key: bytes) -> None:
        if len(key) > self.BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(self.BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in key))
        self._outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in key))

    def hexdigest(self, message: bytes) -> str:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


class MacCheck:
    """Checks, event by event in sequence order, that kb wrote each one.

    ``see`` returns why an event fails (None when it holds). Events without a MAC are accepted only
    at the start of the log, and only if the first authenticated event is ``audit.macs_begin``;
    ``finish`` returns why the log fails if it ended with unauthenticated events and no marker.
    """

    def __init__(self, key: bytes, *, authenticated: bool = False) -> None:
        """``authenticated``: start as after an authenticated event (a run of the log that begins past
        its first one: every event then needs a valid MAC)."""
        self._key = key
        self.keyed = Mac(key).hexdigest
        """The MAC of a message under the key (the per-event check ``chain.walk`` runs inline)."""
        self._authenticated = authenticated
        self._channels = False
        self._first_legacy: int | None = None

    @property
    def authenticated(self) -> bool:
        """Whether an authenticated event was seen: from then on every event needs a valid MAC, and a valid
        one needs no further check (``chain.verify`` tests that case inline)."""
        return self._authenticated

    def see(self, seq: int, action: str, digest: str, value: str | None, channel: str | None) -> str | None:
        if value is not None and hmac.compare_digest(value, mac(self._key, digest)):
            if not self._authenticated and self._first_legacy is not None and action != MACS_BEGIN:
                return (f"event {self._first_legacy} was not written by kb: it carries no MAC and no "
                        f"{MACS_BEGIN} event closes the events written before kb authenticated them")
            self._authenticated = True
            self._channels = self._channels or channel is not None
            return None
        if value is not None:
            return f"event {seq} was not written by kb: its MAC does not verify under the event key"
        if self._authenticated:
            return f"event {seq} was not written by kb: it carries no MAC, and events before it do"
        if channel is not None or self._channels:
            # Events from before kb authenticated them are older still than channels (migrations 0013 and 0015
            # came together): an unauthenticated event with a channel, or after one, was inserted or stripped.
            return f"event {seq} was not written by kb: it carries no MAC but comes from after channels were recorded"
        if self._first_legacy is None:
            self._first_legacy = seq
        return None

    def finish(self) -> str | None:
        if not self._authenticated and self._first_legacy is not None:
            return f"event {self._first_legacy} was not written by kb: no event of the log carries a valid MAC"
        return None
