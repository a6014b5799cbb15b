"""Pad an audit log with well-formed events, fast: the benches' way to reach a million events.

Each event is what kb itself would write (``bench.event`` by ``system``, channel ``system``): a real
chain hash and a MAC under the database's event key, so that kb signs heads and serves receipts over
them. Bulk ``INSERT``s of 50,000 rows, bypassing ``provenance.record`` (a million records would take
ten minutes). Used by bench/merkle_cost.py and bench/receipt_size.py.
"""

from __future__ import annotations

from sqlalchemy import text

from kb.db import Database
from kb.provenance import eventkeys
from kb.provenance.chain import canonical_json, event_hash

_INSERT = text("INSERT INTO audit_event (seq, at, actor_id, actor_name, channel, action, object_type, object_id, "
               "payload, prev_hash, hash, mac) VALUES (:seq, :at, NULL, 'system', 'system', 'bench.event', 'bench', "
               ":object_id, :payload, :prev_hash, :hash, :mac)")


def pad_log(database: Database, total: int) -> int:
    """Append events until the log holds ``total`` (none if it holds as many); return how many it held before."""
    key = eventkeys.load(database.settings.event_key_path, create=True)
    with database.engine.begin() as connection:
        base, prev = connection.execute(text("SELECT seq, hash FROM audit_head")).one()
        rows = []
        for seq in range(base + 1, total + 1):
            at = f"2026-12-05T08:{(seq // 60_000) % 60:02d}:{(seq // 1000) % 60:02d}.{seq % 1_000_000:06d}Z"
            payload = canonical_json({"i": seq, "note": "x" * 40})
            digest = event_hash(seq=seq, at=at, actor_id=None, actor_name="system", action="bench.event",
                                object_type="bench", object_id=str(seq), payload=payload, prev_hash=prev,
                                channel="system")
            rows.append({"seq": seq, "at": at, "object_id": str(seq), "payload": payload, "prev_hash": prev,
                         "hash": digest, "mac": eventkeys.mac(key, digest)})  # type: ignore[arg-type]
            prev = digest
            if len(rows) == 50_000:
                connection.execute(_INSERT, rows)
                rows = []
        if rows:
            connection.execute(_INSERT, rows)
        connection.execute(text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": max(total, base), "h": prev})
    return base
