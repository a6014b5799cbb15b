"""The hash chain: canonical bytes, append under a lock, and verification.

Only ``kb.provenance`` may import this module. No code path here updates or deletes an event.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from hmac import compare_digest
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlmodel import Session

from kb.db import EVENT_KEY_PATH, is_postgresql, utcnow
from kb.provenance import eventkeys
from kb.provenance.models import GENESIS_HASH, AuditEvent, AuditHead


_sha256 = hashlib.sha256
_quote = json.encoder.encode_basestring  # type: ignore[attr-defined]  # JSON string literal, non-ASCII kept


AT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
"""How an event's ``at`` is written: UTC, microseconds."""


def event_time(at: str) -> dt.datetime:
    """An event's ``at`` as an aware UTC datetime."""
    return dt.datetime.strptime(at, AT_FORMAT).replace(tzinfo=dt.UTC)


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no whitespace, UTF-8 text (RFC 8785-like for our values)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def canonical_envelope(
    *, seq: int, at: str, actor_id: int | None, actor_name: str, action: str,
    object_type: str, object_id: str, payload: str, prev_hash: str, channel: str | None = None,
) -> str:
    """``canonical_json`` of the event's fields, built directly (verification runs it per event).

    Equal to ``canonical_json({...})`` of the same fields; tests/test_audit_chain.py checks that.
    ``channel`` (api, web, cli, system) is a field of every event written since migration 0013;
    the envelope of an older event, which has none, leaves the key out, so its hash is unchanged.
    """
    q = _quote
    via = "" if channel is None else f'"channel":{q(channel)},'
    return (f'{{"action":{q(action)},"actor_id":{"null" if actor_id is None else int(actor_id)},'
            f'"actor_name":{q(actor_name)},"at":{q(at)},{via}"object_id":{q(object_id)},"object_type":{q(object_type)},'
            f'"payload":{q(payload)},"prev_hash":{q(prev_hash)},"seq":{int(seq)}}}')


def event_hash(
    *, seq: int, at: str, actor_id: int | None, actor_name: str, action: str,
    object_type: str, object_id: str, payload: str, prev_hash: str, channel: str | None = None,
) -> str:
    """SHA-256 over the canonical bytes of every field of an event except its own hash."""
    envelope = canonical_envelope(seq=seq, at=at, actor_id=actor_id, actor_name=actor_name, action=action,
                                  object_type=object_type, object_id=object_id, payload=payload, prev_hash=prev_hash,
                                  channel=channel)
    return hashlib.sha256(envelope.encode("utf-8")).hexdigest()


def leaf_rows(session: Session, after_seq: int = 0) -> Iterator[tuple[int, bytes, str, str, str, str | None, str | None]]:
    """``(seq, leaf bytes, prev_hash, hash, action, mac, channel)`` of every event after ``after_seq``, in order.

    The leaf bytes of an event in the Merkle tree are the UTF-8 bytes of its canonical envelope: exactly
    the bytes whose SHA-256 is the event's ``hash`` (docs/transparency.md).
    """
    for seq, at, actor_id, actor_name, action, object_type, object_id, payload, prev_hash, digest, channel, mac in _rows(
            session, after_seq=after_seq):
        envelope = canonical_envelope(seq=seq, at=at, actor_id=actor_id, actor_name=actor_name, action=action,
                                      object_type=object_type, object_id=object_id, payload=payload,
                                      prev_hash=prev_hash, channel=channel)
        yield seq, envelope.encode("utf-8"), prev_hash, digest, action, mac, channel


def _hash_of(event: AuditEvent) -> str:
    return event_hash(
        seq=event.seq, at=event.at, actor_id=event.actor_id, actor_name=event.actor_name,
        action=event.action, object_type=event.object_type, object_id=event.object_id,
        payload=event.payload, prev_hash=event.prev_hash, channel=event.channel,
    )


_EVENTS = AuditEvent.__table__  # type: ignore[attr-defined]
_HEAD = AuditHead.__table__  # type: ignore[attr-defined]
_READ_HEAD = select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1)
_LOCK_HEAD = _READ_HEAD.with_for_update()  # PostgreSQL: concurrent writers queue here, so the chain never forks
_INSERT_EVENT = _EVENTS.insert()
_MOVE_HEAD = (_HEAD.update()  # from the head this append read, and only from it: a head moved meanwhile changes no row
              .where(_HEAD.c.id == 1, _HEAD.c.seq == bindparam("old_seq"), _HEAD.c.hash == bindparam("old_hash"))
              .values(seq=bindparam("new_seq"), hash=bindparam("new_hash")))


def append(
    session: Session, *, actor_id: int | None, actor_name: str, channel: str, action: str,
    object_type: str, object_id: str, payload: dict[str, Any],
) -> AuditEvent:
    """Append one event in the caller's transaction, holding the chain-head lock until commit.

    The head row is read and both rows written as plain statements, outside the session's unit of work: the
    head as the database holds it now (never a copy the session kept from an earlier transaction: another
    process may have appended since), and no unit of work for the event itself (a bulk import appends two
    events a file; issue 19). The caller's pending changes are flushed first, as before: they reach the
    database before the event that records them. Returns the event as written, not attached to the session.
    """
    session.flush()  # nothing to do when the caller flushed already
    connection = session.connection()  # the session's transaction
    head_row = connection.execute(_LOCK_HEAD if is_postgresql(session) else _READ_HEAD).first()
    if head_row is None:
        raise RuntimeError("Bug: the audit head row is missing; run `kb db upgrade`")
    head_seq, head_hash = head_row
    at = utcnow().strftime(AT_FORMAT)
    payload_text = canonical_json(payload)
    seq = head_seq + 1
    digest = event_hash(
        seq=seq, at=at, actor_id=actor_id, actor_name=actor_name, action=action,
        object_type=object_type, object_id=object_id, payload=payload_text, prev_hash=head_hash, channel=channel,
    )
    key = eventkeys.load(session.info.get(EVENT_KEY_PATH), create=True)
    values = {"seq": seq, "at": at, "actor_id": actor_id, "actor_name": actor_name, "channel": channel, "action": action,
              "object_type": object_type, "object_id": object_id, "payload": payload_text, "prev_hash": head_hash,
              "hash": digest, "mac": eventkeys.mac(key, digest) if key is not None else None}
    connection.execute(_INSERT_EVENT, values)
    moved = connection.execute(_MOVE_HEAD, {"old_seq": head_seq, "old_hash": head_hash, "new_seq": seq, "new_hash": digest})
    if moved.rowcount != 1:
        raise RuntimeError(f"Bug: the audit head moved during an append (from {head_seq}); the head lock did not hold")
    return AuditEvent(**values)


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of a chain verification."""

    ok: bool
    count: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "count": self.count, "head_seq": self.head_seq, "head_hash": self.head_hash,
            "first_bad_seq": self.first_bad_seq, "reason": self.reason,
        }


def _events(session: Session, batch: int = 5000) -> Iterator[AuditEvent]:
    """Every event as an ORM object, in sequence order (for export)."""
    last = 0
    while True:
        rows = session.execute(
            select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
        ).scalars().all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()


_COLUMNS = (AuditEvent.seq, AuditEvent.at, AuditEvent.actor_id, AuditEvent.actor_name, AuditEvent.action,
            AuditEvent.object_type, AuditEvent.object_id, AuditEvent.payload, AuditEvent.prev_hash, AuditEvent.hash,
            AuditEvent.channel, AuditEvent.mac)


def _rows(session: Session, batch: int = 20000, after_seq: int = 0, upto_seq: int | None = None) -> Iterator[tuple]:
    """Every event after ``after_seq`` (up to ``upto_seq`` inclusive, when given) as a plain tuple of
    _COLUMNS, in order (fast path for verification)."""
    last = int(after_seq)
    names = ", ".join(column.key for column in _COLUMNS)
    upto = "" if upto_seq is None else f" AND seq <= {int(upto_seq)}"
    while True:
        # The driver's cursor, not the ORM nor Core rows: plain tuples (half of the time per event went to
        # building row objects). Only integers are put into the statement.
        cursor = session.connection().connection.cursor()  # the DBAPI's, in the session's transaction
        try:
            cursor.execute(f"SELECT {names} FROM audit_event WHERE seq > {last}{upto} ORDER BY seq LIMIT {int(batch)}")
            rows = cursor.fetchall()
        finally:
            cursor.close()
        if not rows:
            return
        yield from rows
        last = int(rows[-1][0])


Visitor = Callable[[bytes, str, str, str, str, int], None]
"""Called with each verified event's (envelope bytes, action, object type, object id, payload, seq)."""


@dataclass
class Walk:
    """How far ``walk`` got over a run of events: the first failure, or where the run ends."""

    failure: VerifyResult | None
    count: int
    last_seq: int
    last_hash: str
    checkpoint_seen: bool


def walk(rows: Iterator[tuple], *, checkpoint: dict[str, Any] | None, visit: Visitor | None,
         macs: eventkeys.MacCheck | None, expected_seq: int = 1, prev: str = GENESIS_HASH) -> Walk:
    """Check a run of events (``_rows`` tuples) that starts at ``expected_seq`` and links to ``prev``:
    sequence, link, hash, MAC (with ``macs``), the checkpoint's hash if its seq is in the run."""
    keyed = macs.keyed if macs is not None else None
    authenticated = macs is not None and macs.authenticated
    count = 0
    checkpoint_seq = int(checkpoint["seq"]) if checkpoint is not None else None
    checkpoint_seen = False

    def failed(seq: int, bad: int, reason: str, last: str) -> Walk:
        return Walk(VerifyResult(False, count, seq, last, bad, reason), count, seq, last, checkpoint_seen)

    for seq, at, actor_id, actor_name, action, object_type, object_id, payload, prev_hash, digest, channel, mac in rows:
        count += 1
        if seq != expected_seq:
            return failed(expected_seq - 1, min(seq, expected_seq), f"sequence gap: expected {expected_seq}, found {seq}", prev)
        if prev_hash != prev:
            return failed(seq - 1, seq, "previous-hash link broken", prev)
        envelope = canonical_envelope(seq=seq, at=at, actor_id=actor_id, actor_name=actor_name, action=action,
                                      object_type=object_type, object_id=object_id, payload=payload,
                                      prev_hash=prev_hash, channel=channel).encode("utf-8")
        if _sha256(envelope).hexdigest() != digest:
            return failed(seq - 1, seq, "content does not match its hash", prev)
        if macs is not None and not (authenticated and mac is not None  # the common case, inline
                                     and compare_digest(mac, keyed(digest.encode("ascii")))):  # type: ignore[misc]
            unauthenticated = macs.see(seq, action, digest, mac, channel)
            if unauthenticated is not None:
                return failed(seq - 1, seq, unauthenticated, prev)
            authenticated = macs.authenticated  # once true, every later event needs a valid MAC
        if visit is not None:
            visit(envelope, action, object_type, object_id, payload, seq)
        if seq == checkpoint_seq:
            checkpoint_seen = True
            if digest != checkpoint["hash"]:  # type: ignore[index]
                return failed(seq, seq, "hash differs from the checkpoint (chain recomputed)", digest)
        prev = digest
        expected_seq += 1
    return Walk(None, count, expected_seq - 1, prev, checkpoint_seen)


def verify(session: Session, checkpoint: dict[str, Any] | None = None, visit: Visitor | None = None,
           event_key: bytes | None = None) -> VerifyResult:
    """Walk the chain from the first event; name the first sequence number that does not hold.

    With a ``checkpoint`` ({"seq", "hash"} exported earlier), also detect truncation below it and a
    wholesale recomputation of the chain, which a chain alone cannot reveal. ``visit`` sees every event
    that holds, in order, with the bytes just hashed: ``kb audit verify`` builds the Merkle tree and
    replays the commitments in this one pass instead of reading the log three times. With the
    ``event_key``, every event must also be one kb wrote (``eventkeys.MacCheck``).
    """
    macs = eventkeys.MacCheck(event_key) if event_key is not None else None
    done = walk(_rows(session), checkpoint=checkpoint, visit=visit, macs=macs)
    return done.failure or finish(session, done, checkpoint, macs)


def finish(session: Session, done: Walk, checkpoint: dict[str, Any] | None, macs: eventkeys.MacCheck | None) -> VerifyResult:
    """What holds only of the whole log, once every event has been walked: no unauthenticated tail, the
    checkpoint's event reached, and the head row naming the last event."""
    head_seq, prev, count = done.last_seq, done.last_hash, done.count
    unauthenticated = macs.finish() if macs is not None else None
    if unauthenticated is not None:
        return VerifyResult(False, count, head_seq, prev, 1, unauthenticated)
    checkpoint_seq = int(checkpoint["seq"]) if checkpoint is not None else None
    if checkpoint_seq is not None and not done.checkpoint_seen and checkpoint_seq > 0:
        return VerifyResult(False, count, head_seq, prev, head_seq + 1,
                            f"chain ends at {head_seq}, before checkpoint {checkpoint_seq} (truncated)")
    head_row = session.execute(_READ_HEAD).first()
    if head_row is not None and (head_row.seq != head_seq or head_row.hash != prev):
        return VerifyResult(False, count, head_seq, prev, min(head_row.seq, head_seq) + 1,
                            "chain head row disagrees with the last event (truncated)")
    return VerifyResult(True, count, head_seq, prev)


def head(session: Session) -> tuple[int, str]:
    """The (sequence, hash) of the newest event, as the database holds it now (``append`` writes the row
    outside the session, so a copy the session holds may be older)."""
    row = session.execute(_READ_HEAD).first()
    if row is None:
        return 0, GENESIS_HASH
    return row.seq, row.hash


def count(session: Session) -> int:
    return session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()


def hash_at(session: Session, seq: int) -> str | None:
    """The stored hash of event ``seq``, or None if there is no such row."""
    return session.execute(select(AuditEvent.hash).where(AuditEvent.seq == seq)).scalar_one_or_none()
