"""Helpers to read the audit log in tests (through kb.provenance's public functions only)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import text

from kb import provenance
from kb.db import Database


def audit_events(database: Database, after_seq: int = 0) -> list[dict[str, Any]]:
    with database.session() as session:
        return [
            {"seq": e.seq, "actor": e.actor_name, "channel": e.channel, "action": e.action, "object_type": e.object_type,
             "object_id": e.object_id, "payload": json.loads(e.payload)}
            for e in provenance.list_events(session, after_seq=after_seq, limit=100_000)
        ]


def event_ids(database: Database) -> frozenset[int]:
    """The sequence numbers of every audit event so far: an attempt's own events are the ones not among them."""
    return frozenset(e["seq"] for e in audit_events(database))


def new_events(database: Database, known: frozenset[int]) -> list[dict[str, Any]]:
    """The audit events whose sequence numbers are not in ``known``, in log order."""
    return [e for e in audit_events(database) if e["seq"] not in known]


def head_seq(database: Database) -> int:
    with database.session() as session:
        return provenance.head(session)[0]


EVENTS_SELECT = ("SELECT seq, at, actor_id, actor_name, action, object_type, object_id, payload, prev_hash, hash, channel "
                 "FROM audit_event")


def rewrite_history(connection, *, forged_seq: int) -> None:  # noqa: ANN001
    """The insider's rewrite on a copy (its triggers dropped): forge one event's payload, then recompute
    every later hash and the head row, so that the chain is self-consistent again."""
    from sqlalchemy import text

    from kb.provenance.chain import event_hash

    rows = connection.execute(text(EVENTS_SELECT + " ORDER BY seq")).all()
    prev = "0" * 64
    for row in rows:
        payload = '{"forged":true}' if row.seq == forged_seq else row.payload
        digest = event_hash(seq=row.seq, at=row.at, actor_id=row.actor_id, actor_name=row.actor_name, action=row.action,
                            object_type=row.object_type, object_id=row.object_id, payload=payload, prev_hash=prev,
                            channel=row.channel)
        connection.execute(text("UPDATE audit_event SET payload = :p, prev_hash = :ph, hash = :h WHERE seq = :s"),
                           {"p": payload, "ph": prev, "h": digest, "s": row.seq})
        prev = digest
    connection.execute(text("UPDATE audit_head SET hash = :h"), {"h": prev})


def served_state_differences(database: Database) -> list[str]:
    """What ``kb audit verify`` would name: rows that differ from what the log commits to (empty when none)."""
    from kb.documents import integrity

    with database.session() as session:
        return [str(difference) for difference in integrity.differences(session)]


@contextmanager
def log_writable(database: Database, backend: str) -> Iterator[None]:
    """The audit log open to UPDATE and DELETE, as the database's owner can make it: the append-only
    triggers dropped (SQLite: for good, each test has its own file) or disabled until the block ends
    (PostgreSQL: the schema is shared by the run's later tests)."""
    with database.engine.begin() as connection:
        if backend == "sqlite":
            connection.execute(text("DROP TRIGGER audit_event_no_update"))
            connection.execute(text("DROP TRIGGER audit_event_no_delete"))
        else:
            connection.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
    try:
        yield
    finally:
        if backend == "postgresql":
            with database.engine.begin() as connection:
                connection.execute(text("ALTER TABLE audit_event ENABLE TRIGGER USER"))
