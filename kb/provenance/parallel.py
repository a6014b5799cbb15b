"""``kb audit verify`` on two cores: the log cut in two at a power of two, each part checked by its own process.

The one-pass check of ``kb.provenance.audit_log`` is the definition. This module computes the same
result faster for a long log, and only when all is well: if either part finds anything wrong, or the
parts do not join, it returns None and the caller runs the one-pass check, so that every failure is
found and worded exactly as that check words it. What each part does is what the one pass does over
its events: the chain (sequence, link, hash), each event's MAC, the leaves of the Merkle tree up to the
signed head's size, and the replay of the commitments.

- **The cut.** Part one is events 1..k, with k the largest power of two below the log's size; part two
  is every event after k. Part two starts from the hash stored for event k, and the parts join when
  part one's last event hashes to it.
- **MACs.** Part two starts as after an authenticated event, so every one of its events needs a valid
  MAC. Part one must end authenticated; a log whose unauthenticated legacy events reach past k is
  left to the one pass.
- **The Merkle root** at the head's size n: if n ≤ k it is part one's; otherwise RFC 9162's split of
  MTH(D[0:n]) falls exactly at k (the largest power of two below n), so it is
  SHA-256(0x01 ‖ MTH(D[0:k]) ‖ MTH(D[k:n])), part one's root and part two's.
- **The replay.** Each part keeps the newest commitment of each object within its events; part two's
  are newer, so they replace part one's.

Part two runs in a forked child with its own database connection, and returns its result through a
pipe. Fork only where no other thread runs: the CLI, never the server (``audit_log(parallel=False)``).
"""

from __future__ import annotations

import hashlib
import multiprocessing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from kb.provenance import chain, eventkeys, merkle
from kb.provenance.replay import CommittedState

MIN_EVENTS = 1 << 16
"""Below this a log is checked in one pass: under a second either way, and forking costs more than it saves."""


@dataclass
class Part:
    """One part's check: its walk, the hash its first event links to, its Merkle root, its replay."""

    walk: chain.Walk
    links_to: str
    root: bytes | None
    state: CommittedState
    authenticated: bool


def check_part(session: Session, *, after_seq: int, upto_seq: int | None, size: int | None,
               event_key: bytes | None) -> Part:
    """Events after ``after_seq`` (to ``upto_seq``), checked as the one pass checks them."""
    links_to = chain.GENESIS_HASH if after_seq == 0 else (chain.hash_at(session, after_seq) or "")
    macs = eventkeys.MacCheck(event_key, authenticated=after_seq > 0) if event_key is not None else None
    roots = merkle.RootAccumulator()
    state = CommittedState()
    add = state.add
    leaf = hashlib.sha256

    def visit(envelope: bytes, action: str, object_type: str, object_id: str, payload: str, seq: int) -> None:
        if size is not None and seq <= size:
            roots.append(leaf(b"\x00" + envelope).digest())
        add(action, object_type, object_id, payload, seq)

    done = chain.walk(chain._rows(session, after_seq=after_seq, upto_seq=upto_seq), checkpoint=None, visit=visit,
                      macs=macs, expected_seq=after_seq + 1, prev=links_to)
    state.finish()
    return Part(done, links_to, roots.root() if len(roots) else None, state,
                macs is None or macs.authenticated)


def _child(engine: Engine, after_seq: int, size: int | None, event_key: bytes | None, send: Any) -> None:
    # The engine is the parent's, copied by fork with its settings (a PostgreSQL schema's search path, SQLite's
    # pragmas): forget the parent's pooled connections without closing them, then open one of its own.
    engine.dispose(close=False)
    try:
        with Session(engine) as session:
            send.send(check_part(session, after_seq=after_seq, upto_seq=None, size=size, event_key=event_key))
    except BaseException as exc:  # noqa: BLE001 - any failure: the parent falls back to the one pass
        send.send(exc)
    finally:
        send.close()


def audit_in_two(session: Session, *, log_size: int, size: int | None, checkpoint: dict[str, Any] | None,
                 event_key: bytes | None, head_check: Callable[[chain.VerifyResult, bytes | None], Any]
                 ) -> tuple[chain.VerifyResult, CommittedState, Any] | None:
    """The one pass's (chain result, replayed state, ``head_check(result, root at size)``), or None where
    it must run instead (anything found wrong, a head beyond the log, the parts not joining)."""
    if log_size < MIN_EVENTS or (size is not None and size > log_size) or "fork" not in multiprocessing.get_all_start_methods():
        return None
    k = 1 << (log_size - 1).bit_length() - 1  # the largest power of two below log_size
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(session.get_bind(), k, size, event_key, send), daemon=True)
    child.start()
    send.close()
    try:
        first = check_part(session, after_seq=0, upto_seq=k, size=size, event_key=event_key)
        second = receive.recv()
    except EOFError:
        return None
    finally:
        receive.close()
        child.join()
    if isinstance(second, BaseException) or first.walk.failure is not None or second.walk.failure is not None:
        return None
    if not first.authenticated or first.walk.last_seq != k or first.walk.last_hash != second.links_to:
        return None
    done = chain.Walk(None, first.walk.count + second.walk.count, second.walk.last_seq, second.walk.last_hash, False)
    if checkpoint is not None:
        seq = int(checkpoint["seq"])
        if 0 < seq <= done.last_seq:
            stored = chain.hash_at(session, seq)
            if stored != checkpoint["hash"]:
                return None
            done.checkpoint_seen = True
    macs = eventkeys.MacCheck(event_key, authenticated=True) if event_key is not None else None
    result = chain.finish(session, done, checkpoint, macs)
    if not result.ok:
        return None
    root = None
    if size is not None:
        root = first.root if size <= k or first.root is None else \
            hashlib.sha256(b"\x01" + first.root + second.root).digest()  # type: ignore[operator]
        root = merkle.EMPTY_ROOT if size == 0 else root
    first.state.merge(second.state)
    return result, first.state, head_check(result, root)
