"""Audit chain append and verification throughput, and tamper detection on a copy (RELIABILITY T6).

Usage: .venv/bin/python bench/audit_verify.py [EVENTS]   (SQLite in a temporary directory)
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from kb import provenance
from kb.config import Settings
from kb.db import Database, transaction
from kb.migrations import upgrade

events = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
work = Path(tempfile.mkdtemp())
database = Database(Settings(data_dir=work))
upgrade(database)
start = time.perf_counter()
with database.session() as session:
    for batch in range(0, events, 1000):
        with transaction(session):
            for i in range(batch, min(batch + 1000, events)):
                provenance.record(session, None, "bench.event", ("bench", i), {"i": i, "note": "x" * 40})
append_s = time.perf_counter() - start
with database.session() as session:
    point = provenance.write_checkpoint(session, work / "checkpoint.json")
    start = time.perf_counter()
    result = provenance.verify_chain(session, point)
    verify_s = time.perf_counter() - start
assert result.ok and result.count == events
database.dispose()

mutations = {
    "edit": ["UPDATE audit_event SET payload = '{{}}' WHERE seq = {k}"],
    "delete": ["DELETE FROM audit_event WHERE seq = {k}"],
    "swap": ["UPDATE audit_event SET object_id = (SELECT object_id FROM audit_event WHERE seq = {k1}) WHERE seq = {k}"],
    "insert": ["INSERT INTO audit_event SELECT {n1}, at, actor_id, actor_name, action, object_type, object_id, payload, hash, hash "
               "FROM audit_event WHERE seq = {n}"],
    "truncate": ["DELETE FROM audit_event WHERE seq > {k}",
                 "UPDATE audit_head SET seq = {k}, hash = (SELECT hash FROM audit_event WHERE seq = {k})"],
}
detected = {}
for name, statements in mutations.items():
    copy = work / f"copy-{name}"
    copy.mkdir()
    shutil.copy(work / "kb.sqlite3", copy / "kb.sqlite3")
    tampered = Database(Settings(data_dir=copy))
    k = events // 2
    with tampered.engine.begin() as connection:
        connection.execute(text("DROP TRIGGER audit_event_no_update"))
        connection.execute(text("DROP TRIGGER audit_event_no_delete"))
        for statement in statements:
            connection.execute(text(statement.format(k=k, k1=k + 1, n=events, n1=events + 1)))
    with tampered.session() as session:
        plain = provenance.verify_chain(session)
        with_checkpoint = provenance.verify_chain(session, point)
    detected[name] = (not plain.ok, not with_checkpoint.ok, with_checkpoint.first_bad_seq)
    tampered.dispose()
shutil.rmtree(work)
print(f"audit events={events} append_per_s={events / append_s:,.0f} verify_per_s={events / verify_s:,.0f}")
for name, (plain, checkpointed, seq) in detected.items():
    print(f"tamper {name}: detected_by_chain={plain} detected_with_checkpoint={checkpointed} first_bad_seq={seq}")
