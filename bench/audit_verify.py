"""Audit chain append and verification throughput, and tamper detection on a copy (RELIABILITY T6).

Each event carries a ``served`` commitment of the size a document event carries since issue 16
(one version: state, two SHA-256, author, approver), so append and verification pay for it.
Verification is timed as ``kb audit verify --checkpoint`` reads the log (``provenance.audit_log``):
one pass that checks the chain, hashes each leaf into the Merkle tree whose root is compared with
the signed head's, and replays the commitments; and the chain alone, for comparison.

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
from kb.actors import SYSTEM
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
                provenance.record(session, SYSTEM, "version.edit", ("document", f"doc-{i % 5000}"), {
                    "version": i // 5000 + 1, "new_version": True, "changed": ["body_md"], "body_sha256": "a" * 64,
                    "served": [{"version": i // 5000 + 1, "state": "draft", "body_sha256": "a" * 64,
                                "provenance_sha256": "b" * 64, "author": 7, "approver": None}]})
append_s = time.perf_counter() - start
key = work / "signing-key.pem"
provenance.ensure_signing_key(key)
with database.session() as session:
    point = provenance.write_checkpoint(session, work / "checkpoint.json", signing_key=key)
    start = time.perf_counter()
    result = provenance.verify_chain(session, point)
    chain_s = time.perf_counter() - start
    start = time.perf_counter()
    audit = provenance.audit_log(session, point, signing_key=key)  # what `kb audit verify --checkpoint` reads
    verify_s = time.perf_counter() - start
assert result.ok and result.count == events and audit.chain.ok and audit.head is not None and audit.head.ok
assert len(audit.state.versions) == events  # every event committed to a distinct (document, version)
database.dispose()

mutations = {
    "edit": ["UPDATE audit_event SET payload = '{{}}' WHERE seq = {k}"],
    "delete": ["DELETE FROM audit_event WHERE seq = {k}"],
    "swap": ["UPDATE audit_event SET object_id = (SELECT object_id FROM audit_event WHERE seq = {k1}) WHERE seq = {k}"],
    "insert": ["INSERT INTO audit_event (seq, at, actor_id, actor_name, channel, action, object_type, object_id, payload, "
               "prev_hash, hash) SELECT {n1}, at, actor_id, actor_name, channel, action, object_type, object_id, payload, hash, hash "
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
print(f"audit events={events} append_per_s={events / append_s:,.0f} verify_per_s={events / verify_s:,.0f} "
      f"(chain, Merkle root against the signed head and commitments replay in one pass; chain alone "
      f"{events / chain_s:,.0f}/s)")
for name, (plain, checkpointed, seq) in detected.items():
    print(f"tamper {name}: detected_by_chain={plain} detected_with_checkpoint={checkpointed} first_bad_seq={seq}")
